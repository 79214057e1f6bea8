"""Admin: users (list, create, delete, promote, release everything of one user) and pools
(status, add, resize, reinitialise). The page calls the JSON routes below."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from ..errors import InvalidRequest
from . import bodies
from .context import get_platform
from .openapi import operation
from .security import admin_required, page_login_required, page_user

bp = Blueprint("admin", __name__)


@bp.get("/admin")
@page_login_required(admin=True)
def admin_page():
    platform = get_platform()
    return render_template(
        "admin.html",
        user=page_user(),
        users=platform.accounts.list(),
        pools=platform.pool.status(),
        nodes=platform.nodes(),
    )


@bp.get("/api/admin/users")
@admin_required
@operation("Users (admin)", errors=(401, 403))
def list_users():
    platform = get_platform()
    counts: dict[str, int] = {}
    for item in platform.pool.containers():
        if item.owner:
            counts[item.owner] = counts.get(item.owner, 0) + 1
    return jsonify(
        users=[
            u.as_dict() | {"containers": counts.get(u.username, 0)}
            for u in platform.accounts.list()
        ]
    )


@bp.post("/api/admin/users")
@admin_required
@operation("Create a user (admin)", body=bodies.NewUser, ok=201, errors=(400, 401, 403, 409))
def create_user(body: bodies.NewUser):
    user = get_platform().accounts.create(
        body.username, body.email, body.password, admin=body.admin
    )
    return jsonify(user=user.as_dict()), 201


@bp.delete("/api/admin/users/<username>")
@admin_required
@operation("Delete a user and release their containers (admin)", errors=(401, 403, 404, 409))
def delete_user(username: str):
    plan = get_platform().delete_user(username)
    return jsonify(deleted=plan.keys("deleted")[0], released=plan.keys("released"))


@bp.post("/api/admin/users/<username>/promote")
@admin_required
@operation("Make a user an admin (admin)", errors=(401, 403, 404))
def promote_user(username: str):
    user, changed = get_platform().accounts.set_admin(username, True)
    return jsonify(user=user.as_dict(), changed=changed)


@bp.post("/api/admin/users/<username>/release")
@admin_required
@operation("Release every container of a user (admin)", errors=(401, 403))
def release_user(username: str):
    plan = get_platform().pool.release_all(username.strip().lower())
    return jsonify(user=username, released=plan.keys("released"))


@bp.post("/api/admin/pools/<runtime>")
@admin_required
@operation(
    "add N, resize to N, or reinitialise (replace every container) (admin)",
    body=bodies.PoolAction,
    errors=(400, 401, 403),
)
def pool_action(runtime: str, body: bodies.PoolAction):
    pool = get_platform().pool
    if body.action == "reinit":
        plan = pool.reset(runtime=runtime)
        return jsonify(runtime=runtime, action=body.action, replaced=plan.keys("replaced"))
    if body.count is None:
        raise InvalidRequest("The field 'count' is missing: say how many.")
    plan = (
        pool.add(runtime, body.count) if body.action == "add" else pool.resize(runtime, body.count)
    )
    status = {s.runtime: s for s in pool.status()}[runtime]
    result = {
        "warm": plan.after[runtime]["warm"],
        "created": plan.count("created", runtime),
        "removed": plan.count("removed", runtime),
        "actions": plan.actions,
    }
    return jsonify(runtime=runtime, action=body.action, result=result, pool=status.as_dict())


@bp.get("/api/admin/nodes")
@admin_required
@operation("Nodes, their state and containers (admin)", errors=(401, 403))
def list_nodes():
    return jsonify(nodes=get_platform().nodes())


@bp.post("/api/admin/nodes/<name>")
@admin_required
@operation(
    "Drain a node (its containers move, with their files) or activate it (admin)",
    body=bodies.NodeAction,
    errors=(400, 401, 403),
)
def node_action(name: str, body: bodies.NodeAction):
    availability = "drain" if body.action == "drain" else "active"
    plan = get_platform().set_node(name, availability)
    return jsonify(node=name, action=body.action, actions=plan.actions)

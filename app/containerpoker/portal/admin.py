"""Admin: users (list, create, delete, promote) and pools (status, add, resize, reinitialise,
release everything of one user).  The page calls the JSON routes below."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from ..errors import InvalidRequest
from .api import _json_body, _text
from .platform import get_platform
from .security import admin_required, page_login_required, page_user

bp = Blueprint("admin", __name__)

POOL_ACTIONS = ("add", "resize", "reinit")


@bp.get("/admin")
@page_login_required(admin=True)
def admin_page():
    platform = get_platform()
    return render_template(
        "admin.html",
        user=page_user(),
        users=platform.accounts.list(),
        pools=platform.pool.status(),
    )


@bp.get("/api/admin/users")
@admin_required
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
def create_user():
    data = _json_body()
    admin = data.get("admin", False)
    if not isinstance(admin, bool):
        raise InvalidRequest("'admin' must be true or false.")
    user = get_platform().accounts.create(
        _text(data, "username", 64),
        _text(data, "email", 254),
        _text(data, "password", 256),
        admin=admin,
    )
    return jsonify(user=user.as_dict()), 201


@bp.delete("/api/admin/users/<username>")
@admin_required
def delete_user(username: str):
    platform = get_platform()
    user = platform.accounts.get(username)
    released = platform.pool.release_all(user.username)
    platform.accounts.delete(user.username)
    return jsonify(deleted=user.username, released=[a.name for a in released])


@bp.post("/api/admin/users/<username>/promote")
@admin_required
def promote_user(username: str):
    user, changed = get_platform().accounts.set_admin(username, True)
    return jsonify(user=user.as_dict(), changed=changed)


@bp.post("/api/admin/users/<username>/release")
@admin_required
def release_user(username: str):
    released = get_platform().pool.release_all(username.strip().lower())
    return jsonify(user=username, released=[a.name for a in released])


@bp.post("/api/admin/pools/<runtime>")
@admin_required
def pool_action(runtime: str):
    platform = get_platform()
    data = _json_body()
    action = data.get("action")
    if action not in POOL_ACTIONS:
        raise InvalidRequest(
            f"Unknown pool action {str(action)[:20]!r}: use add, resize or reinit."
        )
    if runtime not in platform.settings.runtimes:
        known = ", ".join(platform.settings.runtimes)
        raise InvalidRequest(f"Unknown runtime {runtime[:40]!r}: choose one of {known}.")
    pool = platform.pool
    if action == "reinit":
        replaced = pool.reset(runtime=runtime)
        return jsonify(runtime=runtime, action=action, replaced=replaced)
    count = data.get("count")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidRequest("'count' must be a whole number.")
    result = pool.add(runtime, count) if action == "add" else pool.resize(runtime, count)
    status = {s.runtime: s for s in pool.status()}[runtime]
    return jsonify(runtime=runtime, action=action, result=result, pool=status.as_dict())

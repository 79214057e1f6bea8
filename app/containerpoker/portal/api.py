"""The JSON API (documented in ``openapi.py``, served at ``/api/openapi.json``).

Every view reads its body through ``bodies.parse``: only the declared fields, strictly typed;
extra fields (``image``, ``privileged``, ``binds`` ...) are ignored and never reach Docker.
Errors are raised as core errors and shaped by ``errors.py``.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, jsonify, request
from flask_jwt_extended import create_access_token, get_jwt, set_access_cookies, unset_jwt_cookies
from werkzeug.exceptions import RequestEntityTooLarge

from ..config import Settings
from ..errors import InvalidRequest, RateLimited, Unauthenticated
from . import bodies, streams
from .context import (
    client_address,
    dashboard_state,
    get_platform,
    get_state,
    limit,
    pools_payload,
)
from .limits import Refusal
from .openapi import spec
from .security import api_user, login_required

bp = Blueprint("api", __name__, url_prefix="/api")

REGISTER_PER_CLIENT = (200, 3600.0)  # a classroom shares one address
SPAWN_PER_USER = (20, 60.0)


def scope() -> str | None:
    """Whose containers this user may see: their own, or everyone's for an admin."""
    user = api_user()
    return None if user.is_admin else user.username


# -- accounts -------------------------------------------------------------------


@bp.post("/auth/register")
def register():
    body = bodies.parse(bodies.Registration)
    limit(
        "register:" + client_address(),
        REGISTER_PER_CLIENT,
        "Too many accounts created from this address: try later.",
    )
    user = get_platform().accounts.create(body.username, body.email, body.password)
    return jsonify(user=user.as_dict()), 201


@bp.post("/auth/login")
def login():
    platform, logins = get_platform(), get_state().logins
    body = bodies.parse(bodies.Credentials)
    username, address = body.username.strip().lower(), client_address()
    refusal = logins.attempt(username, address)
    if refusal is not None:
        message = login_refusal(refusal, username, platform.settings)
        raise RateLimited(message, math.ceil(refusal.wait))
    user = platform.accounts.authenticate(username, body.password)
    if user is None:
        raise Unauthenticated("Wrong username or password.", code="invalid_credentials")
    logins.succeeded(username, address)
    token = create_access_token(identity=user.username, additional_claims={"uid": user.id})
    response = jsonify(
        access_token=token,
        token_type="Bearer",
        expires_in=platform.settings.token_minutes * 60,
        user=user.as_dict(),
    )
    set_access_cookies(response, token)
    return response


def login_refusal(refusal: Refusal, username: str, settings: Settings) -> str:
    """What a throttled login is told: how long to wait, why, and what else to do."""
    wait = math.ceil(refusal.wait)
    if refusal.reason == "address":
        return (
            f"Too many failed logins from your address ({settings.login_address_failures} in "
            f"{settings.login_window / 60:g} minutes, all accounts together): wait {wait} s "
            "before trying again. If a whole class shares this address, ask the admin to raise "
            "CONTAINERPOKER_LOGIN_ADDRESS_FAILURES."
        )
    return (
        f"Too many failed logins for {username} from your address: wait {wait} s before "
        f"trying again (each further failure doubles the wait, up to "
        f"{settings.login_max_delay:g} s; a successful login resets it). Other accounts, and "
        "this one from elsewhere, are not slowed down. Forgot the password? An admin can set "
        "a new one."
    )


@bp.post("/auth/logout")
@login_required
def logout():
    claims = get_jwt()
    get_platform().accounts.revoke(claims["jti"], float(claims["exp"]))
    response = jsonify(logged_out=True)
    unset_jwt_cookies(response)
    return response


@bp.get("/me")
@login_required
def me():
    return jsonify(user=api_user().as_dict())


# -- pools and status -------------------------------------------------------------


@bp.get("/pools")
@login_required
def pools():
    return jsonify(pools=pools_payload(get_platform()))


@bp.get("/status")
@login_required
def status():
    platform = get_platform()
    return jsonify(
        pools=pools_payload(platform),
        host=platform.host_load(),
        upload_max_bytes=platform.settings.upload_max_bytes,
        time=time.time(),
    )


@bp.get("/stream")
@login_required
def stream():
    """Live dashboard state (server-sent events)."""
    platform = get_platform()
    # Plain values: the generator runs after the request context is gone.
    username, is_admin = api_user().username, api_user().is_admin
    return streams.sse_response(
        streams.poll_stream("state", lambda: dashboard_state(platform, username, is_admin))
    )


# -- containers ---------------------------------------------------------------------


@bp.get("/containers")
@login_required
def containers():
    everyone = request.args.get("all") == "1" and api_user().is_admin
    owner = None if everyone else api_user().username
    return jsonify(containers=[v.as_dict() for v in get_platform().control.list(owner=owner)])


@bp.post("/containers/spawn")
@login_required
def spawn():
    platform, metrics = get_platform(), get_state().metrics
    user = api_user()
    body = bodies.parse(bodies.Spawn)
    limit("spawn:" + user.username, SPAWN_PER_USER, "Too many launches: wait {wait} s.")
    started = time.perf_counter()
    try:  # the core checks the runtime's name first, before Docker is touched
        assignment = platform.pool.claim(user.username, body.runtime)
    except InvalidRequest:
        raise
    except Exception as exc:
        metrics.claim(body.runtime, getattr(exc, "code", "error"), None)
        raise
    runtime = assignment.runtime
    took = time.perf_counter() - started
    outcome = "cold" if assignment.cold_start else ("reused" if assignment.reused else "warm")
    metrics.claim(runtime, outcome, took)
    status = 200 if assignment.reused else 201
    return jsonify(container=assignment.as_dict(), claim_ms=round(took * 1000, 2)), status


@bp.get("/containers/<ref>")
@login_required
def container(ref: str):
    return jsonify(container=get_platform().control.get(ref, owner=scope()).as_dict())


@bp.post("/containers/<ref>/action")
@login_required
def container_action(ref: str):
    body = bodies.parse(bodies.ContainerAction)
    # A release answers at once; Docker removes the container moments later.
    return jsonify(get_platform().control.act(ref, body.action, owner=scope(), wait=False))


@bp.post("/containers/<ref>/renew")
@login_required
def container_renew(ref: str):
    """Push the container's lifetime back (a few times at most): 409 when it cannot be."""
    plan = get_platform().pool.renew(ref, owner=scope())
    return jsonify(container=plan.subjects[0].as_dict(), actions=plan.actions)


@bp.post("/containers/<ref>/files")
@login_required
def container_files(ref: str):
    platform = get_platform()
    most = platform.settings.upload_max_bytes
    if request.content_length is not None and request.content_length > most + 256 * 1024:
        # Refused on the announced size, before reading the body.
        raise RequestEntityTooLarge()
    owner = scope()
    platform.pool.get(ref, owner=owner)  # 404 before reading anything
    files = request.files.getlist("file")
    if not files:
        raise InvalidRequest("Attach one or more files in the form field 'file'.")
    dest = request.form.get("dest", "")
    results = []
    for item in files:
        data = item.read(most + 1)
        if len(data) > most:
            raise RequestEntityTooLarge()
        results.append(platform.pool.upload(ref, item.filename or "", data, owner=owner, dest=dest))
    return jsonify(uploads=results), 201


@bp.get("/containers/<ref>/stats")
@login_required
def container_stats(ref: str):
    return jsonify(get_platform().control.stats(ref, owner=scope()))


@bp.get("/containers/<ref>/logs")
@login_required
def container_logs(ref: str):
    """The container's log: a live stream (server-sent events), or ``?follow=0`` for JSON."""
    control, owner = get_platform().control, scope()
    item = control.pool.get(ref, owner=owner)  # 404 now, not inside the stream
    try:
        tail = max(1, min(1000, int(request.args.get("tail", "200"))))
    except ValueError:
        raise InvalidRequest("tail must be a number of lines, 1 to 1000.") from None
    if request.args.get("follow") == "0":
        lines = control.logs(item.name, owner=owner, tail=tail)
        return jsonify(container=item.name, lines=[{"ts": t, "line": s} for t, s in lines])

    def generate():
        yield "retry: 3000\n\n"
        since = None
        deadline = time.monotonic() + streams.MAX_SECONDS
        quiet = time.monotonic()
        while time.monotonic() < deadline:
            lines = control.logs(item.name, owner=owner, since=since, tail=tail)
            if lines:
                since = lines[-1][0]
                quiet = time.monotonic()
                yield streams.event("log", [{"ts": t, "line": s} for t, s in lines])
            elif time.monotonic() - quiet > streams.HEARTBEAT:
                quiet = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(1.0)

    return streams.sse_response(generate())


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())

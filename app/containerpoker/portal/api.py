"""The JSON API (documented in ``openapi.py``, served at ``/api/openapi.json``).

Every view reads only the fields it knows from the request; extra fields
(``image``, ``privileged``, ``binds`` ...) are ignored and never reach Docker.
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, jsonify, request
from flask_jwt_extended import create_access_token, get_jwt, set_access_cookies, unset_jwt_cookies
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import InvalidRequest
from . import streams
from .openapi import spec
from .platform import Platform, get_platform
from .security import api_user, login_required

bp = Blueprint("api", __name__, url_prefix="/api")

LOGIN_PER_ACCOUNT = (10, 300.0)  # attempts per account per 5 minutes
LOGIN_FAILURES_PER_CLIENT = (20, 300.0)  # failed attempts per client address per 5 minutes
REGISTER_PER_CLIENT = (200, 3600.0)  # a classroom shares one address
SPAWN_PER_USER = (20, 60.0)


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidRequest('Send a JSON object, for example {"runtime": "nginx"}.')
    return data


def _text(data: dict, key: str, limit: int = 300) -> str:
    value = data.get(key)
    if value is None:
        raise InvalidRequest(f"The field {key!r} is missing.")
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(f"The field {key!r} must be text of at most {limit} characters.")
    return value


def too_many(detail: str, retry_after: float):
    response = jsonify(error="rate_limited", detail=detail)
    response.status_code = 429
    response.headers["Retry-After"] = str(int(retry_after))
    return response


def _client() -> str:
    return request.remote_addr or "unknown"


def _scope(platform: Platform) -> str | None:
    """Whose containers this user may see: their own, or everyone's for an admin."""
    user = api_user()
    return None if user.is_admin else user.username


# -- accounts -------------------------------------------------------------------


@bp.post("/auth/register")
def register():
    platform = get_platform()
    data = _json_body()
    wait = platform.limiter.hit("register:" + _client(), *REGISTER_PER_CLIENT)
    if wait:
        return too_many("Too many accounts created from this address: try later.", wait)
    user = platform.accounts.create(
        _text(data, "username", 64), _text(data, "email", 254), _text(data, "password", 256)
    )
    return jsonify(user=user.as_dict()), 201


@bp.post("/auth/login")
def login():
    platform = get_platform()
    data = _json_body()
    username = _text(data, "username", 64).strip().lower()
    password = _text(data, "password", 256)
    limiter = platform.limiter
    wait = max(
        limiter.hit("login-user:" + username, *LOGIN_PER_ACCOUNT),
        limiter.blocked("login-fail:" + _client(), *LOGIN_FAILURES_PER_CLIENT),
    )
    if wait:
        return too_many(f"Too many login attempts: wait {int(wait)} s.", wait)
    user = platform.accounts.authenticate(username, password)
    if user is None:
        limiter.record("login-fail:" + _client())
        response = jsonify(error="invalid_credentials", detail="Wrong username or password.")
        response.status_code = 401
        return response
    token = create_access_token(identity=user.username, additional_claims={"uid": user.id})
    response = jsonify(
        access_token=token,
        token_type="Bearer",
        expires_in=platform.settings.token_minutes * 60,
        user=user.as_dict(),
    )
    set_access_cookies(response, token)
    return response


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


def pools_payload(platform: Platform) -> list[dict]:
    return [p.as_dict() for p in platform.pool.status()]


def host_load() -> dict:
    load1, load5, load15 = os.getloadavg()
    memory = {}
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in ("MemTotal", "MemAvailable"):
                    memory[key] = int(rest.split()[0]) * 1024
    except OSError:
        pass
    return {
        "load": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "cpus": os.cpu_count(),
        "memory_total": memory.get("MemTotal"),
        "memory_available": memory.get("MemAvailable"),
    }


def activity(platform: Platform, owner: str | None, limit: int = 15) -> list[dict]:
    events = platform.pool.events(limit=200 if owner else limit)
    if owner is not None:
        events = [e for e in events if e.get("owner") == owner]
    return events[:limit]


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
        host=host_load(),
        upload_max_bytes=platform.settings.upload_max_bytes,
        time=time.time(),
    )


def dashboard_state(platform: Platform, username: str, is_admin: bool) -> dict:
    return {
        "pools": pools_payload(platform),
        "containers": [v.as_dict() for v in platform.control.list(owner=username)],
        "activity": activity(platform, None if is_admin else username),
        "host": host_load(),
    }


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
    platform = get_platform()
    everyone = request.args.get("all") == "1" and api_user().is_admin
    owner = None if everyone else api_user().username
    return jsonify(containers=[v.as_dict() for v in platform.control.list(owner=owner)])


@bp.post("/containers/spawn")
@login_required
def spawn():
    platform = get_platform()
    user = api_user()
    data = _json_body()
    runtime = data.get("runtime")
    if not isinstance(runtime, str) or runtime not in platform.settings.runtimes:
        known = ", ".join(platform.settings.runtimes)
        raise InvalidRequest(f"Unknown runtime {str(runtime)[:40]!r}: choose one of {known}.")
    wait = platform.limiter.hit("spawn:" + user.username, *SPAWN_PER_USER)
    if wait:
        return too_many(f"Too many launches: wait {int(wait)} s.", wait)
    started = time.perf_counter()
    try:
        assignment = platform.pool.claim(user.username, runtime)
    except Exception as exc:
        platform.metrics.claim(runtime, getattr(exc, "code", "error"), None)
        raise
    took = time.perf_counter() - started
    outcome = "cold" if assignment.cold_start else ("reused" if assignment.reused else "warm")
    platform.metrics.claim(runtime, outcome, took)
    status = 200 if assignment.reused else 201
    return jsonify(container=assignment.as_dict(), claim_ms=round(took * 1000, 2)), status


@bp.get("/containers/<ref>")
@login_required
def container(ref: str):
    platform = get_platform()
    return jsonify(container=platform.control.get(ref, owner=_scope(platform)).as_dict())


@bp.post("/containers/<ref>/action")
@login_required
def container_action(ref: str):
    platform = get_platform()
    data = _json_body()
    action = data.get("action")
    if not isinstance(action, str):
        raise InvalidRequest('Say which action: {"action": "start|stop|restart|release|remove"}.')
    # A release answers at once; Docker removes the container moments later.
    return jsonify(platform.control.act(ref, action, owner=_scope(platform), wait=False))


@bp.post("/containers/<ref>/files")
@login_required
def container_files(ref: str):
    platform = get_platform()
    limit = platform.settings.upload_max_bytes
    if request.content_length is not None and request.content_length > limit + 256 * 1024:
        # Refused on the announced size, before reading the body.
        raise RequestEntityTooLarge()
    owner = _scope(platform)
    platform.control.pool.get(ref, owner=owner)  # 404 before reading anything
    files = request.files.getlist("file")
    if not files:
        raise InvalidRequest("Attach one or more files in the form field 'file'.")
    dest = request.form.get("dest", "")
    results = []
    for item in files:
        data = item.read(limit + 1)
        if len(data) > limit:
            raise RequestEntityTooLarge()
        results.append(platform.pool.upload(ref, item.filename or "", data, owner=owner, dest=dest))
    return jsonify(uploads=results), 201


@bp.get("/containers/<ref>/stats")
@login_required
def container_stats(ref: str):
    platform = get_platform()
    return jsonify(platform.control.stats(ref, owner=_scope(platform)))


@bp.get("/containers/<ref>/logs")
@login_required
def container_logs(ref: str):
    """The container's log: a live stream (server-sent events), or ``?follow=0`` for JSON."""
    platform = get_platform()
    owner = _scope(platform)
    control = platform.control
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

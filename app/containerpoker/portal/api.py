"""The JSON API, described at ``/api/openapi.json`` and shown at ``/api/docs``.

Every view declares itself with ``openapi.operation``; a view with a body gets it validated
against its schema (``bodies``): only the declared fields, strictly typed; extra fields
(``image``, ``privileged``, ``binds`` ...) are ignored and never reach Docker. Errors are raised
as core errors and shaped by ``errors.py``.
"""

from __future__ import annotations

import math
import time

from flask import Blueprint, current_app, jsonify, make_response, render_template, request
from flask_jwt_extended import create_access_token, get_jwt, set_access_cookies, unset_jwt_cookies
from werkzeug.exceptions import RequestEntityTooLarge

from ..config import Settings
from ..errors import InvalidRequest, RateLimited, Unauthenticated
from . import bodies, streams, vendor
from .context import (
    client_address,
    dashboard_state,
    get_platform,
    get_state,
    limit,
    pools_payload,
)
from .limits import Refusal
from .openapi import operation, spec
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
@operation(
    "Create an account", body=bodies.Registration, ok=201, errors=(400, 409, 429), public=True
)
def register(body: bodies.Registration):
    limit(
        "register:" + client_address(),
        REGISTER_PER_CLIENT,
        "Too many accounts created from this address: try later.",
    )
    user = get_platform().accounts.create(body.username, body.email, body.password)
    return jsonify(user=user.as_dict()), 201


@bp.post("/auth/login")
@operation(
    "Log in: returns access_token and sets the browser cookies",
    body=bodies.Credentials,
    errors=(400, 401, 429),
    public=True,
)
def login(body: bodies.Credentials):
    platform, logins, metrics = get_platform(), get_state().logins, get_state().metrics
    username, address = body.username.strip().lower(), client_address()
    refusal = logins.attempt(username, address)
    if refusal is not None:
        metrics.login("rate_limited")
        message = login_refusal(refusal, username, platform.settings)
        raise RateLimited(message, math.ceil(refusal.wait))
    user = platform.accounts.authenticate(username, body.password)
    if user is None:
        metrics.login("failure")
        raise Unauthenticated("Wrong username or password.", code="invalid_credentials")
    logins.succeeded(username, address)
    metrics.login("success")
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
@operation("Log out: the token is revoked")
def logout():
    claims = get_jwt()
    get_platform().accounts.revoke(claims["jti"], float(claims["exp"]))
    response = jsonify(logged_out=True)
    unset_jwt_cookies(response)
    return response


@bp.get("/me")
@login_required
@operation("The signed-in user")
def me():
    return jsonify(user=api_user().as_dict())


# -- pools and status -------------------------------------------------------------


@bp.get("/pools")
@login_required
@operation("Pools: ready, warming, assigned ... per runtime")
def pools():
    return jsonify(pools=pools_payload(get_platform()))


@bp.get("/status")
@login_required
@operation("Pools, host load and the upload limit")
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
@operation("Live dashboard state (server-sent events)", answers="text/event-stream")
def stream():
    """Live dashboard state (server-sent events)."""
    platform = get_platform()
    # Plain values: the generator runs after the request context is gone.
    username, is_admin = api_user().username, api_user().is_admin
    return streams.sse_response(
        streams.poll_stream("state", lambda: dashboard_state(platform, username, is_admin))
    )


# -- containers ---------------------------------------------------------------------


ALL = {"name": "all", "in": "query", "schema": {"type": "string", "enum": ["1"]}}


def listed_owner() -> str | None:
    """Whose containers a listing shows: the user's own, or (an admin's ``?all=1``) all."""
    everyone = request.args.get("all") == "1" and api_user().is_admin
    return None if everyone else api_user().username


@bp.get("/containers")
@login_required
@operation("My containers (admins: ?all=1 for every pool container)", query=(ALL,))
def containers():
    views = get_platform().control.list(owner=listed_owner())
    return jsonify(containers=[v.as_dict() for v in views])


@bp.get("/containers/stats")
@login_required
@operation(
    "CPU % and memory of each of my running containers (admins: ?all=1 for every one)",
    query=(ALL,),
)
def containers_stats():
    return jsonify(stats=get_platform().control.stats_of(owner=listed_owner()))


@bp.post("/containers/spawn")
@login_required
@operation(
    "Get a container of a runtime (201 new, 200 the one you already have)",
    body=bodies.Spawn,
    ok=201,
    errors=(400, 401, 409, 429, 503),
)
def spawn(body: bodies.Spawn):
    platform, metrics = get_platform(), get_state().metrics
    user = api_user()
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
@operation("One container", errors=(401, 404))
def container(ref: str):
    return jsonify(container=get_platform().control.get(ref, owner=scope()).as_dict())


@bp.post("/containers/<ref>/action")
@login_required
@operation(
    "start, stop, restart, release or remove",
    body=bodies.ContainerAction,
    errors=(400, 401, 404, 409),
)
def container_action(ref: str, body: bodies.ContainerAction):
    # A release answers at once; Docker removes the container moments later.
    return jsonify(get_platform().control.act(ref, body.action, owner=scope(), wait=False))


@bp.post("/containers/<ref>/renew")
@login_required
@operation(
    "Renew a container: its lifetime ends that long from now again (a few times at most; 409 "
    "when no renewal is left or it never expires)",
    errors=(401, 404, 409),
)
def container_renew(ref: str):
    """Push the container's lifetime back (a few times at most): 409 when it cannot be."""
    plan = get_platform().pool.renew(ref, owner=scope())
    return jsonify(container=plan.subjects[0].as_dict(), actions=plan.actions)


@bp.post("/containers/<ref>/files")
@login_required
@operation(
    "Upload files or a zip/tar archive into the container's site",
    content={
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "dest": {"type": "string"},
                },
                "required": ["file"],
            }
        }
    },
    ok=201,
    errors=(400, 401, 404, 409, 413),
)
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
@operation("CPU % and memory", errors=(401, 404))
def container_stats(ref: str):
    return jsonify(get_platform().control.stats(ref, owner=scope()))


@bp.get("/containers/<ref>/logs")
@login_required
@operation(
    "The container's log, streamed (server-sent events); ?follow=0 for JSON",
    errors=(400, 401, 404),
    answers="text/event-stream",
    query=(
        {"name": "follow", "in": "query", "schema": {"type": "string", "enum": ["0"]}},
        {
            "name": "tail",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    ),
)
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
@operation("This document (OpenAPI 3.1)", public=True, errors=())
def openapi():
    return jsonify(spec(current_app))


@bp.get("/docs")
@operation("This document in Swagger UI (a page)", public=True, errors=(), answers="text/html")
def docs():
    response = make_response(
        render_template("api_docs.html", installed=vendor.installed("swagger-ui-bundle.js"))
    )
    # Swagger UI sets style attributes on its elements: allowed on this page only.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response

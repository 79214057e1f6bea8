"""The lessons' hands-on challenges in the browser, and the classroom's progress.

``/lessons/<n>/challenge``: the task, its checks (live: a server-sent event stream re-runs
them every 2 s and sends each change), and a terminal on the learner's own Docker engine
(``/ws/lessons/challenge/shell``), when the operator has enabled learner engines; the CLI
path for the learner's own machine either way. ``/admin/lessons``: the class view.

API: ``POST /api/lessons/<n>/challenge`` opens it (starts or hands out the learner's engine),
``GET`` the same URL runs one round of checks (or streams them with
``Accept: text/event-stream``), ``DELETE /api/lessons/challenge/engine`` removes the engine,
``GET /api/lessons/progress`` is the learner's own progress and
``GET /api/admin/lessons/progress`` everyone's.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, make_response, render_template, request
from flask_jwt_extended import current_user

from ..errors import ContainerPokerError
from . import streams, vendor
from .context import get_platform, limit
from .openapi import operation
from .security import admin_required, api_user, login_required, page_login_required, page_user
from .terminal import TERMINAL_CSP, relay, signed_in, sock

bp = Blueprint("challenges", __name__)

OPENS_PER_USER = (10, 60.0)
CHECK_EVERY = 2.0  # seconds between rounds of checks on an open page


@bp.get("/lessons/<int:number>/challenge")
@page_login_required()
def challenge_page(number: int):
    platform = get_platform()
    lesson, _ = platform.find_lesson(number)
    user = page_user()
    response = make_response(
        render_template(
            "challenge.html",
            user=user,
            lesson=lesson,
            challenge=lesson.challenge,
            enabled=platform.settings.sandbox_enabled,
            installed=vendor.installed("xterm.js"),
            progress=platform.classroom.my_progress(user.username)[lesson.number],
        )
    )
    response.headers["Content-Security-Policy"] = TERMINAL_CSP
    return response


@bp.post("/api/lessons/<lesson>/challenge")
@login_required
@operation(
    "Open the lesson's challenge: the learner's own engine (started, or from the warm pool) "
    "and a first round of checks",
    errors=(400, 401, 429, 503),
)
def open_challenge(lesson: str):
    user = api_user().username
    limit("challenge:" + user, OPENS_PER_USER, "Too many challenges opened: wait {wait} s.")
    return jsonify(get_platform().classroom.open_challenge(user, lesson))


@bp.get("/api/lessons/<lesson>/challenge")
@login_required
@operation(
    "One round of the challenge's checks (state, hint, what each saw), or live with "
    "Accept: text/event-stream",
    errors=(401, 404),
)
def check_challenge(lesson: str):
    classroom = get_platform().classroom
    user = api_user().username
    if request.accept_mimetypes.best != "text/event-stream":
        return jsonify(classroom.check(user, lesson))
    engine = classroom.engine_of(user)  # 404 before the stream starts when there is none

    def snapshot() -> dict:
        result = classroom.check(user, lesson)
        result.pop("just_passed")  # only changes are sent: the state alone
        return result

    def generate():
        with classroom.engines.viewing(engine):  # an open page keeps the engine
            yield from streams.poll_stream("checks", snapshot, interval=CHECK_EVERY)

    return streams.sse_response(generate())


@bp.delete("/api/lessons/challenge/engine")
@login_required
@operation("Remove the learner's own engine now")
def leave_challenge():
    return jsonify(removed=get_platform().classroom.leave(api_user().username))


@bp.get("/api/lessons/progress")
@login_required
@operation("My progress: per lesson, runs and the challenge's state")
def my_progress():
    table = get_platform().classroom.my_progress(api_user().username)
    return jsonify(lessons=list(table.values()))


@bp.get("/api/admin/lessons/progress")
@admin_required
@operation(
    "The class view: per learner where they are, per lesson who passed and which check "
    "people are stuck on (admin)",
    errors=(401, 403),
)
def class_progress():
    return jsonify(get_platform().classroom.class_view())


@bp.get("/admin/lessons")
@page_login_required(admin=True)
def class_page():
    return render_template(
        "class.html", user=page_user(), view=get_platform().classroom.class_view()
    )


@sock.route("/ws/lessons/challenge/shell", bp=bp)
def challenge_shell(ws) -> None:
    """A terminal on the learner's own engine (bash in its container, `docker` at hand)."""
    if not signed_in(ws):
        return
    classroom = get_platform().classroom
    try:
        engine, shell = classroom.shell(current_user.username, "xterm-256color")
    except ContainerPokerError as exc:
        ws.close(reason=1008, message=exc.message)
        return
    with classroom.engines.viewing(engine):
        try:
            relay(ws, shell, "The shell ended: reload the page for a new one.")
        finally:  # the engine stays (the learner's work is in it) until they leave or idle
            shell.close()

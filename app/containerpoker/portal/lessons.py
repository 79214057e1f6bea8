"""The lessons page and its API: list the flows, run one with parameters, narrated live.

``POST /api/examples/<flow>`` answers with the run's steps as JSON, or, with
``Accept: text/event-stream``, streams each step as it happens.  Parameters
are validated before anything runs; a closed page stops the run, and the
lesson's own clean-up removes what it made.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Blueprint, Response, jsonify, render_template, request

from ..errors import ContainerPokerError, InvalidRequest
from ..lessons import lessons, run_lesson
from ..lessons.framework import find, validate
from . import streams
from .api import too_many
from .platform import get_platform
from .security import api_user, login_required, page_login_required, page_user

bp = Blueprint("lessons", __name__)

RUNS_PER_USER = (10, 60.0)
_running = threading.BoundedSemaphore(2)  # lessons at once on this portal


@bp.get("/lessons")
@page_login_required()
def lessons_page():
    by_category: dict[str, list] = {}
    for lesson in lessons().values():
        by_category.setdefault(lesson.category, []).append(lesson)
    return render_template("lessons.html", user=page_user(), by_category=by_category)


@bp.get("/lessons/<int:number>/source")
@page_login_required()
def lesson_source(number: int):
    lesson = find(number)
    return render_template(
        "lesson_source.html",
        user=page_user(),
        lesson=lesson,
        source=Path(lesson.source).read_text(),
    )


@bp.get("/api/examples")
@login_required
def list_examples():
    return jsonify(examples=[lesson.as_dict() for lesson in lessons().values()])


@bp.post("/api/examples/<flow>")
@login_required
def run_example(flow: str):
    platform = get_platform()
    lesson = find(flow)
    data = request.get_json(silent=True)
    if data is None and request.content_length:
        raise InvalidRequest('Send the parameters as a JSON object, for example {"files": 3}.')
    raw = data.get("params", data) if isinstance(data, dict) else {}
    if not isinstance(raw, dict):
        raise InvalidRequest("'params' must be an object of parameter names and values.")
    params = validate(lesson, raw)  # 400 before anything runs
    wait = platform.limiter.hit("lesson:" + api_user().username, *RUNS_PER_USER)
    if wait:
        return too_many(f"Too many lesson runs: wait {int(wait)} s.", wait)
    if not _running.acquire(blocking=False):
        response = jsonify(
            error="busy",
            detail="Two lessons are running on this portal already: retry in a moment.",
        )
        response.status_code = 503
        response.headers["Retry-After"] = "10"
        return response
    settings = platform.settings
    steps = run_lesson(lesson.number, params, settings=settings)
    if request.accept_mimetypes.best == "text/event-stream":

        def generate():
            try:
                yield "retry: 100000\n\n"
                for number, step in enumerate(steps, start=1):
                    yield streams.event("step", step.as_dict() | {"number": number})
                yield streams.event("done", {"ok": True})
            except ContainerPokerError as exc:
                yield streams.event("done", {"ok": False, "error": exc.code, "detail": exc.message})
            finally:
                steps.close()  # a closed page ends the run: the lesson cleans up
                _running.release()

        return streams.sse_response(generate())
    try:
        done = [s.as_dict() for s in steps]
        return jsonify(
            flow=lesson.number, name=lesson.slug, ok=all(s["ok"] for s in done), steps=done
        )
    except ContainerPokerError as exc:
        body: Response = jsonify(
            flow=lesson.number, name=lesson.slug, ok=False, error=exc.code, detail=exc.message
        )
        return body
    finally:
        _running.release()

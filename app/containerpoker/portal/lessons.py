"""The lessons page and its API: list the lessons, run one with parameters, narrated live.

``POST /api/lessons/<lesson>`` answers with the run's steps as JSON, or, with
``Accept: text/event-stream``, streams each step as it happens. Parameters are validated
before anything runs; a closed page stops the run, and the lesson's own clean-up removes what
it made. The PRD's names stay as aliases: ``GET /examples``, ``GET /api/examples`` and
``POST /api/examples/<lesson>``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, jsonify, render_template, request

from ..errors import ContainerPokerError
from . import bodies, streams
from .context import get_platform, limit
from .openapi import operation
from .security import api_user, login_required, page_login_required, page_user

bp = Blueprint("lessons", __name__)

RUNS_PER_USER = (10, 60.0)


@bp.get("/lessons")
@bp.get("/examples")
@page_login_required()
def lessons_page():
    by_category: dict[str, list] = {}
    for lesson in get_platform().lessons().values():
        by_category.setdefault(lesson.category, []).append(lesson)
    user = page_user()
    progress = get_platform().classroom.my_progress(user.username)
    return render_template("lessons.html", user=user, by_category=by_category, progress=progress)


@bp.get("/lessons/<int:number>/source")
@page_login_required()
def lesson_source(number: int):
    lesson, _ = get_platform().find_lesson(number)
    return render_template(
        "lesson_source.html",
        user=page_user(),
        lesson=lesson,
        source=Path(lesson.source).read_text(),
    )


@bp.get("/api/lessons")
@login_required
@operation("The lessons: number, name, goal, parameters")
def list_lessons():
    return jsonify(lessons=[lesson.as_dict() for lesson in get_platform().lessons().values()])


@bp.get("/api/examples")
@login_required
@operation("The PRD's name for GET /api/lessons")
def list_examples():
    """The PRD's name for :func:`list_lessons`."""
    return jsonify(examples=[lesson.as_dict() for lesson in get_platform().lessons().values()])


@bp.post("/api/lessons/<lesson>")
@bp.post("/api/examples/<lesson>")
@login_required
@operation(
    "Run a lesson (/api/examples/ is the PRD's name): its narrated steps as JSON, or streamed "
    "with Accept: text/event-stream",
    body=bodies.LessonRun,
    body_optional=True,
    errors=(400, 401, 429, 503),
)
def run(lesson: str, body: bodies.LessonRun):
    platform = get_platform()
    chosen, params = platform.find_lesson(lesson, body.lesson_params())
    user = api_user().username
    limit("lesson:" + user, RUNS_PER_USER, "Too many lesson runs: wait {wait} s.")
    steps = platform.run_lesson(chosen.number, params, owner=user)  # Busy (503) when full
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

        return streams.sse_response(generate())
    try:
        done = [s.as_dict() for s in steps]
        return jsonify(
            lesson=chosen.number, name=chosen.slug, ok=all(s["ok"] for s in done), steps=done
        )
    except ContainerPokerError as exc:
        return jsonify(
            lesson=chosen.number, name=chosen.slug, ok=False, error=exc.code, detail=exc.message
        )
    finally:
        steps.close()

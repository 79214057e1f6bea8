"""Editing a lesson's code in the page (development mode, one local user).

``/lessons/<n>/edit`` opens the lesson's source in CodeMirror (from npm, served from
node_modules, never from the repository), with Save, Run and "Restore original". API:
``GET``/``PUT``/``DELETE /api/lessons/<n>/source`` (read, save, restore). Editing is on only
when the portal runs with ``--dev`` (``make dev``) and has at most one account: a lesson's
code runs on the platform's engine, so on a portal a class shares it stays off, and the page
says why.
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    render_template,
    send_from_directory,
)

from ..errors import Forbidden
from . import bodies
from .context import get_platform
from .security import login_required, page_login_required, page_user
from .terminal import TERMINAL_CSP

bp = Blueprint("editor", __name__)

CODEMIRROR = Path(__file__).resolve().parents[3] / "node_modules" / "codemirror"
CODEMIRROR_FILES = {
    "codemirror.js": "lib",
    "codemirror.css": "lib",
    "python.js": "mode/python",
}


def editing_state() -> tuple[bool, str]:
    """Whether lessons may be edited here, and why not when they may not."""
    if not current_app.config.get("LESSON_EDITING"):
        return False, (
            "Editing lessons is off: it is for development mode (`make dev`, one local user). "
            "On a portal that serves a class, a lesson's code runs on the platform's engine "
            "for everyone, so nobody edits it from the page."
        )
    users = len(get_platform().accounts.list())
    if users > 1:
        return False, (
            f"Editing lessons is off: {users} users share this portal, and a lesson's code "
            "runs for all of them. It is on in development mode with one local user."
        )
    return True, ""


def _require_editing() -> None:
    allowed, reason = editing_state()
    if not allowed:
        raise Forbidden(reason)


@bp.get("/lessons/<int:number>/edit")
@page_login_required()
def edit_page(number: int):
    platform = get_platform()
    lesson, _ = platform.find_lesson(number)
    allowed, reason = editing_state()
    response = make_response(
        render_template(
            "editor.html",
            user=page_user(),
            lesson=lesson,
            allowed=allowed,
            reason=reason,
            code=platform.lesson_editor.source(number),
            installed=(CODEMIRROR / "lib" / "codemirror.js").exists(),
        )
    )
    response.headers["Content-Security-Policy"] = TERMINAL_CSP
    return response


@bp.get("/api/lessons/<lesson>/source")
@login_required
def read_source(lesson: str):
    allowed, reason = editing_state()
    code = get_platform().lesson_editor.source(lesson)
    return jsonify(code | {"editable": allowed, "reason": reason})


@bp.put("/api/lessons/<lesson>/source")
@login_required
def save_source(lesson: str):
    _require_editing()
    body = bodies.parse(bodies.LessonSource)
    return jsonify(get_platform().lesson_editor.save(lesson, body.source))


@bp.delete("/api/lessons/<lesson>/source")
@login_required
def restore_source(lesson: str):
    _require_editing()
    return jsonify(get_platform().lesson_editor.restore(lesson))


@bp.get("/vendor/codemirror/<name>")
def codemirror(name: str):
    folder = CODEMIRROR_FILES.get(name)
    if folder is None or not (CODEMIRROR / folder / name).exists():
        abort(404)
    return send_from_directory(CODEMIRROR / folder, name, max_age=3600)

"""Editing a lesson's code in the page (development mode, one local user).

``/lessons/<n>/edit`` opens the lesson's source in CodeMirror (from npm, served from
node_modules, never from the repository), with Save, Run and "Restore original". API:
``GET``/``PUT``/``DELETE /api/lessons/<n>/source`` (read, save, restore). Editing is on only
when the portal runs with ``--dev`` (``make dev``) and has at most one account: a lesson's
code runs on the platform's engine, so on a portal a class shares it stays off, and the page
says why.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    render_template,
)

from ..errors import Forbidden
from . import bodies, vendor
from .context import get_platform
from .openapi import operation
from .security import login_required, page_login_required, page_user
from .terminal import TERMINAL_CSP

bp = Blueprint("editor", __name__)


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
            installed=vendor.installed("codemirror.js"),
        )
    )
    response.headers["Content-Security-Policy"] = TERMINAL_CSP
    return response


@bp.get("/api/lessons/<lesson>/source")
@login_required
@operation("A lesson's code, and whether it may be edited here", errors=(401, 404))
def read_source(lesson: str):
    allowed, reason = editing_state()
    code = get_platform().lesson_editor.source(lesson)
    return jsonify(code | {"editable": allowed, "reason": reason})


@bp.put("/api/lessons/<lesson>/source")
@login_required
@operation(
    "Save a lesson's code (development mode, one local user): loaded first, written whole "
    "or not at all",
    body=bodies.LessonSource,
    errors=(400, 401, 403),
)
def save_source(lesson: str, body: bodies.LessonSource):
    _require_editing()
    return jsonify(get_platform().lesson_editor.save(lesson, body.source))


@bp.delete("/api/lessons/<lesson>/source")
@login_required
@operation("Restore the shipped version of a lesson (development mode)", errors=(401, 403))
def restore_source(lesson: str):
    _require_editing()
    return jsonify(get_platform().lesson_editor.restore(lesson))

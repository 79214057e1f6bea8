"""Browser libraries from npm, served at ``/vendor/<name>``: xterm.js for the lesson
terminals, Swagger UI for ``/api/docs``, CodeMirror 5 for editing a lesson in development mode.

An installed wheel carries them in ``containerpoker/portal/static/vendor/`` (hatch_build.py
copies them there at build time, so a portal the roles install is whole); a checkout serves
``node_modules/`` (``make assets`` installs it). Only the files named here are served;
nothing from npm is ever committed to the repository.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("vendor", __name__)

PACKAGED = Path(__file__).resolve().parent / "static" / "vendor"
NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"
#: Each file served, and its folder under node_modules (hatch_build.py packs the same files).
FILES = {
    "xterm.js": "@xterm/xterm/lib",
    "xterm.css": "@xterm/xterm/css",
    "swagger-ui-bundle.js": "swagger-ui-dist",
    "swagger-ui.css": "swagger-ui-dist",
    "codemirror.js": "codemirror/lib",
    "codemirror.css": "codemirror/lib",
    "python.js": "codemirror/mode/python",
}


def locate(name: str) -> Path | None:
    """Where the browser library file ``name`` is, or None when it is not installed."""
    if name not in FILES:
        return None
    for path in (PACKAGED / name, NODE_MODULES / FILES[name] / name):
        if path.is_file():
            return path
    return None


def installed(name: str) -> bool:
    return locate(name) is not None


@bp.get("/vendor/<name>")
def file(name: str):
    path = locate(name)
    if path is None:
        abort(404)
    return send_from_directory(path.parent, name, max_age=3600)

"""Browser libraries from npm (``make assets`` installs them into ``node_modules/``), served
at ``/vendor/<name>``: xterm.js for the lesson terminals, Swagger UI for ``/api/docs``,
CodeMirror 5 for editing a lesson in development mode.

Only the files named here are served; nothing from npm is ever copied into the repository.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("vendor", __name__)

NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"
#: Each file served, and its folder under node_modules.
FILES = {
    "xterm.js": "@xterm/xterm/lib",
    "xterm.css": "@xterm/xterm/css",
    "swagger-ui-bundle.js": "swagger-ui-dist",
    "swagger-ui.css": "swagger-ui-dist",
    "codemirror.js": "codemirror/lib",
    "codemirror.css": "codemirror/lib",
    "python.js": "codemirror/mode/python",
}


def installed(name: str) -> bool:
    return (NODE_MODULES / FILES[name] / name).exists()


@bp.get("/vendor/<name>")
def file(name: str):
    if name not in FILES or not installed(name):
        abort(404)
    return send_from_directory(NODE_MODULES / FILES[name], name, max_age=3600)

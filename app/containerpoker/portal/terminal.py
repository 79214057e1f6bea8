"""Lesson 2 in the browser: a terminal in the page (xterm.js) attached to a fresh container.

The page opens a WebSocket to ``/ws/lessons/shell``; the server starts a
labelled lesson container with a TTY, attaches to it and copies bytes both
ways.  When the page closes (or the shell exits) the container is removed.
Sign-in is the portal's cookie; the Origin must be the portal's own, so
another site cannot open a terminal with a visitor's cookie.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path

from flask import Blueprint, abort, make_response, render_template, request, send_from_directory
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ..errors import Busy
from .context import get_platform
from .security import page_login_required, page_user, portal_url

bp = Blueprint("terminal", __name__)
sock = Sock()

# xterm.js comes from npm, never from the repository: an installed wheel carries it in
# static/vendor/ (hatch_build.py puts it there at build time); a checkout serves node_modules/
# (installed by `make assets`).
PACKAGED = Path(__file__).resolve().parent / "static" / "vendor"
CHECKOUT = Path(__file__).resolve().parents[3] / "node_modules" / "@xterm" / "xterm"
VENDOR_FILES = {"xterm.js": "lib", "xterm.css": "css"}


def vendor_file(name: str) -> Path | None:
    """Where the browser library file ``name`` is, or None when it is not installed."""
    for path in (PACKAGED / name, CHECKOUT / VENDOR_FILES[name] / name):
        if path.is_file():
            return path
    return None


@bp.get("/lessons/terminal")
@page_login_required()
def terminal_page():
    installed = vendor_file("xterm.js") is not None
    response = make_response(
        render_template("terminal.html", user=page_user(), installed=installed)
    )
    # xterm.js adds <style> elements for its colours and sizes: allowed on this page only.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    return response


@bp.get("/vendor/<name>")
def vendor(name: str):
    path = vendor_file(name) if name in VENDOR_FILES else None
    if path is None:
        abort(404)
    return send_from_directory(path.parent, name, max_age=3600)


def _allowed_origin() -> bool:
    origin = request.headers.get("Origin", "")
    settings = get_platform().settings
    return origin.rstrip("/") == portal_url(settings).rstrip("/") or origin.rstrip("/") == (
        request.host_url.rstrip("/")
    )


@sock.route("/ws/lessons/shell", bp=bp)
def shell(ws) -> None:
    if not _allowed_origin():
        ws.close(reason=1008, message="This terminal opens only from the portal's own pages.")
        return
    try:
        verify_jwt_in_request(locations=["cookies"])
    except Exception:  # noqa: BLE001 - any token problem: not signed in
        ws.close(reason=1008, message="Log in first.")
        return
    session = None
    try:
        try:  # the platform bounds terminals: in all, and per user
            session = get_platform().open_shell("xterm-256color", owner=current_user.username)
        except Busy as exc:
            ws.close(reason=1008, message=exc.message)
            return
        session.send(b"\n")  # bash printed its first prompt before we attached: ask again

        def container_to_page() -> None:
            try:
                while True:
                    data = session.recv(4096)
                    if not data:
                        break
                    ws.send(data.decode("utf-8", errors="replace"))
            except (OSError, ConnectionClosed):
                pass
            finally:  # the shell ended: end the page's session too
                with contextlib.suppress(Exception):
                    ws.close(message="The shell ended.")

        threading.Thread(target=container_to_page, daemon=True).start()
        while True:
            message = ws.receive()
            if message is None:
                continue
            if isinstance(message, str) and message.startswith("\x00"):
                try:  # a control message from the page: {"cols": .., "rows": ..}
                    size = json.loads(message[1:])
                    session.resize(int(size["rows"]), int(size["cols"]))
                except Exception:  # noqa: BLE001 - a malformed control message is ignored
                    pass
                continue
            session.send(message.encode() if isinstance(message, str) else message)
    except ConnectionClosed:
        pass
    finally:  # the page closed, the shell exited or something failed: remove it all
        if session is not None:
            session.close()

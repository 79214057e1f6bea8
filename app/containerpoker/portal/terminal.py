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

from flask import Blueprint, make_response, render_template, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_sock import Sock
from simple_websocket import ConnectionClosed

from ..errors import Busy
from . import vendor
from .context import get_platform
from .security import page_login_required, page_user, portal_url

bp = Blueprint("terminal", __name__)
sock = Sock()

# xterm.js adds <style> elements for its colours and sizes: allowed on terminal pages only.
TERMINAL_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.get("/lessons/terminal")
@page_login_required()
def terminal_page():
    installed = vendor.installed("xterm.js")
    response = make_response(
        render_template("terminal.html", user=page_user(), installed=installed)
    )
    response.headers["Content-Security-Policy"] = TERMINAL_CSP
    return response


def allowed_origin() -> bool:
    """The WebSocket comes from the portal's own pages (not another site using the cookie)."""
    origin = request.headers.get("Origin", "")
    settings = get_platform().settings
    return origin.rstrip("/") == portal_url(settings).rstrip("/") or origin.rstrip("/") == (
        request.host_url.rstrip("/")
    )


def signed_in(ws) -> bool:
    """Whether a terminal's WebSocket may open: it comes from the portal's own pages and carries
    a valid login cookie. Otherwise it is closed with the reason, and False returned."""
    if not allowed_origin():
        ws.close(reason=1008, message="This terminal opens only from the portal's own pages.")
        return False
    try:
        verify_jwt_in_request(locations=["cookies"])
    except Exception:  # noqa: BLE001 - any token problem: not signed in
        ws.close(reason=1008, message="Log in first.")
        return False
    return True


def relay(ws, shell, goodbye: str) -> None:
    """Copy bytes both ways between the page's WebSocket and ``shell`` (``send``, ``recv``,
    ``resize``) until either ends; a message starting with NUL is the page's control message
    ``{"cols": .., "rows": ..}``. When the shell ends, the page is told ``goodbye``."""

    def shell_to_page() -> None:
        try:
            while True:
                data = shell.recv(4096)
                if not data:
                    break
                ws.send(data.decode("utf-8", errors="replace"))
        except (OSError, ConnectionClosed):
            pass
        finally:  # the shell ended: end the page's session too
            with contextlib.suppress(Exception):
                ws.close(message=goodbye)

    threading.Thread(target=shell_to_page, daemon=True).start()
    try:
        while True:
            message = ws.receive()
            if message is None:
                continue
            if isinstance(message, str) and message.startswith("\x00"):
                try:
                    size = json.loads(message[1:])
                    shell.resize(int(size["rows"]), int(size["cols"]))
                except Exception:  # noqa: BLE001 - a malformed control message is ignored
                    pass
                continue
            shell.send(message.encode() if isinstance(message, str) else message)
    except ConnectionClosed:
        pass


@sock.route("/ws/lessons/shell", bp=bp)
def shell(ws) -> None:
    if not signed_in(ws):
        return
    session = None
    try:
        try:  # the platform bounds terminals: in all, and per user
            session = get_platform().open_shell("xterm-256color", owner=current_user.username)
        except Busy as exc:
            ws.close(reason=1008, message=exc.message)
            return
        session.send(b"\n")  # bash printed its first prompt before we attached: ask again
        relay(ws, session, "The shell ended.")
    finally:  # the page closed, the shell exited or something failed: remove it all
        if session is not None:
            session.close()

"""Server-sent events: small generators that hold a worker thread while they sleep.

A stream lives at most ``MAX_SECONDS`` and then ends; the browser's
EventSource reconnects by itself (``retry``), so a stream never pins a
thread for long, and a client that went away is noticed at the next write.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from flask import Response

MAX_SECONDS = 120
HEARTBEAT = 15


def event(name: str, data: object, event_id: str | None = None) -> str:
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    payload = json.dumps(data, separators=(",", ":"))
    lines += [f"data: {part}" for part in payload.splitlines() or [""]]
    return "\n".join(lines) + "\n\n"


def sse_response(generator: Iterator[str]) -> Response:
    response = Response(generator, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def poll_stream(
    name: str,
    snapshot: Callable[[], object],
    interval: float = 2.0,
    max_seconds: float = MAX_SECONDS,
) -> Iterator[str]:
    """Send ``snapshot()`` now and whenever it changes (checked every ``interval`` s)."""
    yield "retry: 3000\n\n"
    last = None
    quiet_since = time.monotonic()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        try:
            data = snapshot()
        except Exception as exc:  # noqa: BLE001 - shown to the user, stream goes on
            data = {"error": str(exc)}
        text = json.dumps(data, sort_keys=True, default=str)
        if text != last:
            last = text
            quiet_since = time.monotonic()
            yield event(name, data)
        elif time.monotonic() - quiet_since > HEARTBEAT:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        time.sleep(interval)

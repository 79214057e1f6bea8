"""Docker's event stream, for the single-host backend."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

from docker.errors import DockerException
from docker.types import CancellableStream
from docker.utils import convert_filters
from requests.exceptions import RequestException

from ..errors import EngineUnavailable
from . import EngineEvent, EventStream
from .util import short


class DockerEvents(EventStream):
    """Docker's events, handed over as they happen.

    Not ``APIClient.events()``: with urllib3 2 its reader (``read(1)`` then ``chunk_left``) hands
    each event over only when the next one arrives, so a lone "die" could wait minutes for the
    next health check. Reading the chunked response line by line as the bytes arrive has no such
    lag. ``close()`` (from any thread) ends the iteration.
    """

    def __init__(self, api, filters: dict) -> None:
        response = api._get(
            api._url("/events"),
            params={"filters": convert_filters(filters)},
            stream=True,
            timeout=None,
        )
        api._raise_for_status(response)

        def decoded() -> Iterator[EngineEvent]:
            for line in response.iter_lines(chunk_size=None):
                if not line:
                    continue
                raw = json.loads(line)
                name = raw.get("Actor", {}).get("Attributes", {}).get("name", "")
                yield EngineEvent(name, raw.get("Action") or raw.get("status") or "")

        self._stream = CancellableStream(decoded(), response)

    def __iter__(self) -> Iterator[EngineEvent]:
        try:
            yield from self._stream
        except (DockerException, RequestException, OSError, ValueError, AttributeError) as exc:
            raise EngineUnavailable(f"Docker's event stream ended ({short(exc)}).") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()

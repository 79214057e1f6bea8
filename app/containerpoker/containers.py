"""Managing one's containers: live status, start/stop/restart, logs and resource use.

The pool decides who owns what (``pool/``); this module answers the questions a user asks
about the containers they have: is it running, since when, what did it log, how much CPU and
memory does it use. Ownership is checked on every call: another user's container is "not
found". Everything reaches Docker through the engine interface.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import (
    Conflict,
    ContainerMissing,
    ContainerPokerError,
    EngineError,
    InvalidRequest,
    NotFound,
)
from .pool import Pool
from .pool.models import ASSIGNED

ACTIONS = ("start", "stop", "restart", "release", "remove")
_STATS_TTL = 5.0
_STATS_AT_ONCE = 8  # Docker answers each container's stats in about a second: ask in parallel
_STARTED_TTL = 60.0  # a start time asked of the engine is kept this long (one call each)


@dataclass(frozen=True)
class ContainerView:
    """A pool container as the containers page shows it."""

    name: str
    runtime: str
    image: str
    owner: str | None
    state: str  # the pool's state: ready, assigned, ...
    status: str  # Docker's: running, exited, missing ...
    status_text: str  # Docker's words, with uptime: "Up 5 minutes (healthy)"
    started_at: float | None
    host_port: int
    url: str
    stopped: bool
    node: str = "local"
    expires_at: float | None = None  # when the platform releases it (see pool/lifecycle.py)
    expires_reason: str = "never"
    renewals_left: int = 0

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["uptime"] = (time.time() - self.started_at) if self.started_at else None
        return data


class ContainerControl:
    """Start, stop, restart, release; status, logs and stats, for owners and admins."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.engine = pool.engine
        self._stats: dict[str, tuple[float, dict]] = {}
        self._stats_lock = threading.Lock()
        self._started: dict[str, tuple[float, float | None]] = {}  # docker id -> (asked, when)

    def list(self, owner: str | None = None) -> list[ContainerView]:
        """``owner``'s containers, or every pool container when ``owner`` is None (admins)."""
        items = self.pool.containers(owner=owner)
        try:
            found = {c.name: c for c in self.engine.list_pool_containers()}
        except EngineError:
            found = {}
        if len(self._started) > 2 * len(found) + 100:  # forget containers long gone
            live = {c.docker_id for c in found.values()}
            self._started = {k: v for k, v in self._started.items() if k in live}
        views = []
        for item in items:
            state = found.get(item.name)
            running = state is not None and state.running
            views.append(
                ContainerView(
                    name=item.name,
                    runtime=item.runtime,
                    image=state.image if state else self.pool.runtime(item.runtime).image,
                    owner=item.owner,
                    state=item.state,
                    status=state.state if state else "missing",
                    status_text=state.status_text if state else "not in Docker",
                    started_at=self._started_at(state) if running else None,
                    host_port=item.host_port,
                    url=item.url,
                    stopped=item.stopped,
                    node=item.node,
                    expires_at=item.expires_at,
                    expires_reason=item.expires_reason,
                    renewals_left=item.renewals_left,
                )
            )
        return views

    def _started_at(self, state) -> float | None:
        """When a running container started: from the list when it says (a Swarm task), else
        asked of the engine once a minute at most (a page of 500 containers would otherwise
        cost 500 calls each time)."""
        if state.started_at is not None:
            return state.started_at
        now = time.monotonic()
        asked, when = self._started.get(state.docker_id, (0.0, None))
        if now - asked > _STARTED_TTL:
            when = self.engine.started_at(state.name)
            self._started[state.docker_id] = (now, when)
        return when

    def get(self, ref: str, owner: str | None = None) -> ContainerView:
        item = self.pool.get(ref, owner=owner)
        for view in self.list(owner=item.owner):
            if view.name == item.name:
                return view
        raise NotFound(f"No container {ref!r}.")

    def act(self, ref: str, action: str, owner: str | None = None, *, wait: bool = True) -> dict:
        """Do ``action`` (one of :data:`ACTIONS`) on a container ``owner`` may touch.

        ``wait`` false: a released container is removed in the background.
        """
        if action not in ACTIONS:
            raise InvalidRequest(f"Unknown action {action!r}: use one of {', '.join(ACTIONS)}.")
        item = self.pool.get(ref, owner=owner)
        if action in ("release", "remove"):
            # A pool container is never reused: removing it is releasing it.
            self.pool.release(item.name, owner=owner, wait=wait)
            return {"container": item.name, "action": action, "done": True}
        if item.state != ASSIGNED:
            raise Conflict(
                f"Container {item.name} is {item.state}: only an assigned container can be "
                f"{action}ed (use reset to replace a warm one)."
            )
        try:
            if action == "stop":
                self.pool.mark_stopped(item.name, True)  # first, so recovery does not "fix" it
                self.engine.stop(item.name)
            elif action == "start":
                self.engine.start(item.name)
                self.pool.mark_stopped(item.name, False)
            else:
                # Marked stopped while it restarts: the event watcher sees it die and must not
                # take that for a failure.
                self.pool.mark_stopped(item.name, True)
                try:
                    self.engine.restart(item.name)
                finally:
                    self.pool.mark_stopped(item.name, False)
        except ContainerMissing:
            raise Conflict(
                f"Container {item.name} is being recovered right now: retry in a few seconds."
            ) from None
        except EngineError as exc:
            raise Conflict(f"{exc.message} ({item.name}).") from None
        self.pool.touch(item.name)  # the owner is using it
        self.pool.store.record(action, runtime=item.runtime, container=item.name, owner=item.owner)
        return {"container": item.name, "action": action, "done": True}

    def logs(
        self, ref: str, owner: str | None = None, *, since: float | None = None, tail: int = 200
    ) -> list[tuple[float, str]]:
        """Log lines (timestamp, text) of a container, newest last."""
        item = self.pool.get(ref, owner=owner)
        try:
            return self.engine.logs(item.name, since=since, tail=tail)
        except ContainerMissing:
            return []
        except ContainerPokerError as exc:
            raise Conflict(f"The logs of {item.name} cannot be read right now: {exc}.") from None

    def stats(self, ref: str, owner: str | None = None) -> dict:
        """CPU % and memory of a running container (cached a few seconds: Docker takes ~1 s)."""
        item = self.pool.get(ref, owner=owner)
        now = time.monotonic()
        with self._stats_lock:
            cached = self._stats.get(item.name)
        if cached and now - cached[0] < _STATS_TTL:
            return cached[1]
        result = {"container": item.name, **self.engine.stats(item.name)}
        with self._stats_lock:
            self._stats[item.name] = (now, result)
        return result

    def stats_of(self, owner: str | None = None) -> list[dict]:
        """:meth:`stats` of each running container ``owner`` has (every pool container for
        None), asked in parallel: a page of twenty containers fills in about a second."""
        names = [v.name for v in self.list(owner=owner) if v.status == "running"]
        if not names:
            return []
        with ThreadPoolExecutor(min(_STATS_AT_ONCE, len(names))) as ask:
            found = ask.map(lambda name: self._stats_or_none(name, owner), names)
            return [result for result in found if result is not None]

    def _stats_or_none(self, name: str, owner: str | None) -> dict | None:
        try:
            return self.stats(name, owner=owner)
        except NotFound:  # released in the meantime
            return None

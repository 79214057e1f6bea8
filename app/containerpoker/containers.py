"""Managing one's containers: live status, start/stop/restart, logs and resource use.

The pool decides who owns what (``pool.py``); this module answers the
questions a user asks about the containers they have: is it running, since
when, what did it log, how much CPU and memory does it use.  Ownership is
checked on every call: another user's container is "not found".
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from docker.errors import APIError, DockerException
from docker.errors import NotFound as DockerNotFound
from sqlalchemy import select, update

from . import cgroups
from .errors import Conflict, InvalidRequest, NotFound
from .pool import Assignment, PoolManager
from .store import ASSIGNED, pool_containers

ACTIONS = ("start", "stop", "restart", "release", "remove")
_STATS_TTL = 5.0
log = logging.getLogger(__name__)


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

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["uptime"] = (time.time() - self.started_at) if self.started_at else None
        return data


class ContainerControl:
    """Start, stop, restart, release; status, logs and stats, for owners and admins."""

    def __init__(self, pool: PoolManager) -> None:
        self.pool = pool
        self.engine = pool.engine
        self._stats: dict[str, tuple[float, dict]] = {}
        self._stats_lock = threading.Lock()
        self._warned_stats = False

    def _rows(self, owner: str | None) -> list[Assignment]:
        return self.pool.containers(owner=owner)

    def list(self, owner: str | None = None) -> list[ContainerView]:
        """``owner``'s containers, or every pool container when ``owner`` is None (admins)."""
        items = self._rows(owner)
        docker_state = {}
        try:
            found = self.engine.api.containers(
                all=True, filters={"label": self.engine._instance_filter()}
            )
        except DockerException:
            found = []
        for entry in found:
            name = entry["Names"][0].lstrip("/") if entry.get("Names") else ""
            docker_state[name] = entry
        flags = self._stopped_flags([i.name for i in items])
        views = []
        for item in items:
            entry = docker_state.get(item.name)
            views.append(
                ContainerView(
                    name=item.name,
                    runtime=item.runtime,
                    image=entry.get("Image", "")
                    if entry
                    else self.pool.runtime(item.runtime).image,
                    owner=item.owner,
                    state=item.state,
                    status=entry.get("State", "unknown") if entry else "missing",
                    status_text=entry.get("Status", "") if entry else "not in Docker",
                    started_at=self._started_at(entry),
                    host_port=item.host_port,
                    url=item.url,
                    stopped=flags.get(item.name, False),
                )
            )
        return views

    def _started_at(self, entry: dict | None) -> float | None:
        if not entry or entry.get("State") != "running":
            return None
        # The list call has no start time ("Up 5 minutes" is Docker's rounding of
        # it); inspect has the exact one, at one call per running container.
        try:
            started = self.engine.api.inspect_container(entry["Id"])["State"]["StartedAt"]
        except DockerException:
            return None
        return _parse_docker_time(started)

    def _stopped_flags(self, names: list[str]) -> dict[str, bool]:
        if not names:
            return {}
        pc = pool_containers
        with self.pool.store.read() as conn:
            rows = conn.execute(select(pc.c.name, pc.c.stopped).where(pc.c.name.in_(names)))
            return {r.name: bool(r.stopped) for r in rows}

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
            released = self.pool.release(item.name, owner=owner, wait=wait)
            return {"container": released.name, "action": action, "done": True}
        if item.state != ASSIGNED:
            raise Conflict(
                f"Container {item.name} is {item.state}: only an assigned container can be "
                f"{action}ed (use reset to replace a warm one)."
            )
        try:
            if action == "stop":
                self._set_stopped(item.name, True)  # first, so recovery does not "fix" it
                self.engine.api.stop(item.name, timeout=5)
            elif action == "start":
                self.engine.api.start(item.name)
                self._set_stopped(item.name, False)
            else:
                # Marked stopped while it restarts: the event watcher sees it die and must not
                # take that for a failure.
                self._set_stopped(item.name, True)
                try:
                    self.engine.api.restart(item.name, timeout=5)
                finally:
                    self._set_stopped(item.name, False)
        except DockerNotFound:
            raise Conflict(
                f"Container {item.name} is being recovered right now: retry in a few seconds."
            ) from None
        except APIError as exc:
            raise Conflict(f"Docker refused to {action} {item.name}: {exc.explanation}.") from None
        with self.pool.store.write() as conn:
            self.pool.store.add_event(
                conn, action, runtime=item.runtime, container=item.name, owner=item.owner
            )
        return {"container": item.name, "action": action, "done": True}

    def _set_stopped(self, name: str, stopped: bool) -> None:
        pc = pool_containers
        with self.pool.store.write() as conn:
            conn.execute(update(pc).where(pc.c.name == name).values(stopped=1 if stopped else 0))

    def logs(
        self, ref: str, owner: str | None = None, *, since: float | None = None, tail: int = 200
    ) -> list[tuple[float, str]]:
        """Log lines (timestamp, text) of a container, newest last."""
        item = self.pool.get(ref, owner=owner)
        try:
            raw = self.engine.api.logs(
                item.name,
                stdout=True,
                stderr=True,
                timestamps=True,
                tail=tail if since is None else "all",
                since=since if since is not None else None,
            )
        except DockerNotFound:
            return []
        except DockerException as exc:
            raise Conflict(f"The logs of {item.name} cannot be read right now: {exc}.") from None
        lines = []
        for line in raw.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            ts = _parse_docker_time(stamp)
            if ts is None:
                continue
            if since is not None and ts <= since:
                continue
            lines.append((ts, text))
        return lines[-tail:]

    def stats(self, ref: str, owner: str | None = None) -> dict:
        """CPU % and memory of a running container (cached a few seconds: Docker takes ~1 s)."""
        item = self.pool.get(ref, owner=owner)
        now = time.monotonic()
        with self._stats_lock:
            cached = self._stats.get(item.name)
        if cached and now - cached[0] < _STATS_TTL:
            return cached[1]
        try:
            raw = self.engine.api.stats(item.name, stream=False)
        except DockerException:
            return {
                "container": item.name,
                "cpu_percent": None,
                "memory_bytes": None,
                "memory_limit": None,
            }
        result = {"container": item.name, **_usage(raw)}
        if result["memory_bytes"] is None:
            result.update(self._kernel_usage(item.name))
        with self._stats_lock:
            self._stats[item.name] = (now, result)
        return result

    def _kernel_usage(self, name: str) -> dict:
        """Memory read from the container's cgroup when Docker's stats come back empty.

        Only for an engine on this machine (a Unix socket): a process id from a remote engine
        names some unrelated process here.
        """
        if not str(self.engine.api.base_url).startswith("http+docker://"):
            return {}
        try:
            pid = self.engine.api.inspect_container(name)["State"]["Pid"]
        except DockerException:
            return {}
        found = cgroups.usage(pid)
        if found is None:
            return {}
        if not self._warned_stats:
            self._warned_stats = True
            log.warning(
                "Docker returned empty stats for %s (its log says why); reading memory from %s",
                name,
                found.source,
            )
        return {"memory_bytes": found.memory_bytes, "memory_limit": found.memory_limit}


def _usage(raw: dict) -> dict:
    cpu, pre = raw.get("cpu_stats", {}), raw.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get("cpu_usage", {}).get(
        "total_usage", 0
    )
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    cpus = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    percent = (
        (cpu_delta / system_delta) * cpus * 100 if system_delta > 0 and cpu_delta >= 0 else 0.0
    )
    memory = raw.get("memory_stats", {})
    used = memory.get("usage")
    cache = (memory.get("stats") or {}).get("inactive_file", 0)
    return {
        "cpu_percent": round(percent, 2),
        "memory_bytes": None if used is None else max(0, used - cache),
        "memory_limit": memory.get("limit"),
    }


def _parse_docker_time(stamp: str) -> float | None:
    """Docker's RFC 3339 times with nanoseconds → epoch seconds."""
    if not stamp or stamp.startswith("0001-"):
        return None
    text = stamp.rstrip("Z")
    main, _, frac = text.partition(".")
    try:
        base = datetime.fromisoformat(main + "+00:00").timestamp()
    except ValueError:
        return None
    return base + (float("0." + frac[:9]) if frac else 0.0)

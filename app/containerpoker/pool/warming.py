"""Warming and refill: starting containers ahead of demand, and removing what is no longer used.

- Refill counts containers still warming, so it never over-provisions; it runs in the
  background after a claim or a release, and repeated requests coalesce.
- A released container is never reused: it is removed with its volume (the user's files) and
  a fresh one is warmed in its place.
- Every row is written *before* its containers exist and deleted only after they are gone
  (``rows.py``), so reconcile can always tell orphans from work in progress.
- New containers go to the node with the most free capacity among those that may run the
  runtime (a node label ``containerpoker.runtimes=nginx,python`` restricts a node); a host port
  is unique per node, so capacity grows with nodes.
- Background Docker work (removing released containers, refilling) waits for a quiet moment
  (no claim or release for ``QUIET_FOR`` s, at most ``DEFER_MAX`` s), and a refill never waits
  while its pool is below a quarter of its target: starting and removing containers takes the
  CPU that the claims in flight need.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..config import RuntimeConfig, Settings
from ..engine import Engine, Node, PoolContainerSpec
from ..errors import ContainerPokerError, EngineError, InvalidRequest
from .files import KeptFiles
from .models import ASSIGNED, FAILED, READY, RELEASED, WARMING
from .rows import PoolRows

Progress = Callable[[str, str, str], None]  # (what, runtime, detail)

REFILL_SETTLE = 0.05  # s a background refill waits after the claim or release that asked
QUIET_FOR = 0.3
DEFER_MAX = 5.0
RUNTIMES_LABEL = "containerpoker.runtimes"


class Warmer:
    """Reserves, starts and removes pool containers; keeps the pools at their warm size."""

    def __init__(
        self, settings: Settings, rows: PoolRows, engine: Engine, progress: Progress
    ) -> None:
        self.settings = settings
        self.rows = rows
        self.engine = engine
        self.progress = progress
        self._warmers = ThreadPoolExecutor(settings.warm_parallelism, thread_name_prefix="cp-warm")
        self._scheduler = ThreadPoolExecutor(1, thread_name_prefix="cp-refill")
        self._janitor = ThreadPoolExecutor(1, thread_name_prefix="cp-janitor")
        self._doomed: list = []  # released rows whose containers are still to be removed
        self._pending: set[Future] = set()
        self._scheduled: set[str] = set()
        self._lock = threading.Lock()
        self.host = socket.gethostname()  # who is warming a row: see Recovery._abandoned
        self.pid = os.getpid()
        self.last_activity = 0.0
        self.files = KeptFiles(settings.data_dir)  # each assignment's uploads

    def touch(self) -> None:
        """A claim or release just happened: background work waits for a quiet moment."""
        self.last_activity = time.monotonic()

    # -- targets and plans ------------------------------------------------------------

    def runtime(self, name: str) -> RuntimeConfig:
        """The runtime's configuration; an unknown name is the caller's mistake (400)."""
        try:
            return self.settings.runtime(name)
        except ContainerPokerError as exc:
            raise InvalidRequest(str(exc)) from None

    def warm_target(self, runtime: str, overrides: dict | None = None) -> int:
        found = (self.rows.warm_overrides() if overrides is None else overrides).get(runtime)
        return self.runtime(runtime).warm if found is None else found

    def shortfall(self, runtime: str, target: int) -> int:
        """How many containers a refill to ``target`` would start (owners' cold starts aside)."""
        have = self.rows.count(runtime, (READY, WARMING), unowned=True)
        return max(0, target - have)

    def surplus(self, runtime: str, target: int) -> list:
        """The ready rows a trim to ``target`` would remove, newest first."""
        ready = self.rows.listed(runtime=runtime, states=(READY,), newest_first=True)
        warming = self.rows.count(runtime, (WARMING,), unowned=True)
        extra = max(0, len(ready) + warming - target)
        return ready[: min(extra, len(ready))]

    def trim(self, runtime: str, target: int) -> int:
        """Remove ready containers beyond ``target``; how many were removed."""
        extra = self.surplus(runtime, target)
        self.rows.move([row.id for row in extra], READY, state=RELEASED)
        for row in extra:
            self.destroy(row)
        return len(extra)

    # -- placing and warming -------------------------------------------------------------

    def eligible_nodes(self, cfg: RuntimeConfig) -> list[Node]:
        """The nodes that may run ``cfg`` now (available, and its runtime label allows it)."""
        found = []
        for node in self.engine.nodes():
            allowed = node.labels.get(RUNTIMES_LABEL)
            # No label: any runtime; an empty one (a manager, say): none.
            if node.available and (
                allowed is None or cfg.name in allowed.replace(" ", "").split(",")
            ):
                found.append(node)
        return found

    def reserve(
        self,
        cfg: RuntimeConfig,
        count: int,
        *,
        owner: str | None = None,
        respect_max: bool = True,
        target: int | None = None,
    ) -> list[dict]:
        """Insert up to ``count`` warming rows, each with a node and a free port on it.

        Ports held by another process are skipped; the pool's maximum bounds the total number
        of live containers, and ``target`` (a refill) the unowned ready or warming ones. Ports
        are probed before the write lock is taken: claims wait for that lock.
        """
        if count <= 0:
            return []
        candidates = self.candidates(cfg, count + 8, owner)  # spares: ports taken meanwhile
        limit = cfg.max_containers if respect_max else None
        rows, wanted = self.rows.reserve(cfg.name, candidates, count, limit, target)
        if wanted > 0 and len(rows) < wanted and len(candidates) < wanted and not owner:
            self.rows.store.record(
                "ports_exhausted",
                runtime=cfg.name,
                detail=f"wanted {wanted} ports in {cfg.port_start}-{cfg.port_end}, "
                f"found {len(rows)}",
            )
        return rows

    def candidates(self, cfg: RuntimeConfig, count: int, owner: str | None = None) -> list[dict]:
        nodes = self.eligible_nodes(cfg)
        used = self.rows.ports_in_use(cfg.port_start, cfg.port_end)
        load = self.rows.tally("node", "runtime", live=True)
        memory = {n.name: self._used_memory(load.get(n.name, {})) for n in nodes}
        next_port = {n.name: cfg.port_start for n in nodes}
        now = time.time()
        candidates = []
        while nodes and len(candidates) < count:
            # The node with the most free memory (or, capacity unknown, the least used).
            node = max(nodes, key=lambda n: (n.memory or 0) - memory[n.name])
            port = self._free_port(node.name, next_port, used.get(node.name, set()), cfg)
            if port is None:
                nodes.remove(node)
                continue
            memory[node.name] += cfg.memory_bytes
            name = f"cp-{self.settings.instance}-{cfg.name}-{secrets.token_hex(4)}"
            candidates.append(
                {
                    "name": name,
                    "runtime": cfg.name,
                    "state": WARMING,
                    "node": node.name,
                    "host_port": port,
                    "volume": f"{name}-files",
                    "owner": owner,
                    "worker_host": self.host,
                    "worker_pid": self.pid,
                    "replacements": 0,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        return candidates

    def _used_memory(self, runtimes: dict[str, int]) -> int:
        known = self.settings.runtimes
        return sum(n * known[r].memory_bytes for r, n in runtimes.items() if r in known)

    def _free_port(
        self, node: str, next_port: dict[str, int], used: set[int], cfg: RuntimeConfig
    ) -> int | None:
        port = next_port[node]
        while port <= cfg.port_end:
            if port not in used and self.engine.port_is_free(node, port):
                next_port[node] = port + 1
                return port
            port += 1
        next_port[node] = port
        return None

    def warm(self, cfg: RuntimeConfig, row: dict, final_state: str = READY) -> bool:
        """Start the container of a reserved row and mark it ready (or assigned)."""
        name, owner = row["name"], row.get("owner")
        self.progress("warming", cfg.name, name)
        spec = PoolContainerSpec(cfg, name, row["volume"], row["node"], row["host_port"], owner)
        try:
            docker_id = self.engine.create_pool_container(spec)
            self.engine.wait_serving(spec.node, spec.host_port, name, self.settings.warm_timeout)
        except (TimeoutError, ContainerPokerError) as exc:
            self.progress("failed", cfg.name, f"{name}: {exc}")
            self._remove_objects(name, row["volume"])
            event = {"kind": "warm_failed", "runtime": cfg.name, "container": name}
            self.rows.forget(row["id"], event | {"detail": str(exc)[:500]})
            if isinstance(exc, ContainerPokerError) and not isinstance(exc, EngineError):
                raise  # the image is missing, say: the caller must hear it
            return False
        now = time.time()
        values = {"state": final_state, "docker_id": docker_id, "updated_at": now}
        if final_state == ASSIGNED:  # a cold start: the assignment's clocks start now
            values |= {"claimed_at": now, "last_active_at": now, "renewals": 0}
            values["expires_at"] = self.rows.expiry(cfg.name, now)
        kind = "cold_start" if final_state == ASSIGNED else "warmed"
        event = {"kind": kind, "runtime": cfg.name, "container": name, "owner": owner}
        if not self.rows.move(row["id"], WARMING, event=event, **values):
            self._remove_objects(name, row["volume"])  # reconciled away while we warmed it
            return False
        self.progress("ready", cfg.name, name)
        return True

    def refill(self, runtimes: Iterable[str] | None = None, *, wait: bool = True) -> dict[str, int]:
        """Warm containers until each pool has its target ready-or-warming.

        Returns how many containers each runtime started warming; with ``wait``, how many
        of them serve (it returns when they are ready or failed).
        """
        names = list(runtimes or self.settings.runtimes)
        overrides = self.rows.warm_overrides()
        futures: list[tuple[str, Future]] = []
        started: dict[str, int] = {}
        for name in names:
            cfg = self.runtime(name)
            target = self.warm_target(name, overrides)
            need = self.shortfall(name, target)
            if need:
                self.engine.require_image(cfg)
            rows = self.reserve(cfg, need, target=target)
            started[name] = len(rows)
            futures += [(name, self._submit(self._warmers, self.warm, cfg, row)) for row in rows]
        if not wait:
            return started
        ready = dict.fromkeys(names, 0)
        for name, future in futures:
            ready[name] += bool(future.result())
        return ready

    def schedule_refill(self, runtime: str) -> None:
        """Refill one pool in the background; repeated calls coalesce."""
        with self._lock:
            if runtime in self._scheduled:
                return
            self._scheduled.add(runtime)

        def run() -> None:
            # Let a burst of claims finish first: they then share one refill, and its work
            # does not compete with the claims still in flight (unless the pool runs low).
            self._wait_for_quiet(runtime)
            with self._lock:
                self._scheduled.discard(runtime)
            try:
                self.refill([runtime], wait=False)
            except ContainerPokerError as exc:
                self.progress("failed", runtime, str(exc))

        self._submit(self._scheduler, run)

    # -- removing ---------------------------------------------------------------------------

    def retire(self, row, kind: str, *, wait: bool = True, detail: str | None = None) -> bool:
        """Take an assignment from its owner for good (a release, an expiry): the row is
        released at once, its container and files deleted, a fresh one warmed. False when
        another call got there first."""
        self.touch()
        event = {"kind": kind, "runtime": row.runtime, "container": row.name, "owner": row.owner}
        if detail:
            event["detail"] = detail
        moved = self.rows.move(
            row.id,
            (ASSIGNED, FAILED),
            event,
            state=RELEASED,
            owner=None,
            updated_at=time.time(),
        )
        if moved:
            (self.destroy if wait else self.destroy_later)(row)
            self.schedule_refill(row.runtime)
        return bool(moved)

    def destroy(self, row) -> None:
        """Remove a row's container, volume and kept uploads, then the row (in that order)."""
        self._remove_objects(row.name, row.volume)
        self.files.forget(row.name)
        self.rows.forget(row.id)

    def destroy_later(self, row) -> None:
        """:meth:`destroy` in the background, at the next quiet moment."""
        with self._lock:
            self._doomed.append(row)
            if len(self._doomed) > 1:
                return  # a janitor run is already waiting for them

        def run() -> None:
            self._wait_for_quiet(None)
            with self._lock:
                rows, self._doomed = self._doomed, []
            for future in [self._warmers.submit(self.destroy, r) for r in rows]:
                try:
                    future.result()
                except EngineError as exc:  # reconcile finishes it later
                    self.progress("failed", "", f"removing a released container: {exc}")

        self._submit(self._janitor, run)

    def _remove_objects(self, name: str, volume: str) -> None:
        try:
            self.engine.remove_container(name)
            self.engine.remove_volume(volume)
        except EngineError as exc:  # reconcile removes what is left
            self.progress("failed", "", f"removing {name}: {exc}")

    # -- background work -------------------------------------------------------------------

    def _wait_for_quiet(self, runtime: str | None) -> None:
        """Sleep until no claim or release came for a moment (see ``QUIET_FOR``)."""
        time.sleep(REFILL_SETTLE)
        start = time.monotonic()
        while time.monotonic() - start < DEFER_MAX:
            if time.monotonic() - self.last_activity >= QUIET_FOR:
                return
            if runtime is not None and self._below_low_water(runtime):
                return
            time.sleep(0.05)

    def _below_low_water(self, runtime: str) -> bool:
        ready = self.rows.count(runtime, (READY,))
        return ready < max(1, self.warm_target(runtime) // 4)

    def _submit(self, executor: ThreadPoolExecutor, fn, *args) -> Future:
        future = executor.submit(fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for background refills and removals to finish; ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return True
            for future in pending:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    future.result(timeout=left)
                except FutureTimeout:
                    return False
                except Exception:  # noqa: BLE001 - reported through progress/events
                    pass

    def close(self) -> None:
        self.wait_idle()
        for executor in (self._janitor, self._scheduler, self._warmers):
            executor.shutdown(wait=True)

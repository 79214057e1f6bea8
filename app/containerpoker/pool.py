"""The pool engine: warm containers, claim, release, upload, reset, reconcile.

States (DESIGN.md): ``warming → ready → assigned → released → (removed)``
plus ``failed``.  The rules that matter:

- A claim is one atomic UPDATE on a ready row: no container ever has two
  owners, whatever the concurrency, across threads and processes.
- A released container is never reused: it is removed with its volume (the
  user's files) and a fresh one is warmed in its place, asynchronously.
- Refill counts containers still warming, so it never over-provisions.
- The user's files live in a per-container volume that becomes the
  assignment's at claim time, so a failed container is replaced with the
  same owner, port and files.
- Every row is written *before* its Docker objects exist and deleted only
  after they are gone, so reconcile can always tell orphans from work in
  progress.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from docker.errors import DockerException
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from .claims import ClaimDesk
from .config import RuntimeConfig, Settings
from .engine import Engine
from .errors import (
    ConfigError,
    Conflict,
    ContainerPokerError,
    InvalidRequest,
    NotFound,
    PoolExhausted,
)
from .store import (
    ASSIGNED,
    FAILED,
    READY,
    RELEASED,
    WARMING,
    Store,
    pool_containers,
    pools,
)
from .uploads import prepare_upload

PC = pool_containers
Progress = Callable[[str, str, str], None]  # (what, runtime, detail)

_OWNER_MAX = 120
#: Seconds a background refill waits after the claim or release that asked for it.
_REFILL_SETTLE = 0.05
#: Background Docker work (removing released containers, refilling) waits for a
#: quiet moment, no claim or release for _QUIET_FOR s, but at most _DEFER_MAX s,
#: and a refill never waits while its pool is below a quarter of its target:
#: starting and removing containers takes the CPU the claims in flight need.
_QUIET_FOR = 0.3
_DEFER_MAX = 5.0


@dataclass(frozen=True)
class Assignment:
    """A container as its owner sees it."""

    name: str
    runtime: str
    owner: str | None
    host_port: int
    url: str
    state: str
    docker_id: str | None
    claimed_at: float | None
    cold_start: bool = False
    reused: bool = False

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class PoolStatus:
    """One pool's counts by state and its limits."""

    runtime: str
    image: str
    warm_target: int
    max_containers: int
    ports: str
    ready: int = 0
    warming: int = 0
    assigned: int = 0
    released: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.ready + self.warming + self.assigned + self.released + self.failed

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["total"] = self.total
        return data


@dataclass
class ReconcileReport:
    """What a reconcile pass found and did."""

    replaced: list[str] = field(default_factory=list)
    removed_dead: list[str] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)
    removed_volumes: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    finished_releases: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(
            (
                self.replaced,
                self.removed_dead,
                self.removed_orphans,
                self.removed_volumes,
                self.abandoned,
                self.finished_releases,
                any(self.created.values()),
            )
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"changed": self.changed}


class PoolManager:
    """All pool operations; the CLI, portal, monitor and Ansible modules call these."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        engine: Engine | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        try:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create the data directory {settings.data_dir}: {exc.strerror}. "
                "Set CONTAINERPOKER_DATA_DIR to a writable directory."
            ) from None
        self.store = store or Store(settings.database_url)
        self.store.ensure_pools(settings.runtimes)
        self.engine = engine or Engine(settings)
        self.progress = progress or (lambda what, runtime, detail: None)
        self._warmers = ThreadPoolExecutor(settings.warm_parallelism, thread_name_prefix="cp-warm")
        self._scheduler = ThreadPoolExecutor(1, thread_name_prefix="cp-refill")
        self._janitor = ThreadPoolExecutor(1, thread_name_prefix="cp-janitor")
        self._doomed: list = []  # released rows whose containers are still to be removed
        self._last_activity = 0.0
        self._pending: set[Future] = set()
        self._scheduled: set[str] = set()
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._claims = ClaimDesk(self.store)

    # -- helpers -----------------------------------------------------------------

    def runtime(self, name: str) -> RuntimeConfig:
        """The runtime's configuration; an unknown name is the caller's mistake."""
        try:
            return self.settings.runtime(name)
        except ConfigError as exc:
            raise InvalidRequest(str(exc)) from None

    def warm_target(self, runtime: str) -> int:
        override = self.store.warm_override(runtime)
        return self.runtime(runtime).warm if override is None else override

    def url_for(self, port: int) -> str:
        return f"http://{self.settings.public_host}:{port}/"

    def _assignment(self, row, *, cold: bool = False, reused: bool = False) -> Assignment:
        m = row if isinstance(row, dict) else row._mapping
        return Assignment(
            name=m["name"],
            runtime=m["runtime"],
            owner=m["owner"],
            host_port=m["host_port"],
            url=self.url_for(m["host_port"]),
            state=m["state"],
            docker_id=m["docker_id"],
            claimed_at=m["claimed_at"],
            cold_start=cold,
            reused=reused,
        )

    @staticmethod
    def _check_owner(owner: str) -> str:
        owner = (owner or "").strip()
        if not owner or len(owner) > _OWNER_MAX or not owner.isprintable():
            raise InvalidRequest(
                f"The owner must be 1 to {_OWNER_MAX} printable characters, like a user name."
            )
        return owner

    def _find(self, conn: Connection, ref: str | int):
        """A row by pool name, Docker id (or a prefix of 12+), or numeric id."""
        ref = str(ref).strip()
        conditions = [PC.c.name == ref]
        if len(ref) >= 12 and all(c in "0123456789abcdef" for c in ref):
            conditions.append(PC.c.docker_id.like(ref + "%"))
        if ref.isdigit():
            conditions.append(PC.c.id == int(ref))
        return conn.execute(select(PC).where(or_(*conditions)).limit(1)).first()

    # -- status ------------------------------------------------------------------

    def status(self) -> list[PoolStatus]:
        """Counts per runtime and state, plus each pool's target and limits."""
        with self.store.read() as conn:
            counts = conn.execute(
                select(PC.c.runtime, PC.c.state, func.count()).group_by(PC.c.runtime, PC.c.state)
            ).all()
        by_runtime: dict[str, dict[str, int]] = {}
        for runtime, state, count in counts:
            by_runtime.setdefault(runtime, {})[state] = count
        result = []
        for name, cfg in self.settings.runtimes.items():
            states = by_runtime.get(name, {})
            result.append(
                PoolStatus(
                    runtime=name,
                    image=cfg.image,
                    warm_target=self.warm_target(name),
                    max_containers=cfg.max_containers,
                    ports=f"{cfg.port_start}-{cfg.port_end}",
                    **{s: states.get(s, 0) for s in (READY, WARMING, ASSIGNED, RELEASED, FAILED)},
                )
            )
        return result

    def containers(self, owner: str | None = None, runtime: str | None = None) -> list[Assignment]:
        """Every pool container (or one owner's / one runtime's), oldest first."""
        query = select(PC).order_by(PC.c.id)
        if owner is not None:
            query = query.where(PC.c.owner == owner)
        if runtime is not None:
            query = query.where(PC.c.runtime == runtime)
        with self.store.read() as conn:
            return [self._assignment(row) for row in conn.execute(query)]

    def get(self, ref: str | int, owner: str | None = None) -> Assignment:
        """One container; another owner's is reported as not found."""
        with self.store.read() as conn:
            row = self._find(conn, ref)
        if row is None or (owner is not None and row.owner != owner):
            raise NotFound(f"No container {ref!r}" + (" of yours." if owner else "."))
        return self._assignment(row)

    # -- claim -------------------------------------------------------------------

    def claim(self, owner: str, runtime: str) -> Assignment:
        """Give ``owner`` a container of ``runtime``, instantly when one is warm.

        The same owner asking again for the same runtime gets the same
        container.  With none ready, a container is cold-started while the
        pool is under its maximum; otherwise :class:`PoolExhausted`.
        """
        owner = self._check_owner(owner)
        cfg = self.runtime(runtime)
        self._last_activity = time.monotonic()
        request = self._claims.submit(owner, runtime)
        if request.outcome == "claimed":
            self.schedule_refill(runtime)
            return self._assignment(request.row)
        if request.outcome == "reused":
            return self._assignment(request.row, reused=True)
        if request.outcome == "warming":  # the same owner's cold start is under way
            return self._await_cold_start(request.row["name"], owner)
        return self._cold_start(cfg, owner)

    def _cold_start(self, cfg: RuntimeConfig, owner: str) -> Assignment:
        try:
            rows = self._reserve(cfg, 1, owner=owner, respect_max=True)
        except IntegrityError:  # the same owner raced us into a cold start
            return self.claim(owner, cfg.name)
        if not rows:
            with self.store.read() as conn:
                warming = conn.execute(
                    select(func.count()).where(PC.c.runtime == cfg.name, PC.c.state == WARMING)
                ).scalar_one()
            wait = 2 if warming else 10
            raise PoolExhausted(
                f"Pool {cfg.name!r} is exhausted: no container is ready and all "
                f"{cfg.max_containers} allowed are in use"
                + (f" ({warming} warming)" if warming else "")
                + f". Retry in {wait} s, or ask an admin to raise CONTAINERPOKER_"
                f"{cfg.name.upper()}_MAX.",
                retry_after=wait,
            )
        row = rows[0]
        self._warm(cfg, row, final_state=ASSIGNED)
        with self.store.read() as conn:
            final = conn.execute(select(PC).where(PC.c.id == row["id"])).first()
        if final is None or final.state != ASSIGNED:
            raise ContainerPokerError(
                f"The {cfg.name} container could not be started: see `containerpoker events`, "
                "then retry."
            )
        self.schedule_refill(cfg.name)
        return self._assignment(final, cold=True)

    def _await_cold_start(self, name: str, owner: str) -> Assignment:
        deadline = time.monotonic() + self.settings.warm_timeout + 5
        while time.monotonic() < deadline:
            with self.store.read() as conn:
                row = conn.execute(select(PC).where(PC.c.name == name)).first()
            if row is None:
                break
            if row.state != WARMING:
                return self._assignment(row, reused=True)
            time.sleep(0.05)
        raise ContainerPokerError(f"Your container {name} did not start in time: retry the claim.")

    # -- release -----------------------------------------------------------------

    def release(self, ref: str | int, owner: str | None = None, *, wait: bool = True) -> Assignment:
        """Give a container back: it and the user's files are deleted, a fresh one warms.

        With ``owner``, only that owner's container can be released (others
        are "not found").  Of two racing releases exactly one wins.  The
        container is the owner's no more when this returns; with ``wait``
        false (the portal) it is removed in the background, at the next quiet
        moment and within a few seconds, instead of before returning.
        """
        now = time.time()
        self._last_activity = time.monotonic()
        with self.store.write() as conn:
            row = self._find(conn, ref)
            if row is None or (owner is not None and row.owner != owner):
                raise NotFound(f"No container {ref!r}" + (" of yours." if owner else "."))
            won = conn.execute(
                update(PC)
                .where(PC.c.id == row.id, PC.c.state.in_((ASSIGNED, FAILED)))
                .values(state=RELEASED, owner=None, updated_at=now)
            ).rowcount
            if won:
                self.store.add_event(
                    conn, "release", runtime=row.runtime, container=row.name, owner=row.owner
                )
        if not won:
            if row.state == RELEASED:
                raise Conflict(f"Container {row.name} is already being released.")
            raise Conflict(
                f"Container {row.name} is {row.state}, not assigned: only an assigned container "
                "can be released (use `pool reset` to replace a warm one)."
            )
        if wait:
            self._destroy(row)
        else:
            self._destroy_later(row)
        self.schedule_refill(row.runtime)
        return self._assignment(row)

    def _destroy_later(self, row) -> None:
        with self._lock:
            self._doomed.append(row)
            if len(self._doomed) > 1:
                return  # a janitor run is already waiting for them

        def run() -> None:
            self._wait_for_quiet(None)
            with self._lock:
                rows, self._doomed = self._doomed, []
            for future in [self._warmers.submit(self._destroy, r) for r in rows]:
                try:
                    future.result()
                except DockerException as exc:  # reconcile finishes it later
                    self.progress("failed", "", f"removing a released container: {exc}")

        future = self._janitor.submit(run)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _wait_for_quiet(self, runtime: str | None) -> None:
        """Sleep until no claim or release came for a moment (see ``_QUIET_FOR``)."""
        time.sleep(_REFILL_SETTLE)
        start = time.monotonic()
        while time.monotonic() - start < _DEFER_MAX:
            if time.monotonic() - self._last_activity >= _QUIET_FOR:
                return
            if runtime is not None and self._below_low_water(runtime):
                return
            time.sleep(0.05)

    def _below_low_water(self, runtime: str) -> bool:
        with self.store.read() as conn:
            ready = conn.execute(
                select(func.count()).where(PC.c.runtime == runtime, PC.c.state == READY)
            ).scalar_one()
        return ready < max(1, self.warm_target(runtime) // 4)

    def release_all(self, owner: str) -> list[Assignment]:
        """Release every container of one owner (admin)."""
        released = []
        for item in self.containers(owner=owner):
            with contextlib.suppress(Conflict, NotFound):
                released.append(self.release(item.name))
        return released

    def _destroy(self, row) -> None:
        """Remove a row's container and volume, then the row (in that order)."""
        m = row._mapping
        self.engine.remove_container(m["name"])
        self.engine.remove_volume(m["volume"])
        with self.store.write() as conn:
            conn.execute(delete(PC).where(PC.c.id == m["id"]))

    # -- upload ------------------------------------------------------------------

    def upload(
        self,
        ref: str | int,
        filename: str,
        data: bytes,
        *,
        owner: str | None = None,
        dest: str = "",
    ) -> dict:
        """Check and copy a file or archive into an assigned container's content folder.

        Everything is checked before anything is written; a refused upload
        leaves the container as it was.
        """
        item = self.get(ref, owner=owner)
        if item.state not in (ASSIGNED, FAILED):
            raise Conflict(
                f"Container {item.name} is {item.state}: files go only into an assigned container."
            )
        cfg = self.runtime(item.runtime)
        clean = prepare_upload(
            filename,
            data,
            max_bytes=self.settings.upload_max_bytes,
            max_entries=self.settings.upload_max_entries,
            dest=dest,
        )
        try:
            self.engine.put_archive(item.name, cfg.content_dir, clean.to_tar())
        except DockerException as exc:
            raise Conflict(
                f"Container {item.name} cannot take files right now ({exc}); it is probably "
                "being recovered — retry in a few seconds."
            ) from None
        with self.store.write() as conn:
            self.store.add_event(
                conn,
                "upload",
                runtime=item.runtime,
                container=item.name,
                owner=item.owner,
                detail=f"{len(clean.files)} files, {clean.total_bytes} bytes",
            )
        return {
            "container": item.name,
            "files": sorted(clean.files),
            "bytes": clean.total_bytes,
            "url": item.url,
        }

    # -- warming -----------------------------------------------------------------

    def _reserve(
        self,
        cfg: RuntimeConfig,
        count: int,
        *,
        owner: str | None = None,
        respect_max: bool = True,
    ) -> list[dict]:
        """Insert up to ``count`` warming rows with free host ports, atomically.

        Ports held by another process are skipped; the pool's maximum bounds
        the total number of live containers.
        """
        if count <= 0:
            return []
        # Probe host ports before taking the write lock: claims wait for that
        # lock, and probing (plus one statement per row) under it made a refill
        # of 40 containers hold every claim for tens of milliseconds.
        with self.store.read() as conn:
            used = set(self._ports_in_use(conn, cfg))
        candidates = []
        for port in range(cfg.port_start, cfg.port_end + 1):
            if len(candidates) >= count + 8:  # a few spares for ports taken meanwhile
                break
            if port not in used and self.engine.port_is_free(port):
                candidates.append(port)
        now = time.time()
        with self.store.write() as conn:
            self.store.lock_runtime(conn, cfg.name)
            if respect_max:
                live = conn.execute(
                    select(func.count()).where(PC.c.runtime == cfg.name, PC.c.state != RELEASED)
                ).scalar_one()
                count = min(count, cfg.max_containers - live)
            used = set(self._ports_in_use(conn, cfg))
            rows = []
            for port in candidates:
                if len(rows) >= max(count, 0):
                    break
                if port in used:
                    continue
                name = f"cp-{self.settings.instance}-{cfg.name}-{secrets.token_hex(4)}"
                rows.append(
                    {
                        "name": name,
                        "runtime": cfg.name,
                        "state": WARMING,
                        "host_port": port,
                        "volume": f"{name}-files",
                        "owner": owner,
                        "worker_host": self._host,
                        "worker_pid": self._pid,
                        "replacements": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            if rows:
                conn.execute(insert(PC), rows)
                ids = dict(
                    conn.execute(
                        select(PC.c.name, PC.c.id).where(PC.c.name.in_([r["name"] for r in rows]))
                    ).all()
                )
                for row in rows:
                    row["id"] = ids[row["name"]]
            # Short of ports for real (not merely lost to a concurrent reserve).
            if count > 0 and len(rows) < count and len(candidates) < count and not owner:
                self.store.add_event(
                    conn,
                    "ports_exhausted",
                    runtime=cfg.name,
                    detail=f"wanted {count} ports in {cfg.port_start}-{cfg.port_end}, found {len(rows)}",
                )
        return rows

    @staticmethod
    def _ports_in_use(conn: Connection, cfg: RuntimeConfig):
        return conn.execute(
            select(PC.c.host_port).where(PC.c.host_port.between(cfg.port_start, cfg.port_end))
        ).scalars()

    def _warm(self, cfg: RuntimeConfig, row: dict, final_state: str = READY) -> bool:
        """Start the container of a reserved row and mark it ready (or assigned)."""
        name = row["name"]
        self.progress("warming", cfg.name, name)
        try:
            docker_id = self.engine.create_pool_container(
                cfg,
                name=name,
                volume=row["volume"],
                host_port=row["host_port"],
                owner=row.get("owner"),
            )
            self.engine.wait_serving(row["host_port"], docker_id, self.settings.warm_timeout)
        except (DockerException, TimeoutError, RuntimeError, ContainerPokerError) as exc:
            self.progress("failed", cfg.name, f"{name}: {exc}")
            with contextlib.suppress(DockerException):
                self.engine.remove_container(name)
                self.engine.remove_volume(row["volume"])
            with self.store.write() as conn:
                conn.execute(delete(PC).where(PC.c.id == row["id"]))
                self.store.add_event(
                    conn, "warm_failed", runtime=cfg.name, container=name, detail=str(exc)[:500]
                )
            if isinstance(exc, ContainerPokerError):
                raise
            return False
        now = time.time()
        values = {"state": final_state, "docker_id": docker_id, "updated_at": now}
        if final_state == ASSIGNED:
            values["claimed_at"] = now
        with self.store.write() as conn:
            done = conn.execute(
                update(PC).where(PC.c.id == row["id"], PC.c.state == WARMING).values(**values)
            ).rowcount
            if done:
                self.store.add_event(
                    conn,
                    "cold_start" if final_state == ASSIGNED else "warmed",
                    runtime=cfg.name,
                    container=name,
                    owner=row.get("owner"),
                )
        if not done:  # reconciled away while we warmed it
            self.engine.remove_container(name)
            self.engine.remove_volume(row["volume"])
            return False
        self.progress("ready", cfg.name, name)
        return True

    def refill(self, runtimes: Iterable[str] | None = None, *, wait: bool = True) -> dict[str, int]:
        """Warm containers until each pool has its target ready-or-warming.

        Returns how many containers each runtime started warming; with
        ``wait`` it returns when they are ready (or failed).
        """
        names = list(runtimes or self.settings.runtimes)
        futures: list[tuple[str, Future]] = []
        started: dict[str, int] = {}
        for name in names:
            cfg = self.runtime(name)
            target = self.warm_target(name)
            with self.store.read() as conn:
                have = conn.execute(
                    select(func.count()).where(
                        PC.c.runtime == name, PC.c.state.in_((READY, WARMING)), PC.c.owner.is_(None)
                    )
                ).scalar_one()
            if have < target:
                self.engine.require_image(cfg)
            rows = self._reserve(cfg, target - have)
            started[name] = len(rows)
            for row in rows:
                futures.append((name, self._submit(self._warm, cfg, row)))
        if wait:
            for _name, future in futures:
                future.result()
        return started

    def _submit(self, fn, *args) -> Future:
        future = self._warmers.submit(fn, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def schedule_refill(self, runtime: str) -> None:
        """Refill one pool in the background; repeated calls coalesce."""
        with self._lock:
            if runtime in self._scheduled:
                return
            self._scheduled.add(runtime)

        def run() -> None:
            # Let a burst of claims finish first: they then share one refill,
            # and the refill's Docker and database work does not compete with
            # the claims still in flight (unless the pool runs low).
            self._wait_for_quiet(runtime)
            with self._lock:
                self._scheduled.discard(runtime)
            try:
                self.refill([runtime], wait=False)
            except ContainerPokerError as exc:
                self.progress("failed", runtime, str(exc))

        future = self._scheduler.submit(run)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for background refills to finish; ``False`` on timeout."""
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

    # -- init / resize / add / trim -------------------------------------------------

    def init(self, runtimes: Iterable[str] | None = None) -> dict[str, int]:
        """Bring every (or the named) pool to its warm size; a second run creates nothing."""
        names = list(runtimes or self.settings.runtimes)
        for name in names:
            self.runtime(name)
        for name in names:
            self.store_target_check(name)
        removed = {name: self._trim(name) for name in names}
        created = self.refill(names, wait=True)
        return {name: created.get(name, 0) - removed[name] for name in names}

    def store_target_check(self, runtime: str) -> None:
        target, cfg = self.warm_target(runtime), self.runtime(runtime)
        if target > cfg.max_containers:
            raise InvalidRequest(
                f"The warm size of {runtime} ({target}) is over its maximum ({cfg.max_containers})."
            )

    def resize(self, runtime: str, warm: int) -> dict[str, int]:
        """Set a pool's warm size (kept in the store) and apply it now."""
        cfg = self.runtime(runtime)
        if not isinstance(warm, int) or isinstance(warm, bool) or warm < 0:
            raise InvalidRequest(
                f"The warm size must be a whole number of 0 or more, not {warm!r}."
            )
        if warm > cfg.max_containers:
            raise InvalidRequest(
                f"A warm size of {warm} is over the {runtime} maximum of {cfg.max_containers}: "
                f"pick 0 to {cfg.max_containers}, or raise CONTAINERPOKER_{runtime.upper()}_MAX."
            )
        with self.store.write() as conn:
            self.store.lock_runtime(conn, runtime)
            conn.execute(update(pools).where(pools.c.runtime == runtime).values(warm_override=warm))
            self.store.add_event(conn, "resize", runtime=runtime, detail=f"warm={warm}")
        removed = self._trim(runtime)
        created = self.refill([runtime], wait=True).get(runtime, 0)
        return {"runtime": runtime, "warm": warm, "created": created, "removed": removed}

    def add(self, runtime: str, count: int) -> dict[str, int]:
        """Raise a pool's warm size by ``count`` and warm the new containers now."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InvalidRequest(
                f"The number to add must be a whole number of 1 or more, not {count!r}."
            )
        return self.resize(runtime, self.warm_target(runtime) + count)

    def _trim(self, runtime: str) -> int:
        """Remove ready containers beyond the warm size (newest first)."""
        target = self.warm_target(runtime)
        with self.store.write() as conn:
            ready = conn.execute(
                select(PC)
                .where(PC.c.runtime == runtime, PC.c.state == READY)
                .order_by(PC.c.id.desc())
            ).all()
            warming = conn.execute(
                select(func.count()).where(
                    PC.c.runtime == runtime, PC.c.state == WARMING, PC.c.owner.is_(None)
                )
            ).scalar_one()
            extra = ready[: max(0, len(ready) + warming - target)][: len(ready)]
            ids = [row.id for row in extra]
            if ids:
                conn.execute(
                    update(PC).where(PC.c.id.in_(ids), PC.c.state == READY).values(state=RELEASED)
                )
        for row in extra:
            self._destroy(row)
        return len(extra)

    # -- reset -------------------------------------------------------------------

    def reset(
        self,
        ref: str | int | None = None,
        *,
        runtime: str | None = None,
        owner: str | None = None,
    ) -> list[str]:
        """Replace containers with fresh ones: one, all of a runtime, or all of an owner's.

        An assigned container keeps its owner, port and files; a warm one is
        removed and the pool refilled.  Returns the names replaced.
        """
        if ref is None and runtime is None and owner is None:
            raise InvalidRequest("Say what to reset: a container, a runtime or an owner.")
        with self.store.read() as conn:
            if ref is not None:
                row = self._find(conn, ref)
                if row is None:
                    raise NotFound(f"No container {ref!r}.")
                rows = [row]
            else:
                query = select(PC).where(PC.c.state.in_((READY, ASSIGNED, FAILED)))
                if runtime is not None:
                    self.runtime(runtime)
                    query = query.where(PC.c.runtime == runtime)
                if owner is not None:
                    query = query.where(PC.c.owner == owner)
                rows = conn.execute(query.order_by(PC.c.id)).all()
        replaced, runtimes = [], set()
        for row in rows:
            if row.state in (ASSIGNED, FAILED):
                if self._replace_assigned(row, reason="reset"):
                    replaced.append(row.name)
            elif row.state == READY:
                with self.store.write() as conn:
                    won = conn.execute(
                        update(PC)
                        .where(PC.c.id == row.id, PC.c.state == READY)
                        .values(state=RELEASED)
                    ).rowcount
                    if won:
                        self.store.add_event(conn, "reset", runtime=row.runtime, container=row.name)
                if won:
                    self._destroy(row)
                    replaced.append(row.name)
                    runtimes.add(row.runtime)
            else:
                raise Conflict(f"Container {row.name} is {row.state}: it cannot be reset now.")
        if runtimes:
            self.refill(sorted(runtimes), wait=True)
        return replaced

    def _replace_assigned(self, row, *, reason: str) -> bool:
        """A fresh container for an assignment: same name, owner, port and volume."""
        cfg = self.runtime(row.runtime)
        self.engine.remove_container(row.name)
        try:
            docker_id = self.engine.create_pool_container(
                cfg, name=row.name, volume=row.volume, host_port=row.host_port, owner=row.owner
            )
            self.engine.wait_serving(row.host_port, docker_id, self.settings.warm_timeout)
        except (DockerException, TimeoutError, RuntimeError, ContainerPokerError) as exc:
            with self.store.write() as conn:
                conn.execute(
                    update(PC)
                    .where(PC.c.id == row.id, PC.c.state.in_((ASSIGNED, FAILED)))
                    .values(state=FAILED, updated_at=time.time())
                )
                self.store.add_event(
                    conn,
                    "recovery_failed",
                    runtime=row.runtime,
                    container=row.name,
                    owner=row.owner,
                    detail=str(exc)[:500],
                )
            return False
        with self.store.write() as conn:
            kept = conn.execute(
                update(PC)
                .where(PC.c.id == row.id, PC.c.state.in_((ASSIGNED, FAILED)))
                .values(
                    state=ASSIGNED,
                    docker_id=docker_id,
                    stopped=0,
                    updated_at=time.time(),
                    replacements=PC.c.replacements + 1,
                )
            ).rowcount
            if kept:
                self.store.add_event(
                    conn,
                    "recovered" if reason == "reconcile" else "reset",
                    runtime=row.runtime,
                    container=row.name,
                    owner=row.owner,
                    detail=f"port {row.host_port}, files kept",
                )
        if not kept:  # released while we replaced it: finish the release
            self.engine.remove_container(row.name)
            return False
        return True

    # -- reconcile ---------------------------------------------------------------

    @contextlib.contextmanager
    def _reconcile_lock(self):
        path = self.settings.data_dir / f"reconcile-{self.settings.instance}.lock"
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _abandoned(self, row) -> bool:
        if row.worker_host == self._host and row.worker_pid:
            if row.worker_pid == self._pid:
                return False
            try:
                os.kill(row.worker_pid, 0)
            except ProcessLookupError:
                return True
            except PermissionError:
                pass
        return time.time() - row.updated_at > self.settings.warm_timeout + 30

    def reconcile(
        self, *, refill: bool = True, only: Collection[str] | None = None
    ) -> ReconcileReport:
        """Make the store and Docker agree, then refill the pools.

        Dead, missing or unhealthy containers are replaced (assigned ones
        keep owner, port and files), labelled containers and volumes the
        store does not know are removed, abandoned warm-ups are cleaned.
        ``only``: check just these containers (by name) and skip the sweep of
        unknown ones: what the event watcher does when Docker reports a death.
        Two reconciles never run at once on one host (a file lock).
        """
        report = ReconcileReport()
        with self._reconcile_lock():
            # Rows first, then Docker: a row always exists before its container,
            # so a container listed now has a row unless it is a true orphan.
            query = select(PC).order_by(PC.c.id)
            if only is not None:
                query = query.where(PC.c.name.in_(list(only)))
            with self.store.read() as conn:
                rows = conn.execute(query).all()
            seen = {c.name: c for c in self.engine.list_pool_containers()}
            for row in rows:
                found = seen.get(row.name)
                healthy = found is not None and found.running and not found.unhealthy
                if row.state == WARMING:
                    if self._abandoned(row) and self._claim_row(row, WARMING, RELEASED):
                        self._destroy(row)
                        report.abandoned.append(row.name)
                elif row.state == READY:
                    if not healthy and self._claim_row(row, READY, RELEASED):
                        self._destroy(row)
                        report.removed_dead.append(row.name)
                elif row.state in (ASSIGNED, FAILED):
                    if row.state == ASSIGNED and row.stopped and found is not None:
                        continue  # stopped by its owner on purpose: not a failure
                    if not healthy or row.state == FAILED:
                        if self._replace_assigned(row, reason="reconcile"):
                            report.replaced.append(row.name)
                        else:
                            report.failed.append(row.name)
                elif row.state == RELEASED and time.time() - row.updated_at > 5:
                    self._destroy(row)
                    report.finished_releases.append(row.name)
            # List again for the sweep: a request a killed process had already
            # sent may have created its container while we worked.
            for found in self.engine.list_pool_containers() if only is None else ():
                name = found.name
                if not self._row_exists(name=name):
                    self.engine.remove_container(found.docker_id)
                    report.removed_orphans.append(name)
            for volume in self.engine.list_pool_volumes() if only is None else ():
                if not self._row_exists(volume=volume):
                    self.engine.remove_volume(volume)
                    report.removed_volumes.append(volume)
            if report.changed or report.failed:
                with self.store.write() as conn:
                    self.store.add_event(conn, "reconcile", detail=_summary(report))
        if refill and (only is None or report.changed or report.failed):
            report.created = self.refill(wait=True)
        return report

    def _claim_row(self, row, from_state: str, to_state: str) -> bool:
        with self.store.write() as conn:
            return bool(
                conn.execute(
                    update(PC)
                    .where(PC.c.id == row.id, PC.c.state == from_state)
                    .values(state=to_state, updated_at=time.time())
                ).rowcount
            )

    def _row_exists(self, *, name: str | None = None, volume: str | None = None) -> bool:
        with self.store.read() as conn:
            cond = PC.c.name == name if name is not None else PC.c.volume == volume
            return conn.execute(select(PC.c.id).where(and_(cond))).first() is not None

    def events(self, limit: int = 50) -> list[dict]:
        return self.store.recent_events(limit)

    # -- teardown ----------------------------------------------------------------

    def remove_all(self) -> int:
        """Remove every container and volume of this instance and forget them (``make stop``)."""
        self.wait_idle(timeout=self.settings.warm_timeout)
        count = 0
        for found in self.engine.list_pool_containers():
            if self.engine.remove_container(found.docker_id):
                count += 1
        for volume in self.engine.list_pool_volumes():
            self.engine.remove_volume(volume)
        with self.store.write() as conn:
            conn.execute(delete(PC))
            self.store.add_event(conn, "stop", detail=f"removed {count} containers")
        return count

    def close(self) -> None:
        """Wait for background work and release resources."""
        self.wait_idle()
        self._janitor.shutdown(wait=True)
        self._scheduler.shutdown(wait=True)
        self._warmers.shutdown(wait=True)
        with contextlib.suppress(Exception):
            self.engine.client.close()
        self.store.dispose()

    def __enter__(self) -> PoolManager:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _summary(report: ReconcileReport) -> str:
    parts = [
        f"{len(getattr(report, key))} {key.replace('_', ' ')}"
        for key in (
            "replaced",
            "removed_dead",
            "removed_orphans",
            "removed_volumes",
            "abandoned",
            "finished_releases",
            "failed",
        )
        if getattr(report, key)
    ]
    return ", ".join(parts) or "nothing to do"

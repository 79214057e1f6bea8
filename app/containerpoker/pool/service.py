"""The pool's use cases: claim, release, upload, reset, resize (and init, status).

States (DESIGN.md): ``warming → ready → assigned → released → (removed)`` plus ``failed``.

- A claim is one atomic UPDATE on a ready row (``rows.py``); with none ready, a container is
  cold-started while the pool is under its maximum, otherwise :class:`PoolExhausted`. A user
  holds one container per runtime, and ``max_per_user`` in all.
- A released or expired container is never reused; it is the owner's no more at once.
- The user's files live in a per-container volume that becomes the assignment's at claim
  time, so a failed or reset container is replaced with the same owner, port and files.
- ``init``, ``resize``, ``reset`` and ``release`` return a :class:`Plan`. With ``apply=False``
  they change nothing and the plan says what they would do; with ``apply=True`` the very same
  code acts and the plan says what was done.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable

from ..config import Settings
from ..engine import Engine
from ..errors import (
    Conflict,
    ContainerMissing,
    ContainerPokerError,
    InvalidRequest,
    NotFound,
    PoolExhausted,
    QuotaExceeded,
)
from ..store import Store
from ..uploads import prepare_upload
from .claims import ClaimBatcher
from .lifecycle import Lifecycle
from .models import (
    ASSIGNED,
    FAILED,
    READY,
    RELEASED,
    WARMING,
    Assignment,
    Plan,
    PoolStatus,
    ReconcileReport,
    check_owner,
)
from .recovery import Recovery
from .rows import PoolRows
from .warming import Progress, Warmer

UPLOAD_WAIT = 15.0  # s an upload waits for a container that is being restarted


class Pool:
    """Every pool use case. Built by the platform (``Platform.pool``) over a store and an engine."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        engine: Engine,
        *,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.engine = engine
        lifetimes = {name: cfg.lifetime for name, cfg in settings.runtimes.items()}
        self.rows = PoolRows(store, lifetimes, max_per_owner=settings.max_per_user)
        self.rows.ensure_pools(settings.runtimes)
        self.warmer = Warmer(
            settings, self.rows, engine, progress or (lambda what, runtime, detail: None)
        )
        self.lifecycle = Lifecycle(self.warmer)
        self.recovery = Recovery(self.warmer, self.lifecycle)
        self._claims = ClaimBatcher(self.rows.serve_claims)
        self._addresses = {node.name: node.address for node in engine.nodes()}

    # -- reading --------------------------------------------------------------------

    def runtime(self, name: str):
        """The runtime's configuration; the one place a runtime name is checked (400)."""
        return self.warmer.runtime(name)

    def warm_target(self, runtime: str) -> int:
        return self.warmer.warm_target(runtime)

    def url_for(self, node: str, port: int) -> str:
        address = self._addresses.get(node)
        if address is None:  # a node that joined since: ask again
            self._addresses = {n.name: n.address for n in self.engine.nodes()}
            address = self._addresses.get(node, self.settings.public_host)
        return f"http://{address}:{port}/"

    def assignment(self, row, *, cold: bool = False, reused: bool = False) -> Assignment:
        m = row if isinstance(row, dict) else row._mapping
        url = self.url_for(m["node"], m["host_port"])
        return Assignment.of(m, url, self.lifecycle.clocks(m), cold=cold, reused=reused)

    def status(self) -> list[PoolStatus]:
        """Counts per runtime and state, plus each pool's target and limits."""
        counts, overrides = self.rows.tally("runtime", "state"), self.rows.warm_overrides()
        per_node = self.rows.tally("runtime", "node", live=True)
        result = []
        for name, cfg in self.settings.runtimes.items():
            states = counts.get(name, {})
            result.append(
                PoolStatus(
                    runtime=name,
                    image=cfg.image,
                    warm_target=self.warmer.warm_target(name, overrides),
                    max_containers=cfg.max_containers,
                    ports=f"{cfg.port_start}-{cfg.port_end}",
                    nodes=per_node.get(name, {}),
                    **{s: states.get(s, 0) for s in (READY, WARMING, ASSIGNED, RELEASED, FAILED)},
                )
            )
        return result

    def containers(self, owner: str | None = None, runtime: str | None = None) -> list[Assignment]:
        """Every pool container (or one owner's / one runtime's), oldest first."""
        return [self.assignment(row) for row in self.rows.listed(owner=owner, runtime=runtime)]

    def get(self, ref: str | int, owner: str | None = None) -> Assignment:
        """One container; another owner's is reported as not found."""
        return self.assignment(self._row(ref, owner))

    def _row(self, ref: str | int, owner: str | None = None):
        row = self.rows.find(ref)
        if row is None or (owner is not None and row.owner != owner):
            raise NotFound(f"No container {ref!r}" + (" of yours." if owner else "."))
        return row

    def events(self, limit: int = 50) -> list[dict]:
        return self.store.recent_events(limit)

    # -- claim ----------------------------------------------------------------------

    def claim(self, owner: str, runtime: str) -> Assignment:
        """Give ``owner`` a container of ``runtime``, instantly when one is warm.

        The same owner asking again for the same runtime gets the same container.
        """
        owner = check_owner(owner)
        cfg = self.runtime(runtime)
        self.warmer.touch()
        request = self._claims.submit(owner, runtime)
        if request.outcome == "claimed":
            self.warmer.schedule_refill(runtime)
            return self.assignment(request.row)
        if request.outcome == "reused":  # launching it again is using it
            self.lifecycle.touch(self.rows.find(request.row["id"]))
            return self.assignment(request.row, reused=True)
        if request.outcome == "over_quota":
            raise QuotaExceeded.holding(self.settings.max_per_user)
        if request.outcome == "warming":  # the same owner's cold start is under way
            return self._await_cold_start(request.row["id"])
        return self._cold_start(cfg, owner)

    def _cold_start(self, cfg, owner: str) -> Assignment:
        from sqlalchemy.exc import IntegrityError

        try:
            rows = self.warmer.reserve(cfg, 1, owner=owner)
        except IntegrityError:  # the same owner raced us into a cold start
            return self.claim(owner, cfg.name)
        if not rows:
            warming = self.rows.count(cfg.name, (WARMING,))
            wait = 2 if warming else 10
            raise PoolExhausted(
                f"Pool {cfg.name!r} is exhausted: no container is ready and all "
                f"{cfg.max_containers} allowed are in use"
                + (f" ({warming} warming)" if warming else "")
                + f". Retry in {wait} s, or ask an admin to raise CONTAINERPOKER_"
                f"{cfg.name.upper()}_MAX.",
                retry_after=wait,
            )
        self.warmer.warm(cfg, rows[0], final_state=ASSIGNED)
        final = self.rows.find(rows[0]["id"])
        if final is None or final.state != ASSIGNED:
            raise ContainerPokerError(
                f"The {cfg.name} container could not be started: see `containerpoker pool "
                "events`, then retry."
            )
        self.warmer.schedule_refill(cfg.name)
        return self.assignment(final, cold=True)

    def _await_cold_start(self, row_id: int) -> Assignment:
        deadline = time.monotonic() + self.settings.warm_timeout + 5
        while time.monotonic() < deadline:
            row = self.rows.find(row_id)
            if row is None:
                break
            if row.state != WARMING:
                return self.assignment(row, reused=True)
            time.sleep(0.05)
        raise ContainerPokerError("Your container did not start in time: retry the claim.")

    # -- release ------------------------------------------------------------------------

    def release(
        self, ref: str | int, owner: str | None = None, *, wait: bool = True, apply: bool = True
    ) -> Plan:
        """Give a container back: it and the user's files are deleted, a fresh one warms.

        With ``owner``, only that owner's container can be released (others are "not
        found"). Of two racing releases exactly one wins. With ``wait`` false (the portal) it
        is removed in the background, within a few seconds, instead of before returning.
        """
        row = self._row(ref, owner)
        plan = Plan(applied=apply)
        self._release_row(row, plan, wait=wait)
        return plan

    def release_all(self, owner: str, *, apply: bool = True) -> Plan:
        """Release every container of one owner (admin)."""
        plan = Plan(applied=apply)
        for row in self.rows.listed(owner=owner, states=(ASSIGNED, FAILED)):
            try:
                self._release_row(row, plan, wait=True)
            except (Conflict, NotFound):
                continue  # released meanwhile
        return plan

    def _release_row(self, row, plan: Plan, *, wait: bool) -> None:
        if row.state not in (ASSIGNED, FAILED):
            if row.state == RELEASED:
                raise Conflict(f"Container {row.name} is already being released.")
            raise Conflict(
                f"Container {row.name} is {row.state}, not assigned: only an assigned container "
                "can be released (use `pool reset` to replace a warm one)."
            )
        if plan.applied and not self.warmer.retire(row, "release", wait=wait):
            raise Conflict(f"Container {row.name} is already being released.")
        plan.subjects.append(self.assignment(row))
        plan.add("released", row.name, 1, f"released {row.name} ({row.runtime}) of {row.owner}")

    # -- upload -------------------------------------------------------------------------

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

        Everything is checked before anything is written; a refused upload leaves the
        container as it was.
        """
        row = self._row(ref, owner)
        item = self.assignment(row)
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
        tar = clean.to_tar()
        self.warmer.files.keep(item.name, tar)  # first: refused when it cannot be kept
        deadline = time.monotonic() + UPLOAD_WAIT
        while True:  # a container being restarted (its task, on a Swarm) takes them soon
            try:
                self.engine.put_files(item.name, cfg.content_dir, tar)
                break
            except ContainerMissing:
                if time.monotonic() > deadline:
                    raise Conflict(
                        f"Container {item.name} is being recovered and cannot take files right "
                        "now: retry in a few seconds."
                    ) from None
                time.sleep(0.5)
            except ContainerPokerError as exc:
                raise Conflict(f"Container {item.name} cannot take files ({exc}).") from None
        self.lifecycle.touch(row)
        detail = f"{len(clean.files)} files, {clean.total_bytes} bytes"
        self.store.record(
            "upload", runtime=item.runtime, container=item.name, owner=item.owner, detail=detail
        )
        return {
            "container": item.name,
            "files": sorted(clean.files),
            "bytes": clean.total_bytes,
            "url": item.url,
        }

    # -- the clocks: renewal and activity ------------------------------------------------------

    def renew(self, ref: str | int, owner: str | None = None, *, apply: bool = True) -> Plan:
        """Push a container's lifetime to now + its runtime's lifetime (a few times at most)."""
        row = self._row(ref, owner)
        plan = self.lifecycle.renew(row, apply=apply)
        plan.subjects.append(self.assignment(self.rows.find(row.id) if apply else row))
        return plan

    def touch(self, ref: str | int, owner: str | None = None) -> None:
        """The owner used the container (a portal action): its idle clock starts again."""
        self.lifecycle.touch(self._row(ref, owner))

    # -- sizes: init, resize, add -----------------------------------------------------------

    def init(
        self,
        runtimes: Iterable[str] | None = None,
        *,
        sizes: dict[str, int] | None = None,
        apply: bool = True,
    ) -> Plan:
        """Bring every (or the named) pool to its warm size, set first from ``sizes``.

        A second run creates nothing.
        """
        sizes = dict(sizes or {})
        names = list(runtimes or sizes or self.settings.runtimes)
        overrides = self.rows.warm_overrides()
        targets = {}
        for name in dict.fromkeys([*names, *sizes]):
            current = self.warmer.warm_target(name, overrides)
            targets[name] = (current, self._check_size(name, sizes.get(name, current)))
        plan = Plan(applied=apply)
        for name, (current, target) in targets.items():
            self._converge(name, current, target, plan)
        return plan

    def resize(self, runtime: str, warm: int, *, apply: bool = True) -> Plan:
        """Set a pool's warm size (kept in the store) and apply it now."""
        return self.init([runtime], sizes={runtime: warm}, apply=apply)

    def add(self, runtime: str, count: int, *, apply: bool = True) -> Plan:
        """Raise a pool's warm size by ``count`` and warm the new containers now."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InvalidRequest(
                f"The number to add must be a whole number of 1 or more, not {count!r}."
            )
        return self.resize(runtime, self.warm_target(runtime) + count, apply=apply)

    def _check_size(self, runtime: str, warm: object) -> int:
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
        return warm

    def _converge(self, name: str, current: int, target: int, plan: Plan) -> None:
        """Plan (and with ``plan.applied``, do) what brings one pool to ``target``."""
        plan.before[name] = {"warm": current}
        plan.after[name] = {"warm": target}
        if target != current:
            if plan.applied:
                self.rows.set_warm_override(name, target)
            plan.add("target", name, 1, f"{name}: warm size {current} -> {target}")
        if plan.applied:
            removed = self.warmer.trim(name, target)
            created = self.warmer.refill([name], wait=True)[name]
        else:  # what trim and refill would find: after a trim, the pool is at its target
            removed = len(self.warmer.surplus(name, target))
            created = 0 if removed else self.warmer.shortfall(name, target)
        plan.add("removed", name, removed, f"{name}: removed {removed} warm containers")
        plan.add("created", name, created, f"{name}: created {created} warm containers")

    # -- reset ------------------------------------------------------------------------------

    def reset(
        self,
        ref: str | int | None = None,
        *,
        runtime: str | None = None,
        owner: str | None = None,
        apply: bool = True,
    ) -> Plan:
        """Replace containers with fresh ones: one, all of a runtime, or all of an owner's.

        An assigned container keeps its owner, port and files; a warm one is removed and the
        pool refilled.
        """
        if ref is None and runtime is None and owner is None:
            raise InvalidRequest("Say what to reset: a container, a runtime or an owner.")
        if ref is not None:
            rows = [self._row(ref)]
            if rows[0].state not in (READY, ASSIGNED, FAILED):
                raise Conflict(
                    f"Container {rows[0].name} is {rows[0].state}: it cannot be reset now."
                )
        else:
            if runtime is not None:
                self.runtime(runtime)
            rows = self.rows.listed(owner=owner, runtime=runtime, states=(READY, ASSIGNED, FAILED))
        plan = Plan(applied=apply)
        refill = set()
        for row in rows:
            who = f"of {row.owner}, files kept" if row.owner else "warm"
            if plan.applied:
                if row.state in (ASSIGNED, FAILED):
                    if not self.recovery.replace(row, reason="reset"):
                        continue
                else:
                    event = {"kind": "reset", "runtime": row.runtime, "container": row.name}
                    if not self.rows.move(row.id, READY, event, state=RELEASED):
                        continue
                    self.warmer.destroy(row)
                    refill.add(row.runtime)
            plan.subjects.append(self.assignment(row))
            plan.add("replaced", row.name, 1, f"replaced {row.name} ({row.runtime}, {who})")
        if refill:
            self.warmer.refill(sorted(refill), wait=True)
        return plan

    # -- reconcile, background work, teardown -------------------------------------------------

    def reconcile(
        self, *, refill: bool = True, only: Collection[str] | None = None
    ) -> ReconcileReport:
        """Make the store and the engine agree, then refill (see ``recovery.py``)."""
        return self.recovery.reconcile(refill=refill, only=only)

    def refill(self, runtimes: Iterable[str] | None = None, *, wait: bool = True) -> dict:
        return self.warmer.refill(runtimes, wait=wait)

    def mark_stopped(self, name: str, stopped: bool) -> None:
        """An owner stopped (or started) their container: recovery leaves a stopped one alone."""
        self.rows.move(self._row(name).id, (ASSIGNED, FAILED), stopped=int(stopped))

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for background refills and removals; ``False`` on timeout."""
        return self.warmer.wait_idle(timeout)

    def remove_all(self) -> int:
        """Remove every container and volume of this instance and forget them (``make stop``)."""
        self.wait_idle(timeout=self.settings.warm_timeout)
        return self.recovery.remove_all()

    def close(self) -> None:
        """Wait for background work and stop its threads."""
        self.warmer.close()

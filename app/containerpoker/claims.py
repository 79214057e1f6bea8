"""Claims: many at once, one transaction, statements compiled once.

A claim is the platform's hot path.  The database serialises claims anyway,
so the claims waiting at one moment are served together in one write
transaction; 50 simultaneous claimers share a few commits instead of
queueing for 50.  The statements are compiled once for
the store's dialect and run on a raw cursor (see :class:`Prepared`), which
on a slow core is the difference between ~4 ms and ~0.3 ms a claim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Integer, String, bindparam, case, insert, select, update

from .errors import ContainerPokerError
from .store import ASSIGNED, READY, WARMING, Prepared, Store, events, pool_containers

PC = pool_containers

_IN_MAX = 64
# The longest a batch's leader waits for claimers still arriving (see _gather).
_GATHER_MAX = 0.002


def _padded(count: int) -> int:
    """The next power of two (at most ``_IN_MAX``): IN lists come in 7 sizes only."""
    size = 1
    while size < count:
        size *= 2
    return min(size, _IN_MAX)


@dataclass
class _ClaimRequest:
    owner: str
    runtime: str
    wake: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to serve the queue, not because it was served
    served: bool = False
    outcome: str = ""  # claimed | reused | warming | empty
    row: dict | None = None
    error: BaseException | None = None


class _ClaimBatcher:
    """Serves claims in batches, one write transaction per batch.

    Claims are serialised by the database anyway; serving all the claims
    waiting at a moment in one transaction means 50 simultaneous claimers
    share a few commits instead of queueing for 50.  There is no server
    thread: the first caller to find nobody serving serves the queue itself
    (a lone claim costs no thread hand-off), then hands the duty to the first
    caller still waiting, if any.
    """

    def __init__(self, handle: Callable[[list[_ClaimRequest]], None]) -> None:
        self._handle = handle
        self._lock = threading.Lock()
        self._pending: list[_ClaimRequest] = []
        self._serving = False

    def submit(self, owner: str, runtime: str) -> _ClaimRequest:
        request = _ClaimRequest(owner, runtime)
        with self._lock:
            self._pending.append(request)
            lead, self._serving = not self._serving, True
        while not request.served:
            if lead:
                self._serve_once()
            else:
                request.wake.wait()
                request.wake.clear()
                lead = request.lead
        if request.error is not None:
            raise request.error
        return request

    def _gather(self) -> None:
        """Let claimers that are arriving right now join the batch (group commit).

        Yield the interpreter while the queue keeps growing, for at most
        ``_GATHER_MAX``.  A lone claim pays one yield (microseconds); a burst
        is served in one transaction instead of a first one for the leader
        alone, slowed down by everyone else arriving, and a second for the rest.
        """
        deadline = time.perf_counter() + _GATHER_MAX
        seen = len(self._pending)
        while True:
            time.sleep(0)  # releases the GIL: threads arriving can enqueue
            now = len(self._pending)
            if now == seen or time.perf_counter() > deadline:
                return
            seen = now

    def _serve_once(self) -> None:
        self._gather()
        with self._lock:
            batch, self._pending = self._pending, []
        try:
            self._handle(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting caller
            error = (
                exc
                if isinstance(exc, ContainerPokerError)
                else ContainerPokerError(
                    f"The claim could not be recorded in the store ({exc}); retry in a moment."
                )
            )
            for request in batch:
                request.error = error
        finally:
            with self._lock:
                heir = self._pending[0] if self._pending else None
                if heir is None:
                    self._serving = False
                else:
                    heir.lead = True
            for request in batch:
                request.served = True
                request.wake.set()
            if heir is not None:
                heir.wake.set()


class ClaimDesk:
    """Turns ``submit(owner, runtime)`` calls into batched, atomic claims."""

    def __init__(self, store: Store) -> None:
        self.store = store
        dialect = store.engine.dialect
        # Statements whose IN lists vary with the batch are compiled once per
        # padded size (1, 2, 4 ... 64), all of them now rather than on a claim.
        self._by_size: dict[tuple[str, int], Prepared] = {}
        size = 1
        while size <= _IN_MAX:
            self._sql_existing(size)
            self._sql_assign(size)
            size *= 2
        self._sql_ready_ids = Prepared(
            select(PC.c.id)
            .where(PC.c.runtime == bindparam("p_runtime"), PC.c.state == READY)
            .order_by(PC.c.id)
            .limit(bindparam("p_limit")),
            dialect,
        )
        oldest_ready = (
            select(PC.c.id)
            .where(PC.c.runtime == bindparam("p_runtime"), PC.c.state == READY)
            .order_by(PC.c.id)
            .limit(1)
            .scalar_subquery()
        )
        # The atomic step: only a row still 'ready' can become this owner's.
        self._sql_claim = Prepared(
            update(PC)
            .where(PC.c.id == oldest_ready, PC.c.state == READY)
            .values(
                state=ASSIGNED,
                owner=bindparam("p_owner"),
                claimed_at=bindparam("p_now"),
                updated_at=bindparam("p_now"),
            )
            .returning(*PC.c),
            dialect,
        )
        self._sql_claim_event = Prepared(
            insert(events).values(
                ts=bindparam("p_ts"),
                kind="claim",
                runtime=bindparam("p_runtime"),
                container=bindparam("p_container"),
                owner=bindparam("p_owner"),
            ),
            dialect,
        )
        self._batcher = _ClaimBatcher(self._serve)

    def submit(self, owner: str, runtime: str) -> _ClaimRequest:
        """Claim for ``owner``; the request's ``outcome`` says what happened.

        ``claimed``: ``row`` is a ready container now assigned to the owner;
        ``reused``: the owner already had ``row``; ``warming``: the owner's
        cold start (``row``) is under way; ``empty``: nothing was ready.
        """
        return self._batcher.submit(owner, runtime)

    def _serve(self, batch: list[_ClaimRequest]) -> None:
        """Serve queued claims in one write transaction (on the claim thread).

        Per runtime: one query finds the owners' existing containers, one
        picks the oldest ready rows, one UPDATE takes them all (see
        :meth:`_sql_assign`), one insert logs the claims: a handful of
        statements per batch, whatever its size.
        """
        now = time.time()
        claimed: list[_ClaimRequest] = []
        by_runtime: dict[str, list[_ClaimRequest]] = {}
        for request in batch:
            by_runtime.setdefault(request.runtime, []).append(request)
        with self.store.raw_write() as cursor:
            for runtime, requests in by_runtime.items():
                owners = list(dict.fromkeys(r.owner for r in requests))
                existing = {}
                for chunk in range(0, len(owners), _IN_MAX):
                    part = owners[chunk : chunk + _IN_MAX]
                    size = _padded(len(part))  # few distinct statements to compile
                    values = {f"o{i}": part[min(i, len(part) - 1)] for i in range(size)}
                    for row in Prepared.rows(
                        self._sql_existing(size).execute(cursor, p_runtime=runtime, **values)
                    ):
                        existing[row["owner"]] = row
                first: dict[str, _ClaimRequest] = {}
                needing = []
                for request in requests:
                    if request.owner in existing:
                        request.row = existing[request.owner]
                        request.outcome = "warming" if request.row["state"] == WARMING else "reused"
                    elif request.owner in first:
                        request.outcome = "same"  # resolved below from the first request
                    else:
                        first[request.owner] = request
                        needing.append(request)
                ids = (
                    [
                        row["id"]
                        for row in Prepared.rows(
                            self._sql_ready_ids.execute(
                                cursor, p_runtime=runtime, p_limit=len(needing)
                            )
                        )
                    ]
                    if needing
                    else []
                )
                taken: dict[str, dict] = {}
                pairs = list(zip(needing, ids, strict=False))
                for chunk in range(0, len(pairs), _IN_MAX):
                    part = pairs[chunk : chunk + _IN_MAX]
                    size = _padded(len(part))
                    values = {}
                    for k in range(size):  # padding repeats the last pair: harmless
                        request, row_id = part[min(k, len(part) - 1)]
                        values[f"i{k}"], values[f"w{k}"] = row_id, request.owner
                    for row in Prepared.rows(
                        self._sql_assign(size).execute(cursor, p_now=now, **values)
                    ):
                        taken[row["owner"]] = row
                for request in needing:
                    row = taken.get(request.owner)
                    if row is None and not self.store.is_sqlite:
                        # Another process took that row (PostgreSQL): pick again.
                        found = Prepared.rows(
                            self._sql_claim.execute(
                                cursor, p_runtime=runtime, p_owner=request.owner, p_now=now
                            )
                        )
                        row = found[0] if found else None
                    if row is not None:
                        request.row, request.outcome = row, "claimed"
                        claimed.append(request)
                    else:
                        request.outcome = "empty"
                for request in requests:
                    if request.outcome == "same":
                        leader = first[request.owner]
                        request.row = leader.row
                        request.outcome = (
                            "reused" if leader.outcome == "claimed" else leader.outcome
                        )
            if claimed:
                statement = self._sql_claim_event
                params = [
                    {
                        "p_ts": now,
                        "p_runtime": r.runtime,
                        "p_container": r.row["name"],
                        "p_owner": r.owner,
                    }
                    for r in claimed
                ]
                statement.execute_many(cursor, params)

    def _sized(self, kind: str, size: int, build) -> Prepared:
        prepared = self._by_size.get((kind, size))
        if prepared is None:
            prepared = Prepared(build(size), self.store.engine.dialect)
            self._by_size[(kind, size)] = prepared
        return prepared

    def _sql_existing(self, size: int) -> Prepared:
        """``SELECT`` the rows of ``size`` owners (``o0``...) in one runtime."""
        return self._sized(
            "existing",
            size,
            lambda n: select(PC).where(
                PC.c.runtime == bindparam("p_runtime"),
                PC.c.owner.in_([bindparam(f"o{i}") for i in range(n)]),
            ),
        )

    def _sql_assign(self, size: int) -> Prepared:
        """One ``UPDATE`` giving row ``i<k>`` to owner ``w<k>``, for ``size`` pairs.

        ``state = 'ready'`` is re-checked in the same statement: the atomic
        step that makes a double assignment impossible, whoever else writes.
        """

        def build(n: int):
            ids = [bindparam(f"i{k}", type_=Integer) for k in range(n)]
            owner = case(*[(PC.c.id == ids[k], bindparam(f"w{k}", type_=String)) for k in range(n)])
            return (
                update(PC)
                .where(PC.c.id.in_(ids), PC.c.state == READY)
                .values(
                    state=ASSIGNED,
                    owner=owner,
                    claimed_at=bindparam("p_now"),
                    updated_at=bindparam("p_now"),
                )
                .returning(*PC.c)
            )

        return self._sized("assign", size, build)

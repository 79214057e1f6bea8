"""Claims: many at once, one transaction, statements compiled once.

A claim is the platform's hot path.  The database serialises claims anyway,
so one thread per process takes every claim waiting at that moment and
serves them in one write transaction; 50 simultaneous claimers share a few
commits instead of queueing for 50.  The statements are compiled once for
the store's dialect and run on a raw cursor (see :class:`Prepared`), which
on a slow core is the difference between ~4 ms and ~0.3 ms a claim.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, select, update

from .errors import ContainerPokerError
from .store import ASSIGNED, READY, WARMING, Prepared, Store, events, pool_containers

PC = pool_containers

_IN_MAX = 64


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
    done: threading.Event = field(default_factory=threading.Event)
    outcome: str = ""  # claimed | reused | warming | empty
    row: dict | None = None
    error: BaseException | None = None


class _ClaimBatcher:
    """One thread turns queued claims into one write transaction per batch.

    Claims are serialised by the database anyway; doing it here, many at a
    time, means 50 simultaneous claimers share a few commits instead of
    queueing for 50 (this is what keeps the tail latency low).
    """

    def __init__(self, handle: Callable[[list[_ClaimRequest]], None]) -> None:
        self._handle = handle
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, owner: str, runtime: str) -> _ClaimRequest:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cp-claims", daemon=True)
                self._thread.start()
        request = _ClaimRequest(owner, runtime)
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            stop = None in batch
            batch = [r for r in batch if r is not None]
            try:
                if batch:
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
                for request in batch:
                    request.done.set()
            if stop:
                return

    def stop(self) -> None:
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=10)
                self._thread = None


class ClaimDesk:
    """Turns ``submit(owner, runtime)`` calls into batched, atomic claims."""

    def __init__(self, store: Store) -> None:
        self.store = store
        dialect = store.engine.dialect
        self._existing_by_count: dict[int, Prepared] = {}
        for size in (1, 2, 4, 8, 16, 32, _IN_MAX):  # compiled now, not on a claim
            self._sql_existing(size)
        self._sql_ready_ids = Prepared(
            select(PC.c.id)
            .where(PC.c.runtime == bindparam("p_runtime"), PC.c.state == READY)
            .order_by(PC.c.id)
            .limit(bindparam("p_limit")),
            dialect,
        )

        def assign_where(which):
            # The atomic step: only a row still 'ready' can become this owner's.
            return Prepared(
                update(PC)
                .where(PC.c.id == which, PC.c.state == READY)
                .values(
                    state=ASSIGNED,
                    owner=bindparam("p_owner"),
                    claimed_at=bindparam("p_now"),
                    updated_at=bindparam("p_now"),
                )
                .returning(*PC.c),
                dialect,
            )

        self._sql_take = assign_where(bindparam("p_id"))
        oldest_ready = (
            select(PC.c.id)
            .where(PC.c.runtime == bindparam("p_runtime"), PC.c.state == READY)
            .order_by(PC.c.id)
            .limit(1)
            .scalar_subquery()
        )
        self._sql_claim = assign_where(oldest_ready)
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

    def stop(self) -> None:
        self._batcher.stop()

    def _serve(self, batch: list[_ClaimRequest]) -> None:
        """Serve queued claims in one write transaction (on the claim thread).

        Per runtime: one query finds the owners' existing containers, one
        picks the oldest ready rows, then each is taken by an UPDATE that
        re-checks ``state = 'ready'`` — the atomic step that makes a double
        assignment impossible, whatever else writes to the store.
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
                for request in needing:
                    rows = []
                    if ids:
                        rows = Prepared.rows(
                            self._sql_take.execute(
                                cursor, p_id=ids.pop(0), p_owner=request.owner, p_now=now
                            )
                        )
                    if not rows and not self.store.is_sqlite:
                        # Another process took that row (PostgreSQL): pick again.
                        rows = Prepared.rows(
                            self._sql_claim.execute(
                                cursor, p_runtime=runtime, p_owner=request.owner, p_now=now
                            )
                        )
                    if rows:
                        request.row, request.outcome = rows[0], "claimed"
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

    def _sql_existing(self, count: int) -> Prepared:
        """``SELECT`` the rows of ``count`` owners in one runtime (compiled once per count)."""
        prepared = self._existing_by_count.get(count)
        if prepared is None:
            prepared = Prepared(
                select(PC).where(
                    PC.c.runtime == bindparam("p_runtime"),
                    PC.c.owner.in_([bindparam(f"o{i}") for i in range(count)]),
                ),
                self.store.engine.dialect,
            )
            self._existing_by_count[count] = prepared
        return prepared

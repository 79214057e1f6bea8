"""Every SQL statement on the pool tables (``pools``, ``pool_containers``), and nothing else.

The rules the statements keep:

- A claim is one atomic UPDATE on a ready row (``state = 'ready'`` re-checked in the statement):
  no container ever has two owners, whatever the concurrency, across threads and processes.
- Every row is written *before* its containers exist and deleted only after they are gone, so
  reconcile can always tell orphans from work in progress.
- A state change is conditional on the state it leaves (:meth:`PoolRows.move`): of two racing
  writers, exactly one wins.
- A host port is unique per node (a unique index), and a user has one container per runtime
  (a partial unique index on owner and runtime).

Claims come in batches (see ``claims.py``); :meth:`PoolRows.serve_claims` serves one batch in
one write transaction, with statements compiled once for the store's dialect and run on a raw
cursor (see ``store.Prepared``): on a slow core that is the difference between ~4 ms and
~0.3 ms a claim.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Integer, String, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from ..store import ASSIGNED, READY, RELEASED, WARMING, Prepared, Store, events, pool_containers
from ..store import pools as pools_table

PC = pool_containers
IN_MAX = 64  # the largest IN list of a claim statement


def padded(count: int) -> int:
    """The next power of two (at most ``IN_MAX``): IN lists come in 7 sizes only."""
    size = 1
    while size < count:
        size *= 2
    return min(size, IN_MAX)


class PoolRows:
    """The pool's rows in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        dialect = store.engine.dialect
        self._by_size: dict[tuple[str, int], Prepared] = {}
        size = 1
        while size <= IN_MAX:  # compiled now rather than on a claim
            self._sql_existing(size)
            self._sql_assign(size)
            size *= 2
        oldest_ready = (
            select(PC.c.id)
            .where(PC.c.runtime == bindparam("p_runtime"), PC.c.state == READY)
            .order_by(PC.c.id)
        )
        self._sql_ready_ids = Prepared(oldest_ready.limit(bindparam("p_limit")), dialect)
        # One ready row for one owner (PostgreSQL: when another process took the row picked).
        self._sql_claim_one = Prepared(
            update(PC)
            .where(PC.c.id == oldest_ready.limit(1).scalar_subquery(), PC.c.state == READY)
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

    # -- reading ---------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        """``{runtime: {state: count}}``."""
        with self.store.read() as conn:
            found = conn.execute(
                select(PC.c.runtime, PC.c.state, func.count()).group_by(PC.c.runtime, PC.c.state)
            ).all()
        result: dict[str, dict[str, int]] = {}
        for runtime, state, count in found:
            result.setdefault(runtime, {})[state] = count
        return result

    def count(self, runtime: str, states: Iterable[str], *, unowned: bool = False) -> int:
        query = select(func.count()).where(PC.c.runtime == runtime, PC.c.state.in_(list(states)))
        if unowned:
            query = query.where(PC.c.owner.is_(None))
        with self.store.read() as conn:
            return conn.execute(query).scalar_one()

    def load_by_node(self) -> dict[str, dict[str, int]]:
        """Live containers (not released) per node and runtime."""
        with self.store.read() as conn:
            found = conn.execute(
                select(PC.c.node, PC.c.runtime, func.count())
                .where(PC.c.state != RELEASED)
                .group_by(PC.c.node, PC.c.runtime)
            ).all()
        result: dict[str, dict[str, int]] = {}
        for node, runtime, count in found:
            result.setdefault(node, {})[runtime] = count
        return result

    def listed(
        self, owner: str | None = None, runtime: str | None = None, states: Iterable[str] = ()
    ) -> list[Row]:
        """Rows, oldest first; only one owner's / runtime's / states' when given."""
        query = select(PC).order_by(PC.c.id)
        if owner is not None:
            query = query.where(PC.c.owner == owner)
        if runtime is not None:
            query = query.where(PC.c.runtime == runtime)
        if states:
            query = query.where(PC.c.state.in_(list(states)))
        with self.store.read() as conn:
            return conn.execute(query).all()

    def named(self, names: Iterable[str]) -> list[Row]:
        with self.store.read() as conn:
            return conn.execute(select(PC).where(PC.c.name.in_(list(names)))).all()

    def find(self, ref: str | int) -> Row | None:
        """A row by pool name, Docker id (or a prefix of 12+), or numeric id."""
        ref = str(ref).strip()
        conditions = [PC.c.name == ref]
        if len(ref) >= 12 and all(c in "0123456789abcdef" for c in ref):
            conditions.append(PC.c.docker_id.like(ref + "%"))
        if ref.isdigit():
            conditions.append(PC.c.id == int(ref))
        with self.store.read() as conn:
            return conn.execute(select(PC).where(or_(*conditions)).limit(1)).first()

    def by_id(self, row_id: int) -> Row | None:
        with self.store.read() as conn:
            return conn.execute(select(PC).where(PC.c.id == row_id)).first()

    def ready_newest_first(self, runtime: str) -> list[Row]:
        with self.store.read() as conn:
            return conn.execute(
                select(PC)
                .where(PC.c.runtime == runtime, PC.c.state == READY)
                .order_by(PC.c.id.desc())
            ).all()

    def ports_in_use(self, start: int, end: int) -> dict[str, set[int]]:
        """``{node: ports}`` held by rows in a port range."""
        with self.store.read() as conn:
            return self._ports(conn, start, end)

    @staticmethod
    def _ports(conn: Connection, start: int, end: int) -> dict[str, set[int]]:
        found: dict[str, set[int]] = {}
        for node, port in conn.execute(
            select(PC.c.node, PC.c.host_port).where(PC.c.host_port.between(start, end))
        ):
            found.setdefault(node, set()).add(port)
        return found

    def known(self, *, name: str | None = None, volume: str | None = None) -> bool:
        condition = PC.c.name == name if name is not None else PC.c.volume == volume
        with self.store.read() as conn:
            return conn.execute(select(PC.c.id).where(condition)).first() is not None

    def stopped_flags(self, names: list[str]) -> dict[str, bool]:
        if not names:
            return {}
        with self.store.read() as conn:
            found = conn.execute(select(PC.c.name, PC.c.stopped).where(PC.c.name.in_(names)))
            return {r.name: bool(r.stopped) for r in found}

    # -- pool sizes ---------------------------------------------------------------------

    def ensure_pools(self, runtimes: Iterable[str]) -> None:
        """Create the pools rows (the per-runtime locks) before anyone needs to lock them.

        On PostgreSQL two writers inserting the same missing row would collide; creating them
        up front leaves :meth:`_lock_runtime` a plain row lock.
        """
        try:
            with self.store.write() as conn:
                have = set(conn.execute(select(pools_table.c.runtime)).scalars())
                for name in runtimes:
                    if name not in have:
                        conn.execute(insert(pools_table).values(runtime=name, seq=0))
        except IntegrityError:
            pass  # another process created them first

    @staticmethod
    def _lock_runtime(conn: Connection, runtime: str) -> None:
        """Serialise writers of one runtime (the pools row is the lock)."""
        table = pools_table
        locked = conn.execute(
            table.update().where(table.c.runtime == runtime).values(seq=table.c.seq + 1)
        ).rowcount
        if not locked:
            conn.execute(insert(table).values(runtime=runtime, warm_override=None, seq=1))

    def warm_overrides(self) -> dict[str, int | None]:
        """The warm sizes set at run time (``pool resize``), by runtime."""
        with self.store.read() as conn:
            table = pools_table
            return dict(conn.execute(select(table.c.runtime, table.c.warm_override)).all())

    def set_warm_override(self, runtime: str, warm: int) -> None:
        with self.store.write() as conn:
            self._lock_runtime(conn, runtime)
            conn.execute(
                update(pools_table)
                .where(pools_table.c.runtime == runtime)
                .values(warm_override=warm)
            )
            self.store.add_event(conn, "resize", runtime=runtime, detail=f"warm={warm}")

    # -- writing containers ----------------------------------------------------------------

    def reserve(
        self, runtime: str, candidates: list[dict], count: int, limit: int | None
    ) -> tuple[list[dict], int]:
        """Insert up to ``count`` warming rows from ``candidates`` (rows without ids, each
        with a node and port), skipping ports taken meanwhile; at most ``limit`` live rows
        (not released) of the runtime. Returns the rows inserted (with ids) and the count
        that was wanted after the limit."""
        with self.store.write() as conn:
            self._lock_runtime(conn, runtime)
            if limit is not None:
                live = conn.execute(
                    select(func.count()).where(PC.c.runtime == runtime, PC.c.state != RELEASED)
                ).scalar_one()
                count = min(count, limit - live)
            ports = [c["host_port"] for c in candidates]
            used = self._ports(conn, min(ports, default=0), max(ports, default=0))
            rows: list[dict] = []
            for candidate in candidates:
                if len(rows) >= count:
                    break
                if candidate["host_port"] in used.get(candidate["node"], ()):
                    continue
                used.setdefault(candidate["node"], set()).add(candidate["host_port"])
                rows.append(dict(candidate))
            if rows:
                conn.execute(insert(PC), rows)
                ids = dict(
                    conn.execute(
                        select(PC.c.name, PC.c.id).where(PC.c.name.in_([r["name"] for r in rows]))
                    ).all()
                )
                for row in rows:
                    row["id"] = ids[row["name"]]
            return rows, count

    def move(
        self, row_id: int, from_states: str | Iterable[str], event: dict | None = None, **values
    ) -> bool:
        """Update a row only while it is in one of ``from_states``; True when this call won.

        ``event``: recorded in the same transaction when the update happened.
        """
        states = [from_states] if isinstance(from_states, str) else list(from_states)
        with self.store.write() as conn:
            won = conn.execute(
                update(PC).where(PC.c.id == row_id, PC.c.state.in_(states)).values(**values)
            ).rowcount
            if won and event is not None:
                self.store.add_event(conn, **event)
        return bool(won)

    def move_many(self, row_ids: list[int], from_state: str, **values) -> int:
        if not row_ids:
            return 0
        with self.store.write() as conn:
            return conn.execute(
                update(PC).where(PC.c.id.in_(row_ids), PC.c.state == from_state).values(**values)
            ).rowcount

    def set_stopped(self, name: str, stopped: bool) -> None:
        with self.store.write() as conn:
            conn.execute(update(PC).where(PC.c.name == name).values(stopped=int(stopped)))

    def forget(self, row_id: int, event: dict | None = None) -> None:
        """Delete a row (its containers are gone)."""
        with self.store.write() as conn:
            conn.execute(delete(PC).where(PC.c.id == row_id))
            if event is not None:
                self.store.add_event(conn, **event)

    def forget_all(self, event: dict) -> None:
        with self.store.write() as conn:
            conn.execute(delete(PC))
            self.store.add_event(conn, **event)

    # -- claims --------------------------------------------------------------------------

    def serve_claims(self, batch: list) -> None:
        """Serve queued claims (``claims.ClaimRequest``) in one write transaction.

        Per runtime: one query finds the owners' existing containers, one picks the oldest
        ready rows, one UPDATE takes them all (:meth:`_sql_assign`), one insert logs the
        claims: a handful of statements per batch, whatever its size. Each request gets an
        ``outcome``: ``claimed`` (``row`` is now the owner's), ``reused`` (the owner already
        had ``row``), ``warming`` (the owner's cold start ``row`` is under way) or ``empty``.
        """
        now = time.time()
        claimed = []
        by_runtime: dict[str, list] = {}
        for request in batch:
            by_runtime.setdefault(request.runtime, []).append(request)
        with self.store.raw_write() as cursor:
            for runtime, requests in by_runtime.items():
                claimed += self._serve_runtime(cursor, runtime, requests, now)
            if claimed:
                self._sql_claim_event.execute_many(
                    cursor,
                    [
                        {"p_ts": now, "p_runtime": r.runtime, "p_container": r.row["name"]}
                        | {"p_owner": r.owner}
                        for r in claimed
                    ],
                )

    def _serve_runtime(self, cursor, runtime: str, requests: list, now: float) -> list:
        owners = list(dict.fromkeys(r.owner for r in requests))
        existing = {}
        for start in range(0, len(owners), IN_MAX):
            part = owners[start : start + IN_MAX]
            size = padded(len(part))  # padding repeats the last owner: harmless
            values = {f"o{i}": part[min(i, len(part) - 1)] for i in range(size)}
            found = self._sql_existing(size).execute(cursor, p_runtime=runtime, **values)
            for row in Prepared.rows(found):
                existing[row["owner"]] = row
        first, needing = {}, []
        for request in requests:
            if request.owner in existing:
                request.row = existing[request.owner]
                request.outcome = "warming" if request.row["state"] == WARMING else "reused"
            elif request.owner not in first:
                first[request.owner] = request
                needing.append(request)
        ids = []
        if needing:
            found = self._sql_ready_ids.execute(cursor, p_runtime=runtime, p_limit=len(needing))
            ids = [row["id"] for row in Prepared.rows(found)]
        pairs = list(zip(needing, ids, strict=False))
        taken: dict[str, dict] = {}
        for start in range(0, len(pairs), IN_MAX):
            part = pairs[start : start + IN_MAX]
            values = {}
            for k in range(padded(len(part))):  # padding repeats the last pair: harmless
                request, row_id = part[min(k, len(part) - 1)]
                values[f"i{k}"], values[f"w{k}"] = row_id, request.owner
            found = self._sql_assign(padded(len(part))).execute(cursor, p_now=now, **values)
            for row in Prepared.rows(found):
                taken[row["owner"]] = row
        claimed = []
        for request in needing:
            row = taken.get(request.owner)
            if row is None and not self.store.is_sqlite:
                # Another process took that row (PostgreSQL): pick again.
                found = self._sql_claim_one.execute(
                    cursor, p_runtime=runtime, p_owner=request.owner, p_now=now
                )
                rows = Prepared.rows(found)
                row = rows[0] if rows else None
            request.row, request.outcome = row, "claimed" if row is not None else "empty"
            if row is not None:
                claimed.append(request)
        for request in requests:  # the same owner twice in one batch: one container
            leader = first.get(request.owner)
            if leader is not None and leader is not request and not request.outcome:
                request.row = leader.row
                request.outcome = "reused" if leader.outcome == "claimed" else leader.outcome
        return claimed

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

        ``state = 'ready'`` is re-checked in the same statement: the atomic step that makes a
        double assignment impossible, whoever else writes.
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

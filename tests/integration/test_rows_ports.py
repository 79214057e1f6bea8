"""A host port is one row's per node: a move onto a taken port is refused by the store, and
says so (None) rather than raising, so a container moved off a lost node picks another port
instead of colliding with a warm-up that took the same one meanwhile (recovery.replace)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert

from containerpoker.pool.rows import PoolRows
from containerpoker.store import ASSIGNED, READY, Store, pool_containers


@pytest.fixture
def rows(backend_env, tmp_path):
    url = backend_env.get("CONTAINERPOKER_DATABASE_URL") or f"sqlite:///{tmp_path / 'r.db'}"
    store = Store(url)
    yield PoolRows(store)
    store.dispose()


def _row(rows: PoolRows, name: str, state: str, node: str, port: int) -> int:
    now = time.time()
    values = {"name": name, "runtime": "nginx", "state": state, "node": node}
    values |= {"host_port": port, "volume": name + "-files", "created_at": now, "updated_at": now}
    with rows.store.write() as conn:
        return conn.execute(insert(pool_containers).values(**values)).inserted_primary_key[0]


def test_a_move_onto_a_port_another_row_holds_answers_none_and_changes_nothing(rows):
    moving = _row(rows, "cp-t-moving", ASSIGNED, "worker1", 18000)
    _row(rows, "cp-t-warm", READY, "worker2", 18002)  # a refill's warm-up took it first
    assert rows.move(moving, ASSIGNED, node="worker2", host_port=18002) is None
    (row,) = rows.listed(ids=[moving])
    assert (row.node, row.host_port, row.state) == ("worker1", 18000, ASSIGNED)
    assert rows.move(moving, ASSIGNED, node="worker2", host_port=18003) == 1
    (row,) = rows.listed(ids=[moving])
    assert (row.node, row.host_port) == ("worker2", 18003)


def test_other_integrity_errors_are_not_swallowed(rows):
    _row(rows, "cp-t-a", READY, "worker1", 18000)
    other = _row(rows, "cp-t-b", READY, "worker1", 18001)
    with pytest.raises(Exception, match="UNIQUE|unique|duplicate"):
        rows.move(other, READY, name="cp-t-a")  # a name is unique too, but not a port

"""What the database-busy fault found: two refills that counted the same shortfall while another
process held the write lock (the portal's after a claim, its monitor's pass) both filled it once
the lock was gone, and the pool stayed above its target. The shortfall is now counted again
inside the write transaction."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from containerpoker.config import load_settings

from ..conftest import make_env

pytestmark = [pytest.mark.docker, pytest.mark.faults]


def test_two_refills_held_up_by_a_busy_database_fill_the_shortfall_once(
    tmp_path, instance, make_manager
):
    env = make_env(tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx")
    env["CONTAINERPOKER_NGINX_WARM"] = "2"
    first = make_manager(load_settings(env=env))  # two platforms: two stores, two processes'
    second = make_manager(load_settings(env=env))  # worth of connections to one database
    holder = sqlite3.connect(first.settings.data_dir / "containerpoker.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    refills = [threading.Thread(target=p.refill, args=(["nginx"],)) for p in (first, second)]
    for refill in refills:
        refill.start()
    time.sleep(3)  # both count their shortfall (reads do not wait) and queue for the lock
    holder.execute("ROLLBACK")
    holder.close()
    for refill in refills:
        refill.join(120)
    rows = first.rows.listed(runtime="nginx")
    assert [r.state for r in rows] == ["ready", "ready"], [(r.name, r.state) for r in rows]

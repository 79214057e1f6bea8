"""Schema migrations: the models never drift from them, and a database at the baseline with
data in it upgrades with nothing lost (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from containerpoker.config import load_settings
from containerpoker.platform import Platform
from containerpoker.store import Store, metadata

from .helpers import fetch

pytestmark = pytest.mark.docker

CLI = str(Path(sys.executable).parent / "containerpoker")
BASELINE = "0001"
TABLES = ("pools", "users", "events", "revoked_tokens", "pool_containers")


def test_every_schema_change_is_a_migration(backend_env, tmp_path):
    """The models (store.py) and the schema the migrations build are the same: a column added
    to a model without a migration fails here."""
    url = backend_env.get("CONTAINERPOKER_DATABASE_URL") or f"sqlite:///{tmp_path}/m.db"
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            drift = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        store.dispose()
    assert drift == [], (
        "store.py and the migrations differ: add a migration (docs/admin.md: Migrations)"
    )


def test_a_baseline_database_with_data_upgrades_and_still_works(
    backend_env, test_env, docker_client
):
    env = os.environ | test_env | backend_env | {"CONTAINERPOKER_RUNTIMES": "nginx"}
    settings = load_settings(env=env)
    # Real things first: accounts, a warm container, and one assigned with a file in it.
    with Platform(settings) as platform:
        platform.accounts.create("alice", "alice@example.org", "alice-password")
        platform.accounts.create("root", "root@example.org", "root-password", admin=True)
        platform.pool.init()
        held = platform.pool.claim("alice", "nginx")
        platform.pool.upload(held.name, "index.html", b"<p>from 0.1</p>", owner="alice")
        platform.pool.wait_idle()
        with platform.store.read() as conn:
            saved = {
                t: [dict(r._mapping) for r in conn.execute(sa.select(metadata.tables[t]))]
                for t in TABLES
            }

    # The same data in a database at the baseline schema, as containerpoker 0.1 wrote it.
    store = Store(settings.database_url, migrate=False)
    with store.engine.begin() as conn:
        metadata.drop_all(conn)
        conn.execute(sa.text("DROP TABLE alembic_version"))
    store.migrate(BASELINE)
    baseline = sa.inspect(store.engine)
    with store.write() as conn:
        for table in TABLES:
            columns = {c["name"] for c in baseline.get_columns(table)}
            rows = [{k: v for k, v in row.items() if k in columns} for row in saved[table]]
            if rows:
                conn.execute(sa.table(table, *map(sa.column, sorted(columns))).insert(), rows)
            if conn.dialect.name == "postgresql" and "id" in columns:  # ids were given: move on
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                    )
                )
    assert "node" not in {c["name"] for c in baseline.get_columns("pool_containers")}
    store.dispose()

    upgraded = subprocess.run(
        [CLI, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=300
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"(upgraded from {BASELINE})" in upgraded.stdout

    with Platform(settings) as platform:
        assert platform.accounts.authenticate("alice", "alice-password") is not None
        assert platform.accounts.authenticate("root", "root-password").is_admin
        assert len(platform.store.recent_events(1000)) == len(saved["events"])
        mine = platform.pool.get(held.name, owner="alice")
        assert (mine.host_port, mine.node) == (held.host_port, "local")
        report = platform.pool.reconcile()  # Docker and the upgraded store agree
        assert not (report.replaced or report.removed_orphans or report.removed_dead), report
        assert "from 0.1" in fetch(mine.url, expect="from 0.1")
        platform.pool.renew(held.name, owner="alice")  # the new columns work on old rows
        platform.pool.release(held.name, owner="alice")
        assert not [a for a in platform.pool.containers() if a.owner]

"""Backup while the portal serves, and restore into a fresh data folder (SQLite, PostgreSQL).

After a restore, users log in with the passwords they had, and Docker is made to agree with
the restored store: an assignment lost since the backup comes back, what the backup does not
know is removed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from containerpoker.config import load_settings
from containerpoker.platform import Platform

from ..conftest import make_env
from ..e2e.conftest import free_port, running_portal
from .helpers import container_names, fetch

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.ops]

CLI = [str(Path(sys.executable).parent / "containerpoker")]


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=300)


def login(url: str, username: str, password: str) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url + "/api/auth/login",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def portal_env(tmp_path: Path, folder: str, instance: str, database: dict) -> dict:
    port = free_port()
    return os.environ | make_env(
        tmp_path / folder,
        instance,
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_PORTAL_HOST="localhost",
        CONTAINERPOKER_PORTAL_PORT=str(port),
        CONTAINERPOKER_PORTAL_MONITOR="0",  # nothing reconciles but the restore itself
        **database,
    )


def test_backup_while_serving_then_restore_into_a_fresh_data_folder(
    tmp_path, instance, docker_client, request, backend_env
):
    fresh_database = {}
    if backend_env:  # PostgreSQL: the fresh platform gets a fresh, empty database too
        fresh_database = {
            "CONTAINERPOKER_DATABASE_URL": request.getfixturevalue("postgres")(instance + "b")
        }
    env_a = portal_env(tmp_path, "a", instance, backend_env)
    settings_a = load_settings(env=env_a)
    with Platform(settings_a) as platform:
        platform.accounts.create("alice", "alice@example.org", "alice-old-pass", admin=True)
        platform.accounts.create("bob", "bob@example.org", "bob-old-pass")
        platform.pool.init()
        alice = platform.pool.claim("alice", "nginx")
        platform.pool.upload(alice.name, "index.html", b"<p>kept by alice</p>", owner="alice")
        bob = platform.pool.claim("bob", "nginx")
        platform.pool.wait_idle()

    url_a = f"http://localhost:{env_a['CONTAINERPOKER_PORTAL_PORT']}"
    backup = tmp_path / "platform.backup"
    with running_portal(
        ["--bind", f"127.0.0.1:{env_a['CONTAINERPOKER_PORTAL_PORT']}"],
        env_a,
        tmp_path / "portal-a.log",
        url_a,
    ) as portal_a:
        # A second process writes all the time the backup is taken: the copy is one snapshot.
        stop = threading.Event()

        def write_events() -> None:
            with Platform(settings_a) as writer:
                while not stop.wait(0.005):  # steady writes, leaving the CPUs to the rest
                    writer.store.record("busy", detail="written during the backup")

        writer = threading.Thread(target=write_events)
        writer.start()
        try:
            taken = cli(env_a, "--json", "db", "backup", str(backup))
        finally:
            stop.set()
            writer.join()
        assert taken.returncode == 0, taken.stderr
        assert json.loads(taken.stdout)["bytes"] == backup.stat().st_size > 0
        assert login(url_a, "alice", "alice-old-pass") == 200  # served all along
        if not backend_env:
            with sqlite3.connect(backup) as copy:
                assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                ids = [r[0] for r in copy.execute("SELECT id FROM events ORDER BY id")]
                assert ids == list(range(ids[0], ids[0] + len(ids)))  # no write half-copied

        # After the backup: carol joins and claims, bob's container is lost.
        with Platform(settings_a) as platform:
            platform.accounts.create("carol", "carol@example.org", "carol-new-pass")
            carol = platform.pool.claim("carol", "nginx")
            platform.pool.wait_idle()
        docker_client.containers.get(bob.name).remove(force=True)

        # While the portal runs, a restore is refused and changes nothing.
        refused = cli(env_a, "db", "restore", str(backup), "--yes")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "The portal (pid" in refused.stderr and "--stop-portal" in refused.stderr
        with Platform(settings_a) as platform:
            assert platform.accounts.authenticate("carol", "carol-new-pass") is not None

        # Restored into a fresh data folder: what the backup knew is back, the rest is gone.
        env_b = portal_env(tmp_path, "b", instance, fresh_database)
        restored = cli(env_b, "--json", "db", "restore", str(backup), "--yes")
        assert restored.returncode == 0, restored.stderr
        done = json.loads(restored.stdout)
        assert done["schema"] == Platform.schema(settings_a)["latest"]
        assert bob.name in done["reconcile"]["replaced"]
        assert carol.name in done["reconcile"]["removed_orphans"]
        assert not done["reconcile"]["failed"]
        names = container_names(docker_client)
        assert {alice.name, bob.name} <= names and carol.name not in names
        assert "kept by alice" in fetch(alice.url, expect="kept by alice")

        if not backend_env:  # the portal that ran all along is stopped when told to
            stopped = cli(env_a, "db", "restore", str(backup), "--yes", "--stop-portal")
            assert stopped.returncode == 0, stopped.stderr
            portal_a.wait(timeout=30)

    url_b = f"http://localhost:{env_b['CONTAINERPOKER_PORTAL_PORT']}"
    with running_portal(
        ["--bind", f"127.0.0.1:{env_b['CONTAINERPOKER_PORTAL_PORT']}"],
        env_b,
        tmp_path / "portal-b.log",
        url_b,
    ):
        assert login(url_b, "alice", "alice-old-pass") == 200
        assert login(url_b, "bob", "bob-old-pass") == 200
        assert login(url_b, "carol", "carol-new-pass") == 401  # joined after the backup
    with Platform(load_settings(env=env_b)) as platform:
        held = {a.owner: a.name for a in platform.pool.containers() if a.owner}
        assert held == {"alice": alice.name, "bob": bob.name}


def test_restore_refuses_what_is_not_a_backup(tmp_path, instance):
    env = os.environ | make_env(tmp_path, instance)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a database at all")
    result = cli(env, "db", "restore", str(junk), "--yes")
    assert result.returncode == 2, result.stderr
    assert "is not a containerpoker backup" in result.stderr and "Traceback" not in result.stderr
    missing = cli(env, "db", "backup", str(tmp_path / "no-such-folder" / "x.backup"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr

"""Shared fixtures.

Integration tests run against the real Docker engine.  Each test gets its own
platform *instance* (a unique name, its own SQLite file and high host ports),
and every object it creates carries the label ``containerpoker.test`` plus the
instance label; a finalizer removes them even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from containerpoker.config import Settings, load_settings

TEST_LABEL = "containerpoker.test"
#: This session's value of TEST_LABEL: clean-up removes only what this session made, so two
#: pytest sessions (CI's and a developer's, or two worktrees) can share one engine.
TEST_RUN = os.environ.setdefault("CONTAINERPOKER_TEST_RUN", secrets.token_hex(4))
TEST_SELECTOR = f"{TEST_LABEL}={TEST_RUN}"
# Far from the defaults (8000-8399) so a running platform is never disturbed. Two sessions on one
# engine (two worktrees) set CONTAINERPOKER_TEST_PORT_BASE apart, 1000 or more.
TEST_PORT_BASE = int(os.environ.get("CONTAINERPOKER_TEST_PORT_BASE", "18000"))
TEST_PORTS = {
    name: TEST_PORT_BASE + 100 * i for i, name in enumerate(("nginx", "apache", "python", "node"))
}


def make_env(tmp_path, instance: str, **overrides: str) -> dict[str, str]:
    env = {
        "CONTAINERPOKER_DATA_DIR": str(tmp_path / "data"),
        "CONTAINERPOKER_INSTANCE": instance,
        "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
        "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
        "CONTAINERPOKER_EXTRA_LABELS": TEST_SELECTOR,
        "CONTAINERPOKER_ENV_FILE": str(tmp_path / "no.env"),
        "CONTAINERPOKER_WARM_TIMEOUT": "30",
    }
    for name, start in TEST_PORTS.items():
        env[f"CONTAINERPOKER_{name.upper()}_PORTS"] = f"{start}-{start + 99}"
        env[f"CONTAINERPOKER_{name.upper()}_WARM"] = "1"
        env[f"CONTAINERPOKER_{name.upper()}_MAX"] = "4"
    env.update(overrides)
    return env


def remove_instance(client: docker.DockerClient, instance: str | None = None) -> int:
    """Remove every container, volume and network this session created (by label)."""
    filters = [TEST_SELECTOR]
    if instance:
        filters.append(f"containerpoker.instance={instance}")
    removed = 0
    # ignore_removed: a container the platform removes in the background between the listing
    # and its inspect is not an error.
    listed = client.containers.list(all=True, filters={"label": filters}, ignore_removed=True)
    for container in listed:
        try:
            # v=True: also its anonymous volumes (a Molecule instance's /var/lib/docker).
            container.remove(force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # already being removed (by a background task)
            if "already in progress" not in str(exc):
                raise
    volumes = client.volumes.list(filters={"label": filters})
    if instance:  # and one Docker made without labels under this instance's names
        volumes += [
            v
            for v in client.volumes.list()
            if v.name.startswith(f"cp-{instance}-") and not v.attrs.get("Labels")
        ]
    for volume in volumes:
        with contextlib.suppress(docker.errors.APIError):
            volume.remove(force=True)
    for network in client.networks.list(filters={"label": filters}):
        network.remove()
    return removed


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env(version="auto")
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"Docker is not reachable ({exc}): run `make engine` first.", pytrace=False)
    yield client
    remove_instance(client)  # a final sweep of anything a crashed test left
    client.close()


@pytest.fixture
def instance(docker_client) -> Iterator[str]:
    name = "t" + secrets.token_hex(4)
    yield name
    remove_instance(docker_client, name)


@pytest.fixture
def test_env(tmp_path, instance) -> dict[str, str]:
    return make_env(tmp_path, instance)


@pytest.fixture
def settings(test_env) -> Settings:
    return load_settings(env=test_env)


@pytest.fixture
def make_manager(docker_client):
    """Build platforms and hand out their pools (closed, and their objects removed, at
    teardown)."""
    from containerpoker.platform import Platform

    made = []

    def build(settings: Settings):
        platform = Platform(settings)
        made.append(platform)
        return platform.pool

    yield build
    for platform in made:
        platform.close()


@pytest.fixture
def manager(make_manager, settings):
    return make_manager(settings)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Callable[[str], str]]:
    """A throwaway PostgreSQL server; yields ``make_url(dbname)`` that creates a database.

    Needs PostgreSQL's server binaries (`make test-deps` installs them).
    """
    initdb = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    bindir = initdb[-1].parent if initdb else None
    if bindir is None and shutil.which("initdb"):
        bindir = Path(shutil.which("initdb")).parent
    if bindir is None:
        pytest.fail(
            "PostgreSQL's server binaries are missing: run `make test-deps`.", pytrace=False
        )
    base = Path(tempfile.mkdtemp(prefix="cp-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        base.chmod(0o755)
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(base / "data")]

    def run(args: list[str]) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120)

    run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(base / "data"),
            "-A",
            "trust",
            "-U",
            "cp",
            "--no-sync",
        ]
    )
    run(
        [
            *pg_ctl,
            "-w",
            "-l",
            str(base / "server.log"),
            "-o",
            f"-p {port} -k {base} -c listen_addresses='' -c fsync=off -c max_connections=200",
            "start",
        ]
    )
    import psycopg

    def make_url(dbname: str) -> str:
        with psycopg.connect(
            host=str(base), port=port, user="cp", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        return f"postgresql+psycopg://cp@/{dbname}?host={base}&port={port}"

    try:
        yield make_url
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            run([*pg_ctl, "-m", "immediate", "stop"])
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_env(request, instance) -> dict[str, str]:
    """Extra environment selecting the store's database: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return {}
    return {"CONTAINERPOKER_DATABASE_URL": request.getfixturevalue("postgres")(instance)}

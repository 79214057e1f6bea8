"""Shared fixtures.

Integration tests run against the real Docker engine.  Each test gets its own
platform *instance* (a unique name, its own SQLite file and high host ports),
and every object it creates carries the label ``containerpoker.test`` plus the
instance label; a finalizer removes them even when the test fails.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import docker
import pytest

from containerpoker.config import Settings, load_settings

TEST_LABEL = "containerpoker.test"
# Far from the defaults (8000-8399) so a running platform is never disturbed.
TEST_PORTS = {"nginx": 18000, "apache": 18100, "python": 18200, "node": 18300}


def make_env(tmp_path, instance: str, **overrides: str) -> dict[str, str]:
    env = {
        "CONTAINERPOKER_DATA_DIR": str(tmp_path / "data"),
        "CONTAINERPOKER_INSTANCE": instance,
        "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
        "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
        "CONTAINERPOKER_EXTRA_LABELS": f"{TEST_LABEL}=1",
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
    """Remove every container and volume a test created (by label)."""
    filters = [TEST_LABEL]
    if instance:
        filters.append(f"containerpoker.instance={instance}")
    removed = 0
    for container in client.containers.list(all=True, filters={"label": filters}):
        container.remove(force=True)
        removed += 1
    for volume in client.volumes.list(filters={"label": filters}):
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
    """Build PoolManagers (closed, and their objects removed, at teardown)."""
    from containerpoker.pool import PoolManager

    made = []

    def build(settings: Settings) -> PoolManager:
        manager = PoolManager(settings)
        made.append(manager)
        return manager

    yield build
    for manager in made:
        manager.close()


@pytest.fixture
def manager(make_manager, settings):
    return make_manager(settings)

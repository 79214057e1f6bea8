"""The pool's core scenarios (tests/pool_scenarios.py) on one Docker host; tests/cluster runs
the same ones on a real Swarm."""

from __future__ import annotations

import pytest

from .. import pool_scenarios as scenarios

pytestmark = pytest.mark.docker


@pytest.fixture
def faults(docker_client) -> scenarios.Faults:
    return scenarios.Faults(
        kill=lambda name: docker_client.containers.get(name).kill(),
        remove=lambda name: docker_client.containers.get(name).remove(force=True),
    )


@pytest.mark.parametrize(
    "scenario",
    [
        scenarios.claim_and_the_same_again,
        scenarios.upload_then_reset_keeps_owner_port_and_files,
        scenarios.release_removes_and_the_pool_refills,
        scenarios.an_expired_container_is_released_and_replaced,
    ],
    ids=lambda f: f.__name__,
)
def test_scenario(manager, scenario):
    scenario(manager)


def test_reconcile_replaces_a_killed_and_a_removed_container(manager, faults):
    scenarios.reconcile_replaces_a_killed_and_a_removed_container(manager, faults)

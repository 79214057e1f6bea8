"""The fault suite: each fault injected for real into a served platform (``catalog.py``), then
the invariants: the user's files where the platform promised them, no container with two
owners, and the platform serving again (a new user served, the pool back at its target).

Timings are not asserted here; ``bench/faults.py`` prints them. ``make test`` runs the cheap
faults; those marked ``faults_full`` (portal restarts, CLI processes racing, the Docker daemon
restart) run with ``make test-faults``. The daemon restart stops every container on the engine,
other people's too: it runs only with ``CONTAINERPOKER_FAULTS_ENGINE=1``, which that target sets.
"""

from __future__ import annotations

import os

import pytest

from . import catalog

pytestmark = [pytest.mark.docker, pytest.mark.faults]
full = pytest.mark.faults_full


def check(outcome: catalog.Outcome) -> None:
    print(f"{outcome.fault}: served again after {outcome.serve_again_s:.2f} s; {outcome.notes}")
    assert outcome.files_ok, outcome
    assert outcome.double_owners == 0, outcome
    assert outcome.serving, outcome


def test_an_assigned_container_killed(served):
    check(catalog.container_killed(served))


def test_an_assigned_container_removed_behind_the_platforms_back(served):
    check(catalog.container_removed(served))


def test_the_database_busy_with_another_process_holding_the_write_lock(served):
    check(catalog.database_busy(served))


def test_the_data_folders_disk_full(served):
    check(catalog.disk_full(served))


def test_a_host_port_of_the_pool_taken_by_a_foreign_process(served):
    check(catalog.port_taken(served))


def test_200_claims_against_an_empty_pool(served):
    check(catalog.empty_pool_burst(served, claims=200))


@full
def test_the_portal_sigkilled_in_the_middle_of_a_claim_burst(served):
    check(catalog.portal_killed_mid_burst(served))


@full
def test_releases_of_one_container_racing(served):
    check(catalog.releases_racing(served))


@full
def test_the_timer_pass_racing_the_event_watcher(served):
    check(catalog.timer_races_watcher(served))


@full
def test_a_lesson_killed_mid_run_leaves_nothing_after_the_next_reconcile(served):
    check(catalog.lesson_killed(served))


@full
def test_the_docker_daemon_restarted(served):
    if os.environ.get("CONTAINERPOKER_FAULTS_ENGINE") != "1":
        pytest.skip(
            "restarts the Docker daemon under everyone on this engine: opt in with "
            "CONTAINERPOKER_FAULTS_ENGINE=1 (make test-faults)"
        )
    check(catalog.engine_restarted(served))

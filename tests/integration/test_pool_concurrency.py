"""Claims and releases under concurrency: no container ever has two owners."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from containerpoker.config import load_settings
from containerpoker.errors import Conflict, NotFound, PoolExhausted
from containerpoker.store import events, pool_containers

from ..conftest import make_env

pytestmark = pytest.mark.docker

WARM, MAX, CLAIMERS = 10, 15, 50


@pytest.mark.slow
def test_fifty_claimers_on_a_warm_pool_of_ten(
    tmp_path, instance, make_manager, docker_client, backend_env
):
    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_NGINX_WARM=str(WARM),
        CONTAINERPOKER_NGINX_MAX=str(MAX),
        CONTAINERPOKER_RUNTIMES="nginx",
        **backend_env,
    )
    manager = make_manager(load_settings(env=env))
    manager.init()
    start = threading.Barrier(CLAIMERS)

    def claim(i: int):
        start.wait()
        try:
            return manager.claim(f"user{i}", "nginx")
        except PoolExhausted as exc:
            return exc

    with ThreadPoolExecutor(CLAIMERS) as pool:
        results = list(pool.map(claim, range(CLAIMERS)))
    manager.wait_idle(120)

    claimed = [r for r in results if not isinstance(r, Exception)]
    exhausted = [r for r in results if isinstance(r, PoolExhausted)]
    assert len(claimed) + len(exhausted) == CLAIMERS  # each succeeded or failed cleanly
    assert all(e.retry_after > 0 and "Retry in" in e.message for e in exhausted)
    # no container has two owners, no owner got two containers
    assert len({a.name for a in claimed}) == len(claimed)
    assert len({a.host_port for a in claimed}) == len(claimed)
    # cold starts stay within the maximum
    assert len(claimed) <= MAX
    assert sum(a.cold_start for a in claimed) <= MAX - WARM
    assert len(claimed) >= WARM  # every warm container was handed out
    with manager.store.read() as conn:
        rows = conn.execute(select(pool_containers)).all()
    owners = Counter(r.name for r in rows if r.owner)
    assert all(n == 1 for n in owners.values())
    by_owner = {r.owner: r.name for r in rows if r.owner}
    for assignment in claimed:
        assert by_owner[assignment.owner] == assignment.name
    live = docker_client.containers.list(filters={"label": f"containerpoker.instance={instance}"})
    assert len(live) <= MAX
    assert len(rows) == len(live)


def test_the_same_user_claiming_concurrently_gets_one_container(
    tmp_path, instance, make_manager, backend_env
):
    manager = make_manager(load_settings(env=make_env(tmp_path, instance, **backend_env)))
    manager.resize("nginx", 3)
    barrier = threading.Barrier(8)

    def claim(_):
        barrier.wait()
        return manager.claim("alice", "nginx").name

    with ThreadPoolExecutor(8) as pool:
        names = set(pool.map(claim, range(8)))
    assert len(names) == 1
    assert len(manager.containers(owner="alice")) == 1


def test_two_racing_releases_reset_exactly_once(tmp_path, instance, make_manager, backend_env):
    manager = make_manager(load_settings(env=make_env(tmp_path, instance, **backend_env)))
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    manager.wait_idle(60)
    barrier = threading.Barrier(2)

    def release(_):
        barrier.wait()
        try:
            return manager.release(claimed.name, owner="alice")
        except (Conflict, NotFound) as exc:
            return exc

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(release, range(2)))
    manager.wait_idle(60)

    wins = [o for o in outcomes if not isinstance(o, Exception)]
    losses = [o for o in outcomes if isinstance(o, Exception)]
    assert len(wins) == 1 and len(losses) == 1
    with manager.store.read() as conn:
        kinds = [
            e.kind for e in conn.execute(select(events).where(events.c.container == claimed.name))
        ]
    assert kinds.count("release") == 1
    # exactly one replacement: the pool is back at its warm size, not above it
    status = {s.runtime: s for s in manager.status()}["nginx"]
    assert (status.ready, status.warming, status.assigned) == (1, 0, 0)

"""The pool engine's core behaviour, written once and run on both backends: one Docker host
(tests/integration/test_pool_scenarios.py) and a real 3-node Swarm (tests/cluster/).

Each scenario takes a pool (``Platform.pool``) and a ``Faults`` object that injects the real
thing behind the platform's back, on whichever backend: kill a pool container's process, remove
it. Assertions are about invariants, never timings.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Faults:
    kill: Callable[[str], None]  # the container's process dies (docker kill)
    remove: Callable[[str], None]  # it disappears (docker rm -f / docker service rm)


def fetch(url: str, timeout: float = 30.0, expect: str | None = None) -> str:
    """GET ``url`` until it answers (and contains ``expect``), or fail."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                last = response.read().decode(errors="replace")
                if expect is None or expect in last:
                    return last
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise AssertionError(
        f"{url} did not answer{f' with {expect!r}' if expect else ''}: {last[:200]}"
    )


def claim_and_the_same_again(pool) -> None:
    pool.init(["nginx"])
    box = pool.claim("alice", "nginx")
    assert box.owner == "alice" and box.state == "assigned" and not box.cold_start
    assert "containerpoker" in fetch(box.url)  # at the node's address, from here
    again = pool.claim("alice", "nginx")
    assert again.name == box.name and again.reused


def upload_then_reset_keeps_owner_port_and_files(pool) -> None:
    pool.init(["nginx"])
    box = pool.claim("bob", "nginx")
    pool.upload(box.name, "index.html", b"bob's page", owner="bob")
    assert fetch(box.url, expect="bob's page")
    plan = pool.reset(box.name)
    assert plan.keys("replaced") == [box.name]
    after = pool.get(box.name)
    assert (after.owner, after.host_port, after.node) == ("bob", box.host_port, box.node)
    assert fetch(after.url, expect="bob's page")


def release_removes_and_the_pool_refills(pool) -> None:
    pool.init(["nginx"])
    box = pool.claim("carol", "nginx")
    pool.upload(box.name, "index.html", b"carol's page", owner="carol")
    pool.release(box.name, owner="carol")
    assert pool.wait_idle(120)
    assert box.name not in {c.name for c in pool.engine.list_pool_containers()}
    fresh = pool.claim("carol", "nginx")
    assert fresh.name != box.name and "carol's page" not in fetch(fresh.url)
    assert pool.wait_idle(120)  # the refill that claim asked for
    status = {s.runtime: s for s in pool.status()}["nginx"]
    assert status.assigned == 1 and status.ready == pool.warm_target("nginx")


def reconcile_replaces_a_killed_and_a_removed_container(pool, faults: Faults) -> None:
    pool.init(["nginx"])
    killed = pool.claim("dora", "nginx")
    removed = pool.claim("eve", "nginx")
    for box, owner in ((killed, "dora"), (removed, "eve")):
        pool.upload(box.name, "proof.html", f"{owner}'s proof".encode(), owner=owner)
    faults.kill(killed.name)
    faults.remove(removed.name)
    deadline = time.monotonic() + 60
    replaced: set[str] = set()
    while time.monotonic() < deadline and replaced < {killed.name, removed.name}:
        replaced |= set(pool.reconcile().replaced)  # Docker or Swarm may restart a killed one
        if replaced >= {removed.name} and fetch_ok(killed.url + "proof.html", "dora's proof"):
            replaced.add(killed.name)
    assert removed.name in replaced
    for box, owner in ((killed, "dora"), (removed, "eve")):
        after = pool.get(box.name)
        assert after.owner == owner and after.state == "assigned"
        assert fetch(after.url + "proof.html", expect=f"{owner}'s proof")
    assert_one_owner_each(pool)


def an_expired_container_is_released_and_replaced(pool) -> None:
    pool.init(["nginx"])
    box = pool.claim("frank", "nginx")
    assert box.lifetime_ends_at is not None
    assert pool.lifecycle.sweep(now=box.lifetime_ends_at + 1) == [box.name]
    assert pool.containers(owner="frank") == []
    assert pool.wait_idle(120)
    assert pool.claim("frank", "nginx").name != box.name


def fetch_ok(url: str, expect: str) -> bool:
    try:
        fetch(url, timeout=1, expect=expect)
        return True
    except AssertionError:
        return False


def assert_one_owner_each(pool) -> None:
    """No container has two owners, and no owner two containers of one runtime, in the store
    and in the engine's labels alike."""
    rows = [a for a in pool.containers() if a.owner]
    assert len({(a.owner, a.runtime) for a in rows}) == len(rows)
    labels = {
        c.name: c.labels.get("containerpoker.owner") for c in pool.engine.list_pool_containers()
    }
    for a in rows:
        assert labels.get(a.name) in (a.owner, None), (a.name, a.owner, labels.get(a.name))

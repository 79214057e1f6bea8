"""The pool's life cycle against the real engine: init, claim, release, reset, resize."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from containerpoker.errors import Conflict, InvalidRequest, NotFound
from containerpoker.store import events, pool_containers

from ..conftest import TEST_PORTS
from .helpers import container_names, fetch, wait_gone

pytestmark = pytest.mark.docker


def test_init_warms_each_pool_and_a_second_init_creates_nothing(manager, docker_client, instance):
    first = manager.init()
    assert first.changes["created"] == {"nginx": 1, "apache": 1, "python": 1, "node": 1}
    ids_before = {
        c.id
        for c in docker_client.containers.list(
            filters={"label": f"containerpoker.instance={instance}"}
        )
    }
    assert len(ids_before) == 4

    second = manager.init()

    assert not second.changed and second.changes == {}
    ids_after = {
        c.id
        for c in docker_client.containers.list(
            filters={"label": f"containerpoker.instance={instance}"}
        )
    }
    assert ids_after == ids_before
    for status in manager.status():
        assert (status.ready, status.warming) == (1, 0), status


def test_claim_returns_a_serving_container_and_the_same_one_again(manager):
    manager.init(["nginx"])
    first = manager.claim("alice", "nginx")
    assert first.owner == "alice" and first.state == "assigned"
    assert TEST_PORTS["nginx"] <= first.host_port <= TEST_PORTS["nginx"] + 99
    assert first.url == f"http://127.0.0.1:{first.host_port}/"
    assert "Your nginx container is ready" in fetch(first.url)

    again = manager.claim("alice", "nginx")

    assert again.name == first.name and again.reused
    other = manager.claim("bob", "nginx")
    assert other.name != first.name


def test_release_deletes_container_and_files_and_the_pool_refills(manager, docker_client):
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    manager.upload(claimed.name, "index.html", b"alice was here", owner="alice")
    volume = f"{claimed.name}-files"

    manager.release(claimed.name, owner="alice")
    manager.wait_idle(60)

    names = container_names(docker_client)
    assert claimed.name not in names
    assert volume not in [v.name for v in docker_client.volumes.list()]
    status = {s.runtime: s for s in manager.status()}["nginx"]
    assert (status.ready, status.assigned) == (1, 0)
    fresh = manager.claim("alice", "nginx")
    assert fresh.name != claimed.name  # never reused
    assert "alice was here" not in fetch(fresh.url)


def test_a_release_without_waiting_removes_the_container_in_the_background(manager, docker_client):
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")

    released = manager.release(claimed.name, owner="alice", wait=False)

    assert [a.name for a in released.subjects] == [claimed.name]
    with pytest.raises(NotFound):  # not alice's any more, at once
        manager.get(claimed.name, owner="alice")
    with pytest.raises(Conflict):  # and never claimable or releasable again
        manager.release(claimed.name)
    wait_gone(docker_client, claimed.name)
    assert manager.wait_idle(timeout=60)
    assert f"{claimed.name}-files" not in [v.name for v in docker_client.volumes.list()]
    assert claimed.name not in {a.name for a in manager.containers()}
    status = {s.runtime: s for s in manager.status()}["nginx"]
    assert (status.ready, status.assigned) == (1, 0)  # refilled


def test_release_of_someone_elses_container_is_not_found(manager):
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    with pytest.raises(NotFound):
        manager.release(claimed.name, owner="mallory")
    assert manager.get(claimed.name).owner == "alice"


def test_reset_of_an_assigned_container_keeps_owner_port_and_files(manager, docker_client):
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    manager.upload(claimed.name, "index.html", b"keep me", owner="alice")
    old_id = docker_client.containers.get(claimed.name).id

    replaced = manager.reset(claimed.name)

    assert replaced.keys("replaced") == [claimed.name]
    new = docker_client.containers.get(claimed.name)
    assert new.id != old_id
    after = manager.get(claimed.name)
    assert (after.owner, after.host_port, after.state) == ("alice", claimed.host_port, "assigned")
    assert fetch(claimed.url, expect="keep me")


def test_reset_of_a_runtime_replaces_its_warm_containers(manager):
    manager.resize("nginx", 2)
    before = {a.name for a in manager.containers(runtime="nginx")}

    replaced = manager.reset(runtime="nginx")

    after = {a.name for a in manager.containers(runtime="nginx")}
    assert set(replaced.keys("replaced")) == before
    assert len(after) == 2 and not (after & before)


def test_resize_and_add_change_the_warm_size(manager):
    assert manager.resize("nginx", 3).count("created", "nginx") == 3
    assert manager.add("nginx", 1).count("created", "nginx") == 1
    assert {s.runtime: s for s in manager.status()}["nginx"].ready == 4
    result = manager.resize("nginx", 1)
    assert result.count("removed", "nginx") == 3
    assert {s.runtime: s for s in manager.status()}["nginx"].ready == 1


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("claim", ("alice", "cobol")),
        ("resize", ("nginx", -1)),
        ("resize", ("nginx", 10_000)),
        ("resize", ("cobol", 1)),
        ("add", ("nginx", 0)),
        ("claim", ("", "nginx")),
    ],
)
def test_bad_requests_change_nothing(manager, docker_client, instance, call, args):
    with pytest.raises(InvalidRequest) as caught:
        getattr(manager, call)(*args)
    assert caught.value.message.endswith(".")
    with manager.store.read() as conn:
        assert conn.execute(select(pool_containers)).all() == []
        assert [e.kind for e in conn.execute(select(events))] == []
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"containerpoker.instance={instance}"}
        )
        == []
    )


def test_release_of_a_warm_container_is_a_conflict(manager):
    manager.init(["nginx"])
    warm = manager.containers(runtime="nginx")[0]
    with pytest.raises(Conflict):
        manager.release(warm.name)

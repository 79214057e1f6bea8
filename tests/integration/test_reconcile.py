"""Reconcile rebuilds the truth from Docker: replaces the dead, removes the unknown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, select, text

from containerpoker.config import load_settings
from containerpoker.engine import PoolContainerSpec
from containerpoker.errors import EngineError
from containerpoker.store import pool_containers

from ..conftest import TEST_LABEL, TEST_PORTS, TEST_RUN, make_env
from .helpers import fetch

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("how", ["kill", "remove", "stop"])
def test_a_dead_assigned_container_is_replaced_with_port_and_files(manager, docker_client, how):
    manager.init(["nginx"])
    claimed = manager.claim("alice", "nginx")
    manager.upload(claimed.name, "index.html", b"<p>alice's page</p>", owner="alice")
    container = docker_client.containers.get(claimed.name)
    {
        "kill": container.kill,
        "remove": lambda: container.remove(force=True),
        "stop": lambda: container.stop(timeout=1),
    }[how]()

    report = manager.reconcile()

    assert report.replaced == [claimed.name]
    after = manager.get(claimed.name)
    assert (after.owner, after.host_port, after.state) == ("alice", claimed.host_port, "assigned")
    assert docker_client.containers.get(claimed.name).id != container.id
    assert fetch(claimed.url, expect="alice's page")


@pytest.mark.slow
def test_an_unhealthy_assigned_container_is_replaced_with_its_files(
    make_manager, docker_client, tmp_path, instance
):
    # Health checks every 2 s (not the default 30) so "unhealthy" comes in seconds.
    env = make_env(tmp_path, instance, CONTAINERPOKER_HEALTH_INTERVAL="2")
    manager = make_manager(load_settings(env=env))
    manager.init(["python"])
    claimed = manager.claim("alice", "python")
    manager.upload(claimed.name, "index.html", b"<p>still alice's</p>", owner="alice")
    container = docker_client.containers.get(claimed.name)
    # Freeze the supervisor (PID 1) from outside, then kill the server it runs:
    # the container keeps running, nothing listens, the health check fails.
    container.kill(signal="SIGSTOP")
    top = docker_client.api.top(claimed.name)
    pid_col, cmd_col = top["Titles"].index("PID"), top["Titles"].index("CMD")
    server = [int(p[pid_col]) for p in top["Processes"] if p[cmd_col].startswith("python3 -m")]
    assert server, top
    os.kill(server[0], signal.SIGKILL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        health = docker_client.api.inspect_container(claimed.name)["State"]["Health"]["Status"]
        if health == "unhealthy":
            break
        time.sleep(1)
    else:
        pytest.fail("the container never became unhealthy")
    assert docker_client.api.inspect_container(claimed.name)["State"][
        "Running"
    ]  # unhealthy, not dead

    report = manager.reconcile(refill=False)

    assert report.replaced == [claimed.name]
    assert docker_client.containers.get(claimed.name).id != container.id
    after = manager.get(claimed.name)
    assert (after.owner, after.host_port) == ("alice", claimed.host_port)
    assert fetch(claimed.url, expect="still alice's")


def test_a_dead_warm_container_is_removed_and_the_pool_refilled(manager, docker_client):
    manager.init(["nginx"])
    warm = manager.containers(runtime="nginx")[0]
    docker_client.containers.get(warm.name).kill()

    report = manager.reconcile()

    assert report.removed_dead == [warm.name]
    assert report.created["nginx"] == 1
    names = [a.name for a in manager.containers(runtime="nginx")]
    assert warm.name not in names and len(names) == 1


def test_unknown_labelled_containers_and_volumes_are_removed(manager, docker_client, instance):
    manager.init(["nginx"])
    labels = {
        "containerpoker.role": "pool",
        "containerpoker.instance": instance,
        "containerpoker.runtime": "nginx",
        TEST_LABEL: TEST_RUN,
    }
    stray = docker_client.containers.run(
        "containerpoker/nginx", detach=True, labels=labels, name=f"cp-{instance}-nginx-stray"
    )
    volume = docker_client.volumes.create(f"cp-{instance}-nginx-stray2-files", labels=labels)

    report = manager.reconcile()

    assert stray.name in report.removed_orphans
    assert volume.name in report.removed_volumes
    left = docker_client.containers.list(
        all=True, filters={"label": f"containerpoker.instance={instance}"}
    )
    assert sorted(c.name for c in left) == sorted(a.name for a in manager.containers())


def test_a_volume_lost_while_its_container_is_created_fails_that_warm_up_and_leaks_nothing(
    manager, docker_client, instance
):
    """A stop or a sweep that removes a warm-up's volume just before its container is created
    makes Docker re-create it without labels, where no sweep would find it again. The engine
    sees that (here: the unlabelled volume is already there), gives the warm-up up and
    removes both."""
    volume = docker_client.volumes.create(f"cp-{instance}-nginx-raced-files")  # no labels
    engine = manager.engine
    spec = PoolContainerSpec(
        manager.settings.runtime("nginx"),
        f"cp-{instance}-nginx-raced",
        volume.name,
        engine.nodes()[0].name,
        TEST_PORTS["nginx"] + 90,
    )

    with pytest.raises(EngineError, match="was removed while its container was being created"):
        engine.create_pool_container(spec)

    assert not docker_client.containers.list(all=True, filters={"name": spec.name})
    assert volume.name not in [v.name for v in docker_client.volumes.list()]


def test_a_reconcile_with_nothing_wrong_changes_nothing(manager):
    manager.init()
    manager.claim("alice", "nginx")
    manager.wait_idle(60)
    report = manager.reconcile()
    assert not report.changed, report


def test_a_host_port_taken_by_another_process_is_skipped(tmp_path, instance, make_manager):
    # A range of its own: ports other tests just released may still be closing.
    base = TEST_PORTS["nginx"] + 90
    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_NGINX_PORTS=f"{base}-{base + 9}",
    )
    manager = make_manager(load_settings(env=env))
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", base))
    blocker.listen()
    try:
        manager.resize("nginx", 2)
        ports = sorted(a.host_port for a in manager.containers(runtime="nginx"))
    finally:
        blocker.close()
    assert ports == [base + 1, base + 2]


@pytest.mark.slow
def test_a_process_killed_while_warming_leaves_no_orphan_or_duplicate(
    tmp_path, instance, make_manager, docker_client
):
    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_NGINX_WARM="6",
        CONTAINERPOKER_NGINX_MAX="10",
    )
    settings = load_settings(env=env)
    child = subprocess.Popen(
        [sys.executable, "-m", "containerpoker.cli", "-q", "pool", "init"],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    db = create_engine(settings.database_url)
    try:
        # Kill it once some containers exist and others are still warming.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with db.connect() as conn:
                    states = [r.state for r in conn.execute(select(pool_containers))]
            except Exception:  # noqa: BLE001 - the child may not have made the tables yet
                states = []
            live = docker_client.containers.list(  # sparse: no inspect of a container
                all=True,  # that the child may remove between list and inspect
                sparse=True,
                filters={"label": f"containerpoker.instance={instance}"},
            )
            if live and "warming" in states:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the child never got to warming")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        # Requests the killed process had already sent may still land in Docker.
        time.sleep(1)
    finally:
        if child.poll() is None:
            child.kill()
        db.dispose()

    manager = make_manager(settings)
    report = manager.reconcile()

    assert report.abandoned, "the killed process left warming rows to clean"
    rows = manager.containers()
    live = docker_client.containers.list(
        all=True, filters={"label": f"containerpoker.instance={instance}"}
    )
    assert sorted(c.name for c in live) == sorted(a.name for a in rows)  # no orphan
    assert len({a.host_port for a in rows}) == len(rows) == 6  # no duplicate
    assert all(a.state == "ready" for a in rows)
    volumes = docker_client.volumes.list(filters={"label": f"containerpoker.instance={instance}"})
    assert sorted(v.name for v in volumes) == sorted(f"{a.name}-files" for a in rows)
    with db.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"

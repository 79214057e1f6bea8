"""Memory and CPU of a pool container: from Docker's stats, and from the kernel's cgroup files
when Docker's stats come back empty (it happens on some cgroup v1 hosts)."""

from __future__ import annotations

import pytest

from containerpoker.containers import ContainerControl
from containerpoker.engine import cgroups

pytestmark = pytest.mark.docker


def test_the_cgroup_files_of_a_real_container_agree_with_its_limits(manager, docker_client):
    manager.init(["nginx"])
    item = manager.containers(runtime="nginx")[0]
    info = docker_client.api.inspect_container(item.name)
    found = cgroups.usage(info["State"]["Pid"])
    assert found is not None, "the memory cgroup of a running container was not found"
    assert found.memory_limit == manager.settings.runtime("nginx").memory_bytes
    assert 0 < found.memory_bytes < found.memory_limit
    assert found.pids is not None and 1 <= found.pids <= manager.settings.runtime("nginx").pids
    assert info["Id"] in found.source


def test_stats_fall_back_to_the_cgroup_when_docker_gives_nothing(manager, monkeypatch):
    manager.init(["nginx"])
    item = manager.containers(runtime="nginx")[0]
    control = ContainerControl(manager)
    # What Docker answers when containerd cannot read the cgroups: no memory figures at all.
    monkeypatch.setattr(control.engine.client.api, "stats", lambda *a, **k: {"memory_stats": {}})
    stats = control.stats(item.name)
    assert stats["memory_bytes"] > 0
    assert stats["memory_limit"] == manager.settings.runtime("nginx").memory_bytes


def test_the_cpu_a_real_container_burns_is_read_from_its_cgroup(manager, docker_client):
    manager.init(["python"])
    item = manager.containers(runtime="python")[0]
    container = docker_client.containers.get(item.name)
    pid = docker_client.api.inspect_container(item.name)["State"]["Pid"]
    before = cgroups.cpu_seconds(pid)
    assert before is not None
    # A busy loop of 3 s inside the container: its cgroup's CPU time grows by that much, less
    # what the other work on this machine takes (a loose bound: a figure, not a timing).
    container.exec_run(["timeout", "3", "python3", "-c", "while True: pass"])
    assert cgroups.cpu_seconds(pid) - before > 0.3
    container.exec_run(["timeout", "20", "python3", "-c", "while True: pass"], detach=True)
    readings = []
    for _ in range(20):  # while it spins, the percentage shows it
        readings.append(cgroups.cpu_percent(pid))
        if readings[-1] > 5:
            break
    assert readings[-1] > 5, readings


def test_stats_of_every_running_container_at_once(manager):
    manager.init(["nginx"])
    control = ContainerControl(manager)
    names = {c.name for c in manager.containers(runtime="nginx")}
    everyone = control.stats_of(owner=None)
    assert {s["container"] for s in everyone} == names
    assert all(s["memory_bytes"] and s["cpu_percent"] is not None for s in everyone)
    assert control.stats_of(owner="nobody") == []

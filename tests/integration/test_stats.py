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

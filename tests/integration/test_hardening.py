"""`docker inspect` of a pool container shows the hardening of DESIGN.md."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("runtime", ["nginx", "apache", "python", "node"])
def test_pool_containers_are_hardened(manager, docker_client, runtime):
    manager.init([runtime])
    item = manager.containers(runtime=runtime)[0]
    info = docker_client.api.inspect_container(item.name)
    host = info["HostConfig"]
    cfg = manager.settings.runtime(runtime)

    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["Memory"] == cfg.memory_bytes
    assert host["NanoCpus"] == int(cfg.cpus * 1e9)
    assert host["PidsLimit"] == cfg.pids
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "2", "max-size": "1m"}}
    # no host mounts, no Docker socket: only the per-container volume
    assert [m["Type"] for m in info["Mounts"]] == ["volume"]
    assert info["Mounts"][0]["Destination"] == "/srv/www"
    assert not host.get("Binds")
    assert "docker.sock" not in str(info)
    assert host["NetworkMode"] == "default" and host["PidMode"] == "" and host["IpcMode"] != "host"
    # the runtime runs as an unprivileged user
    assert info["Config"]["User"] == "web"
    top = docker_client.containers.get(item.name).exec_run(["id", "-u"])
    assert top.output.decode().strip() == "10001"
    # the image's health check comes along (reconcile replaces what it marks unhealthy)
    assert "/dev/tcp/127.0.0.1/8080" in " ".join(info["Config"]["Healthcheck"]["Test"])
    labels = info["Config"]["Labels"]
    assert labels["containerpoker.role"] == "pool"
    assert labels["containerpoker.runtime"] == runtime
    assert labels["containerpoker.port"] == str(item.host_port)
    assert labels["containerpoker.slot"] == item.name

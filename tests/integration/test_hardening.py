"""`docker inspect` of a pool container shows the hardening of DESIGN.md."""

from __future__ import annotations

import pytest

from .helpers import fetch

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
    # the image's health check comes along (reconcile replaces what it marks unhealthy); it
    # reads the socket table rather than connecting, so it is not counted as a visitor
    assert info["Config"]["Healthcheck"]["Test"] == ["CMD", "containerpoker-listening", "8080"]
    labels = info["Config"]["Labels"]
    assert labels["containerpoker.role"] == "pool"
    assert labels["containerpoker.runtime"] == runtime
    assert labels["containerpoker.port"] == str(item.host_port)
    assert labels["containerpoker.slot"] == item.name


def published_addresses(docker_client, name: str) -> set[str]:
    """What `docker port` shows, as docker-bench-security's 5.14 reads it: the host addresses."""
    ports = docker_client.api.inspect_container(name)["NetworkSettings"]["Ports"]
    return {binding["HostIp"] for bindings in ports.values() if bindings for binding in bindings}


def test_cis_5_13_and_5_14_a_read_only_root_and_no_wildcard_port(
    tmp_path, instance, make_manager, docker_client
):
    """CIS Docker Benchmark 5.13 (read-only root filesystem) and 5.14 (ports bound to the
    interface users reach, not 0.0.0.0), checked the way docker-bench-security checks them,
    with the platform's default bind address: the one PUBLIC_HOST resolves to."""
    from containerpoker.config import load_settings

    from ..conftest import make_env

    env = make_env(tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx,python")
    del env["CONTAINERPOKER_BIND_ADDRESS"]  # the default
    manager = make_manager(load_settings(env=env))
    manager.init()
    for item in manager.containers():
        info = docker_client.api.inspect_container(item.name)
        assert info["HostConfig"]["ReadonlyRootfs"] is True
        assert published_addresses(docker_client, item.name) == {"127.0.0.1"}  # PUBLIC_HOST
        # ... and it serves, with a user's program too: only /tmp and the site are writable
        assert fetch(item.url)
    box = manager.claim("ada", "python")
    app = b"import os, http.server as h\nh.test(h.SimpleHTTPRequestHandler, port=int(os.environ['PORT']), bind='0.0.0.0')\n"
    manager.upload(box.name, "app.py", app, owner="ada")
    manager.upload(box.name, "hello.txt", b"written on a read-only root", owner="ada")
    assert fetch(box.url + "hello.txt", expect="written on a read-only root")
    writes = docker_client.containers.get(box.name).exec_run(["touch", "/etc/x"])
    assert writes.exit_code != 0 and b"Read-only file system" in writes.output

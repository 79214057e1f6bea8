"""Roles converged for real on a fresh platform host: a systemd container built locally
(infrastructure/images/platform-host), with a Docker engine of its own inside."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import TEST_LABEL
from .test_collection import ROOT, run

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.converge]

HOST_IMAGE = "containerpoker/platform-host"
# systemd and a nested Docker engine without --privileged (which fails on these machines).
HOST_FLAGS = [
    "--cap-add",
    "SYS_ADMIN",
    "--cap-add",
    "NET_ADMIN",
    "--cgroupns=host",
    "-v",
    "/sys/fs/cgroup:/sys/fs/cgroup:rw",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/run/lock",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
]


@pytest.fixture(scope="module")
def platform_host(docker_client, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A running systemd host container and an inventory for it."""
    build = subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "-t",
            HOST_IMAGE,
            str(ROOT / "infrastructure/images/platform-host"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr
    name = "cp-host-" + secrets.token_hex(3)
    volume = name + "-docker"
    started = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            name,
            "--label",
            f"{TEST_LABEL}=1",
            *HOST_FLAGS,
            "--mount",
            f"type=volume,src={volume},dst=/var/lib/docker,volume-label={TEST_LABEL}=1",
            HOST_IMAGE,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    inventory = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "platform": {
                    "hosts": {
                        name: {
                            "ansible_connection": "community.docker.docker_api",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                    }
                }
            }
        )
    )
    try:
        for _ in range(60):
            state = subprocess.run(
                ["docker", "exec", name, "systemctl", "is-system-running"],
                capture_output=True,
                text=True,
            )
            if state.stdout.strip() in ("running", "degraded"):
                break
        yield name, inventory
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)


def in_host(name: str, *command: str) -> str:
    done = subprocess.run(["docker", "exec", name, *command], capture_output=True, text=True)
    return done.stdout.strip()


def test_docker_engine_role_converges_then_changes_nothing(platform_host):
    name, inventory = platform_host
    args = ["ansible-playbook", "-i", str(inventory), "tests/ansible/playbooks/docker_engine.yml"]
    first = run(args, timeout=900)
    assert first.returncode == 0, first.stdout[-4000:]
    assert "failed=0" in first.stdout and "changed=0" not in first.stdout
    second = run(args, timeout=900)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]

    assert in_host(name, "systemctl", "is-enabled", "docker") == "enabled"
    assert in_host(name, "systemctl", "is-active", "docker") == "active"
    settings = json.loads(in_host(name, "cat", "/etc/docker/daemon.json"))
    assert settings == {
        "log-driver": "json-file",
        "live-restore": True,
        "log-opts": {"max-size": "5m", "max-file": "3"},
    }
    # The engine inside really runs containers (an image carried in from this engine).
    subprocess.run(
        f"docker save debian:bookworm-slim | docker exec -i {name} docker load",
        shell=True,
        check=True,
        capture_output=True,
    )
    assert (
        in_host(name, "docker", "run", "--rm", "debian:bookworm-slim", "echo", "nested") == "nested"
    )

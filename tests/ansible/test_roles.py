"""Roles converged for real on a fresh platform host: a systemd container built locally
(infrastructure/images/platform-host), with a Docker engine of its own inside."""

from __future__ import annotations

import json
import secrets
import subprocess
import urllib.request
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
            "-p",
            "127.0.0.1::5000",
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


def test_site_turns_a_fresh_host_into_a_platform(platform_host, tmp_path):
    name, _ = platform_host
    images = tmp_path / "images.tar"
    subprocess.run(
        [
            "docker",
            "save",
            "-o",
            str(images),
            "containerpoker/nginx",
            "containerpoker/python",
            "debian:bookworm-slim",
        ],
        check=True,
        timeout=600,
    )
    inventory = tmp_path / "hosts.yml"
    host_vars = {
        "ansible_connection": "community.docker.docker_api",
        "ansible_python_interpreter": "/usr/bin/python3",
        "portal_host": "127.0.0.1",
        "portal_public_host": "localhost",
        "portal_runtimes": "nginx",
        "portal_settings": {"nginx_max": 4, "nginx_warm": 1},
        # This network re-signs PyPI's certificate: pip inside must trust the host's bundle.
        "portal_ca_bundle_src": "/etc/ssl/certs/ca-certificates.crt",
        "runtime_images_archive": str(images),
        "runtime_images_names": [
            "containerpoker/nginx",
            "containerpoker/python",
            "debian:bookworm-slim",
        ],
        "containerpoker_python": "/opt/containerpoker/venv/bin/python",
        "pool_sizes": {"nginx": 1},
    }
    inventory.write_text(json.dumps({"platform": {"hosts": {name: host_vars}}}))
    args = ["ansible-playbook", "-i", str(inventory), "playbooks/site.yml"]
    first = run(args, timeout=1800)
    assert first.returncode == 0, first.stdout[-5000:]
    second = run(args, timeout=1800)
    assert second.returncode == 0, second.stdout[-3000:]
    recap = [line for line in second.stdout.splitlines() if line.startswith(name)]
    assert recap and "changed=0" in recap[0], second.stdout[-3000:]

    mapped = subprocess.run(["docker", "port", name, "5000/tcp"], capture_output=True, text=True)
    port = mapped.stdout.split(":")[-1].strip()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as page:
        assert page.status == 200 and b"Log in" in page.read()
    assert in_host(name, "systemctl", "is-active", "containerpoker-portal") == "active"
    assert in_host(name, "systemctl", "is-enabled", "containerpoker-recovery.timer") == "enabled"
    assert "containerpoker-recovery.timer" in in_host(name, "systemctl", "list-timers", "--all")
    status = json.loads(
        in_host(
            name,
            "sudo",
            "-u",
            "containerpoker",
            "CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env",
            "/opt/containerpoker/venv/bin/containerpoker",
            "--json",
            "pool",
            "status",
        )
    )
    assert next(p for p in status if p["runtime"] == "nginx")["ready"] == 1

    # The lessons, through lessons.yml, against the platform host. Flows 1-3 only for now:
    # in the nested engine, flow 4's db never reports healthy (open, see the closing note).
    for flow in (1, 2, 3):
        lesson = run(
            ["ansible-playbook", "-i", str(inventory), "lessons.yml", "-e", f"flow={flow}"],
            timeout=600,
        )
        fatal = [
            line.split('"msg": ', 1)[-1][:600]
            for line in lesson.stdout.splitlines()
            if '"msg": ' in line
        ]
        assert lesson.returncode == 0, (flow, fatal or lesson.stdout[-3000:])
        assert f"Lesson {flow}:" in lesson.stdout and "[FAILED]" not in lesson.stdout
    assert (
        in_host(name, "docker", "ps", "-aq", "--filter", "label=containerpoker.role=lesson") == ""
    )

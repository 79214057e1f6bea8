"""`make engine` (scripts/engine.sh): a no-op when Docker is up, clear advice when it can't help."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "engine.sh"


def run(env: dict[str, str], user: str | None = None) -> subprocess.CompletedProcess:
    command = ["bash", str(SCRIPT)]
    if user:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_an_engine_that_is_up_is_left_alone():
    result = run({})
    assert result.returncode == 0, result.stderr
    assert "Docker engine is up" in result.stdout
    assert "Installing" not in result.stdout and "starting" not in result.stdout


def test_a_non_root_user_is_told_to_use_sudo():
    if os.geteuid() != 0 or not shutil.which("runuser"):
        pytest.fail("this test needs root and runuser to switch to an unprivileged user")
    result = run({"DOCKER_HOST": "unix:///tmp/no-docker-here.sock"}, user="nobody")
    assert result.returncode == 1
    assert "sudo" in result.stderr and "ERROR" in result.stderr


def test_another_os_is_told_what_to_install(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('ID=fedora\nPRETTY_NAME="Fedora Linux 40"\n')
    result = run(
        {
            "DOCKER_HOST": "unix:///tmp/no-docker-here.sock",
            "CONTAINERPOKER_OS_RELEASE": str(release),
        }
    )
    assert result.returncode == 1
    assert "not Debian/Ubuntu (Fedora Linux 40)" in result.stderr
    assert "make engine" in result.stderr


def test_a_remote_docker_host_that_does_not_answer_is_not_replaced_by_a_local_one():
    result = run({"DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert result.returncode == 1
    assert "DOCKER_HOST=tcp://127.0.0.1:1 does not answer" in result.stderr

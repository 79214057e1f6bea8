"""The platform-host image: a Debian host with systemd, built here (nothing is pulled)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST_IMAGE = "containerpoker/platform-host"


@pytest.fixture(scope="session")
def platform_host_image(docker_client) -> str:
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
        timeout=900,
    )
    assert build.returncode == 0, build.stderr
    return HOST_IMAGE

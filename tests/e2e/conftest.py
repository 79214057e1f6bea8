"""A portal served for real (``containerpoker portal``: gunicorn) on a test instance,
and a headless Chromium (Debian's, driven by Playwright) pointed at it."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from containerpoker.config import load_settings
from containerpoker.platform import Platform

from ..conftest import make_env, remove_instance

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CLI = [str(Path(sys.executable).parent / "containerpoker")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServedPortal:
    url: str  # at the portal's own host name (localhost)
    env: dict[str, str]
    settings: object
    log: Path

    def cli(self, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*CLI, *args], env=env or self.env, capture_output=True, text=True, timeout=120
        )


@contextlib.contextmanager
def running_portal(args: list[str], env: dict, log: Path, url: str) -> Iterator[subprocess.Popen]:
    """`containerpoker portal ARGS` in its own process group, up (``/login`` answers)
    before the body runs, and stopped after it, even when the body fails."""
    with open(log, "w") as out:
        process = subprocess.Popen(
            [*CLI, "portal", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90  # a readiness wait: a loaded machine imports slowly
        while True:
            try:
                with urllib.request.urlopen(url + "/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the portal did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def served_portal(docker_client, tmp_path_factory) -> Iterator[ServedPortal]:
    instance = "t" + secrets.token_hex(4)
    tmp = tmp_path_factory.mktemp("portal")
    port = free_port()
    env = os.environ | make_env(
        tmp,
        instance,
        CONTAINERPOKER_PORTAL_HOST="localhost",
        CONTAINERPOKER_PORTAL_PORT=str(port),
        CONTAINERPOKER_RUNTIMES="nginx,python,node",
        CONTAINERPOKER_NGINX_WARM="3",
        CONTAINERPOKER_NGINX_MAX="10",
        CONTAINERPOKER_PYTHON_WARM="1",
        # node: the runtime whose containers expire fast, for the expiry tests
        CONTAINERPOKER_NODE_WARM="1",
        CONTAINERPOKER_NODE_LIFETIME="20",
        CONTAINERPOKER_MONITOR_INTERVAL="2",
    )
    settings = load_settings(env=env)
    log = tmp / "portal.log"
    url = f"http://localhost:{port}"
    try:
        with Platform(settings) as platform:
            pool = platform.pool
            pool.init()
        with running_portal(["--bind", f"127.0.0.1:{port}"], env, log, url):
            yield ServedPortal(url=url, env=env, settings=settings, log=log)
    finally:  # the portal is stopped by now; then everything it made goes
        remove_instance(docker_client, instance)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail(
            "Chromium is missing: run `make test-deps` (Debian package chromium).", pytrace=False
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def screenshots() -> Path:
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

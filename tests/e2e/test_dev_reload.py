"""`make dev` (`containerpoker portal --dev`): edits to templates and Python files go live.

The portal package is copied to a temporary folder first, so the test edits
the copy, never the checkout.  The time to go live is printed (the target,
under 10 s, is a figure to read, not a timed assertion).
"""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import containerpoker

from ..conftest import make_env
from .conftest import free_port, running_portal

pytestmark = pytest.mark.slow


def _body(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()
    except OSError:
        return ""


def _live_within(url: str, marker: str, limit: float = 30.0) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if marker in _body(url):
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{marker!r} did not appear at {url} within {limit:.0f} s")


def test_template_and_python_edits_are_live(tmp_path, instance, capsys):
    copy = tmp_path / "src"
    shutil.copytree(
        Path(containerpoker.__file__).parent,
        copy / "containerpoker",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    port = free_port()
    env = (
        os.environ
        | make_env(
            tmp_path,
            instance,
            CONTAINERPOKER_PORTAL_HOST="localhost",
            CONTAINERPOKER_PORTAL_PORT=str(port),
        )
        | {"PYTHONPATH": str(copy)}
    )
    url = f"http://localhost:{port}"
    with running_portal(["--dev", "--bind", f"127.0.0.1:{port}"], env, tmp_path / "dev.log", url):
        template = copy / "containerpoker" / "portal" / "templates" / "login.html"
        template.write_text(
            template.read_text().replace("<h1>Log in</h1>", "<h1>Log in (edited)</h1>")
        )
        took_template = _live_within(url + "/login", "Log in (edited)")

        errors = copy / "containerpoker" / "portal" / "errors.py"
        errors.write_text(
            errors.read_text().replace(
                "There is nothing here: check the address.", "Nothing here (edited python)."
            )
        )
        took_python = _live_within(url + "/api/no-such-thing", "Nothing here (edited python).")
    with capsys.disabled():
        print(
            f"\n  make dev: template edit live in {took_template:.1f} s, "
            f"Python edit live in {took_python:.1f} s (target: under 10 s)"
        )

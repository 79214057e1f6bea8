"""The PRD's compose path: `docker-compose up` builds and serves the portal from
infrastructure/portal/Dockerfile, with the engine's socket and the source mounted, and an edit
to the source is live without a rebuild.

The checkout's app/ is copied to a temporary folder mounted in its place, so the test edits
the copy. An override file gives everything a test label, a project name of its own and the
test instance's settings; `docker-compose down -v --rmi all` removes the container, its volume
and the image tag, and a final check finds nothing of the project left. Durations are printed
(the target for an edit, under 10 s, is a figure to read, not a timed assertion).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from ..conftest import TEST_LABEL, TEST_RUN, make_env, remove_instance
from .conftest import ROOT, free_port

pytestmark = [pytest.mark.compose, pytest.mark.docker, pytest.mark.slow]


def _body(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        return error.read().decode()
    except OSError:
        return ""


def _within(url: str, marker: str, limit: float, logs) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if marker in _body(url):
            return time.monotonic() - start
        time.sleep(0.3)
    raise AssertionError(f"{marker!r} did not appear at {url} within {limit:.0f} s:\n{logs()}")


def test_docker_compose_up_serves_the_portal_and_edits_are_live(
    tmp_path, instance, docker_client, capsys
):
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.fail("docker-compose is missing: run `make test-deps`.", pytrace=False)
    wheels = subprocess.run(
        [str(ROOT / "scripts" / "portal-wheels.sh")], capture_output=True, text=True
    )
    assert wheels.returncode == 0, wheels.stderr[-3000:]

    source = tmp_path / "src"
    shutil.copytree(ROOT / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_PORTAL_HOST="localhost",
        CONTAINERPOKER_PORTAL_PORT=str(port),
        CONTAINERPOKER_ENV_FILE="/nonexistent.env",
    )
    env.pop("CONTAINERPOKER_DATA_DIR")  # the compose file's volume
    for runtime in ("NGINX", "APACHE", "PYTHON", "NODE"):
        env[f"CONTAINERPOKER_{runtime}_WARM"] = "0"  # only the portal is under test
    label = {TEST_LABEL: TEST_RUN}
    override = {
        "services": {
            "portal": {
                "image": f"containerpoker/portal:test-{TEST_RUN}",
                "build": {"context": str(ROOT / "infrastructure" / "portal"), "labels": label},
                "labels": label,
                "environment": env,
                "volumes": [f"{source}:/src:ro"],
                "command": [
                    "python3",
                    "-m",
                    "containerpoker.cli",
                    "portal",
                    "--dev",
                    "--bind",
                    f"127.0.0.1:{port}",
                ],  # fmt: skip
                "restart": "no",
            }
        },
        "volumes": {"portal-data": {"labels": label}},
    }
    (tmp_path / "override.yaml").write_text(json.dumps(override))  # JSON is YAML
    project = f"cptest{TEST_RUN}{instance}"
    command = [
        compose, "--project-name", project, "--project-directory", str(ROOT),
        "-f", str(ROOT / "compose.yaml"), "-f", str(tmp_path / "override.yaml"),
    ]  # fmt: skip

    def logs() -> str:
        shown = subprocess.run(
            [*command, "logs", "--no-color", "--tail", "40"], capture_output=True, text=True
        )
        return shown.stdout[-4000:]

    url = f"http://localhost:{port}"
    started = time.monotonic()
    try:
        up = subprocess.run(
            [*command, "up", "-d", "--build"], capture_output=True, text=True, timeout=900
        )
        assert up.returncode == 0, up.stderr[-4000:]
        built = time.monotonic() - started
        serving = _within(url + "/login", "<h1>Log in</h1>", 120, logs)
        container = docker_client.containers.list(
            filters={"label": [f"com.docker.compose.project={project}"]}
        )[0]
        mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
        assert mounts["/var/run/docker.sock"]["Source"] == "/var/run/docker.sock"
        assert mounts["/src"]["RW"] is False and mounts["/data"]["Type"] == "volume"

        template = source / "app" / "containerpoker" / "portal" / "templates" / "login.html"
        template.write_text(
            template.read_text().replace("<h1>Log in</h1>", "<h1>Log in (compose)</h1>")
        )
        took_template = _within(url + "/login", "Log in (compose)", 60, logs)
        errors = source / "app" / "containerpoker" / "portal" / "errors.py"
        errors.write_text(
            errors.read_text().replace(
                "There is nothing here: check the address.", "Nothing here (compose edit)."
            )
        )
        took_python = _within(url + "/api/no-such-thing", "Nothing here (compose edit).", 60, logs)
    finally:
        down_started = time.monotonic()
        down = subprocess.run(
            [*command, "down", "--volumes", "--rmi", "all", "--timeout", "20"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        took_down = time.monotonic() - down_started
        remove_instance(docker_client, instance)
    assert down.returncode == 0, down.stderr[-3000:]
    project_filter = {"label": [f"com.docker.compose.project={project}"]}
    assert docker_client.containers.list(all=True, filters=project_filter) == []
    assert docker_client.volumes.list(filters=project_filter) == []
    assert docker_client.images.list(name=f"containerpoker/portal:test-{TEST_RUN}") == []
    with capsys.disabled():
        print(
            f"\n  compose: up (build{' cached' if built < 30 else ''}) in {built:.1f} s, "
            f"serving {serving:.1f} s later; template edit live in {took_template:.1f} s, "
            f"Python edit live in {took_python:.1f} s (target: under 10 s); "
            f"down in {took_down:.1f} s"
        )

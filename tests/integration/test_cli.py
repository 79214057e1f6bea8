"""The `containerpoker` command as a user runs it: output, exit codes, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .helpers import container_names, fetch

pytestmark = pytest.mark.docker


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "containerpoker.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_init_claim_upload_release_from_the_cli(test_env, tmp_path, docker_client, instance):
    env = {**test_env, "CONTAINERPOKER_RUNTIMES": "nginx"}
    init = run(env, "pool", "init")
    assert init.returncode == 0, init.stderr
    assert "ready" in init.stderr and "Created 1 nginx" in init.stdout  # progress, then summary
    assert "nothing created" in run(env, "pool", "init").stdout

    claim = run(env, "--json", "pool", "claim", "nginx", "--user", "alice")
    assert claim.returncode == 0, claim.stderr
    claimed = json.loads(claim.stdout)
    assert claimed["owner"] == "alice" and claimed["url"].startswith("http://127.0.0.1:180")

    page = tmp_path / "index.html"
    page.write_text("<p>from the cli</p>")
    upload = run(env, "pool", "upload", claimed["name"], str(page), "--user", "alice")
    assert upload.returncode == 0 and "Uploaded 1 file(s)" in upload.stdout, upload.stderr

    status = json.loads(run(env, "--json", "pool", "status").stdout)
    assert status[0]["assigned"] == 1 and status[0]["ready"] == 1
    assert status[0]["nodes"] == {"local": 2}  # live containers per node
    human = run(env, "pool", "status").stdout
    assert "pools" in human and "2 nginx" in human and "local" in human, human

    reset = run(env, "--json", "pool", "reset", claimed["name"])
    assert reset.returncode == 0 and json.loads(reset.stdout)["replaced"] == [claimed["name"]]
    docker_client.containers.get(claimed["name"]).kill()
    reconcile = run(env, "pool", "reconcile")
    assert reconcile.returncode == 0, reconcile.stderr
    assert "replaced" in reconcile.stdout and "changes made" in reconcile.stdout
    assert "from the cli" in fetch(claimed["url"], expect="from the cli")

    release = run(env, "pool", "release", claimed["name"], "--user", "alice")
    assert release.returncode == 0 and "Released" in release.stdout, release.stderr
    assert claimed["name"] not in container_names(docker_client)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("pool", "claim", "cobol", "--user", "a"), 2, "Unknown runtime 'cobol'"),
        (("pool", "resize", "nginx", "--", "-5"), 2, "whole number of 0 or more"),
        (("pool", "resize", "nginx", "9999"), 2, "over the nginx maximum"),
        (("pool", "add", "nginx", "0"), 2, "1 or more"),
        (("pool", "release", "no-such-container"), 1, "No container 'no-such-container'"),
        (("pool", "claim", "nginx"), 2, "Missing option '--user'"),
    ],
)
def test_bad_input_is_one_sentence_and_a_non_zero_exit(
    test_env, instance, docker_client, args, code, says
):
    result = run(test_env, *args)
    assert result.returncode == code, result
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert (
        docker_client.containers.list(
            all=True, filters={"label": f"containerpoker.instance={instance}"}
        )
        == []
    )


def test_an_exhausted_pool_says_when_to_retry(test_env):
    env = {
        **test_env,
        "CONTAINERPOKER_RUNTIMES": "nginx",
        "CONTAINERPOKER_NGINX_WARM": "0",
        "CONTAINERPOKER_NGINX_MAX": "1",
    }
    assert run(env, "pool", "claim", "nginx", "--user", "a").returncode == 0
    result = run(env, "pool", "claim", "nginx", "--user", "b")
    assert result.returncode == 3
    assert "is exhausted" in result.stderr and "Retry in" in result.stderr


def test_an_unreachable_engine_says_what_to_do(test_env):
    result = run({**test_env, "DOCKER_HOST": "unix:///tmp/no-docker-here.sock"}, "pool", "status")
    assert result.returncode == 1
    assert "Docker is not reachable at unix:///tmp/no-docker-here.sock" in result.stderr
    assert "make engine" in result.stderr and "Traceback" not in result.stderr


def test_a_broken_config_is_refused_before_anything_happens(test_env, tmp_path):
    result = run({**test_env, "CONTAINERPOKER_NGINX_PORTS": "9000-8000"}, "pool", "init")
    assert result.returncode == 1
    assert "CONTAINERPOKER_NGINX_PORTS=9000-8000 is not usable" in result.stderr
    assert not (tmp_path / "data" / "containerpoker.db").exists()


def test_images_build_is_a_no_op_when_current_and_writes_no_platform_state(test_env, tmp_path):
    # The runtime_images role builds as root (debootstrap): no database of root's may appear in
    # the platform's data folder, which the portal's user must own.
    data_dir = tmp_path / "untouched"
    test_env = {**test_env, "CONTAINERPOKER_DATA_DIR": str(data_dir)}
    result = run(test_env, "images", "build")
    assert result.returncode == 0, result.stderr
    assert "All images are current: nothing to build." in result.stdout
    status = json.loads(run(test_env, "--json", "images", "status").stdout)
    assert status == {
        "nginx": "current",
        "apache": "current",
        "python": "current",
        "node": "current",
    }
    assert not data_dir.exists()


def test_renew_from_the_cli_and_its_dry_run(test_env):
    env = {**test_env, "CONTAINERPOKER_RUNTIMES": "nginx", "CONTAINERPOKER_NGINX_RENEWALS": "1"}
    assert run(env, "-q", "pool", "init").returncode == 0
    claimed = json.loads(run(env, "--json", "pool", "claim", "nginx", "--user", "ada").stdout)
    listed = run(env, "pool", "list", "--user", "ada")
    assert "(idle)" in listed.stdout or "(lifetime)" in listed.stdout, listed.stdout
    dry = run(env, "pool", "renew", claimed["name"], "--user", "ada", "--dry-run")
    assert dry.returncode == 0 and "Dry run" in dry.stdout and "renewed" in dry.stdout
    done = run(env, "pool", "renew", claimed["name"], "--user", "ada")
    assert done.returncode == 0 and "Renewed" in done.stdout and "0 renewal(s) left" in done.stdout
    again = run(env, "pool", "renew", claimed["name"], "--user", "ada")
    assert again.returncode == 1 and "the most allowed" in again.stderr

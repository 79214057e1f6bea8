"""The hands-on challenges against real learner engines (a nested Docker engine per learner).

For each lesson, in one learner's engine: a plausible wrong attempt stays pending on the check
it gets wrong, with that check's hint, through several rounds; the expected solution then
passes every check. Both through the platform (one ``docker exec`` per round) and through the
CLI (``containerpoker lesson challenge N --check``, the learner's-own-machine path, with a
``docker`` on PATH that reaches the learner engine). Everything the attempts create lives in
the learner engine, which is removed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest

from containerpoker.config import load_settings
from containerpoker.errors import Busy
from containerpoker.lessons import lessons
from containerpoker.lessons.framework import LessonFailed, wait_until
from containerpoker.platform import Platform

from ..conftest import TEST_SELECTOR, make_env

pytestmark = [pytest.mark.docker, pytest.mark.challenges]
ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "containerpoker")
IMAGE = "containerpoker/learner-engine"

# Per lesson: a plausible mistake, and the checks that must stay pending after it.
WRONG = {
    1: ("docker run --name hello busybox echo hello", {2}),
    2: (
        "docker run -d --name box busybox sleep 3600; "
        "docker exec box sh -c 'echo other > /note.txt'",
        {1},
    ),
    3: ("docker run -d --name chat busybox sh", {0, 1, 2}),
    4: (
        "docker network create stack; "
        "docker run -d --name db --network stack busybox sleep 3600; "
        "docker run -d --name app busybox sleep 3600",
        {1, 2},
    ),
    5: ("docker run -d --name ticker busybox sh -c 'while true; do echo tick; sleep 1; done'", {2}),
    6: (
        "docker run -d --name web --health-cmd 'test -f /tmp/ok' --health-interval 1s "
        "busybox sleep 3600",
        {0, 2},
    ),
    7: (
        "docker network create shop; docker run -d --name web --network shop busybox "
        "sh -c 'mkdir -p /www && echo hi > /www/index.html && httpd -f -p 80 -h /www'; "
        "docker run -d --name client busybox sleep 3600",
        {1, 2},
    ),
    8: (
        "docker volume create notes; "
        "docker run --name writer -v notes:/data busybox sh -c 'echo kept > /data/hello.txt'; "
        "docker run --name reader -v notes:/data busybox cat /data/hello.txt",
        {2},
    ),
}
# Empties the learner engine between attempts.
RESET = (
    "docker rm -f $(docker ps -aq) >/dev/null 2>&1; docker network prune -f >/dev/null; "
    "docker volume prune -f >/dev/null; true"
)
ROUNDS_PENDING = 4  # rounds a wrong attempt is checked (a second apart): never passes


@pytest.fixture(scope="module")
def learner_image(docker_client: docker.DockerClient) -> str:
    """The learner engine image (built once if this engine lacks it: about a minute)."""
    try:
        docker_client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        folder = ROOT / "infrastructure" / "images" / "learner-engine"
        subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(folder)], check=True)
    return IMAGE


@pytest.fixture(scope="module")
def classroom_platform(tmp_path_factory, docker_client, learner_image):
    tmp = tmp_path_factory.mktemp("classroom")
    instance = "tc" + os.urandom(3).hex()
    env = make_env(tmp, instance, CONTAINERPOKER_SANDBOX_ENABLED="1")
    platform = Platform(load_settings(env=env))
    yield platform
    platform.close()
    left = docker_client.containers.list(
        all=True, filters={"label": [TEST_SELECTOR, f"containerpoker.instance={instance}"]}
    )
    for container in left:  # a failing test's leftovers; the assertion below names them
        container.remove(force=True)
    for network in docker_client.networks.list(filters={"label": TEST_SELECTOR}):
        if network.name == f"cp-{instance}-learners":
            network.remove()
    assert [c.name for c in left] == []


@pytest.fixture(scope="module")
def engine(classroom_platform):
    return classroom_platform.classroom.engines.open("ada")


@pytest.fixture(scope="module")
def docker_shim(tmp_path_factory, engine) -> dict[str, str]:
    """An environment whose `docker` is the learner engine's: the CLI's path, as on a learner's
    own machine."""
    real = shutil.which("docker")
    assert real is not None
    folder = tmp_path_factory.mktemp("shim")
    shim = folder / "docker"
    shim.write_text(f'#!/bin/sh\nexec {real} exec {engine.name} docker "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def do(engine, script: str) -> None:
    code, output = engine.run(script)
    assert code == 0, output


def cli_check(env: dict[str, str], number: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, "lesson", "challenge", str(number), "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("number", range(1, 9))
def test_wrong_attempt_stays_pending_then_solution_passes(
    classroom_platform, engine, docker_shim, number
):
    classroom = classroom_platform.classroom
    challenge = lessons()[number].challenge
    wrong, expected_pending = WRONG[number]
    do(engine, RESET)

    # A wrong attempt: the same checks stay pending round after round, each with its hint.
    engine.run(wrong)
    for _ in range(ROUNDS_PENDING):
        result = classroom.check("ada", number)
        pending = {c["index"] for c in result["checks"] if not c["passed"]}
        assert expected_pending <= pending, result
        assert not result["passed"]
        for index in expected_pending:
            assert result["checks"][index]["hint"] == challenge.checks[index].hint
            assert result["checks"][index]["state"] == "pending"
        time.sleep(1)
    cli = cli_check(docker_shim, number)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    first = min(expected_pending)
    assert "pending" in cli.stdout
    assert challenge.checks[first].hint.split("`")[0][:30] in " ".join(cli.stdout.split())

    # The expected solution: every check passes (some need a few seconds: health, logs).
    do(engine, RESET)
    do(engine, challenge.solution)
    seen = {}

    def all_pass() -> bool:
        seen["last"] = classroom.check("ada", number)
        return seen["last"]["passed"]

    try:
        wait_until(all_pass, timeout=60, interval=1, what="the solution to pass")
    except LessonFailed:
        pytest.fail(f"lesson {number}'s solution did not pass: {seen['last']}")
    cli = cli_check(docker_shim, number)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert cli.stdout.count("passed") >= len(challenge.checks)

    progress = classroom.progress.of_user("ada")[number]["challenge"]
    assert progress["passed_at"] is not None
    assert progress["checks_passed"] == len(challenge.checks)


def test_learner_engine_is_bounded_and_apart(classroom_platform, engine, docker_client):
    """Capabilities added are exactly two, never privileged, no host path, no Docker socket;
    memory, CPU, processes and storage bounded; what the learner makes is not on the
    platform's engine."""
    settings = classroom_platform.settings
    attrs = docker_client.api.inspect_container(engine.name)
    host = attrs["HostConfig"]
    assert sorted(host["CapAdd"]) == ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"] or sorted(
        host["CapAdd"]
    ) == ["NET_ADMIN", "SYS_ADMIN"]
    assert host["Privileged"] is False
    assert not host["Binds"] and all(m["Type"] != "bind" for m in attrs["Mounts"])
    assert host["Memory"] == 512 * 1024 * 1024 and host["MemorySwap"] == host["Memory"]
    assert host["NanoCpus"] == 1_000_000_000 and host["PidsLimit"] == 512
    assert host["Tmpfs"]["/var/lib/docker"] == f"size={settings.sandbox_disk}"
    assert host["CgroupnsMode"] == "private"
    labels = attrs["Config"]["Labels"]
    assert labels["containerpoker.role"] == "lesson" and "containerpoker.expires" in labels

    # A network made inside is the learner's engine's alone.
    do(engine, "docker network create apart-net >/dev/null")
    code, inner_id = engine.run("docker network inspect -f '{{.Id}}' apart-net")
    assert code == 0
    assert inner_id.strip() not in {n.id for n in docker_client.networks.list()}
    # The disk limit holds: a file bigger than the storage cannot be written (its tmpfs is
    # charged to the engine's memory too, which is larger, so the disk limit comes first).
    code, output = engine.run("head -c 300m /dev/zero > /var/lib/docker/fill")
    engine.run("rm -f /var/lib/docker/fill")
    assert code != 0 and "No space left" in output, output


def test_one_engine_per_learner_and_removed_when_left(classroom_platform, docker_client):
    engines = classroom_platform.classroom.engines
    first = engines.open("bob")
    assert engines.open("bob").name == first.name  # the same learner gets the same engine
    assert engines.close("bob") is True
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(first.name)


def test_idle_engine_is_swept_and_limits_hold(classroom_platform, docker_client):
    engines = classroom_platform.classroom.engines
    mine = engines.open("cyd")
    idle = classroom_platform.settings.sandbox_idle
    with engines.viewing(mine):  # a page is open: never idle
        assert mine.name not in engines.sweep(now=time.time() + idle + 1)
    gone = engines.sweep(now=time.time() + idle + 1)
    assert mine.name in gone
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(mine.name)


def test_sandbox_off_by_default_says_how(tmp_path, instance):
    platform = Platform(load_settings(env=make_env(tmp_path, instance)))
    try:
        with pytest.raises(Exception) as raised:
            platform.classroom.open_challenge("dee", 7)
        assert "CONTAINERPOKER_SANDBOX_ENABLED" in str(raised.value)
        assert "lesson challenge" in str(raised.value)
    finally:
        platform.close()


def test_the_cap_on_engines_holds(tmp_path, instance, learner_image):
    env = make_env(
        tmp_path, instance, CONTAINERPOKER_SANDBOX_ENABLED="1", CONTAINERPOKER_MAX_SANDBOXES="0"
    )
    platform = Platform(load_settings(env=env))
    try:
        with pytest.raises(Busy):
            platform.classroom.engines.open("eve")
    finally:
        platform.close()

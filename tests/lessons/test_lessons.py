"""The lessons against the real engine: each one's claim is checked, not only that it ran,
every container a lesson creates is bounded and expires, and nothing with a lesson label is
left behind, even after an interruption or bad input."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
from docker.api.container import ContainerApiMixin

from containerpoker.config import load_settings
from containerpoker.errors import InvalidRequest
from containerpoker.lessons import Lab, lessons, run_lesson
from containerpoker.lessons.flow2_shell import shell_container
from containerpoker.lessons.framework import LessonBounds

from ..conftest import TEST_LABEL, TEST_RUN, TEST_SELECTOR, make_env

pytestmark = pytest.mark.docker
CLI = str(Path(sys.executable).parent / "containerpoker")


@pytest.fixture
def lesson_settings(tmp_path, instance):
    return load_settings(env=make_env(tmp_path, instance))


def lesson_objects(client: docker.DockerClient) -> list[str]:
    """Every lesson-labelled object a test made (the test label narrows it to ours)."""
    labels = {"label": ["containerpoker.role=lesson", TEST_SELECTOR]}
    return (
        [c.name for c in client.containers.list(all=True, filters=labels)]
        + [n.name for n in client.networks.list(filters=labels)]
        + [v.name for v in client.volumes.list(filters=labels)]
    )


# What every lesson container must have (LessonBounds' defaults), spelled out as Docker
# reports it, so that a wrong conversion in Lab.limits() cannot pass.
BOUNDED = {
    "Memory": 128 * 1024 * 1024,
    "NanoCpus": 500_000_000,
    "PidsLimit": 128,
    "CapDrop": ["ALL"],
    "SecurityOpt": ["no-new-privileges:true"],
    "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "2"}},
}
LIFETIME = 900


def assert_bounded(container, not_before: int, not_after: int) -> None:
    """The container has every bound, adds no capability back, and expires in 15 minutes."""
    host = container.attrs["HostConfig"]
    assert {key: host[key] for key in BOUNDED} == BOUNDED, container.name
    assert not host["CapAdd"], container.name
    labels = container.labels
    assert labels["containerpoker.role"] == "lesson", container.name
    expires = int(labels["containerpoker.expires"])
    assert not_before + LIFETIME <= expires <= not_after + LIFETIME, container.name


def run_all(flow, settings, **params):
    return list(run_lesson(flow, params, settings=settings))


@pytest.fixture
def assert_containers_bounded(monkeypatch, docker_client):
    """Inspect each container the moment Docker creates it (a lesson removes some of its
    containers between two steps); call the result at the end of a test to assert that
    every one of them was bounded."""
    not_before = int(time.time())
    created = []
    create = ContainerApiMixin.create_container

    def create_and_inspect(api, *args, **kwargs):
        answer = create(api, *args, **kwargs)
        created.append(docker_client.containers.get(answer["Id"]))
        return answer

    monkeypatch.setattr(ContainerApiMixin, "create_container", create_and_inspect)

    def check() -> None:
        assert created, "the lesson should have created containers"
        for container in created:
            assert_bounded(container, not_before, int(time.time()))

    return check


def test_every_lesson_has_a_goal_a_title_and_declared_parameters():
    for number, lesson in lessons().items():
        assert lesson.goal and lesson.title and lesson.category, number
        source = Path(lesson.source).read_text()
        assert '"""' in source.splitlines()[0] and "LEARNING GOAL" in source


def test_flow1_runs_a_command_and_captures_its_output(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = run_all(1, lesson_settings, message="Hello, class")
    output = next(s for s in steps if s.title == "Read its output")
    assert output.result == "Hello, class"
    assert all(s.ok for s in steps)
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_flow7_name_resolution_port_mapping_and_isolation(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = {s.title: s for s in run_all(7, lesson_settings, alias="shop", timeout=2)}
    assert "<html" in steps["Reach it by name from the same network"].result
    assert steps["Reach it from the host through the published port"].result == "HTTP 200"
    blocked = steps["Try from another network, by name and by address"].result
    by_name, by_address = blocked.splitlines()
    assert by_name.startswith("by name: FAILED") and "Name or service not known" in by_name
    assert by_address.startswith("by address: FAILED")
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_flow8_data_survives_is_backed_up_restored_and_shared(
    docker_client, lesson_settings, assert_containers_bounded
):
    note = "kept across containers"
    steps = {s.title: s for s in run_all(8, lesson_settings, note=note, files=4)}
    assert steps["Read it from a new container"].result.splitlines() == [note, "4"]
    assert "data/note4.txt" in steps["Back it up to a tar file"].result
    assert steps["Restore into a new volume"].result == note
    assert steps["Share one volume between two containers"].result == "shared by two containers"
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


@pytest.mark.parametrize(
    "flow, stop_after", [(1, 2), (2, 1), (3, 1), (4, 2), (5, 1), (6, 1), (7, 2), (8, 2)]
)
def test_an_interrupted_lesson_leaves_nothing(docker_client, lesson_settings, flow, stop_after):
    run = run_lesson(flow, {}, settings=lesson_settings)
    for _ in range(stop_after):
        next(run)
    assert lesson_objects(docker_client), "the lesson should have created something by now"
    run.close()  # what a closed browser tab or Ctrl-C does to the generator
    assert lesson_objects(docker_client) == []


@pytest.mark.parametrize(
    "flow, params, words",
    [
        (9, {}, "no lesson"),
        ("nosuch", {}, "no lesson"),
        (8, {"files": "0"}, "between 1 and 50"),
        (8, {"files": "many"}, "whole number"),
        (7, {"timeout": "99"}, "between 1 and 10"),
        (1, {"message": "hi; rm -rf /"}, "shell metacharacters"),
        (1, {"message": "$(reboot)"}, "shell metacharacters"),
        (7, {"alias": "web`id`"}, "shell metacharacters"),
        (1, {"image": "alpine"}, "one of"),
        (1, {"colour": "red"}, "no parameter"),
    ],
)
def test_bad_parameters_are_refused_and_create_nothing(
    docker_client, lesson_settings, flow, params, words
):
    with pytest.raises(InvalidRequest, match=words):
        list(run_lesson(flow, params, settings=lesson_settings))
    assert lesson_objects(docker_client) == []


def test_cli_lists_runs_and_refuses(docker_client, test_env):
    env = {**__import__("os").environ, **test_env}
    listed = subprocess.run([CLI, "lesson", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "Volumes and data" in listed.stdout
    ran = subprocess.run(
        [CLI, "lesson", "run", "1", "-p", "message=from the CLI"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    assert "from the CLI" in ran.stdout and "Clean up" in ran.stdout
    bad = subprocess.run([CLI, "lesson", "run", "9"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "no lesson '9'" in bad.stderr
    # A lesson whose own check fails exits 1 with its reason (here: `ls /` succeeds).
    failed = subprocess.run(
        [CLI, "lesson", "run", "3", "-p", "missing_path=/"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "choose a path that does not exist" in failed.stderr
    assert lesson_objects(docker_client) == []


def test_flow3_drives_a_shell_and_detects_the_failing_command(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = {s.title: s for s in run_all(3, lesson_settings, missing_path="/nowhere/at/all")}
    parsed = steps["Send commands and parse their output"].result
    assert "Debian GNU/Linux 12" in parsed and "(exit 0)" in parsed
    failing = steps["Detect a failing command"]
    assert (
        failing.ok
        and failing.result.startswith("exit status 2")
        and "/nowhere/at/all" in failing.result
    )
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_flow5_restarts_only_the_container_that_logged_the_error(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = {s.title: s for s in run_all(5, lesson_settings, workers=3)}
    response = steps["Match the pattern and respond"]
    assert response.ok and "worker1 restarted" in response.result
    log = steps["Read the aggregated log"].result
    assert "ERROR lost the connection" in log and "matched 'ERROR': restarted" in log
    assert {"worker0", "worker1", "worker2"} <= {
        line.split("|")[0].strip() for line in log.splitlines()
    }
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_flow6_health_restart_and_cascade_really_happen(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = {s.title: s for s in run_all(6, lesson_settings)}
    assert "unhealthy after" in steps["Break it without killing it"].result
    assert "restart count 0 → 1" in steps["Kill its process and watch Docker bring it back"].result
    cascade = steps["See a failure cascade, and the chain recover"].result
    assert "api unhealthy" in cascade and "healthy" in cascade
    assert "MB" in steps["Read resource use from stats"].result
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_flow4_starts_in_dependency_order_talks_and_stops_in_reverse(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = {s.title: s for s in run_all(4, lesson_settings, requests=2)}
    for role, needs in (("app", "db"), ("web", "app")):
        text = steps[f"Start the {role} (needs the {needs})"].result
        gap = float(text.split("started at +")[1].split(" s")[0])
        assert gap >= 0, text  # started only once what it needs was healthy
    assert steps["Prove the three talk to each other"].result.splitlines() == [
        "visit 1 counted by db, via app, via web",
        "visit 2 counted by db, via app, via web",
    ]
    shutdown = steps["Shut down gracefully, in reverse order"]
    assert shutdown.ok
    order = [part.split()[0] for part in shutdown.result.split("; ")]
    assert order == ["web", "app", "db"] and shutdown.result.count("exit 0") == 3
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_flow2_reads_through_a_real_terminal(
    docker_client, lesson_settings, assert_containers_bounded
):
    steps = {s.title: s for s in run_all(2, lesson_settings, a=12, b=12)}
    assert steps["Type a command and read the answer"].result.startswith(
        "result=144; terminal /dev/pts/"
    )
    assert steps["End the session"].result == "exit code 0"
    assert_containers_bounded()
    assert lesson_objects(docker_client) == []


def test_lesson_shell_under_a_real_pseudo_terminal(docker_client, test_env):
    import os

    import pexpect

    shell = pexpect.spawn(
        CLI,
        ["lesson", "shell"],
        env={**os.environ, **test_env, "TERM": "dumb"},
        encoding="utf-8",
        timeout=30,
        dimensions=(24, 120),
    )
    try:
        shell.expect("LAB-SHELL> ")
        assert lesson_objects(docker_client), "the shell's container should exist while we type"
        shell.sendline("echo answer=$((6*7))")
        shell.expect("answer=42")
        shell.sendline("exit")
        shell.expect("Removed cp-lesson2-")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
    assert lesson_objects(docker_client) == []


@pytest.mark.parametrize(
    "flow, stop_after", [(1, 2), (2, 1), (3, 1), (4, 2), (5, 1), (6, 1), (7, 2), (8, 6)]
)
def test_a_running_lesson_s_objects_carry_its_bounds_and_expiry(
    docker_client, tmp_path, instance, flow, stop_after
):
    """Found as the platform's sweep finds them: by their labels, while the lesson runs."""
    labels = f"{TEST_SELECTOR},containerpoker.instance={instance}"
    settings = load_settings(env=make_env(tmp_path, instance, CONTAINERPOKER_EXTRA_LABELS=labels))
    mine = {"label": ["containerpoker.role=lesson", f"containerpoker.instance={instance}"]}
    not_before = int(time.time())
    run = run_lesson(flow, {}, settings=settings)
    try:
        for _ in range(stop_after):
            next(run)
        not_after = int(time.time())
        containers = docker_client.containers.list(all=True, filters=mine)
        assert containers, f"lesson {flow} should have a container after step {stop_after}"
        for container in containers:
            assert_bounded(container, not_before, not_after)
        others = docker_client.networks.list(filters=mine) + docker_client.volumes.list(
            filters=mine
        )
        for thing in others:
            expires = int(thing.attrs["Labels"]["containerpoker.expires"])
            assert not_before + LIFETIME <= expires <= not_after + LIFETIME, thing.name
    finally:
        run.close()
    assert lesson_objects(docker_client) == []


def test_the_shell_container_has_no_network_and_is_bounded(docker_client, instance):
    lab = Lab(
        docker_client, 2, extra_labels={TEST_LABEL: TEST_RUN, "containerpoker.instance": instance}
    )
    not_before = int(time.time())
    try:
        # Called as the portal's terminal and `lesson shell` call it: positional arguments.
        container = shell_container(lab, lab.name("shell"), "xterm-256color")
        assert container.attrs["HostConfig"]["NetworkMode"] == "none"
        assert_bounded(container, not_before, int(time.time()))
        container.start()
        interfaces = container.exec_run(["ls", "/sys/class/net"]).output.decode().split()
        assert interfaces == ["lo"]  # nothing to reach the host or another container with
        net = lab.name("net")
        docker_client.networks.create(net, labels=lab.labels())
        joined = shell_container(lab, lab.name("joined"), "dumb", network=net)
        assert joined.attrs["HostConfig"]["NetworkMode"] == net
    finally:
        lab.cleanup()
    assert lab.leftovers() == []


def test_a_lab_takes_other_bounds(docker_client, instance):
    bounds = LessonBounds(
        memory="64m", cpus=0.25, pids=32, log_max_size="2m", log_max_file=3, lifetime=60
    )
    labels = {TEST_LABEL: TEST_RUN, "containerpoker.instance": instance}
    not_before = int(time.time())
    lab = Lab(docker_client, 1, extra_labels=labels, bounds=bounds)
    try:
        container = docker_client.containers.create(
            "debian:bookworm-slim", ["true"], labels=lab.labels(), **lab.limits()
        )
        host = container.attrs["HostConfig"]
        assert (host["Memory"], host["NanoCpus"], host["PidsLimit"]) == (
            64 * 1024 * 1024,
            250_000_000,
            32,
        )
        assert host["LogConfig"]["Config"] == {"max-size": "2m", "max-file": "3"}
        expires = int(container.labels["containerpoker.expires"])
        assert not_before + 60 <= expires <= int(time.time()) + 60
    finally:
        lab.cleanup()
    assert lab.leftovers() == []

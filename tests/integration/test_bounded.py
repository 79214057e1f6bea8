"""Everything a portal user can cause besides pool containers is bounded: the browser
terminal's containers and lesson runs (limits, no network, caps in all and per user, a
lifetime), and what a killed run leaves behind is removed by the next reconcile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from containerpoker.config import load_settings
from containerpoker.engine import cgroups
from containerpoker.errors import Busy
from containerpoker.platform import Platform

from ..conftest import make_env
from .helpers import fetch

pytestmark = pytest.mark.docker


@pytest.fixture
def platform_for(tmp_path, instance, docker_client):
    made = []

    def build(**env: str) -> Platform:
        settings = load_settings(
            env=make_env(tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx", **env)
        )
        made.append(Platform(settings))
        return made[-1]

    yield build
    for platform in made:
        platform.close()


def lesson_objects(docker_client, instance: str) -> list[str]:
    mine = {"label": ["containerpoker.role=lesson", f"containerpoker.instance={instance}"]}
    found = [c["Names"][0] for c in docker_client.api.containers(all=True, filters=mine)]
    found += [n["Name"] for n in docker_client.api.networks(filters=mine)]
    return found


def test_a_terminal_is_bounded_and_has_no_network(platform_for, docker_client, instance):
    platform = platform_for()
    session = platform.open_shell(owner="ada")
    try:
        info = docker_client.api.inspect_container(session.name)
        host, labels = info["HostConfig"], info["Config"]["Labels"]
        assert host["Memory"] == 128 * 1024**2 and host["MemorySwap"] == 128 * 1024**2
        assert host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 128
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
        assert host["SecurityOpt"] == ["no-new-privileges:true"]
        assert host["LogConfig"] == {
            "Type": "json-file",
            "Config": {"max-size": "1m", "max-file": "2"},
        }
        assert host["NetworkMode"] == "none"
        assert labels["containerpoker.owner"] == "ada"
        assert labels["containerpoker.instance"] == instance
        assert labels["containerpoker.process"].endswith(f":{os.getpid()}")
        assert time.time() < int(labels["containerpoker.expires"]) <= time.time() + 900
    finally:
        removed = session.close()
    assert removed == [session.name] and lesson_objects(docker_client, instance) == []


def test_terminals_are_capped_in_all_and_per_user(platform_for):
    platform = platform_for(CONTAINERPOKER_MAX_TERMINALS="2", CONTAINERPOKER_TERMINALS_PER_USER="1")
    first = platform.open_shell(owner="ada")
    try:
        with pytest.raises(Busy, match="You have 1 terminals open already"):
            platform.open_shell(owner="ada")
        second = platform.open_shell(owner="bob")
        with pytest.raises(Busy, match="2 terminals are open on this platform"):
            platform.open_shell(owner="carl")
        second.close()
        platform.open_shell(owner="carl").close()  # a closed one frees its place
    finally:
        first.close()


def test_lesson_runs_are_capped_and_bounded(platform_for, docker_client, instance):
    platform = platform_for(CONTAINERPOKER_MAX_LESSON_RUNS="1", CONTAINERPOKER_LESSON_PIDS="64")
    run = platform.run_lesson(4, {}, owner="ada")
    try:
        next(run)  # the run has started: its network and first container exist
        with pytest.raises(Busy, match="1 lessons are running"):
            platform.run_lesson(1)
        for name in lesson_objects(docker_client, instance):
            if name.startswith("/"):  # a container
                host = docker_client.api.inspect_container(name)["HostConfig"]
                assert host["PidsLimit"] == 64 and host["CapDrop"] == ["ALL"]
    finally:
        run.close()  # the page went away: the lesson cleans up and frees its place
    assert lesson_objects(docker_client, instance) == []
    assert [step.title for step in platform.run_lesson(1)][-1] == "Clean up"


def test_a_fork_bomb_and_a_memory_hog_stay_inside_the_terminal(
    platform_for, docker_client, instance
):
    platform = platform_for(CONTAINERPOKER_PORTAL_HOST="localhost")
    platform.pool.init()
    box = platform.pool.claim("ada", "nginx")
    from containerpoker.portal import create_app

    app = create_app({"TESTING": True}, settings=platform.settings)
    portal = app.test_client()
    session = platform.open_shell(owner="mallory")
    try:
        session.send(b"\n")
        session.send(b"hog() { head -c 1G /dev/zero | tail; }; hog; echo hog-done-$((6*7))\n")
        hog = read_until(session, b"hog-done-42", 60)
        assert b"hog-done-42" in hog and b"Killed" in hog, hog[-300:]  # the limit killed it
        session.send(b":(){ :|:& };:\n")  # a fork bomb
        time.sleep(5)
        cgroup = docker_client.api.inspect_container(session.name)
        assert cgroup["HostConfig"]["PidsLimit"] == 128
        # Meanwhile the host, the portal and a user's container are fine.
        assert subprocess.run(["true"], timeout=30).returncode == 0
        assert portal.get("/login").status_code == 200
        assert fetch(box.url, timeout=30)
        found = cgroups.usage(cgroup["State"]["Pid"])  # what `docker stats` shows, from the kernel
        print(f"processes in the terminal's container under a fork bomb: {found.pids}")
        assert 64 <= found.pids <= 128  # the bomb ran, and hit the ceiling
    finally:
        session.close()
        app.extensions["containerpoker"].close()
    assert fetch(box.url, timeout=30)


def read_until(session, marker: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < deadline:
        chunk = session.recv(4096)
        if not chunk:
            break
        seen += chunk
    return seen


CHILD = """
import sys, time
from containerpoker.config import load_settings
from containerpoker.engine import cgroups
from containerpoker.platform import Platform
platform = Platform(load_settings())
for step in platform.run_lesson(4, {}):
    print(step.title, flush=True)
    if step.title == "Start the db":
        print("READY", flush=True)
        time.sleep(600)
"""


def test_what_a_killed_lesson_run_left_goes_at_the_next_reconcile(
    tmp_path, instance, platform_for, docker_client
):
    env = make_env(tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in child.stdout:
            if line.strip() == "READY":
                break
        left = lesson_objects(docker_client, instance)
        assert left, "the lesson created nothing before it was killed"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert lesson_objects(docker_client, instance) == left  # nothing cleaned up: it was killed
    platform = platform_for()
    report = platform.pool.reconcile()
    assert set(report.removed_lesson_objects) >= {name.lstrip("/") for name in left}
    assert lesson_objects(docker_client, instance) == []

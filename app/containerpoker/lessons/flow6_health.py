"""Health monitoring and recovery: Docker checks, restarts, and what fails in a chain.

LEARNING GOAL: give a container a custom health check and a restart policy,
kill its process and watch Docker bring it back, see a failure cascade from
one container to the one that depends on it, and read resource use from
stats.

"Running" only means a process exists.  A health check is a command Docker
runs inside the container every few seconds to ask "do you work?"; a restart
policy tells Docker what to do when the process dies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker

from ..engine import cgroups
from .framework import Lab, LessonFailed, Param, Step

TITLE = "Health monitoring and recovery"
CATEGORY = "Operations"
PARAMS = [
    Param("interval", int, 1, "Seconds between health checks.", min=1, max=5),
    Param("timeout", int, 30, "Seconds to wait for each change.", min=10, max=120),
]
IMAGE = "debian:bookworm-slim"
# The app notes its process id and a "healthy" file; it is healthy while the file exists.
APP = "echo $$ > /tmp/app.pid; touch /tmp/healthy; while true; do sleep 1; done"


def _health(container) -> str:
    container.reload()
    return container.attrs["State"].get("Health", {}).get("Status", "none")


def _wait(what: str, check, timeout: int) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.25)
    raise LessonFailed(f"Waited {timeout} s for {what}; it did not happen.")


def run(lab: Lab, params: dict) -> Iterator[Step]:
    every, timeout = params["interval"], params["timeout"]
    ns = int(every * 1e9)
    check = {
        "test": ["CMD", "test", "-f", "/tmp/healthy"],
        "interval": ns,
        "timeout": ns,
        "retries": 2,
        "start_period": 0,
    }
    app = lab.client.containers.run(
        IMAGE,
        ["sh", "-c", APP],
        name=lab.name("app"),
        labels=lab.labels(),
        detach=True,
        init=True,
        healthcheck=check,
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 5},
    )
    took = _wait("the app to become healthy", lambda: _health(app) == "healthy", timeout)
    yield Step(
        "Start a container with a health check and a restart policy",
        "Docker runs `test -f /tmp/healthy` every few seconds; on-failure restarts the "
        "process when it exits with an error.",
        f"docker run -d --init --health-cmd 'test -f /tmp/healthy' --health-interval {every}s "
        f"--restart on-failure:5 {IMAGE} sh -c '...'",
        f"healthy after {took:.1f} s",
    )

    app.exec_run(["rm", "/tmp/healthy"])
    took = _wait("Docker to notice", lambda: _health(app) == "unhealthy", timeout)
    yield Step(
        "Break it without killing it",
        "The process still runs, but the check fails: Docker marks it unhealthy.",
        f"docker exec {app.name} rm /tmp/healthy",
        f"unhealthy after {took:.1f} s",
    )

    app.reload()
    before = app.attrs["RestartCount"]
    app.exec_run(["sh", "-c", 'kill -KILL "$(cat /tmp/app.pid)"'])
    # The app's shell died with a non-zero status: the policy brings it back.
    took = _wait(
        "the restart",
        lambda: (app.reload() or app.attrs["RestartCount"] > before) and app.status == "running",
        timeout,
    )
    took_healthy = _wait("health after the restart", lambda: _health(app) == "healthy", timeout)
    yield Step(
        "Kill its process and watch Docker bring it back",
        "The process died (killed: exit 137); the restart policy started it again, and "
        "the fresh process is healthy.",
        f"docker exec {app.name} sh -c 'kill -KILL $(cat /tmp/app.pid)'; "
        "docker inspect -f '{{.RestartCount}}'",
        f"restart count {before} → {app.attrs['RestartCount']} after {took:.1f} s; "
        f"healthy again after {took_healthy:.1f} s",
    )

    # A chain: the api is healthy only while it can find the db by name.
    net = lab.name("net")
    lab.client.networks.create(net, labels=lab.labels())
    db = lab.client.containers.run(
        IMAGE,
        ["sleep", "infinity"],
        name=lab.name("db"),
        labels=lab.labels(),
        detach=True,
        init=True,
        network=net,
    )
    api = lab.client.containers.run(
        IMAGE,
        ["sleep", "infinity"],
        name=lab.name("api"),
        labels=lab.labels(),
        detach=True,
        init=True,
        network=net,
        healthcheck={**check, "test": ["CMD", "getent", "hosts", db.name]},
    )
    _wait("the api to be healthy", lambda: _health(api) == "healthy", timeout)
    db.stop(timeout=1)
    took = _wait("the failure to reach the api", lambda: _health(api) == "unhealthy", timeout)
    db.start()
    took_back = _wait("the api to recover", lambda: _health(api) == "healthy", timeout)
    yield Step(
        "See a failure cascade, and the chain recover",
        "The api checks that it can find the db. Stop the db: the api turns unhealthy "
        "too, though nothing is wrong with it; start the db: both recover.",
        f"docker stop {db.name} … docker start {db.name}",
        f"api unhealthy {took:.1f} s after the db stopped; healthy {took_back:.1f} s after it "
        "came back",
    )

    try:
        stats = app.stats(stream=False)
    except docker.errors.APIError as exc:
        raise LessonFailed(f"Docker did not give stats: {exc}.") from None
    memory = stats.get("memory_stats", {}).get("usage", 0)
    pids = stats.get("pids_stats", {}).get("current")
    command, source = f"docker stats --no-stream {app.name}", ""
    if not memory:
        # Docker reads these numbers from the kernel's cgroup files. When its stats come back
        # empty (it happens on some cgroup v1 hosts), read the same files directly.
        app.reload()
        found = cgroups.usage(app.attrs["State"]["Pid"])
        if found is not None:
            memory, pids = found.memory_bytes, found.pids
            command = f"cat {found.source}/memory.*  (docker stats came back empty)"
            source = " (read from the cgroup: Docker's stats API gave nothing on this host)"
    yield Step(
        "Read resource use from stats",
        "Docker measures each container's CPU, memory and processes (what `docker stats` shows) "
        "with the kernel's control groups, the same mechanism that enforces the limits.",
        command,
        f"memory {memory / 1024 / 1024:.1f} MB, {pids} processes{source}",
    )
    if not memory:
        raise LessonFailed(
            "Neither Docker nor the kernel's cgroup files gave the memory use of a running "
            "container; the engine's log says why (make logs)."
        )

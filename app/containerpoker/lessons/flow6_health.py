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

from collections.abc import Iterator

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step, resource_use, wait_for_health, wait_until

TITLE = "Health monitoring and recovery"
CATEGORY = "Operations"
PARAMS = [
    Param("interval", int, 1, "Seconds between health checks.", min=1, max=5),
    Param("timeout", int, 30, "Seconds to wait for each change.", min=10, max=120),
]
IMAGE = "debian:bookworm-slim"

# The app notes its process id (so that we can kill it later) and creates the
# file its health check looks for; then it only waits.
APP = """\
echo $$ > /tmp/app.pid
touch /tmp/healthy
while true; do
    sleep 1
done
"""


def health_check(test: list[str], every: int) -> dict:
    """A health check as Docker's API takes it: run ``test`` every ``every`` seconds.

    A check taking longer than ``every`` fails; two failures in a row make the
    container unhealthy.  The API counts time in nanoseconds.
    """
    nanoseconds = every * 1_000_000_000
    return {
        "test": test,
        "interval": nanoseconds,
        "timeout": nanoseconds,
        "retries": 2,
        "start_period": 0,
    }


def run(lab: Lab, params: dict) -> Iterator[Step]:
    every, timeout = params["interval"], params["timeout"]

    # 1. Start the app with a health check (Docker runs `test -f /tmp/healthy` in
    #    it every few seconds) and a restart policy (on-failure: start it again
    #    when its process exits with an error, at most 5 times). --init puts a
    #    tiny init process first, so that `sh` is an ordinary process we can kill.
    #    The machine is shared by everyone running a lesson: every container is
    #    bounded (memory, CPU, processes, no capabilities, rotated logs).
    app = lab.client.containers.run(
        IMAGE,
        ["sh", "-c", APP],
        name=lab.name("app"),
        labels=lab.labels(),
        detach=True,
        init=True,
        healthcheck=health_check(["CMD", "test", "-f", "/tmp/healthy"], every),
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 5},
        **lab.limits(),
    )
    took = wait_for_health(app, "healthy", timeout, "the app to become healthy")
    yield Step(
        "Start a container with a health check and a restart policy",
        "Docker runs `test -f /tmp/healthy` every few seconds; on-failure restarts the "
        "process when it exits with an error.",
        f"docker run -d --init --health-cmd 'test -f /tmp/healthy' --health-interval {every}s "
        f"--restart on-failure:5 {IMAGE} sh -c '...'",
        f"healthy after {took:.1f} s",
    )

    # 2. Break it without killing it: remove the file the check looks for. The
    #    process still runs, so the container is "running", but after two failed
    #    checks Docker marks it unhealthy.
    app.exec_run(["rm", "/tmp/healthy"])
    took = wait_for_health(app, "unhealthy", timeout, "Docker to notice")
    yield Step(
        "Break it without killing it",
        "The process still runs, but the check fails: Docker marks it unhealthy.",
        f"docker exec {app.name} rm /tmp/healthy",
        f"unhealthy after {took:.1f} s",
    )

    # 3. Kill the app's process. It dies with an error (killed: exit 137), so the
    #    restart policy starts it again: Docker counts the restarts. The fresh
    #    process creates /tmp/healthy again, and the container turns healthy.
    app.reload()
    restarts_before = app.attrs["RestartCount"]
    app.exec_run(["sh", "-c", 'kill -KILL "$(cat /tmp/app.pid)"'])

    def restarted() -> bool:
        app.reload()
        return app.attrs["RestartCount"] > restarts_before and app.status == "running"

    took = wait_until(restarted, timeout, 0.25, "the restart")
    took_healthy = wait_for_health(app, "healthy", timeout, "health after the restart")
    yield Step(
        "Kill its process and watch Docker bring it back",
        "The process died (killed: exit 137); the restart policy started it again, and "
        "the fresh process is healthy.",
        f"docker exec {app.name} sh -c 'kill -KILL $(cat /tmp/app.pid)'; "
        "docker inspect -f '{{.RestartCount}}'",
        f"restart count {restarts_before} → {app.attrs['RestartCount']} after {took:.1f} s; "
        f"healthy again after {took_healthy:.1f} s",
    )

    # 4. A chain of two on a network of their own: the api is healthy only while it
    #    can find the db by name (`getent hosts` asks Docker's DNS for it, which
    #    knows only running containers).
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
        **lab.limits(),
    )
    api = lab.client.containers.run(
        IMAGE,
        ["sleep", "infinity"],
        name=lab.name("api"),
        labels=lab.labels(),
        detach=True,
        init=True,
        network=net,
        healthcheck=health_check(["CMD", "getent", "hosts", db.name], every),
        **lab.limits(),
    )
    wait_for_health(api, "healthy", timeout, "the api to be healthy")

    # 5. Stop the db: the api turns unhealthy too, though nothing is wrong with
    #    it. That is a cascade. Start the db again: the chain recovers by itself.
    db.stop(timeout=1)
    took = wait_for_health(api, "unhealthy", timeout, "the failure to reach the api")
    db.start()
    took_back = wait_for_health(api, "healthy", timeout, "the api to recover")
    yield Step(
        "See a failure cascade, and the chain recover",
        "The api checks that it can find the db. Stop the db: the api turns unhealthy "
        "too, though nothing is wrong with it; start the db: both recover.",
        f"docker stop {db.name} … docker start {db.name}",
        f"api unhealthy {took:.1f} s after the db stopped; healthy {took_back:.1f} s after it "
        "came back",
    )

    # 6. Read the app's resource use, as `docker stats` shows it. (Where Docker's
    #    stats come back empty, the framework reads the kernel's files directly.)
    use = resource_use(app)
    yield Step(
        "Read resource use from stats",
        "Docker measures each container's CPU, memory and processes (what `docker stats` shows) "
        "with the kernel's control groups, the same mechanism that enforces the limits.",
        use.call,
        f"memory {use.memory_bytes / 1024 / 1024:.1f} MB, {use.pids} processes{use.note}",
    )
    if not use.memory_bytes:
        raise LessonFailed(
            "Neither Docker nor the kernel's cgroup files gave the memory use of a running "
            "container; the engine's log says why (make logs)."
        )


# The challenge: a health check and a restart policy of your own. Each check is a shell line
# that exits 0 once that part of the task is done, against your own engine.
CHALLENGE = Challenge(
    task=(
        "Run a container named web whose command creates /tmp/ok and then waits "
        "(`sleep 3600`), with a health check `test -f /tmp/ok` run every second and the "
        "restart policy on-failure. Wait until Docker reports it healthy."
    ),
    checks=(
        Check(
            "web restarts on failure",
            """[ "$(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' web)" = on-failure ]""",
            "The policy is set at creation: `--restart on-failure`.",
        ),
        Check(
            "web has a health check",
            """[ -n "$(docker inspect -f '{{if .Config.Healthcheck}}{{.Config.Healthcheck.Test}}{{end}}' web)" ]""",
            "`--health-cmd 'test -f /tmp/ok' --health-interval 1s`",
        ),
        Check(
            "web is healthy",
            """[ "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' web)" = healthy ]""",
            "The check passes once /tmp/ok exists: the command must create it, "
            "`sh -c 'touch /tmp/ok; sleep 3600'`.",
        ),
    ),
    solution=(
        "docker run -d --name web --restart on-failure --health-cmd 'test -f /tmp/ok' "
        "--health-interval 1s busybox sh -c 'touch /tmp/ok; sleep 3600'"
    ),
    cleanup="docker rm -f web",
)

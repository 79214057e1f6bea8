"""Multi-container dependencies: start in order, wait for health, stop in reverse.

LEARNING GOAL: run a database, an app that needs it and a web front that
needs the app on their own network; start each only when the one before is
healthy; prove the three talk to each other; shut them down gracefully in
reverse order.

"Started" is not "ready": a database takes a moment before it answers.  An
orchestrator starts a service only once what it depends on reports healthy,
and stops in the opposite order, so that nobody is left talking to a service
that has already gone.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator

from docker.models.containers import Container

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step, docker_time, wait_for_health

TITLE = "Multi-container dependencies"
CATEGORY = "Orchestration"
PARAMS = [
    Param("requests", int, 3, "How many visits to send through the chain.", min=1, max=20),
    Param("timeout", int, 30, "Seconds to wait for each service to be healthy.", min=5, max=120),
]
IMAGE = "containerpoker/python"

# One small web service plays all three parts; the ROLE variable says which:
# the db counts visits, the app asks the db, the web front asks the app.
# UPSTREAM is the address of the service it needs (the db needs none).
SERVICE = """\
import http.server
import os
import signal
import threading
import urllib.request

ROLE = os.environ["ROLE"]
UPSTREAM = os.environ.get("UPSTREAM", "")
visits = 0


def ask_upstream(path):
    with urllib.request.urlopen(UPSTREAM + path, timeout=2) as response:
        return response.read().decode()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass  # no access log

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        global visits
        try:
            if self.path == "/health" and ROLE == "db":
                self.reply(200, "ok")
            elif self.path == "/health":
                # Healthy only while what it needs is healthy too.
                self.reply(200, ask_upstream("/health"))
            elif ROLE == "db":
                visits += 1
                self.reply(200, str(visits))
            elif ROLE == "app":
                self.reply(200, "visit " + ask_upstream("/incr") + " counted by db, via app")
            else:
                self.reply(200, ask_upstream("/") + ", via web")
        except OSError as exc:
            self.reply(503, ROLE + " cannot reach its upstream: " + str(exc))


def stop_gracefully(signum, frame):
    # shutdown() waits until serve_forever() returns: call it from another thread.
    threading.Thread(target=server.shutdown).start()


server = http.server.ThreadingHTTPServer(("", 8080), Handler)
# Graceful: on SIGTERM (what `docker stop` sends), finish the request in hand, exit with 0.
signal.signal(signal.SIGTERM, stop_gracefully)
print(ROLE + ": listening", flush=True)
server.serve_forever()
print(ROLE + ": stopped cleanly", flush=True)
"""

# Docker runs this in the container to ask "do you work?": it fails unless /health answers 200.
HEALTH = [
    "CMD",
    "python3",
    "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)",
]


def start_service(
    lab: Lab, network: str, role: str, upstream: str, ports: dict | None = None
) -> Container:
    """Start one part of the application: SERVICE playing ``role``, health-checked by Docker."""
    return lab.client.containers.run(
        IMAGE,
        ["python3", "-c", SERVICE],
        name=lab.name(role),
        labels=lab.labels(),
        detach=True,
        network=network,
        environment={"ROLE": role, "UPSTREAM": upstream},
        # Docker runs HEALTH every 0.5 s; three failures in a row mean unhealthy.
        # Times are in nanoseconds. A busy host starts Python slowly: 5 s per check.
        healthcheck={
            "test": HEALTH,
            "interval": 500_000_000,
            "timeout": 5_000_000_000,
            "retries": 3,
            "start_period": 0,
        },
        ports=ports,
        # The machine is shared by everyone running a lesson: every container is
        # bounded (memory, CPU, processes, no capabilities, rotated logs).
        **lab.limits(),
    )


def run(lab: Lab, params: dict) -> Iterator[Step]:
    timeout = params["timeout"]

    # 1. A network of their own: on a user-defined network Docker's DNS resolves
    #    each container's name, so the services find each other by name.
    net = lab.name("net")
    lab.client.networks.create(net, labels=lab.labels())
    yield Step(
        "Create the application's network",
        "The three services find each other by name on it, and nothing else is on it.",
        f"docker network create {net}",
        net,
    )

    # 2. The db first: it needs nothing. Then wait until its health check passes:
    #    a started container is not yet a ready one.
    db_started_at = time.time()
    db = start_service(lab, net, "db", upstream="")
    wait_for_health(db, "healthy", timeout)
    db_healthy_at = time.time()
    yield Step(
        "Start the db",
        "The first link: it needs nothing.",
        f"docker run -d --network {net} --name {db.name} --health-cmd '... /health' "
        f"-e ROLE=db {IMAGE}",
        f"healthy {db_healthy_at - db_started_at:.1f} s after starting",
    )

    # 3. The app needs the db, so it starts only now that the db is healthy. It
    #    reaches the db by its container name; then we wait for its own health.
    app_upstream = f"http://{db.name}:8080"
    app_started_at = time.time()
    app = start_service(lab, net, "app", upstream=app_upstream)
    wait_for_health(app, "healthy", timeout)
    app_healthy_at = time.time()
    yield Step(
        "Start the app (needs the db)",
        "Started only after what it needs was healthy; then we wait until it is healthy itself.",
        f"docker run -d --network {net} --name {app.name} --health-cmd '... /health' "
        f"-e ROLE=app -e UPSTREAM={app_upstream} {IMAGE}",
        f"started at +{app_started_at - db_healthy_at:.1f} s after the db was healthy; "
        f"healthy {app_healthy_at - app_started_at:.1f} s later",
    )

    # 4. The web front needs the app. It is the only one published to the host
    #    (on 127.0.0.1, a port Docker chooses): the way in from outside.
    web_upstream = f"http://{app.name}:8080"
    web_started_at = time.time()
    web = start_service(
        lab, net, "web", upstream=web_upstream, ports={"8080/tcp": ("127.0.0.1", None)}
    )
    wait_for_health(web, "healthy", timeout)
    web_healthy_at = time.time()
    yield Step(
        "Start the web (needs the app)",
        "Started only after what it needs was healthy; then we wait until it is healthy itself.",
        f"docker run -d --network {net} --name {web.name} --health-cmd '... /health' "
        f"-e ROLE=web -e UPSTREAM={web_upstream} {IMAGE}",
        f"started at +{web_started_at - app_healthy_at:.1f} s after the app was healthy; "
        f"healthy {web_healthy_at - web_started_at:.1f} s later",
    )

    # 5. Visit the web front from the host: each request goes web → app → db,
    #    and the db's count grows by one each time.
    web.reload()  # its attributes now include the host port Docker chose
    port = web.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    answers = []
    for _ in range(params["requests"]):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            answers.append(response.read().decode())
    yield Step(
        "Prove the three talk to each other",
        "A request to the web front goes to the app, which asks the db: the count grows.",
        f"curl http://127.0.0.1:{port}/  (x{params['requests']})",
        "\n".join(answers),
    )
    expected = [
        f"visit {i} counted by db, via app, via web" for i in range(1, params["requests"] + 1)
    ]
    if answers != expected:
        raise LessonFailed(f"The chain answered {answers!r}, expected {expected!r}.")

    # 6. Stop in reverse order: the web front first (no new requests come in),
    #    then the app, then the db. `docker stop` sends SIGTERM and, if the
    #    process is still there after 5 s, SIGKILL; SERVICE exits with 0 on SIGTERM.
    exit_codes = {}
    finished_at = {}
    for role, container in [("web", web), ("app", app), ("db", db)]:
        container.stop(timeout=5)
        container.reload()
        exit_codes[role] = container.attrs["State"]["ExitCode"]
        finished_at[role] = container.attrs["State"]["FinishedAt"]
    clean = exit_codes == {"web": 0, "app": 0, "db": 0}
    in_order = (
        docker_time(finished_at["web"])
        <= docker_time(finished_at["app"])
        <= docker_time(finished_at["db"])
    )
    # Each one's exit code, and the time of day it finished (hh:mm:ss.mmm).
    report = "; ".join(
        f"{role} exit {exit_codes[role]} at {finished_at[role][11:23]}"
        for role in ("web", "app", "db")
    )
    yield Step(
        "Shut down gracefully, in reverse order",
        "Web first (no new requests come in), then the app, then the db: each gets "
        "SIGTERM, finishes what it was doing and exits with 0.",
        f"docker stop {web.name} && docker stop {app.name} && docker stop {db.name}",
        report,
        ok=clean and in_order,
    )
    if not (clean and in_order):
        raise LessonFailed(f"The shutdown was not clean or not in reverse order: {report}.")


# The challenge: start in order, the second only once the first is healthy. Each check is a
# shell line that exits 0 once that part of the task is done, against your own engine.
CHALLENGE = Challenge(
    task=(
        "On a network named stack, run db (busybox `sleep 3600`) with a health check, wait "
        "until Docker says it is healthy, then run app (busybox `sleep 3600`) on the same "
        "network. app must reach db by its name."
    ),
    checks=(
        Check(
            "The network stack exists",
            "docker network inspect stack >/dev/null",
            "`docker network create stack`",
        ),
        Check(
            "db has a health check and is healthy",
            """[ "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' db)" = healthy ]""",
            "Give it one: `--health-cmd true --health-interval 1s`; "
            "`docker inspect -f '{{.State.Health.Status}}' db` shows where it stands.",
        ),
        Check(
            "app reaches db by name",
            "docker exec app ping -c 1 -W 2 db",
            "Start app with `--network stack`: on a network of its own, Docker's DNS "
            "answers with db's address.",
        ),
    ),
    solution=(
        "docker network create stack\n"
        "docker run -d --name db --network stack --health-cmd true --health-interval 1s "
        "busybox sleep 3600\n"
        "until [ \"$(docker inspect -f '{{.State.Health.Status}}' db)\" = healthy ]; "
        "do sleep 1; done\n"
        "docker run -d --name app --network stack busybox sleep 3600"
    ),
    cleanup="docker rm -f app db; docker network rm stack",
)

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

from .framework import Lab, LessonFailed, Param, Step

TITLE = "Multi-container dependencies"
CATEGORY = "Orchestration"
PARAMS = [
    Param("requests", int, 3, "How many visits to send through the chain.", min=1, max=20),
    Param("timeout", int, 30, "Seconds to wait for each service to be healthy.", min=5, max=120),
]
IMAGE = "containerpoker/python"
# One small program plays all three parts; ROLE says which (db, app or web).
SERVICE = r"""
import os, signal, threading, urllib.request, http.server
role, upstream = os.environ["ROLE"], os.environ.get("UPSTREAM", "")
store = {}
def ask(path):
    return urllib.request.urlopen(upstream + path, timeout=2).read().decode()
class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def reply(self, code, text):
        body = text.encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        try:
            if self.path == "/health":
                self.reply(200, "ok" if role == "db" else ask("/health"))
            elif role == "db":
                store["visits"] = store.get("visits", 0) + 1
                self.reply(200, str(store["visits"]))
            elif role == "app":
                self.reply(200, "visit " + ask("/incr") + " counted by db, via app")
            else:
                self.reply(200, ask("/") + ", via web")
        except OSError as exc:
            self.reply(503, role + " cannot reach its upstream: " + str(exc))
server = http.server.ThreadingHTTPServer(("", 8080), Handler)
# Graceful: on SIGTERM, finish the request in hand, then exit with 0.
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=server.shutdown).start())
print(role + ": listening", flush=True)
server.serve_forever()
print(role + ": stopped cleanly", flush=True)
"""
HEALTH = [
    "CMD",
    "python3",
    "-c",
    "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4)",
]


def _wait_healthy(container, timeout: int) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        container.reload()
        state = container.attrs["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return time.time()
        if state["Status"] == "exited":
            raise LessonFailed(f"{container.name} exited: {container.logs().decode()[-300:]}")
        time.sleep(0.2)
    raise LessonFailed(f"{container.name} was not healthy within {timeout} s.")


def run(lab: Lab, params: dict) -> Iterator[Step]:
    timeout = params["timeout"]
    net = lab.name("net")
    lab.client.networks.create(net, labels=lab.labels())
    yield Step(
        "Create the application's network",
        "The three services find each other by name on it, and nothing else is on it.",
        f"docker network create {net}",
        net,
    )

    chain = [("db", None), ("app", "db"), ("web", "app")]
    started: dict[str, object] = {}
    healthy_at: dict[str, float] = {}
    for role, needs in chain:
        name = lab.name(role)
        upstream = f"http://{lab.name(needs)}:8080" if needs else ""
        started_at = time.time()
        started[role] = lab.client.containers.run(
            IMAGE,
            ["python3", "-c", SERVICE],
            name=name,
            labels=lab.labels(),
            detach=True,
            network=net,
            environment={"ROLE": role, "UPSTREAM": upstream},
            healthcheck={
                "test": HEALTH,
                "interval": 500_000_000,
                "timeout": 5_000_000_000,  # a busy host starts Python slowly
                "retries": 3,
                "start_period": 0,
            },
            ports={"8080/tcp": ("127.0.0.1", None)} if role == "web" else None,
        )
        healthy_at[role] = _wait_healthy(started[role], timeout)
        yield Step(
            f"Start the {role}" + (f" (needs the {needs})" if needs else ""),
            "Started only after what it needs was healthy; then we wait until it is healthy itself."
            if needs
            else "The first link: it needs nothing.",
            f"docker run -d --network {net} --name {name} --health-cmd '... /health' "
            f"-e ROLE={role}" + (f" -e UPSTREAM={upstream}" if needs else "") + f" {IMAGE}",
            f"started at +{started_at - healthy_at.get(needs, started_at):.1f} s after the "
            f"{needs} was healthy; healthy {healthy_at[role] - started_at:.1f} s later"
            if needs
            else f"healthy {healthy_at[role] - started_at:.1f} s after starting",
        )

    web = started["web"]
    web.reload()
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

    stopped = []
    for role in ("web", "app", "db"):
        container = started[role]
        container.stop(timeout=5)  # SIGTERM, then SIGKILL after 5 s if it ignores it
        container.reload()
        state = container.attrs["State"]
        stopped.append((role, state["ExitCode"], state["FinishedAt"]))
    clean = all(code == 0 for _, code, _ in stopped)
    in_order = [f for _, _, f in stopped] == sorted(f for _, _, f in stopped)
    yield Step(
        "Shut down gracefully, in reverse order",
        "Web first (no new requests come in), then the app, then the db: each gets "
        "SIGTERM, finishes what it was doing and exits with 0.",
        " && ".join(f"docker stop {lab.name(r)}" for r in ("web", "app", "db")),
        "; ".join(f"{r} exit {c} at {f[11:23]}" for r, c, f in stopped),
        ok=clean and in_order,
    )
    if not (clean and in_order):
        raise LessonFailed(f"The shutdown was not clean or not in reverse order: {stopped}.")

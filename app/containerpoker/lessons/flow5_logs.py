"""Log monitoring and event response: watch several containers and act on what they say.

LEARNING GOAL: stream the logs of several containers at once, match a
pattern, respond automatically by restarting the container that logged an
error, and show the aggregated log.

Every container's output is a stream Docker keeps for us.  Following several
streams at once (one thread each) and reacting to a line is the heart of log
monitoring tools; here the reaction is a restart.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterator

from .framework import Lab, LessonFailed, Param, Step

TITLE = "Log monitoring and event response"
CATEGORY = "Operations"
PARAMS = [
    Param("workers", int, 3, "How many containers log.", min=2, max=6),
    Param("pattern", str, "ERROR", "What to look for in the logs (a regular expression)."),
    Param("timeout", int, 20, "Seconds to watch before giving up.", min=5, max=60),
]
IMAGE = "debian:bookworm-slim"
# Each worker counts; the faulty one logs an error at its 3rd line of each start.
WORKER = (
    'n=0; echo "$NAME: started"; while true; do n=$((n+1)); '
    'if [ "$FAULTY" = 1 ] && [ "$n" = 3 ] && [ ! -f /tmp/restarted ]; then '
    'echo "$NAME: ERROR lost the connection to the database"; touch /tmp/restarted; '
    'else echo "$NAME: tick $n"; fi; sleep 0.3; done'
)


def run(lab: Lab, params: dict) -> Iterator[Step]:
    count, timeout = params["workers"], params["timeout"]
    try:
        pattern = re.compile(params["pattern"])
    except re.error as exc:
        raise LessonFailed(f"The pattern is not a regular expression: {exc}.") from None
    faulty = count // 2
    containers = []
    for i in range(count):
        name = lab.name(f"worker{i}")
        containers.append(
            lab.client.containers.run(
                IMAGE,
                ["sh", "-c", WORKER],
                name=name,
                labels=lab.labels(),
                detach=True,
                init=True,
                environment={"NAME": f"worker{i}", "FAULTY": "1" if i == faulty else "0"},
            )
        )
    yield Step(
        "Start the workers",
        f"{count} containers that log a line every 0.3 s; one of them will log an error.",
        f"docker run -d --name {lab.name('worker0')} {IMAGE} sh -c '...'  (x{count})",
        ", ".join(c.name for c in containers),
    )

    # One thread per container follows its stream and forwards lines to one queue.
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    stop = threading.Event()

    def follow(container, since: float | None = None) -> None:
        for raw in container.logs(stream=True, follow=True, since=since):
            for line in raw.decode(errors="replace").splitlines():
                lines.put((container.name, line))
            if stop.is_set():
                return

    for container in containers:
        threading.Thread(target=follow, args=(container,), daemon=True).start()
    yield Step(
        "Follow every log at once",
        "A stream per container, all feeding one queue: the aggregated log.",
        "for each container: docker logs --follow NAME  (one thread each)",
        f"following {count} streams",
    )

    aggregated: list[str] = []
    responded = None
    back_again = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not back_again:
        try:
            name, line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        aggregated.append(f"{name.rsplit('-', 1)[-1]:8} | {line}")
        if responded is None and pattern.search(line):
            target = next(c for c in containers if c.name == name)
            target.reload()
            before = target.attrs["State"]["StartedAt"]
            restarted_at = time.time()
            target.restart(timeout=2)
            target.reload()
            responded = (target, before)
            aggregated.append(f"{'monitor':8} | matched {pattern.pattern!r}: restarted {name}")
            # Its old stream ended with the old process; follow the new one from now.
            threading.Thread(target=follow, args=(target, restarted_at - 1), daemon=True).start()
        elif responded is not None and name == responded[0].name and line.endswith("started"):
            back_again = True  # (the new stream starts a second early: skip older lines)
    stop.set()
    if responded is None:
        raise LessonFailed(f"No line matched {pattern.pattern!r} within {timeout} s.")
    target, before = responded
    after = target.attrs["State"]["StartedAt"]
    others = [c for c in containers if c is not target]
    yield Step(
        "Match the pattern and respond",
        "When a line matches, the monitor restarts the container that wrote it.",
        f"re.search({pattern.pattern!r}, line) → docker restart {target.name}",
        f"{target.name} restarted (started {before[11:23]} → {after[11:23]}); "
        f"{'it logged again after the restart' if back_again else 'no line after restart yet'}",
        ok=after != before and back_again,
    )
    if after == before or not back_again:
        raise LessonFailed(f"{target.name} was not seen coming back after its restart.")
    for other in others:
        other.reload()
        if other.attrs["RestartCount"] or other.attrs["State"]["StartedAt"] == after:
            raise LessonFailed(f"{other.name} was restarted too, but it logged no error.")
    yield Step(
        "Read the aggregated log",
        "All streams in one, in the order the lines arrived, with who said what.",
        "(the monitor's own record)",
        "\n".join(aggregated[-18:]),
    )

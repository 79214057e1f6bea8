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

from docker.models.containers import Container

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step, docker_time, items_until

TITLE = "Log monitoring and event response"
CATEGORY = "Operations"
PARAMS = [
    Param("workers", int, 3, "How many containers log.", min=2, max=6),
    Param("pattern", str, "ERROR", "What to look for in the logs (a regular expression)."),
    Param("timeout", int, 20, "Seconds to watch before giving up.", min=5, max=60),
]
IMAGE = "debian:bookworm-slim"

# Each worker counts, one line every 0.3 s. The faulty one logs an error as its
# 3rd line, once: the file /tmp/restarted stays in the container's own layer,
# so after a restart the same container runs without the error.
WORKER = """\
n=0
echo "$NAME: started"
while true; do
    n=$((n+1))
    if [ "$FAULTY" = 1 ] && [ "$n" = 3 ] && [ ! -f /tmp/restarted ]; then
        echo "$NAME: ERROR lost the connection to the database"
        touch /tmp/restarted
    else
        echo "$NAME: tick $n"
    fi
    sleep 0.3
done
"""


def follow_log(
    container: Container, who: str, lines: queue.Queue, since: float | None = None
) -> None:
    """Start a thread that puts each new line of the container's log on ``lines``.

    Each line goes with ``who`` wrote it.  The thread ends with the stream,
    which ends with the container's process.  ``since`` (Unix time) skips the
    lines logged before it.
    """

    def copy_lines() -> None:
        for chunk in container.logs(stream=True, follow=True, since=since):
            for line in chunk.decode(errors="replace").splitlines():
                lines.put((who, line))

    threading.Thread(target=copy_lines, daemon=True).start()


def run(lab: Lab, params: dict) -> Iterator[Step]:
    count, timeout = params["workers"], params["timeout"]
    # 1. Check the pattern first: a bad one fails before anything is created.
    try:
        pattern = re.compile(params["pattern"])
    except re.error as exc:
        raise LessonFailed(f"The pattern is not a regular expression: {exc}.") from None

    # 2. Start the workers; the one in the middle is the faulty one. --init puts a
    #    tiny init process first, so that a stop or restart ends `sh` at once.
    faulty = count // 2
    workers: dict[str, Container] = {}  # worker0, worker1, ... → its container
    for i in range(count):
        who = f"worker{i}"
        is_faulty = "1" if i == faulty else "0"
        workers[who] = lab.client.containers.run(
            IMAGE,
            ["sh", "-c", WORKER],
            name=lab.name(who),
            labels=lab.labels(),
            detach=True,
            init=True,
            environment={"NAME": who, "FAULTY": is_faulty},
            # The machine is shared by everyone running a lesson: every container
            # is bounded (memory, CPU, processes, no capabilities, rotated logs).
            **lab.limits(),
        )
    yield Step(
        "Start the workers",
        f"{count} containers that log a line every 0.3 s; one of them will log an error.",
        f"docker run -d --name {lab.name('worker0')} {IMAGE} sh -c '...'  (x{count})",
        ", ".join(container.name for container in workers.values()),
    )

    # 3. Follow every log at once: one thread per container reads its stream and
    #    puts each line, with who wrote it, on one queue. That queue, read in
    #    order, is the aggregated log.
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    for who, container in workers.items():
        follow_log(container, who, lines)
    yield Step(
        "Follow every log at once",
        "A stream per container, all feeding one queue: the aggregated log.",
        "for each container: docker logs --follow NAME  (one thread each)",
        f"following {count} streams",
    )

    # 4. The monitor reads the aggregated log as it arrives, and keeps it, until
    #    a line matches the pattern; `culprit` is who wrote that line.
    aggregated: list[str] = []
    deadline = time.monotonic() + timeout
    culprit = ""
    for who, line in items_until(lines, deadline):
        aggregated.append(f"{who:8} | {line}")
        if pattern.search(line):
            culprit = who
            break
    if not culprit:
        raise LessonFailed(f"No line matched {pattern.pattern!r} within {timeout} s.")

    # 5. Respond: restart the container that wrote it. `docker restart` stops it
    #    (SIGTERM, SIGKILL after 2 s) and starts it again: same container, new process.
    target = workers[culprit]
    target.reload()
    started_before = target.attrs["State"]["StartedAt"]
    target.restart(timeout=2)
    target.reload()
    started_after = target.attrs["State"]["StartedAt"]
    aggregated.append(f"{'monitor':8} | matched {pattern.pattern!r}: restarted {target.name}")

    # 6. Its log stream ended with the old process: follow the new one. Docker keeps
    #    the old run's lines too, so ask only for those logged after the old process
    #    finished (on Docker's clock); then read on until the new process says "started".
    old_run_finished = docker_time(target.attrs["State"]["FinishedAt"])
    follow_log(target, culprit, lines, since=old_run_finished)
    back_again = False
    for who, line in items_until(lines, deadline):
        aggregated.append(f"{who:8} | {line}")
        if who == culprit and line.endswith("started"):
            back_again = True
            break
    seen_again = "it logged again after the restart" if back_again else "no line after restart yet"
    restarted = started_after != started_before
    yield Step(
        "Match the pattern and respond",
        "When a line matches, the monitor restarts the container that wrote it.",
        f"re.search({pattern.pattern!r}, line) → docker restart {target.name}",
        f"{target.name} restarted (started {started_before[11:23]} → {started_after[11:23]}); "
        f"{seen_again}",
        ok=restarted and back_again,
    )
    if not (restarted and back_again):
        raise LessonFailed(f"{target.name} was not seen coming back after its restart.")

    # 7. Only the culprit was restarted: the others kept their first start.
    for who, container in workers.items():
        if who == culprit:
            continue
        container.reload()
        if (
            container.attrs["RestartCount"]
            or container.attrs["State"]["StartedAt"] == started_after
        ):
            raise LessonFailed(f"{container.name} was restarted too, but it logged no error.")
    yield Step(
        "Read the aggregated log",
        "All streams in one, in the order the lines arrived, with who said what.",
        "(the monitor's own record)",
        "\n".join(aggregated[-18:]),
    )


# The challenge: a container that logs, with its log capped. Each check is a shell line that
# exits 0 once that part of the task is done, against your own engine.
CHALLENGE = Challenge(
    task=(
        "Run a container named ticker in the background: a loop that prints 'tick' every "
        "second. Cap its log at 1 MB per file with a log option, and read it with "
        "`docker logs`."
    ),
    checks=(
        Check(
            "ticker is running",
            """[ "$(docker inspect -f '{{.State.Running}}' ticker)" = true ]""",
            "`docker run -d --name ticker busybox sh -c 'while true; do echo tick; sleep 1; done'`",
        ),
        Check(
            "Its log holds at least 3 ticks",
            """[ "$(docker logs ticker 2>&1 | grep -c '^tick')" -ge 3 ]""",
            "Each `echo tick` is one line of its log; give it three seconds, then "
            "`docker logs ticker`.",
        ),
        Check(
            "Its log is capped (max-size)",
            """[ -n "$(docker inspect -f '{{index .HostConfig.LogConfig.Config "max-size"}}' ticker)" ]""",
            "Log options are set when the container is created: remove it and run it again "
            "with `--log-opt max-size=1m`.",
        ),
    ),
    solution=(
        "docker run -d --name ticker --log-opt max-size=1m busybox "
        "sh -c 'while true; do echo tick; sleep 1; done'"
    ),
    cleanup="docker rm -f ticker",
)

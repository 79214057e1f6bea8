"""Hello world: a container is a process started from an image.

LEARNING GOAL: create a container from an image, run one command in it,
capture what it printed and its exit code, and remove it.

An image is a read-only file system plus a default command; a container is
one run of it, with its own writable layer.  When the command ends, the
container stops, but it stays (with its output) until it is removed.
"""

from __future__ import annotations

from collections.abc import Iterator

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step

TITLE = "Hello world"
CATEGORY = "Basics"
PARAMS = [
    Param("message", str, "Hello from a container", "What the container says."),
    Param(
        "image",
        str,
        "debian:bookworm-slim",
        "The image to start from.",
        choices=("debian:bookworm-slim", "containerpoker/python"),
    ),
]


def run(lab: Lab, params: dict) -> Iterator[Step]:
    image, message = params["image"], params["message"]
    # 1. The image must be on this machine: we never pull (there may be no registry).
    info = lab.client.images.get(image)
    yield Step(
        "Find the image",
        "Containers start from an image that is already on the host.",
        f"docker image inspect {image}",
        f"{image}: {info.short_id}, {info.attrs['Size'] // (1024 * 1024)} MB",
    )
    # 2. Create (not start yet) a container with a command. The command is a
    #    list, so no shell interprets the message: what you pass is what runs.
    #    This machine is shared by everyone who runs a lesson, so every container
    #    is bounded: lab.limits() caps its memory, CPU and processes, drops every
    #    Linux capability, forbids gaining privileges and rotates its logs, and
    #    lab.labels() names this run and the time after which it may be swept.
    name = lab.name("hello")
    container = lab.client.containers.create(
        image, ["echo", message], name=name, labels=lab.labels(), **lab.limits()
    )
    yield Step(
        "Create a container",
        "Creating prepares the container (its writable layer, its settings) without running it.",
        f"docker create --name {name} {image} echo {message!r}",
        f"created {container.short_id}, status {container.status}",
    )
    # 3. Start it and wait for the command to finish.
    container.start()
    outcome = container.wait(timeout=30)
    yield Step(
        "Start it and wait",
        "Starting runs the command; when the command exits, the container stops.",
        f"docker start {name} && docker wait {name}",
        f"exit code {outcome['StatusCode']}",
        ok=outcome["StatusCode"] == 0,
    )
    # 4. Read what it printed: Docker keeps the output of a stopped container.
    output = container.logs().decode().strip()
    yield Step(
        "Read its output",
        "Docker keeps what the command printed, even after it stopped.",
        f"docker logs {name}",
        output,
    )
    if output != message or outcome["StatusCode"] != 0:
        raise LessonFailed(f"The container printed {output!r} instead of {message!r}.")
    # 5. Remove it: a stopped container still takes disk space until removed.
    container.remove()
    yield Step(
        "Remove it",
        "A stopped container stays until removed; removing it deletes its writable layer.",
        f"docker rm {name}",
        "removed",
    )


# The challenge: the same steps, typed by you. Each check is a shell line that exits 0 once
# that part of the task is done; it runs against your own Docker engine.
CHALLENGE = Challenge(
    task=(
        "Run a container named hello from the busybox image that prints exactly "
        "'hello, docker'. Leave it stopped, not removed: Docker keeps its output."
    ),
    checks=(
        Check(
            "A container named hello exists",
            "docker inspect hello >/dev/null",
            "`docker run --name hello busybox echo ...` creates and starts it in one go.",
        ),
        Check(
            "It has finished, with exit code 0",
            """[ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' hello)" = 'exited 0' ]""",
            "echo ends by itself; do not add -d or a command that keeps running.",
        ),
        Check(
            "It printed hello, docker",
            "docker logs hello 2>&1 | grep -qx 'hello, docker'",
            "Quote the message (echo 'hello, docker'); `docker logs hello` shows what it "
            "printed. Taken name? `docker rm hello`, then run again.",
        ),
    ),
    solution="docker run --name hello busybox echo 'hello, docker'",
    cleanup="docker rm -f hello",
)

"""Interactive shell: attach to a container's terminal, like `docker run -it`.

LEARNING GOAL: start a container with a terminal (TTY) and an open stdin,
attach to it, type commands and read the answers through that terminal, and
end the session cleanly.

`-it` is two things: `-t` gives the container a pseudo-terminal (programs
inside behave as for a person: prompts, line editing), `-i` keeps its stdin
open so that what you type reaches it.  Attaching connects your keyboard and
screen to that terminal.  Try it yourself: `containerpoker lesson shell`.
"""

from __future__ import annotations

from collections.abc import Iterator

from docker.models.containers import Container

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step, read_until

TITLE = "Interactive shell"
CATEGORY = "Interactive"
PARAMS = [
    Param("a", int, 6, "First number to multiply in the shell.", min=0, max=1000),
    Param("b", int, 7, "Second number.", min=0, max=1000),
]
IMAGE = "debian:bookworm-slim"
PROMPT = "LAB-SHELL> "


def shell_container(
    lab: Lab, name: str, term: str = "dumb", *, network: str | None = "none"
) -> Container:
    """A container running bash on a TTY with stdin open (what `docker run -it` makes).

    The portal's browser terminal and `containerpoker lesson shell` use it too.
    ``network`` is ``"none"`` by default: no network at all, so a shell typed into
    by anyone reaches neither the host's published ports nor other containers.
    Pass a network's name to join it, or ``None`` for Docker's default bridge.
    """
    return lab.client.containers.create(
        IMAGE,
        # bash without its start-up files (they could set another prompt), interactive.
        ["bash", "--norc", "--noprofile", "-i"],
        name=name,
        labels=lab.labels(),
        tty=True,  # -t: a pseudo-terminal
        stdin_open=True,  # -i: stdin stays open
        environment={"PS1": PROMPT, "TERM": term},
        network=network,
        # A shared machine bounds every container: memory, CPU, processes,
        # no capabilities, no privilege gain, rotated logs (see Lab.limits).
        **lab.limits(),
    )


def run(lab: Lab, params: dict) -> Iterator[Step]:
    a, b = params["a"], params["b"]

    # 1. Start a shell container, as `docker run -dit` does: a terminal (-t), an
    #    open stdin (-i), in the background (-d). It has no network: this lesson
    #    needs none. It is bounded like every lesson container (see shell_container).
    name = lab.name("shell")
    container = shell_container(lab, name)
    container.start()
    yield Step(
        "Start a container with a terminal and an open stdin",
        "-t gives it a pseudo-terminal, -i keeps its input open: bash then runs as for a "
        "person at a keyboard.",
        f"docker run -dit --name {name} {IMAGE} bash",
        f"{name}: {container.short_id}",
    )

    # 2. Attach. This gives one stream both ways: what we write is typed into the
    #    terminal, what the terminal shows comes back (a TTY merges stdout and
    #    stderr into what you see). docker-py wraps the connection for its own
    #    reading; we write and read the raw socket under that wrapper.
    attached = lab.client.api.attach_socket(
        container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    )
    terminal = attached._sock
    try:
        # 3. bash printed its first prompt before we attached: press Enter, and
        #    read until a fresh prompt appears.
        terminal.sendall(b"\n")
        read_until(terminal, PROMPT.encode(), timeout=10)
        yield Step(
            "Attach to its terminal",
            "We now see its prompt, as `docker attach` would.",
            f"docker attach {name}",
            f"prompt {PROMPT.strip()!r} received",
        )

        # 4. Type a command line. Its last command prints "end-42", which only the
        #    shell's answer can contain: the terminal's echo of what we typed shows
        #    "end-$((6*7))". Reading up to it cannot stop at a late prompt from before.
        typed = f"echo result=$(({a}*{b})); tty; echo end-$((6*7))"
        terminal.sendall(f"{typed}\n".encode())
        seen = read_until(terminal, b"end-42", timeout=10)

        # 5. A terminal ends its lines with "\r\n". Drop the "\r", and the lines that
        #    show the prompt (with our typed line after it); then pick the answers.
        text = seen.decode(errors="replace").replace("\r", "")
        lines = [line for line in text.split("\n") if line and PROMPT.strip() not in line]
        result = device = ""
        for line in lines:
            if line.startswith("result="):
                result = line
            if line.startswith("/dev/"):
                device = line
        yield Step(
            "Type a command and read the answer",
            "The shell computed it and printed to its terminal; `tty` names that terminal.",
            f"(typed) {typed}",
            f"{result}; terminal {device}",
        )
        if result != f"result={a * b}" or not device.startswith("/dev/pts/"):
            raise LessonFailed(f"The shell answered {lines!r}.")

        # 6. `exit` ends bash, the container's main process: the container stops.
        terminal.sendall(b"exit\n")
        outcome = container.wait(timeout=15)
        yield Step(
            "End the session",
            "`exit` ends bash; with it the container's main process ends and the container stops.",
            "(typed) exit",
            f"exit code {outcome['StatusCode']}",
            ok=outcome["StatusCode"] == 0,
        )
    finally:
        attached.close()


# The challenge: a shell command inside a running container, typed by you. Each check is a
# shell line that exits 0 once that part of the task is done, against your own engine.
CHALLENGE = Challenge(
    task=(
        "Start a container named box that keeps running (busybox's `sleep 3600`), then use "
        "`docker exec` to write the line 'written from exec' into /note.txt inside it."
    ),
    checks=(
        Check(
            "box is running",
            """[ "$(docker inspect -f '{{.State.Running}}' box)" = true ]""",
            "`docker run -d --name box busybox sleep 3600`: -d keeps it running in the background.",
        ),
        Check(
            "/note.txt in box says written from exec",
            """[ "$(docker exec box cat /note.txt)" = 'written from exec' ]""",
            "The > needs a shell inside the container: "
            "`docker exec box sh -c 'echo written from exec > /note.txt'`.",
        ),
    ),
    solution=(
        "docker run -d --name box busybox sleep 3600\n"
        "docker exec box sh -c 'echo written from exec > /note.txt'"
    ),
    cleanup="docker rm -f box",
)

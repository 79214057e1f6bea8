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

import socket
import time
from collections.abc import Iterator

from .framework import Lab, LessonFailed, Param, Step

TITLE = "Interactive shell"
CATEGORY = "Interactive"
PARAMS = [
    Param("a", int, 6, "First number to multiply in the shell.", min=0, max=1000),
    Param("b", int, 7, "Second number.", min=0, max=1000),
]
IMAGE = "debian:bookworm-slim"
PROMPT = "LAB-SHELL> "


def shell_container(lab: Lab, name: str, term: str = "dumb"):
    """A container running bash on a TTY with stdin open (what `docker run -it` makes)."""
    return lab.client.containers.create(
        IMAGE,
        ["bash", "--norc", "--noprofile", "-i"],
        name=name,
        labels=lab.labels(),
        tty=True,
        stdin_open=True,
        environment={"PS1": PROMPT, "TERM": term},
    )


def _read_until(conn: socket.socket, marker: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LessonFailed(
                f"The shell did not print {marker!r} in time; it printed {data[-200:]!r}."
            )
        conn.settimeout(left)
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def run(lab: Lab, params: dict) -> Iterator[Step]:
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

    # Attaching gives one stream both ways: what we write is typed into the
    # terminal, what the terminal shows comes back (a TTY merges stdout and stderr).
    attached = lab.client.api.attach_socket(
        container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
    )
    conn = attached._sock  # the raw socket under docker-py's wrapper
    try:
        conn.sendall(b"\n")
        _read_until(conn, PROMPT.encode(), 10)
        yield Step(
            "Attach to its terminal",
            "We now see its prompt, as `docker attach` would.",
            f"docker attach {name}",
            f"prompt {PROMPT.strip()!r} received",
        )

        a, b = params["a"], params["b"]
        conn.sendall(f"echo result=$(({a}*{b})); tty; echo end-$((6*7))\n".encode())
        # Read up to a marker only the shell's answer can contain ("end-42"; the terminal's
        # echo of what we typed shows "end-$((6*7))"): a prompt could be a late one from before.
        seen = _read_until(conn, b"end-42", 10).decode(errors="replace").replace("\r", "")
        lines = [line for line in seen.split("\n") if line and PROMPT.strip() not in line]
        result = next((line for line in lines if line.startswith("result=")), "")
        device = next((line for line in lines if line.startswith("/dev/")), "")
        yield Step(
            "Type a command and read the answer",
            "The shell computed it and printed to its terminal; `tty` names that terminal.",
            f"(typed) echo result=$(({a}*{b})); tty; echo end-$((6*7))",
            f"{result}; terminal {device}",
        )
        if result != f"result={a * b}" or not device.startswith("/dev/pts/"):
            raise LessonFailed(f"The shell answered {lines!r}.")

        conn.sendall(b"exit\n")
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

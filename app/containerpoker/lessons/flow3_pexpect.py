"""Command automation with pexpect: drive an interactive shell the way a person would.

LEARNING GOAL: use pexpect to drive `docker exec -it` into a container: wait
for the prompt, send commands, parse their output, and detect and report a
command that fails.

Some tools only talk to a terminal.  pexpect starts a program on a
pseudo-terminal and lets a script do what a person does: wait until the
prompt appears, type a command, read what comes back.  The trick is always
to wait for something you know (the prompt) before typing the next line.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator

import pexpect

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step

TITLE = "Command automation with pexpect"
CATEGORY = "Interactive"
PARAMS = [
    Param("missing_path", str, "/no/such/folder", "A path to list that does not exist."),
    Param("timeout", int, 10, "Seconds to wait for each prompt.", min=2, max=60),
]
IMAGE = "debian:bookworm-slim"
PROMPT = "LAB-PROMPT> "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")  # terminal control codes, if any slip through


def send_command(shell: pexpect.spawn, command: str, timeout: int) -> tuple[str, int]:
    """Type a command; return what it printed and its exit status.

    The command line ends with ``echo "__status=$?"``: the shell prints the
    command's exit status after its output.  We wait for that marker of our
    own rather than for "the next prompt", because a shell may redraw its
    prompt at any time (a window resize does it), but only our command prints
    the marker.  Then we wait for the prompt, so that the next command is
    typed only when the shell is ready for it.
    """
    shell.sendline(f'{command}; echo "__status=$?"')
    shell.expect(r"__status=(\d+)\r?\n", timeout=timeout)
    status = int(shell.match.group(1))
    # Everything before the marker: the terminal's echo of our line, then the output.
    text = ANSI.sub("", shell.before).replace("\r", "")
    output = text.split('echo "__status=$?"', 1)[-1]
    shell.expect(PROMPT, timeout=timeout)
    return output.strip(), status


def run(lab: Lab, params: dict) -> Iterator[Step]:
    timeout = params["timeout"]
    # 1. pexpect drives a program on a terminal: here the `docker` command itself.
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise LessonFailed("This lesson drives the `docker` command, which is not installed here.")

    # 2. Start a container that only waits, so that we can open a shell in it.
    #    --init puts a tiny init process first, which makes `sleep` stop at once
    #    when the container is stopped. Bounded like every lesson container: the
    #    machine is shared, so lab.limits() caps what it may use.
    name = lab.name("box")
    lab.client.containers.run(
        IMAGE,
        ["sleep", "infinity"],
        name=name,
        labels=lab.labels(),
        detach=True,
        init=True,
        **lab.limits(),
    )
    yield Step(
        "Start a container to talk to",
        "A container that just waits, so that we can open a shell in it.",
        f"docker run -d --init --name {name} {IMAGE} sleep infinity",
        name,
    )

    # 3. Open a shell with `docker exec -it`: a terminal, like a person's. pexpect
    #    gives the docker command a pseudo-terminal (wide enough that no line
    #    wraps); from now on we only talk to the shell through it. TERM=dumb
    #    asks programs not to colour or redraw.
    started = time.monotonic()
    shell = pexpect.spawn(
        docker_cli,
        ["exec", "-it", "-e", f"PS1={PROMPT}", name, "bash", "--norc", "--noprofile"],
        encoding="utf-8",
        timeout=timeout,
        env={**os.environ, "TERM": "dumb"},
        dimensions=(24, 200),
    )
    try:
        # 4. Never type before the prompt: wait for a pattern you know.
        shell.expect(PROMPT)
        yield Step(
            "Open an interactive shell and wait for its prompt",
            "Never type before the prompt: wait for a pattern you know.",
            f"pexpect.spawn('docker exec -it {name} bash'); expect('{PROMPT}')",
            f"prompt seen after {time.monotonic() - started:.2f} s",
        )

        # 5. Send commands, one at a time, and parse what they print like any text.
        host, status = send_command(shell, "hostname", timeout)
        release, _ = send_command(shell, "grep PRETTY_NAME /etc/os-release", timeout)
        pretty = release.split("=", 1)[-1].strip('"')  # PRETTY_NAME="Debian GNU/Linux 12 ..."
        yield Step(
            "Send commands and parse their output",
            "Each command's output is what the terminal printed between our line and the "
            "next prompt; we parse it like any text.",
            "sendline('hostname'); expect(prompt); sendline('grep PRETTY_NAME /etc/os-release')",
            f"hostname {host} (exit {status}); system: {pretty}",
        )
        if status != 0 or not host:
            raise LessonFailed(f"`hostname` did not answer as expected: {host!r} ({status}).")

        # 6. Detect a failing command by its exit status, not by its text: the
        #    error message depends on the program and the language, the status does not.
        path = params["missing_path"]
        output, status = send_command(shell, f"ls {path}", timeout)
        failed = status != 0
        result = f"exit status {status}: {output}"
        if failed:
            result += "  → reported as a failure"
        yield Step(
            "Detect a failing command",
            "The exit status, not the text, says whether a command worked: we ask the "
            "shell for $? after each one.",
            f"sendline('ls {path}; echo __status=$?')",
            result,
            ok=failed,
        )
        if not failed:
            raise LessonFailed(f"`ls {path}` succeeded: choose a path that does not exist.")

        # 7. Leave: `exit` ends the shell, and pexpect sees the end of its stream (EOF).
        shell.sendline("exit")
        shell.expect(pexpect.EOF, timeout=timeout)
        yield Step(
            "Leave the shell",
            "`exit` ends the shell; pexpect sees the end of the stream.",
            "sendline('exit'); expect(EOF)",
            "the session ended cleanly",
        )
    finally:
        shell.close(force=True)


# The challenge: a container that waits for a person at a terminal. Each check is a shell
# line that exits 0 once that part of the task is done, against your own engine.
CHALLENGE = Challenge(
    task=(
        "Start a container named chat running busybox's sh, in the background, with a "
        "terminal and an open input (the flags an interactive program needs), so that "
        "`docker attach chat` finds a shell waiting for you."
    ),
    checks=(
        Check(
            "chat is running",
            """[ "$(docker inspect -f '{{.State.Running}}' chat)" = true ]""",
            "Without -i, sh reads the end of its input at once and exits: "
            "`docker run -dit --name chat busybox sh`.",
        ),
        Check(
            "chat has a terminal (-t)",
            """[ "$(docker inspect -f '{{.Config.Tty}}' chat)" = true ]""",
            "-t gives it a terminal: programs print prompts and colours only to one.",
        ),
        Check(
            "chat keeps its input open (-i)",
            """[ "$(docker inspect -f '{{.Config.OpenStdin}}' chat)" = true ]""",
            "-i keeps stdin open, so that what you type reaches the program.",
        ),
    ),
    solution="docker run -dit --name chat busybox sh",
    cleanup="docker rm -f chat",
)

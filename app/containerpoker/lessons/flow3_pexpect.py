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


def _run(shell: pexpect.spawn, command: str, timeout: int) -> tuple[str, int]:
    """Type a command; wait for the status line it ends with, then for the prompt.

    Waiting for a marker of our own (``__status=<digits>``) rather than for
    "the next prompt" is robust: a shell may redraw its prompt at any time
    (a window resize does it), but only our command prints the marker.
    """
    shell.sendline(f'{command}; echo "__status=$?"')
    shell.expect(r"__status=(\d+)\r?\n", timeout=timeout)
    status = int(shell.match.group(1))
    text = ANSI.sub("", shell.before).replace("\r", "")
    # What the terminal echoed of our line comes first; the output follows it.
    output = text.split('echo "__status=$?"', 1)[-1]
    shell.expect(PROMPT, timeout=timeout)
    return output.strip(), status


def run(lab: Lab, params: dict) -> Iterator[Step]:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        raise LessonFailed("This lesson drives the `docker` command, which is not installed here.")
    timeout = params["timeout"]
    name = lab.name("box")
    lab.client.containers.run(
        IMAGE, ["sleep", "infinity"], name=name, labels=lab.labels(), detach=True, init=True
    )
    yield Step(
        "Start a container to talk to",
        "A container that just waits, so that we can open a shell in it.",
        f"docker run -d --init --name {name} {IMAGE} sleep infinity",
        name,
    )

    # `-it`: a terminal, like a person's. pexpect gives the docker command a
    # pseudo-terminal; we then only ever talk to the shell through it.
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
        shell.expect(PROMPT)
        yield Step(
            "Open an interactive shell and wait for its prompt",
            "Never type before the prompt: wait for a pattern you know.",
            f"pexpect.spawn('docker exec -it {name} bash'); expect('{PROMPT}')",
            f"prompt seen after {time.monotonic() - started:.2f} s",
        )

        host, status = _run(shell, "hostname", timeout)
        release, _ = _run(shell, "grep PRETTY_NAME /etc/os-release", timeout)
        pretty = release.split("=", 1)[-1].strip('"')
        yield Step(
            "Send commands and parse their output",
            "Each command's output is what the terminal printed between our line and the "
            "next prompt; we parse it like any text.",
            "sendline('hostname'); expect(prompt); sendline('grep PRETTY_NAME /etc/os-release')",
            f"hostname {host} (exit {status}); system: {pretty}",
        )
        if status != 0 or not host:
            raise LessonFailed(f"`hostname` did not answer as expected: {host!r} ({status}).")

        output, status = _run(shell, f"ls {params['missing_path']}", timeout)
        failed = status != 0
        yield Step(
            "Detect a failing command",
            "The exit status, not the text, says whether a command worked: we ask the "
            "shell for $? after each one.",
            f"sendline('ls {params['missing_path']}; echo __status=$?')",
            f"exit status {status}: {output}" + ("  → reported as a failure" if failed else ""),
            ok=failed,
        )
        if not failed:
            raise LessonFailed(
                f"`ls {params['missing_path']}` succeeded: choose a path that does not exist."
            )

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

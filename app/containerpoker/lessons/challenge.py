"""The hands-on challenge at the end of each lesson: a small task, and checks that say when it
is done.

A lesson declares its challenge at the end of its module (``CHALLENGE = Challenge(...)``).
Each :class:`Check` is a one-line shell script, as small as a Killercoda ``verify``: it runs
``docker`` commands against the learner's own engine and exits 0 when that part of the task
is done. Checks re-run until they all pass; a check that does not pass yet shows its hint.

The same checks run in two places:

- on the platform, in the learner's own nested engine (:mod:`.sandbox`), all in one
  ``docker exec`` per round (:func:`combined_script`, :func:`parse_combined`);
- on the learner's machine (``containerpoker lesson challenge N --check``), one ``sh -c`` per
  check with the ``docker`` found on their PATH (:func:`run_locally`).

A check trusts the engine it asks: a learner who wants to fool their own checks can. They
are a guide for learners, not an exam.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

CHECK_TIMEOUT = 8  # seconds one check may take
OUTPUT_LINES = 3  # lines of a check's output shown with its state
MARKER = "@@containerpoker-check"


@dataclass(frozen=True)
class Check:
    """One part of a task: a title, a shell script that exits 0 once it holds, and a hint."""

    title: str
    script: str
    hint: str

    def as_dict(self) -> dict:
        return {"title": self.title, "script": self.script, "hint": self.hint}


@dataclass(frozen=True)
class Challenge:
    """A task in a lesson's own concept, the checks that verify it, a solution to show a
    learner who is stuck, and the commands that remove what the task created."""

    task: str
    checks: tuple[Check, ...]
    solution: str
    cleanup: str
    image: str = "busybox"

    def as_dict(self) -> dict:
        return {
            "task": self.task,
            "checks": [check.as_dict() for check in self.checks],
            "solution": self.solution,
            "cleanup": self.cleanup,
            "image": self.image,
        }


@dataclass(frozen=True)
class CheckResult:
    """What one round of a check found: passed or not, and the end of what it printed."""

    index: int
    title: str
    passed: bool
    hint: str
    output: str

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "title": self.title,
            "state": "passed" if self.passed else "pending",
            "passed": self.passed,
            "hint": self.hint,
            "output": self.output,
        }


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-OUTPUT_LINES:])


def combined_script(challenge: Challenge) -> tuple[str, dict[str, str]]:
    """One shell script that runs every check, and the environment that carries them.

    The checks travel in environment variables (``CHECK_0`` ...), never pasted into the
    script, so no quoting can break them. For each check the script prints a marker line
    with its number and exit code, then what it printed.
    """
    environment = {f"CHECK_{i}": check.script for i, check in enumerate(challenge.checks)}
    lines = []
    for i in range(len(challenge.checks)):
        lines.append(
            f'out=$(timeout {CHECK_TIMEOUT} sh -c "$CHECK_{i}" 2>&1); code=$?; '
            f'echo "{MARKER} {i} $code"; printf "%s\\n" "$out" | tail -n {OUTPUT_LINES}'
        )
    return "\n".join(lines), environment


def parse_combined(challenge: Challenge, output: str) -> list[CheckResult]:
    """The results from what :func:`combined_script` printed (a missing check: not passed)."""
    codes: dict[int, int] = {}
    printed: dict[int, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith(MARKER):
            _, number, code = line.split()
            current = int(number)
            codes[current] = int(code)
            printed[current] = []
        elif current is not None:
            printed[current].append(line)
    results = []
    for i, check in enumerate(challenge.checks):
        passed = codes.get(i) == 0
        shown = "\n".join(printed.get(i, [])) if i in codes else "the check did not run"
        results.append(CheckResult(i, check.title, passed, check.hint, _tail(shown)))
    return results


def run_locally(challenge: Challenge) -> list[CheckResult]:
    """Run each check with ``sh -c`` here, against the engine the ``docker`` command reaches."""
    if shutil.which("docker") is None:
        raise FileNotFoundError(
            "The checks run the `docker` command, and there is none on your PATH: install "
            "Docker (https://docs.docker.com/engine/install/) and try again."
        )
    results = []
    for i, check in enumerate(challenge.checks):
        try:
            done = subprocess.run(
                ["sh", "-c", check.script],
                capture_output=True,
                text=True,
                timeout=CHECK_TIMEOUT,
                check=False,
            )
            passed, output = done.returncode == 0, done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            passed, output = False, f"the check took longer than {CHECK_TIMEOUT} s"
        results.append(CheckResult(i, check.title, passed, check.hint, _tail(output)))
    return results

"""`containerpoker admin` driven for real in a pseudo-terminal: arrow keys, Enter, answers
typed as an operator types them; the effect is checked in the store and in Docker."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from pathlib import Path

import pexpect
import pytest

from containerpoker.cli.admin import BACK, MENUS
from containerpoker.platform import Platform

from .helpers import container_names

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CLI = str(Path(sys.executable).parent / "containerpoker")
DOWN, ENTER, CLEAR_LINE = "\x1b[B", "\r", "\x15"


class Operator:
    """One console session: pick menu entries by their label, with the arrow keys."""

    def __init__(self, env: dict, log: Path) -> None:
        self.child = pexpect.spawn(
            CLI, ["admin"], env=env, encoding="utf-8", timeout=90, dimensions=(50, 200)
        )
        self.child.logfile_read = open(log, "w")  # noqa: SIM115 - closed in quit()

    def pick(self, question: str, choices: list[str], wanted: str) -> None:
        self.child.expect_exact(question)
        self.child.expect_exact("(Use arrow keys)")
        self.child.send(DOWN * choices.index(wanted) + ENTER)

    def menu(self, section: str, entry: str) -> None:
        self.pick("Main menu", [*MENUS, "Quit"], section)
        self.pick(section, [label for label, _ in MENUS[section]] + [BACK], entry)

    def back(self, section: str) -> None:
        self.pick(section, [label for label, _ in MENUS[section]] + [BACK], BACK)

    def answer(self, question: str, text: str, *, clear: bool = False) -> None:
        self.child.expect_exact(question)
        self.child.send((CLEAR_LINE if clear else "") + text + ENTER)

    def confirm(self, question: str, yes: bool) -> None:
        self.child.expect_exact(question)
        self.child.expect_exact("(y/N)")
        self.child.send("y" if yes else "n")

    def says(self, text: str) -> None:
        self.child.expect_exact(text)

    def quit(self) -> int:
        self.pick("Main menu", [*MENUS, "Quit"], "Quit")
        self.child.expect(pexpect.EOF)
        self.child.close()
        self.child.logfile_read.close()
        return self.child.exitstatus


def wait_for(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.3)


def test_an_operator_runs_the_platform_from_the_console(
    test_env, settings, tmp_path, docker_client
):
    env = (
        os.environ
        | test_env
        | {
            "CONTAINERPOKER_RUNTIMES": "nginx",
            "TERM": "xterm",
            "PROMPT_TOOLKIT_NO_CPR": "1",  # pexpect does not answer "where is the cursor?"
        }
    )
    with Platform(settings) as platform:
        platform.accounts.create("root", "root@example.org", "root-password", admin=True)
        platform.accounts.create("bob", "bob@example.org", "bob-password")
        platform.pool.init(["nginx"])
        bobs = platform.pool.claim("bob", "nginx").name
        platform.pool.wait_idle()
    op = Operator(env, tmp_path / "console.log")

    # Users: create dana, promote bob.
    op.menu("Users", "Create a user")
    op.answer("Username:", "dana")
    op.answer("E-mail:", "dana@example.org")
    op.answer("Password:", "dana-password")
    op.answer("Again:", "dana-password")
    op.confirm("Make this user an admin?", yes=False)
    op.says("Created user dana.")
    op.pick("Users", [label for label, _ in MENUS["Users"]] + [BACK], "Promote a user to admin")
    op.pick("Promote which user?", ["bob", "dana", BACK], "bob")
    op.says("bob is now an admin.")
    op.back("Users")

    # Containers: releasing all of bob's asks first; "no" changes nothing, "yes" releases.
    for yes in (False, True):
        op.menu("Containers", "Release all of a user")
        op.pick("Release every container of which user?", ["bob", BACK], "bob")
        op.confirm("Release 1 container(s) of bob", yes=yes)
        op.says(f"Released {bobs}." if yes else "Nothing was changed.")
        if not yes:
            assert bobs in container_names(docker_client)
        op.back("Containers")
    assert bobs not in container_names(docker_client)

    # Pools: add one nginx container, then reinitialise the pool.
    op.menu("Pools", "Add containers")
    op.pick("Add containers to which pool?", ["nginx", BACK], "nginx")
    op.answer("How many?", "1")
    op.says("nginx")
    with Platform(settings) as platform:
        assert platform.pool.warm_target("nginx") == 2
        wait_for(lambda: platform.pool.status()[0].ready == 2, "two warm nginx containers")
        warm_before = {a.name for a in platform.pool.containers(runtime="nginx")}
    op.pick("Pools", [label for label, _ in MENUS["Pools"]] + [BACK], "Reinitialise a pool")
    op.pick("Reinitialise which pool?", ["nginx", BACK], "nginx")
    op.confirm("Replace every nginx container with a fresh one?", yes=True)
    op.says("replaced")
    op.back("Pools")
    wait_for(lambda: not warm_before & container_names(docker_client), "the old ones gone")

    # Users: delete dana (asked first).
    op.menu("Users", "Delete a user")
    op.pick("Delete which user?", ["bob", "dana", "root", BACK], "dana")
    op.confirm("Delete dana?", yes=True)
    op.says("Deleted dana")
    op.back("Users")

    # Monitoring and system: the events, the service status, a backup.
    op.menu("Monitoring", "Recent events")
    op.says("user_deleted")
    op.back("Monitoring")
    op.menu("System", "Service status")
    op.says("reachable")
    backup = tmp_path / "console.backup"
    op.pick("System", [label for label, _ in MENUS["System"]] + [BACK], "Back up the database")
    op.answer("Back up to:", str(backup), clear=True)
    op.says("Backed up the sqlite database")
    op.back("System")
    assert op.quit() == 0

    with Platform(settings) as platform:
        users = {u.username: u.is_admin for u in platform.accounts.list()}
        assert users == {"root": True, "bob": True}
        assert not [a for a in platform.pool.containers() if a.owner]
    with sqlite3.connect(backup) as copy:
        assert {r[0] for r in copy.execute("SELECT username FROM users")} == {"root", "bob"}


def test_the_console_needs_a_terminal(test_env):
    import subprocess

    result = subprocess.run(
        [CLI, "admin"], env=os.environ | test_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and "needs a terminal" in result.stderr
    assert "ssh -t" in result.stderr

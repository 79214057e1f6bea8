"""``containerpoker admin``: an interactive console over the platform, for an operator at a
terminal (over ``ssh`` too): users, containers, pools, monitoring and the system, in menus.

Built on questionary (prompt_toolkit underneath): arrow-key menus, prompts that check what is
typed, and a confirmation before every step that deletes something. It needs only a VT100
terminal, which every ssh client gives. Each menu entry calls the same use case as the
matching ``containerpoker`` command, so the console adds no behaviour of its own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import questionary
from rich.table import Table

from ..errors import ContainerPokerError
from .common import Context, console, pass_ctx
from .pool import status_table

BACK = "Back"

#: Every menu: its title, then (entry, the Console method that does it). Tests pick from here.
MENUS: dict[str, list[tuple[str, str]]] = {
    "Users": [
        ("List users", "list_users"),
        ("Create a user", "create_user"),
        ("Promote a user to admin", "promote_user"),
        ("Delete a user", "delete_user"),
    ],
    "Containers": [
        ("Pool status", "pool_status"),
        ("Assignments", "assignments"),
        ("Release a container", "release_one"),
        ("Release all of a user", "release_user"),
    ],
    "Pools": [
        ("Add containers", "add_containers"),
        ("Resize a pool", "resize_pool"),
        ("Reinitialise a pool", "reinitialise_pool"),
    ],
    "Monitoring": [
        ("Recovery log", "recovery_log"),
        ("Recent events", "events"),
    ],
    "System": [
        ("Service status", "service_status"),
        ("Back up the database", "backup"),
    ],
}


class Console:
    """The menus, over one platform."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.platform = ctx.platform()

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> None:
        console.print(
            f"[bold]containerpoker admin[/] — instance {self.settings.instance}, "
            f"database {self.settings.database_url}"
        )
        while True:
            section = ask(questionary.select("Main menu", choices=[*MENUS, "Quit"], qmark="▶"))
            if section in (None, "Quit"):
                return
            self.section(section)

    def section(self, title: str) -> None:
        entries = dict(MENUS[title])
        while True:
            entry = ask(questionary.select(title, choices=[*entries, BACK], qmark="▶"))
            if entry in (None, BACK):
                return
            try:
                getattr(self, entries[entry])()
            except ContainerPokerError as exc:  # say it, stay in the menu
                console.print(f"[red]error:[/] {exc.message}")
            console.print()

    # -- users ---------------------------------------------------------------------------

    def list_users(self) -> None:
        table = Table("username", "e-mail", "role", "containers")
        held = self._held()
        for user in self.platform.accounts.list():
            role = "admin" if user.is_admin else "user"
            table.add_row(user.username, user.email, role, ", ".join(held.get(user.username, [])))
        console.print(table)

    def create_user(self) -> None:
        username = ask(questionary.text("Username:", validate=_required("a username")))
        email = username and ask(questionary.text("E-mail:", validate=_required("an e-mail")))
        password = email and ask(questionary.password("Password:"))
        if not password:
            return
        if ask(questionary.password("Again:")) != password:
            console.print("The two passwords differ: nothing was changed.")
            return
        admin = ask(questionary.confirm("Make this user an admin?", default=False))
        if admin is None:
            return
        created = self.platform.accounts.create(username, email, password, admin=admin)
        console.print(f"Created {'admin' if created.is_admin else 'user'} {created.username}.")

    def promote_user(self) -> None:
        users = [u.username for u in self.platform.accounts.list() if not u.is_admin]
        if not users:
            console.print("Every user is an admin already.")
            return
        username = self._pick("Promote which user?", users)
        if username:
            self.platform.accounts.set_admin(username, True)
            console.print(f"{username} is now an admin.")

    def delete_user(self) -> None:
        username = self._pick(
            "Delete which user?", [u.username for u in self.platform.accounts.list()]
        )
        if not username:
            return
        self.platform.accounts.check_deletable(self.platform.accounts.get(username))
        held = self._held().get(username, [])
        what = f" and release their {len(held)} container(s), files included" if held else ""
        if self._confirm(f"Delete {username}{what}?"):
            plan = self.platform.delete_user(username)
            console.print(
                f"Deleted {username}; released {len(plan.keys('released'))} container(s)."
            )

    # -- containers ------------------------------------------------------------------------

    def pool_status(self) -> None:
        console.print(status_table(self.platform.pool.status()))

    def assignments(self) -> None:
        held = [a for a in self.platform.pool.containers() if a.owner]
        if not held:
            console.print("No container is assigned.")
            return
        table = Table("container", "runtime", "owner", "node", "url", "ends")
        for a in held:
            ends = time.strftime("%H:%M", time.localtime(a.expires_at)) if a.expires_at else "-"
            table.add_row(a.name, a.runtime, a.owner, a.node, a.url, ends)
        console.print(table)

    def release_one(self) -> None:
        held = {
            f"{a.name}  ({a.runtime}, {a.owner})": a.name
            for a in self.platform.pool.containers()
            if a.owner
        }
        if not held:
            console.print("No container is assigned: nothing to release.")
            return
        picked = self._pick("Release which container?", list(held))
        if picked and self._confirm(f"Release {held[picked]}? Its files are deleted."):
            self.platform.pool.release(held[picked])
            console.print(f"Released {held[picked]}; a fresh container is warming.")

    def release_user(self) -> None:
        held = self._held()
        if not held:
            console.print("No container is assigned: nothing to release.")
            return
        username = self._pick("Release every container of which user?", sorted(held))
        names = held.get(username or "", [])
        if username and self._confirm(
            f"Release {len(names)} container(s) of {username} ({', '.join(names)})? "
            "Their files are deleted."
        ):
            plan = self.platform.pool.release_all(username)
            console.print(f"Released {', '.join(plan.keys('released')) or 'nothing'}.")

    # -- pools ---------------------------------------------------------------------------

    def add_containers(self) -> None:
        runtime = self._runtime("Add containers to which pool?")
        count = runtime and ask(questionary.text("How many?", validate=_whole(1)))
        if count:
            self._show(self.platform.pool.add(runtime, int(count)), f"{runtime}: nothing to do.")

    def resize_pool(self) -> None:
        runtime = self._runtime("Resize which pool?")
        if not runtime:
            return
        current = self.platform.pool.warm_target(runtime)
        warm = ask(questionary.text("Warm size:", default=str(current), validate=_whole(0)))
        if warm:
            plan = self.platform.pool.resize(runtime, int(warm))
            self._show(plan, f"{runtime}: the warm size is {warm} already.")

    def reinitialise_pool(self) -> None:
        runtime = self._runtime("Reinitialise which pool?")
        if runtime and self._confirm(
            f"Replace every {runtime} container with a fresh one? Assigned ones keep their "
            "owner, port and files; their sites are down for a few seconds."
        ):
            self._show(self.platform.pool.reset(runtime=runtime), "Nothing to replace.")

    # -- monitoring ---------------------------------------------------------------------------

    def recovery_log(self) -> None:
        from ..monitor import read_log

        entries = read_log(self.settings.data_dir / "recovery.log", limit=20)
        if not entries:
            console.print("The recovery log is empty: nothing had to be recovered.")
        for entry in entries:
            done = "; ".join(
                f"{k.replace('_', ' ')}: {', '.join(map(str, v))}"
                for k, v in entry.items()
                if isinstance(v, list) and v and k != "trigger"
            )
            console.print(f"{entry['time']}  [{entry['source']}] {done}", markup=False)

    def events(self) -> None:
        table = Table("time", "event", "runtime", "container", "owner", "detail")
        for e in reversed(self.platform.store.recent_events(25)):
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(e["ts"])),
                e["kind"],
                *(e[k] or "" for k in ("runtime", "container", "owner", "detail")),
            )
        console.print(table)

    # -- system ---------------------------------------------------------------------------

    def service_status(self) -> None:
        from ..platform import Platform
        from ..portal import server

        running = server.running(self.settings)
        try:
            self.platform.engine  # noqa: B018 - connects
            engine = "[green]reachable[/]"
        except ContainerPokerError as exc:
            engine = f"[red]not reachable[/] ({exc.message})"
        schema = Platform.schema(self.settings)
        load = self.platform.host_load()
        for name in ("portal", "monitor"):
            state = f"[green]running[/] (pid {running[name]})" if name in running else "stopped"
            console.print(f"  {name:10} {state}")
        console.print(f"  {'docker':10} {engine}")
        behind = (
            "" if schema["revision"] == schema["latest"] else " — run `containerpoker db upgrade`"
        )
        console.print(f"  {'schema':10} {schema['revision']} of {schema['latest']}{behind}")
        console.print(f"  {'load':10} {' '.join(map(str, load['load']))} on {load['cpus']} CPUs")

    def backup(self) -> None:
        from ..platform import Platform

        default = (
            self.settings.data_dir / "backups" / time.strftime("containerpoker-%Y%m%d-%H%M.backup")
        )
        answer = ask(questionary.text("Back up to:", default=str(default)))
        if not answer:
            return
        dest = Path(answer).expanduser()
        dest.parent.mkdir(parents=True, exist_ok=True)
        done = Platform.backup(self.settings, dest)
        console.print(f"Backed up the {done['kind']} database to {dest} ({done['bytes']:,} bytes).")

    # -- helpers -------------------------------------------------------------------------

    def _held(self) -> dict[str, list[str]]:
        held: dict[str, list[str]] = {}
        for a in self.platform.pool.containers():
            if a.owner:
                held.setdefault(a.owner, []).append(a.name)
        return held

    def _runtime(self, question: str) -> str | None:
        return self._pick(question, list(self.settings.runtimes))

    @staticmethod
    def _pick(question: str, choices: list[str]) -> str | None:
        if not choices:
            console.print("There is nothing to choose from.")
            return None
        picked = ask(questionary.select(question, choices=[*choices, BACK]))
        return None if picked in (None, BACK) else picked

    @staticmethod
    def _confirm(question: str) -> bool:
        if ask(questionary.confirm(question, default=False)):
            return True
        console.print("Nothing was changed.")
        return False

    @staticmethod
    def _show(plan, nothing: str) -> None:
        for action in plan.actions or [nothing]:
            console.print(action, markup=False)


def ask(question: questionary.Question):
    """The answer, or None when the operator pressed Ctrl-C (back to the menu above)."""
    return question.ask(kbi_msg="")


def _required(what: str) -> Callable[[str], bool | str]:
    return lambda text: bool(text.strip()) or f"Type {what}."


def _whole(least: int) -> Callable[[str], bool | str]:
    return lambda text: (
        (text.isdigit() and int(text) >= least) or f"Type a whole number of {least} or more."
    )


@click.command("admin")
@pass_ctx
def admin(ctx: Context) -> None:
    """An interactive console: users, containers, pools, monitoring and the system, in
    arrow-key menus (works over ssh; use `ssh -t` when running it as the ssh command)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.UsageError(
            "`containerpoker admin` needs a terminal. Over ssh, allocate one: "
            "`ssh -t HOST containerpoker admin`. For scripts, use the other commands."
        )
    Console(ctx).run()

"""``containerpoker config|images|db ...``: configuration, runtime images, the database."""

from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

import click
from rich.table import Table

from ..errors import ConfigError
from .common import EXIT_ERROR, Context, console, err_console, pass_ctx


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@pass_ctx
def config_show(ctx: Context) -> None:
    """Print every setting with its effective value (after environment, .env and file)."""
    data = ctx.settings.shown()

    def human() -> None:
        for key, value in data.items():
            if key != "runtimes":
                console.print(f"[bold]{key:18}[/] {value}", markup=True, soft_wrap=True)
        runtimes = data["runtimes"]
        table = Table("runtime", *runtimes, title="runtimes")  # one row per setting
        for field_name in next(iter(runtimes.values())):
            if field_name != "name":
                table.add_row(field_name, *(str(r[field_name]) for r in runtimes.values()))
        console.print(table)

    ctx.emit(data, human)


@click.group()
def images() -> None:
    """Build and inspect the runtime images."""


@images.command("build")
@click.argument("runtimes", nargs=-1)
@click.option("--force", is_flag=True, help="Rebuild even when an image is current.")
@pass_ctx
def images_build(ctx: Context, runtimes: tuple[str, ...], force: bool) -> None:
    """Build the runtime images that are missing or outdated (a no-op when all are current)."""

    def say(runtime: str, line: str) -> None:
        if not ctx.quiet and not ctx.as_json:
            # Build steps can be long shell lines: one screen line each.
            err_console.print(
                f"  [cyan]{runtime:7}[/] {line[:100]}", overflow="ellipsis", no_wrap=True
            )

    # Images are the engine's, not the platform's state: a platform that writes nothing, so a
    # build as root (debootstrap needs it) creates no database the portal's user cannot write.
    results = ctx.platform(plans_only=True).build_images(
        runtimes or None, force=force, progress=say
    )
    built = [n for n, s in results.items() if s == "built"]
    ctx.emit(
        results,
        lambda: console.print(
            f"Built {', '.join(built)}." if built else "All images are current: nothing to build."
        ),
    )


@images.command("status")
@pass_ctx
def images_status(ctx: Context) -> None:
    """Show whether each runtime image is current, outdated or missing."""
    states = ctx.platform(plans_only=True).image_states()

    def human() -> None:
        table = Table("runtime", "image", "state")
        for name, state in states.items():
            color = {"current": "green", "outdated": "yellow"}.get(state, "red")
            table.add_row(name, ctx.settings.runtimes[name].image, f"[{color}]{state}[/]")
        console.print(table)

    ctx.emit(states, human)
    if any(s != "current" for s in states.values()):
        sys.exit(EXIT_ERROR)


@click.group()
def db() -> None:
    """The platform's database: schema version, upgrades, backup and restore."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Apply the schema migrations the database lacks (the portal also does this at start)."""
    from ..platform import Platform

    before, after = Platform.upgrade_schema(ctx.settings)
    ctx.emit(
        {"before": before, "after": after},
        lambda: console.print(
            f"The schema is at revision {after}"
            + (f" (upgraded from {before})." if before != after else "; nothing to do.")
        ),
    )


@db.command("status")
@pass_ctx
def db_status(ctx: Context) -> None:
    """Show the database's URL and schema revision."""
    from ..platform import Platform

    data = {"url": ctx.settings.database_url, **Platform.schema(ctx.settings)}
    ctx.emit(
        data,
        lambda: console.print(
            f"{data['url']}: revision {data['revision']} of {data['latest']}"
            + ("" if data["revision"] == data["latest"] else " — run `containerpoker db upgrade`.")
        ),
    )


@db.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
def db_backup(ctx: Context, file: Path) -> None:
    """Write a consistent copy of the database to FILE, while the portal keeps serving.

    SQLite: its online backup API; PostgreSQL: pg_dump (custom format). Restore it with
    `containerpoker db restore FILE`.
    """
    from ..platform import Platform

    done = Platform.backup(ctx.settings, file)
    ctx.emit(
        done,
        lambda: console.print(
            f"Backed up the {done['kind']} database to {file} ({done['bytes']:,} bytes)."
        ),
    )


@db.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--stop-portal",
    is_flag=True,
    help="Stop a portal started by `containerpoker portal` (and its monitor) first.",
)
@click.option(
    "--stop-command",
    metavar="CMD",
    help="Run CMD first to stop the portal, e.g. 'systemctl stop containerpoker-portal'.",
)
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database.")
@pass_ctx
def db_restore(
    ctx: Context, file: Path, stop_portal: bool, stop_command: str | None, yes: bool
) -> None:
    """Replace the database with the backup in FILE, then reconcile with Docker.

    Refused while the portal runs, unless told how to stop it (--stop-portal or
    --stop-command). Start the portal again afterwards.
    """
    from ..platform import Platform
    from ..portal import server

    settings = ctx.settings
    Platform.check_backup(settings, file)  # before anything is stopped
    if stop_command:  # run even when no pid file shows it: systemd units may hold it too
        ctx.say(f"Stopping the portal: {stop_command}")
        subprocess.run(shlex.split(stop_command), check=False)
    elif stop_portal and server.running(settings):
        ctx.say("Stopping the portal and its monitor.")
        server.stop_portal(settings)
    still = _wait_stopped(settings, server.running, 30 if (stop_command or stop_portal) else 0)
    if still:
        names = ", ".join(f"the {name} (pid {pid})" for name, pid in still.items())
        raise ConfigError(
            f"{names[0].upper()}{names[1:]} still {'uses' if len(still) == 1 else 'use'} the "
            "database: a restore now would be overwritten by it. Stop the portal first (Ctrl-C "
            "on `make run`, or `systemctl stop containerpoker-portal`), or pass --stop-portal "
            "(a portal started by `containerpoker portal`) or --stop-command CMD."
        )
    if not yes and not click.confirm(
        f"Replace the database ({settings.database_url}) with {file}?", err=True
    ):
        raise click.exceptions.Abort()
    done = Platform.restore(settings, file)

    def human() -> None:
        console.print(
            f"Restored the {done['kind']} database from {file} (schema {done['schema']})."
        )
        report = done.get("reconcile")
        if report is None:
            err_console.print(f"[yellow]Not reconciled:[/] {done['reconcile_error']}")
        else:
            for key, value in report.items():
                if value and key != "changed":
                    console.print(f"  {key.replace('_', ' '):18} {value}")
            console.print("Reconciled with Docker. Start the portal again.")

    ctx.emit(done, human)


def _wait_stopped(settings, running, seconds: float) -> dict[str, int]:
    """What still runs after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    still = running(settings)
    while still and time.monotonic() < deadline:
        time.sleep(0.2)
        still = running(settings)
    return still

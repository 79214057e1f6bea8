"""``containerpoker config|images|db ...``: configuration, runtime images, the database."""

from __future__ import annotations

import sys

import click
from rich.table import Table

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
    """The platform's database: its schema version and upgrades."""


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

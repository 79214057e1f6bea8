"""The ``containerpoker`` command: a thin front end over the core library."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from docker.errors import DockerException
from rich.console import Console
from rich.table import Table

from . import __version__
from .config import Settings, load_settings
from .errors import ContainerPokerError, InvalidRequest, PoolExhausted

# Wide enough for the tables when output goes to a file or a CI log.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)

EXIT_ERROR, EXIT_USAGE, EXIT_EXHAUSTED = 1, 2, 3


class Context:
    """Lazily built settings and pool manager, shared by the subcommands."""

    def __init__(self, as_json: bool, quiet: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self._settings: Settings | None = None
        self._pool = None
        self._started = time.monotonic()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def pool(self):
        if self._pool is None:
            from .pool import PoolManager

            self._pool = PoolManager(self.settings, progress=self.progress)
        return self._pool

    def progress(self, what: str, runtime: str, detail: str) -> None:
        if self.quiet or self.as_json:
            return
        style = {"ready": "green", "failed": "red", "warming": "yellow"}.get(what, "white")
        elapsed = time.monotonic() - self._started
        err_console.print(f"  [{style}]{what:8}[/] {runtime:7} {detail}  [dim]{elapsed:5.1f}s[/]")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            human()


pass_ctx = click.make_pass_decorator(Context)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.version_option(__version__, prog_name="containerpoker")
@click.pass_context
def cli(ctx: click.Context, as_json: bool, quiet: bool) -> None:
    """containerpoker: pre-warmed container pools and an orchestration classroom.

    Configuration comes from CONTAINERPOKER_* environment variables, a .env
    file, or the TOML file named by CONTAINERPOKER_CONFIG (see `config show`).
    """
    ctx.obj = Context(as_json, quiet)
    ctx.call_on_close(ctx.obj.close)


# -- config ---------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@pass_ctx
def config_show(ctx: Context) -> None:
    """Print the effective configuration (after environment, .env and file)."""
    s = ctx.settings
    data = {
        "instance": s.instance,
        "data_dir": str(s.data_dir),
        "database_url": s.database_url,
        "public_host": s.public_host,
        "portal_host": s.portal_host,
        "portal_port": s.portal_port,
        "secret_key": "(set)" if s.secret_key else "(generated in data_dir)",
        "token_minutes": s.token_minutes,
        "bind_address": s.bind_address,
        "images_dir": str(s.images_dir),
        "upload_max_bytes": s.upload_max_bytes,
        "upload_max_entries": s.upload_max_entries,
        "runtimes": {n: vars(r) for n, r in s.runtimes.items()},
    }

    def human() -> None:
        for key, value in data.items():
            if key != "runtimes":
                console.print(f"[bold]{key:18}[/] {value}")
        table = Table("runtime", "image", "ports", "warm", "max", "memory", "cpus", "pids")
        for r in s.runtimes.values():
            table.add_row(
                r.name,
                r.image,
                f"{r.port_start}-{r.port_end}",
                str(r.warm),
                str(r.max_containers),
                r.memory,
                str(r.cpus),
                str(r.pids),
            )
        console.print(table)

    ctx.emit(data, human)


# -- images ---------------------------------------------------------------------


@cli.group()
def images() -> None:
    """Build and inspect the runtime images."""


@images.command("build")
@click.argument("runtimes", nargs=-1)
@click.option("--force", is_flag=True, help="Rebuild even when an image is current.")
@pass_ctx
def images_build(ctx: Context, runtimes: tuple[str, ...], force: bool) -> None:
    """Build the runtime images that are missing or outdated (a no-op when all are current)."""
    from .engine import Engine
    from .images import build_images

    def say(runtime: str, line: str) -> None:
        if not ctx.quiet and not ctx.as_json:
            # Build steps can be long shell lines: one screen line each.
            err_console.print(
                f"  [cyan]{runtime:7}[/] {line[:100]}", overflow="ellipsis", no_wrap=True
            )

    results = build_images(
        ctx.settings, Engine(ctx.settings), runtimes or None, force=force, progress=say
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
    from .engine import Engine
    from .images import image_state

    states = image_state(ctx.settings, Engine(ctx.settings))

    def human() -> None:
        table = Table("runtime", "image", "state")
        for name, state in states.items():
            color = {"current": "green", "outdated": "yellow"}.get(state, "red")
            table.add_row(name, ctx.settings.runtimes[name].image, f"[{color}]{state}[/]")
        console.print(table)

    ctx.emit(states, human)
    if any(s != "current" for s in states.values()):
        sys.exit(EXIT_ERROR)


# -- pool -----------------------------------------------------------------------


@cli.group()
def pool() -> None:
    """Warm pools: init, status, claim, release, upload, add, resize, reset, reconcile."""


def _status_table(statuses) -> Table:
    table = Table(
        "runtime",
        "image",
        "ports",
        "target",
        "ready",
        "warming",
        "assigned",
        "failed",
        "total/max",
        title="pools",
    )
    for s in statuses:
        ready_style = "green" if s.ready >= s.warm_target else "yellow"
        table.add_row(
            s.runtime,
            s.image,
            s.ports,
            str(s.warm_target),
            f"[{ready_style}]{s.ready}[/]",
            str(s.warming),
            str(s.assigned),
            f"[red]{s.failed}[/]" if s.failed else "0",
            f"{s.total}/{s.max_containers}",
        )
    return table


@pool.command("init")
@click.argument("runtimes", nargs=-1)
@pass_ctx
def pool_init(ctx: Context, runtimes: tuple[str, ...]) -> None:
    """Bring every pool (or the named ones) to its warm size; running it again creates nothing."""
    manager = ctx.pool()
    changes = manager.init(runtimes or None)
    statuses = manager.status()
    ctx.emit(
        {"changed": changes, "pools": [s.as_dict() for s in statuses]},
        lambda: (
            console.print(_status_table(statuses)),
            console.print(
                "Created " + ", ".join(f"{v} {k}" for k, v in changes.items() if v)
                if any(changes.values())
                else "Every pool is at its warm size: nothing created."
            ),
        ),
    )


@pool.command("status")
@pass_ctx
def pool_status(ctx: Context) -> None:
    """Show each pool: target, ready, warming, assigned, failed."""
    statuses = ctx.pool().status()
    ctx.emit([s.as_dict() for s in statuses], lambda: console.print(_status_table(statuses)))


@pool.command("list")
@click.option("--user", "owner", help="Only this user's containers.")
@click.option("--runtime", help="Only this runtime's containers.")
@pass_ctx
def pool_list(ctx: Context, owner: str | None, runtime: str | None) -> None:
    """List pool containers with their state, owner, port and URL."""
    items = ctx.pool().containers(owner=owner, runtime=runtime)

    def human() -> None:
        table = Table("name", "runtime", "state", "owner", "port", "url")
        for a in items:
            table.add_row(
                a.name,
                a.runtime,
                a.state,
                a.owner or "-",
                str(a.host_port),
                a.url if a.owner else "-",
            )
        console.print(table)

    ctx.emit([a.as_dict() for a in items], human)


def _print_assignment(a, verb: str) -> None:
    how = " (cold start)" if a.cold_start else " (already yours)" if a.reused else ""
    console.print(f"{verb} [bold]{a.name}[/] ({a.runtime}) for {a.owner}{how}")
    console.print(f"  port {a.host_port}   url [link={a.url}]{a.url}[/link]")


@pool.command("claim")
@click.argument("runtime")
@click.option("--user", "owner", required=True, help="Who gets the container.")
@click.option("--no-wait", is_flag=True, help="Return without waiting for the refill.")
@pass_ctx
def pool_claim(ctx: Context, runtime: str, owner: str, no_wait: bool) -> None:
    """Give USER a container of RUNTIME (instantly from the warm pool)."""
    manager = ctx.pool()
    started = time.perf_counter()
    assignment = manager.claim(owner, runtime)
    took = (time.perf_counter() - started) * 1000
    ctx.emit(
        assignment.as_dict() | {"claim_ms": round(took, 2)},
        lambda: (
            _print_assignment(assignment, "Claimed"),
            console.print(
                f"  [dim]claim took {took:.1f} ms; the pool refills in the background[/]"
            ),
        ),
    )
    if not no_wait:
        manager.wait_idle()


@pool.command("release")
@click.argument("container")
@click.option("--user", "owner", help="Only release it if it belongs to this user.")
@pass_ctx
def pool_release(ctx: Context, container: str, owner: str | None) -> None:
    """Release CONTAINER: it and its files are deleted; a fresh one warms in its place."""
    manager = ctx.pool()
    released = manager.release(container, owner=owner)
    ctx.emit(
        released.as_dict(),
        lambda: console.print(
            f"Released {released.name}: container and files deleted; a fresh {released.runtime} "
            "container is warming."
        ),
    )
    manager.wait_idle()


@pool.command("upload")
@click.argument("container")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "owner", help="Only upload if the container belongs to this user.")
@click.option("--dest", default="", help="Folder inside the site to put the files in.")
@pass_ctx
def pool_upload(ctx: Context, container: str, file: Path, owner: str | None, dest: str) -> None:
    """Upload FILE (a single file, or a .zip/.tar[.gz] archive) into CONTAINER."""
    result = ctx.pool().upload(container, file.name, file.read_bytes(), owner=owner, dest=dest)
    ctx.emit(
        result,
        lambda: console.print(
            f"Uploaded {len(result['files'])} file(s), {result['bytes']:,} bytes, to "
            f"{result['container']}: {result['url']}"
        ),
    )


@pool.command("add")
@click.argument("runtime")
@click.argument("count", type=int)
@pass_ctx
def pool_add(ctx: Context, runtime: str, count: int) -> None:
    """Raise RUNTIME's warm size by COUNT and warm them now."""
    result = ctx.pool().add(runtime, count)
    ctx.emit(
        result,
        lambda: console.print(
            f"{runtime}: warm size now {result['warm']}, {result['created']} created."
        ),
    )


@pool.command("resize")
@click.argument("runtime")
@click.argument("warm", type=int)
@pass_ctx
def pool_resize(ctx: Context, runtime: str, warm: int) -> None:
    """Set RUNTIME's warm size to WARM (kept across restarts) and apply it now."""
    result = ctx.pool().resize(runtime, warm)
    ctx.emit(
        result,
        lambda: console.print(
            f"{runtime}: warm size now {warm}; {result['created']} created, "
            f"{result['removed']} removed."
        ),
    )


@pool.command("reset")
@click.argument("container", required=False)
@click.option("--runtime", help="Reset every container of this runtime.")
@click.option("--user", "owner", help="Reset every container of this user.")
@pass_ctx
def pool_reset(ctx: Context, container: str | None, runtime: str | None, owner: str | None) -> None:
    """Replace a container (or all of a runtime / a user's) with fresh ones.

    Assigned containers keep their owner, port and files.
    """
    replaced = ctx.pool().reset(container, runtime=runtime, owner=owner)
    ctx.emit(
        {"replaced": replaced},
        lambda: console.print(
            f"Replaced {len(replaced)}: {', '.join(replaced)}"
            if replaced
            else "Nothing to replace."
        ),
    )


@pool.command("reconcile")
@pass_ctx
def pool_reconcile(ctx: Context) -> None:
    """Make the store agree with Docker: replace dead containers, remove orphans, refill."""
    report = ctx.pool().reconcile()

    def human() -> None:
        for key, value in report.as_dict().items():
            if value and key != "changed":
                console.print(f"  {key.replace('_', ' '):18} {value}")
        console.print("Reconciled: " + ("changes made." if report.changed else "all in order."))

    ctx.emit(report.as_dict(), human)


@pool.command("events")
@click.option("--limit", default=30, show_default=True, type=click.IntRange(1, 1000))
@pass_ctx
def pool_events(ctx: Context, limit: int) -> None:
    """Show recent pool events (claims, releases, recoveries)."""
    items = ctx.pool().events(limit)

    def human() -> None:
        table = Table("time", "event", "runtime", "container", "owner", "detail")
        for e in reversed(items):
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(e["ts"])),
                e["kind"],
                e["runtime"] or "",
                e["container"] or "",
                e["owner"] or "",
                e["detail"] or "",
            )
        console.print(table)

    ctx.emit(items, human)


@cli.command("stop")
@pass_ctx
def stop(ctx: Context) -> None:
    """Stop the portal (if `containerpoker portal` runs) and remove every pool container."""
    from .portal.server import stop_portal

    portal_stopped = stop_portal(ctx.settings)
    count = ctx.pool().remove_all()
    ctx.emit(
        {"removed": count, "portal_stopped": portal_stopped},
        lambda: console.print(
            ("Stopped the portal. " if portal_stopped else "") + f"Removed {count} pool containers."
        ),
    )


from . import cli_lessons, cli_monitor, cli_portal  # noqa: E402,F401 - register `lesson`, `monitor`, `user`, `portal`


def main() -> None:
    """Entry point: one clear sentence on error, non-zero exit."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except PoolExhausted as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        sys.exit(EXIT_EXHAUSTED)
    except InvalidRequest as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        sys.exit(EXIT_USAGE)
    except ContainerPokerError as exc:
        err_console.print(f"[red]error:[/] {exc.message}")
        sys.exit(EXIT_ERROR)
    except DockerException as exc:
        err_console.print(f"[red]Docker error:[/] {exc}. Check `docker info` and `make engine`.")
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        sys.exit(130)


if __name__ == "__main__":
    main()

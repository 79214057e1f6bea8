"""``containerpoker pool ...``: the warm pools on the command line."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from .common import Context, console, dry_run_option, pass_ctx
from .nodes import nodes_table


@click.group()
def pool() -> None:
    """Warm pools: init, status, claim, release, renew, upload, add, resize, reset, reconcile."""


def status_table(statuses) -> Table:
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
@dry_run_option
@pass_ctx
def pool_init(ctx: Context, runtimes: tuple[str, ...], dry_run: bool) -> None:
    """Bring every pool (or the named ones) to its warm size; running it again creates nothing."""
    platform = ctx.platform(plans_only=dry_run)
    plan = platform.pool.init(runtimes or None, apply=not dry_run)
    statuses = platform.pool.status()

    def human() -> None:
        console.print(status_table(statuses))
        if not plan.applied:
            ctx.emit_plan(plan, "Every pool is at its warm size: nothing would be created.")
        elif plan.changed:
            done = [f"{n} {k}" for k, n in plan.changes.get("created", {}).items()]
            gone = [f"{n} {k}" for k, n in plan.changes.get("removed", {}).items()]
            console.print(
                "; ".join(
                    (["Created " + ", ".join(done)] if done else [])
                    + (["removed " + ", ".join(gone)] if gone else [])
                )
                or "Done."
            )
        else:
            console.print("Every pool is at its warm size: nothing created.")

    ctx.emit(plan.as_dict() | {"pools": [s.as_dict() for s in statuses]}, human)


@pool.command("status")
@pass_ctx
def pool_status(ctx: Context) -> None:
    """Show each pool (target, ready, warming, assigned, failed), then the containers per node."""
    platform = ctx.platform()
    statuses, nodes = platform.pool.status(), platform.nodes()

    def human() -> None:
        console.print(status_table(statuses))
        console.print(nodes_table(nodes))

    ctx.emit([s.as_dict() for s in statuses], human)


@pool.command("list")
@click.option("--user", "owner", help="Only this user's containers.")
@click.option("--runtime", help="Only this runtime's containers.")
@pass_ctx
def pool_list(ctx: Context, owner: str | None, runtime: str | None) -> None:
    """List pool containers with their state, owner, port and URL."""
    items = ctx.platform().pool.containers(owner=owner, runtime=runtime)

    def human() -> None:
        table = Table("name", "runtime", "state", "owner", "node", "port", "url", "expires")
        for a in items:
            ends = time.strftime("%H:%M", time.localtime(a.expires_at)) if a.expires_at else "-"
            table.add_row(
                a.name,
                a.runtime,
                a.state,
                a.owner or "-",
                a.node,
                str(a.host_port),
                a.url if a.owner else "-",
                f"{ends} ({a.expires_reason})" if a.expires_at else "-",
            )
        console.print(table)

    ctx.emit([a.as_dict() for a in items], human)


@pool.command("claim")
@click.argument("runtime")
@click.option("--user", "owner", required=True, help="Who gets the container.")
@click.option("--no-wait", is_flag=True, help="Return without waiting for the refill.")
@pass_ctx
def pool_claim(ctx: Context, runtime: str, owner: str, no_wait: bool) -> None:
    """Give USER a container of RUNTIME (instantly from the warm pool)."""
    manager = ctx.platform().pool
    started = time.perf_counter()
    a = manager.claim(owner, runtime)
    took = (time.perf_counter() - started) * 1000

    def human() -> None:
        how = " (cold start)" if a.cold_start else " (already yours)" if a.reused else ""
        console.print(f"Claimed [bold]{a.name}[/] ({a.runtime}) for {a.owner}{how}")
        console.print(f"  port {a.host_port}   url [link={a.url}]{a.url}[/link]")
        console.print(f"  [dim]claim took {took:.1f} ms; the pool refills in the background[/]")

    ctx.emit(a.as_dict() | {"claim_ms": round(took, 2)}, human)
    if not no_wait:
        manager.wait_idle()


@pool.command("release")
@click.argument("container")
@click.option("--user", "owner", help="Only release it if it belongs to this user.")
@dry_run_option
@pass_ctx
def pool_release(ctx: Context, container: str, owner: str | None, dry_run: bool) -> None:
    """Release CONTAINER: it and its files are deleted; a fresh one warms in its place."""
    manager = ctx.platform(plans_only=dry_run).pool
    plan = manager.release(container, owner=owner, apply=not dry_run)
    if dry_run:
        ctx.emit_plan(plan, "Nothing to release.")
        return
    released = plan.subjects[0]
    ctx.emit(
        released.as_dict(),
        lambda: console.print(
            f"Released {released.name}: container and files deleted; a fresh {released.runtime} "
            "container is warming."
        ),
    )
    manager.wait_idle()


@pool.command("renew")
@click.argument("container")
@click.option("--user", "owner", help="Only renew it if it belongs to this user.")
@dry_run_option
@pass_ctx
def pool_renew(ctx: Context, container: str, owner: str | None, dry_run: bool) -> None:
    """Renew CONTAINER: its lifetime ends that long from now again (a few times at most)."""
    plan = ctx.platform(plans_only=dry_run).pool.renew(container, owner=owner, apply=not dry_run)
    renewed = plan.subjects[0]
    if ctx.as_json or dry_run:
        ctx.emit_plan(plan, "Nothing to renew.")
        return
    until = time.strftime("%H:%M", time.localtime(renewed.expires_at or time.time()))
    console.print(
        f"Renewed {renewed.name}: it now ends at {until} ({renewed.expires_reason} clock), "
        f"{renewed.renewals_left} renewal(s) left."
    )


@pool.command("upload")
@click.argument("container")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--user", "owner", help="Only upload if the container belongs to this user.")
@click.option("--dest", default="", help="Folder inside the site to put the files in.")
@pass_ctx
def pool_upload(ctx: Context, container: str, file: Path, owner: str | None, dest: str) -> None:
    """Upload FILE (a single file, or a .zip/.tar[.gz] archive) into CONTAINER."""
    result = ctx.platform().pool.upload(
        container, file.name, file.read_bytes(), owner=owner, dest=dest
    )
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
@dry_run_option
@pass_ctx
def pool_add(ctx: Context, runtime: str, count: int, dry_run: bool) -> None:
    """Raise RUNTIME's warm size by COUNT and warm them now."""
    plan = ctx.platform(plans_only=dry_run).pool.add(runtime, count, apply=not dry_run)
    ctx.emit_plan(plan, f"{runtime}: nothing to do.")


@pool.command("resize")
@click.argument("runtime")
@click.argument("warm", type=int)
@dry_run_option
@pass_ctx
def pool_resize(ctx: Context, runtime: str, warm: int, dry_run: bool) -> None:
    """Set RUNTIME's warm size to WARM (kept across restarts) and apply it now."""
    plan = ctx.platform(plans_only=dry_run).pool.resize(runtime, warm, apply=not dry_run)
    ctx.emit_plan(plan, f"{runtime}: the warm size is {warm} already; nothing to do.")


@pool.command("reset")
@click.argument("container", required=False)
@click.option("--runtime", help="Reset every container of this runtime.")
@click.option("--user", "owner", help="Reset every container of this user.")
@dry_run_option
@pass_ctx
def pool_reset(
    ctx: Context, container: str | None, runtime: str | None, owner: str | None, dry_run: bool
) -> None:
    """Replace a container (or all of a runtime / a user's) with fresh ones.

    Assigned containers keep their owner, port and files.
    """
    manager = ctx.platform(plans_only=dry_run).pool
    plan = manager.reset(container, runtime=runtime, owner=owner, apply=not dry_run)
    if ctx.as_json:
        ctx.emit(plan.as_dict() | {"replaced": plan.keys("replaced")}, lambda: None)
    else:
        ctx.emit_plan(plan, "Nothing to replace.")


@pool.command("reconcile")
@pass_ctx
def pool_reconcile(ctx: Context) -> None:
    """Make the store agree with Docker: replace dead containers, remove orphans, refill."""
    report = ctx.platform().pool.reconcile()

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
    """Show recent platform events (claims, releases, recoveries, users)."""
    items = ctx.platform().store.recent_events(limit)

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

"""``containerpoker node list|drain|activate``: the nodes pool containers run on."""

from __future__ import annotations

import click
from rich.table import Table

from .common import Context, console, dry_run_option, pass_ctx


@click.group()
def node() -> None:
    """The nodes of a Swarm (one, on a single host): list them, drain one, activate it again."""


@node.command("list")
@pass_ctx
def node_list(ctx: Context) -> None:
    """List the nodes with their state and the pool containers each runs."""
    nodes = ctx.platform().nodes()
    ctx.emit(nodes, lambda: console.print(nodes_table(nodes)))


def nodes_table(nodes: list[dict]) -> Table:
    """The nodes with the pool containers each runs (``node list``, under ``pool status``)."""
    table = Table("node", "address", "state", "availability", "runtimes", "containers")
    for n in nodes:
        held = ", ".join(f"{count} {runtime}" for runtime, count in n["containers"].items())
        runtimes = "any" if n["runtimes"] is None else (n["runtimes"] or "none")
        table.add_row(n["name"], n["address"], n["state"], n["availability"], runtimes, held or "-")
    return table


@node.command("drain")
@click.argument("name")
@dry_run_option
@pass_ctx
def node_drain(ctx: Context, name: str, dry_run: bool) -> None:
    """Drain NAME for maintenance: nothing new goes there, its warm containers are replaced
    elsewhere and its assigned ones move, with their files, to other nodes."""
    plan = ctx.platform(plans_only=dry_run).set_node(name, "drain", apply=not dry_run)
    ctx.emit_plan(plan, f"{name} is drained already, and empty.")


@node.command("activate")
@click.argument("name")
@dry_run_option
@pass_ctx
def node_activate(ctx: Context, name: str, dry_run: bool) -> None:
    """Open NAME again for new containers (after `node drain`)."""
    plan = ctx.platform(plans_only=dry_run).set_node(name, "active", apply=not dry_run)
    ctx.emit_plan(plan, f"{name} is active already.")

"""``containerpoker lesson list|run``: the classroom on the command line."""

from __future__ import annotations

import sys

import click
from rich.table import Table
from rich.text import Text

from .cli import Context, cli, console, pass_ctx
from .errors import InvalidRequest


@cli.group()
def lesson() -> None:
    """The eight orchestration lessons: list them, run one, or open a shell (lesson 2)."""


@lesson.command("list")
@pass_ctx
def lesson_list(ctx: Context) -> None:
    """List the lessons with their learning goals and parameters."""
    from .lessons import lessons

    table_data = [item.as_dict() for item in lessons().values()]

    def human() -> None:
        table = Table("#", "lesson", "category", "learning goal", "parameters")
        for item in table_data:
            params = ", ".join(f"{p['name']}={p['default']}" for p in item["params"])
            table.add_row(
                str(item["number"]), item["title"], item["category"], item["goal"], params
            )
        console.print(table)

    ctx.emit(table_data, human)


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"--param {pair!r} is not key=value.")
        parsed[key.strip()] = value
    return parsed


@lesson.command("run")
@click.argument("flow")
@click.option(
    "--param",
    "-p",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A lesson parameter (repeatable); `lesson list` shows them.",
)
@pass_ctx
def lesson_run(ctx: Context, flow: str, pairs: tuple[str, ...]) -> None:
    """Run lesson FLOW (its number or name), narrating each step; exit 1 if it fails."""
    from .lessons import run_lesson
    from .lessons.framework import find, validate

    chosen = find(flow)
    params = validate(chosen, _params(pairs))  # bad input: refused before anything runs
    steps = []
    if not ctx.as_json:
        console.print(f"[bold]Lesson {chosen.number}: {chosen.title}[/]  [dim]{chosen.goal}[/]\n")
    try:
        for number, step in enumerate(
            run_lesson(chosen.number, params, settings=ctx.settings), start=1
        ):
            steps.append(step.as_dict())
            if ctx.as_json:
                continue
            mark = "[green]✔[/]" if step.ok else "[red]✘[/]"
            console.print(f"{mark} [bold]{number}. {step.title}[/]")
            console.print(f"   [italic]{step.idea}[/]")
            if step.call:
                console.print(f"   [cyan]$ {step.call}[/]", soft_wrap=True)
            for line in (step.result or "").splitlines() or [""]:
                console.print(Text.assemble(("   → ", "dim"), line), soft_wrap=True)
    finally:
        if ctx.as_json:
            click.echo(
                __import__("json").dumps({"lesson": chosen.number, "steps": steps}, indent=2)
            )
            sys.stdout.flush()


@lesson.command("shell")
@pass_ctx
def lesson_shell(ctx: Context) -> None:
    """Lesson 2 by hand: your terminal attached to a shell in a fresh container.

    The container is labelled like every lesson's and removed when you `exit`.
    """
    import os

    import dockerpty

    from .lessons.flow2_shell import shell_container
    from .lessons.framework import Lab, docker_client

    if not sys.stdin.isatty():
        raise InvalidRequest(
            "`lesson shell` attaches your terminal: run it from a terminal "
            "(or `lesson run 2` for the narrated version)."
        )
    client = docker_client(ctx.settings)
    lab = Lab(client, 2, extra_labels=dict(ctx.settings.extra_labels))
    try:
        container = shell_container(lab, lab.name("shell"), os.environ.get("TERM", "xterm"))
        console.print(
            f"[bold]A shell in {container.name}[/] (debian:bookworm-slim). "
            "Type [cyan]exit[/] to leave: the container is removed then."
        )
        dockerpty.start(client.api, container.id)
    finally:
        removed = lab.cleanup()
        client.close()
        console.print(f"Removed {', '.join(removed) or 'nothing'}.")

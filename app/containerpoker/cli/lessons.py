"""``containerpoker lesson list|run|shell|challenge``: the classroom on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import click
from rich.table import Table
from rich.text import Text

from ..errors import InvalidRequest
from .common import Context, console, pass_ctx


@click.group()
def lesson() -> None:
    """The eight orchestration lessons: list them, run one, open a shell (lesson 2), or do a
    lesson's hands-on challenge on your own engine."""


@lesson.command("list")
@pass_ctx
def lesson_list(ctx: Context) -> None:
    """List the lessons with their learning goals and parameters."""
    from ..platform import Platform

    table_data = [item.as_dict() for item in Platform.lessons().values()]

    def human() -> None:
        table = Table("#", "lesson", "category", "learning goal", "parameters")
        for item in table_data:
            params = ", ".join(f"{p['name']}={p['default']}" for p in item["params"])
            table.add_row(
                str(item["number"]), item["title"], item["category"], item["goal"], params
            )
        console.print(table)

    ctx.emit(table_data, human)


def parse_params(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidRequest(f"--param {pair!r} is not key=value.")
        parsed[key.strip()] = value
    return parsed


@lesson.command("run")
@click.argument("lesson_ref", metavar="LESSON")
@click.option(
    "--param",
    "-p",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A lesson parameter (repeatable); `lesson list` shows them.",
)
@pass_ctx
def lesson_run(ctx: Context, lesson_ref: str, pairs: tuple[str, ...]) -> None:
    """Run LESSON (its number or name), narrating each step; exit 1 if it fails."""
    from ..platform import Platform

    # Bad input is refused here, before anything runs.
    chosen, params = Platform.find_lesson(lesson_ref, parse_params(pairs))
    steps = []
    if not ctx.as_json:
        console.print(f"[bold]Lesson {chosen.number}: {chosen.title}[/]  [dim]{chosen.goal}[/]\n")
    try:
        for number, step in enumerate(ctx.platform().run_lesson(chosen.number, params), start=1):
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
            click.echo(json.dumps({"lesson": chosen.number, "steps": steps}, indent=2))
            sys.stdout.flush()


@lesson.command("shell")
@pass_ctx
def lesson_shell(ctx: Context) -> None:
    """Lesson 2 by hand: your terminal attached to a shell in a fresh container.

    The container is labelled like every lesson's and removed when you `exit`.
    """
    if not sys.stdin.isatty():
        raise InvalidRequest(
            "`lesson shell` attaches your terminal: run it from a terminal "
            "(or `lesson run 2` for the narrated version)."
        )
    session = ctx.platform().open_shell(os.environ.get("TERM", "xterm"))
    try:
        console.print(
            f"[bold]A shell in {session.name}[/] (debian:bookworm-slim). "
            "Type [cyan]exit[/] to leave: the container is removed then."
        )
        session.attach_terminal()
    finally:
        removed = session.close()
        console.print(f"Removed {', '.join(removed) or 'nothing'}.")


@lesson.command("challenge")
@click.argument("lesson_ref", metavar="LESSON")
@click.option("--check", "check", is_flag=True, help="Run the checks once; exit 0 when all pass.")
@click.option("--watch", is_flag=True, help="Re-run the checks every 2 s until all pass.")
@click.option("--solution", is_flag=True, help="Show a solution (try first: the hints help).")
@click.option("--clean", is_flag=True, help="Remove what the challenge's task creates.")
@pass_ctx
def lesson_challenge(
    ctx: Context, lesson_ref: str, check: bool, watch: bool, solution: bool, clean: bool
) -> None:
    """The hands-on challenge of LESSON, on this machine's own Docker engine.

    Without options: the task and its checks. Do the task with `docker` in your terminal, then
    `--check` (or `--watch`) tells you what passes and, for what does not yet, a hint.
    """
    from ..platform import Platform

    chosen, _ = Platform.find_lesson(lesson_ref)
    challenge = chosen.challenge
    if challenge is None:
        raise InvalidRequest(f"Lesson {chosen.number} has no challenge.")
    if clean:
        subprocess.run(["sh", "-c", challenge.cleanup], check=False, capture_output=True)
        ctx.emit(
            {"lesson": chosen.number, "cleaned": challenge.cleanup},
            lambda: console.print(f"Removed what the task creates: [cyan]{challenge.cleanup}[/]"),
        )
        return
    if solution:
        ctx.emit(
            {"lesson": chosen.number, "solution": challenge.solution},
            lambda: console.print(Text(challenge.solution)),
        )
        return
    if not (check or watch):

        def human() -> None:
            console.print(f"[bold]Challenge {chosen.number}: {chosen.title}[/]\n")
            console.print(challenge.task + "\n")
            console.print("Checks:")
            for number, item in enumerate(challenge.checks, start=1):
                console.print(f"  {number}. {item.title}")
            console.print(
                f"\nThe image is [cyan]{challenge.image}[/]. When you are done: "
                f"[cyan]containerpoker lesson challenge {chosen.number} --check[/] "
                f"(or --watch). To start again: --clean."
            )

        ctx.emit(challenge.as_dict() | {"lesson": chosen.number}, human)
        return
    try:
        while True:
            result = Platform.check_challenge_here(chosen.number)
            if not ctx.as_json:
                show_checks(result)
            if result["passed"] or not watch:
                break
            time.sleep(2)
            console.print()
    except FileNotFoundError as exc:
        raise InvalidRequest(str(exc)) from None
    if ctx.as_json:
        click.echo(json.dumps(result, indent=2))
    elif result["passed"]:
        console.print(f"\n[green]Challenge {chosen.number} passed.[/]")
    sys.exit(0 if result["passed"] else 1)


def show_checks(result: dict) -> None:
    for item in result["checks"]:
        if item["passed"]:
            console.print(f"[green]✔ passed[/]  {item['title']}")
            continue
        console.print(f"[yellow]… pending[/] {item['title']}")
        console.print(Text.assemble(("          hint: ", "dim"), item["hint"]), soft_wrap=True)
        for line in item["output"].splitlines():
            console.print(Text.assemble(("          saw: ", "dim"), line), soft_wrap=True)


@lesson.command("progress")
@pass_ctx
def lesson_progress(ctx: Context) -> None:
    """The class view: who ran which lesson, who passed which challenge, who is stuck where."""
    view = ctx.platform().classroom.class_view()

    def human() -> None:
        table = Table("lesson", "challenge opened", "passed", "stuck on (learners)")
        for item in view["lessons"]:
            stuck = "; ".join(f"{s['check']} ({s['learners']})" for s in item["stuck_on"])
            table.add_row(
                f"{item['lesson']}. {item['title']}",
                str(item["opened"]),
                str(item["passed"]),
                stuck or "—",
            )
        console.print(table)
        table = Table("learner", "lessons run", "challenges passed", "working on")
        for learner in view["learners"]:
            working = learner["working_on"]
            where = "—"
            if working is not None:
                where = f"challenge {working['lesson']}"
                if working.get("check"):
                    where += f", stuck on “{working['check']}”"
            table.add_row(
                learner["username"],
                ", ".join(map(str, learner["lessons_run"])) or "—",
                ", ".join(map(str, learner["challenges_passed"])) or "—",
                where,
            )
        console.print(table)

    ctx.emit(view, human)

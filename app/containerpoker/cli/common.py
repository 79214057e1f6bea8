"""What every ``containerpoker`` command shares: the consoles, the context, output helpers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from ..config import Settings, load_settings

# Wide enough for the tables when output goes to a file or a CI log.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)

EXIT_ERROR, EXIT_USAGE, EXIT_EXHAUSTED = 1, 2, 3


class Context:
    """Lazily built settings and platform, shared by the subcommands."""

    def __init__(self, as_json: bool, quiet: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self._settings: Settings | None = None
        self._platforms: dict[bool, Any] = {}
        self._started = time.monotonic()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def platform(self, *, plans_only: bool = False):
        """The platform (``plans_only``: one that writes nothing, for ``--dry-run``)."""
        if plans_only not in self._platforms:
            from ..platform import Platform

            self._platforms[plans_only] = Platform(
                self.settings, plans_only=plans_only, progress=self.progress
            )
        return self._platforms[plans_only]

    def progress(self, what: str, runtime: str, detail: str) -> None:
        if self.quiet or self.as_json:
            return
        style = {"ready": "green", "failed": "red", "warming": "yellow"}.get(what, "white")
        elapsed = time.monotonic() - self._started
        err_console.print(f"  [{style}]{what:8}[/] {runtime:7} {detail}  [dim]{elapsed:5.1f}s[/]")

    def say(self, text: str) -> None:
        """A progress line on stderr (not with --json or -q)."""
        if not (self.quiet or self.as_json):
            err_console.print(text, markup=False, soft_wrap=True)

    def close(self) -> None:
        for platform in self._platforms.values():
            platform.close()

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        else:
            human()

    def emit_plan(self, plan, nothing: str) -> None:
        """A plan's actions, one per line (a dry run says so first); with --json, the plan."""

        def human() -> None:
            if not plan.actions:
                console.print(nothing)
            elif not plan.applied:
                console.print("Dry run, nothing was changed. This is what would be done:")
            for action in plan.actions:
                console.print(("  " if not plan.applied else "") + action, markup=False)

        self.emit(plan.as_dict(), human)


pass_ctx = click.make_pass_decorator(Context)

dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Say what would be done, and change nothing."
)

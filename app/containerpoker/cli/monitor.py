"""``containerpoker monitor --once|--watch``: the recovery monitor on the command line."""

from __future__ import annotations

import os
import signal
import threading
import time

import click

from ..errors import InvalidRequest
from .common import Context, console, pass_ctx


@click.command()
@click.option("--once", "mode", flag_value="once", help="One full pass (what the timer runs).")
@click.option(
    "--watch",
    "mode",
    flag_value="watch",
    help="Follow Docker events and recover within seconds (what the service runs).",
)
@click.option(
    "--log",
    "show_log",
    is_flag=True,
    help="Print the recovery log (its last entries) and exit.",
)
@click.option(
    "--settle",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 5),
    help="--watch: seconds to gather events that come together before acting.",
)
@click.option(
    "--interval",
    type=click.FloatRange(0, 86400),
    help="--watch: also a full pass (expiry included) this often, in seconds; 0: never "
    "[default: CONTAINERPOKER_MONITOR_INTERVAL].",
)
@click.option(
    "--parent",
    type=int,
    metavar="PID",
    help="--watch: stop when this process ends (the portal that started it).",
)
@pass_ctx
def monitor(
    ctx: Context,
    mode: str | None,
    show_log: bool,
    settle: float,
    interval: float | None,
    parent: int | None,
) -> None:
    """Recover failed pool containers and release expired ones: a replaced assigned container
    keeps its owner, port and files. Both modes use `pool reconcile` and can run at the same
    time; one lock keeps them from doing anything twice."""
    from ..monitor import Monitor, read_log

    if show_log:
        entries = read_log(ctx.settings.data_dir / "recovery.log")

        def human() -> None:
            if not entries:
                console.print("The recovery log is empty: nothing had to be recovered.")
            for entry in entries:
                details = "; ".join(
                    f"{k.replace('_', ' ')}: {', '.join(map(str, v))}"
                    for k, v in entry.items()
                    if isinstance(v, list) and k != "trigger"
                )
                console.print(
                    f"{entry['time']}  [{entry['source']}] {details}  ({entry['seconds']} s)",
                    markup=False,
                )

        ctx.emit(entries, human)
        return
    if mode is None:
        raise InvalidRequest(
            "Say how to run: `containerpoker monitor --once` (one pass) or "
            "`containerpoker monitor --watch` (follow Docker events)."
        )
    say = (lambda _text: None) if ctx.quiet else _say
    watcher = Monitor(ctx.platform(), say=say)
    if mode == "once":
        report = watcher.once()
        if ctx.as_json:
            ctx.emit(report.as_dict(), lambda: None)
        elif not ctx.quiet and not (report.changed or report.failed):
            say("All in order: nothing to recover.")
        return
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    if parent:
        threading.Thread(target=_follow_parent, args=(parent, stop), daemon=True).start()
    every = ctx.settings.monitor_interval if interval is None else interval
    watcher.watch(stop, settle=settle, interval=every or None)
    say("Stopped.")


def _follow_parent(pid: int, stop: threading.Event) -> None:
    """Set ``stop`` when process ``pid`` is gone (the portal was killed, even with SIGKILL):
    this process is then no longer its child."""
    while not stop.wait(1.0):
        if os.getppid() != pid:
            stop.set()


def _say(text: str) -> None:
    console.print(time.strftime("%H:%M:%S ") + text, markup=False, soft_wrap=True)

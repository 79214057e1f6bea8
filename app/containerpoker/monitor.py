"""The recovery monitor: the core's reconcile, run by a timer or driven by Docker events.

``once`` is what the systemd timer runs every few minutes: a full reconcile. ``watch`` follows
Docker's event stream and reconciles the very containers Docker reports dead or unhealthy within
a fraction of a second; after (re)connecting to the engine it reconciles everything, because
events that happened while it was away are lost. Both go through ``Pool.reconcile``, whose
file lock serialises them: the timer and the watcher can run at the same time, and whichever
comes second finds the container already replaced and does nothing.

Whatever a pass changed is appended to ``<data_dir>/recovery.log`` (one JSON object per line)
and, by reconcile itself, to the platform's events, which the portal shows as recent activity.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import EngineUnavailable
from .platform import Platform

if TYPE_CHECKING:
    from .engine import EngineEvent
    from .pool import ReconcileReport

_DISCONNECTED = object()
# A container an event named is looked at once more this many seconds later; a failed
# replacement is retried after 2, 4, 8 ... seconds, at most RETRY_MAX apart.
RECHECK_AFTER = 3.0
RETRY_MAX = 60.0


class Monitor:
    """Recovery passes over one platform instance, recorded in its recovery log."""

    def __init__(
        self,
        platform: Platform,
        *,
        say: Callable[[str], None] = print,
        log_path: Path | None = None,
    ) -> None:
        self.platform = platform
        self.say = say
        self.log_path = log_path or platform.settings.data_dir / "recovery.log"

    @property
    def pool(self):
        return self.platform.pool

    # -- one pass (the timer) -----------------------------------------------------

    def once(self, source: str = "timer") -> ReconcileReport:
        """A full reconcile: every container checked, orphans swept, pools refilled."""
        started = time.monotonic()
        report = self.pool.reconcile()
        self._record(report, source, took=time.monotonic() - started)
        return report

    # -- following Docker events (the service) ------------------------------------

    def watch(
        self,
        stop: threading.Event,
        *,
        settle: float = 0.2,
        retry_max: float = 30.0,
        interval: float | None = None,
        on_ready: Callable[[], None] | None = None,
    ) -> None:
        """React to Docker events until ``stop`` is set; reconnect when the engine goes away.

        ``settle``: after a first event, wait this long for others (a container killed with
        its neighbours, a death followed by its destroy) and handle them in one pass.
        ``interval``: also make a full pass this often (what expired is released then, and
        anything an event did not report is found): the timer's work, for hosts without one.
        """
        delay = 1.0
        while not stop.is_set():
            events: queue.Queue = queue.Queue()
            try:
                stream = self._subscribe(events)
            except EngineUnavailable as exc:
                self.say(f"Docker is not reachable ({_short(exc)}); retrying in {delay:.0f} s.")
                stop.wait(delay)
                delay = min(retry_max, delay * 2)
                continue
            try:
                # Events from before this connection are lost: check everything once.
                self.say("Connected to Docker: a full resynchronisation first.")
                self.once(source="watch-resync")
                delay = 1.0
                if on_ready is not None:
                    on_ready()
                self.say("Watching Docker events.")
                self._follow(events, stop, settle, interval)
            except EngineUnavailable as exc:
                self.say(f"Lost Docker while recovering ({_short(exc)}).")
            finally:
                with contextlib.suppress(Exception):
                    stream.close()
            if not stop.is_set():
                self.say(f"Docker went away; reconnecting in {delay:.0f} s.")
                stop.wait(delay)
                delay = min(retry_max, delay * 2)

    def _subscribe(self, events: queue.Queue):
        """Open the event stream (fails now if Docker is down) and read it on a thread."""
        stream = self.platform.engine.pool_events()

        def read() -> None:
            try:
                for event in stream:
                    events.put(event)
            except Exception:  # noqa: BLE001 - any end of the stream means "reconnect"
                pass
            events.put(_DISCONNECTED)

        threading.Thread(target=read, name="cp-docker-events", daemon=True).start()
        return stream

    def _follow(
        self, events: queue.Queue, stop: threading.Event, settle: float, interval=None
    ) -> None:
        # Names to look at again, with when and how many failures so far. Every container an
        # event named is checked once more a little later (Docker may have restarted it under
        # its restart policy just before failing for good, which sends no further event), and
        # a replacement that failed is retried with a growing delay, not left to the timer.
        again: dict[str, tuple[float, int]] = {}
        next_pass = time.monotonic() + interval if interval else None
        while not stop.is_set():
            now = time.monotonic()
            if next_pass is not None and now >= next_pass:
                self._periodic()
                next_pass = time.monotonic() + interval
                continue
            due = {name for name, (when, _) in again.items() if when <= now}
            if due:
                self._check(due, again, "watch-retry", now, None)
                continue
            soon = [when for when, _ in again.values()] + ([next_pass] if next_pass else [])
            wait = min([0.5, *(when - now for when in soon)])
            try:
                first = events.get(timeout=max(wait, 0.01))
            except queue.Empty:
                continue
            if first is _DISCONNECTED:
                return
            batch, seen_at = [first], time.monotonic()
            deadline = seen_at + settle
            lost = False
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more = events.get(timeout=left)
                except queue.Empty:
                    break
                if more is _DISCONNECTED:
                    lost = True
                    break
                batch.append(more)
            # A name waiting for the retry of a failed replacement is left to that retry: the
            # failed attempt's own events (its container's destroy) must not undo the back-off.
            relevant: list[EngineEvent] = [
                event
                for event in batch
                if event.matters and event.name and not again.get(event.name, (0.0, 0))[1]
            ]
            if relevant:
                names = {event.name for event in relevant}
                trigger = sorted({event.action for event in relevant})
                self._check(names, again, "watch", seen_at, trigger)
            if lost:
                return

    def _periodic(self) -> None:
        """A full pass between events; a busy database is tried again at the next one."""
        try:
            self.once(source="watch-periodic")
        except EngineUnavailable:
            raise  # the engine went away: reconnect and resynchronise
        except Exception as exc:  # noqa: BLE001 - a busy database, say
            self.say(f"The periodic pass failed ({_short(exc)}); trying again at the next one.")

    def _check(
        self,
        names: set[str],
        again: dict[str, tuple[float, int]],
        source: str,
        seen_at: float,
        trigger: list[str] | None,
    ) -> None:
        """Reconcile ``names`` now; schedule what failed (or was just seen dying) for later."""
        try:
            report = self.pool.reconcile(only=names)
        except EngineUnavailable:
            raise  # the engine went away: reconnect and resynchronise
        except Exception as exc:  # noqa: BLE001 - a busy database, say: try again soon
            self.say(f"Recovery of {', '.join(sorted(names))} failed ({_short(exc)}); retrying.")
            failed = names
        else:
            self._record(report, source, took=time.monotonic() - seen_at, trigger=trigger)
            failed = set(report.failed) & names
        now = time.monotonic()
        for name in names:
            tries = again.pop(name, (0.0, 0))[1]
            if name in failed:
                again[name] = (now + min(RETRY_MAX, 2.0 * 2**tries), tries + 1)
            elif source == "watch":
                again[name] = (now + RECHECK_AFTER, 0)

    # -- the recovery log ---------------------------------------------------------

    def _record(
        self, report: ReconcileReport, source: str, *, took: float, trigger: list[str] | None = None
    ) -> None:
        if not (report.changed or report.failed):
            return
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "source": source,
            "seconds": round(took, 3),
            **({"trigger": trigger} if trigger else {}),
            **{k: v for k, v in report.as_dict().items() if v and k != "changed"},
        }
        try:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry, sort_keys=True) + "\n")
        except OSError as exc:
            self.say(f"Cannot write the recovery log {self.log_path}: {exc}.")
        parts = [
            f"{key.replace('_', ' ')}: {', '.join(map(str, value))}"
            for key, value in entry.items()
            if isinstance(value, list) and key != "trigger"
        ]
        created = report.created and {k: v for k, v in report.created.items() if v}
        if created:
            parts.append("warmed: " + ", ".join(f"{v} {k}" for k, v in created.items()))
        self.say(f"[{source}] " + "; ".join(parts) + f" ({took:.2f} s)")


def read_log(path: Path, limit: int = 50) -> list[dict]:
    """The last ``limit`` entries of a recovery log, oldest first (bad lines skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines[-limit:]:
        with contextlib.suppress(ValueError):
            entries.append(json.loads(line))
    return entries


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__

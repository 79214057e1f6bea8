"""The life of an assignment: two clocks, activity, renewal and expiry.

Like JupyterHub's idle culler, an assignment keeps two clocks (per runtime, in ``config.py``):

- its **lifetime** ends ``lifetime`` seconds after the claim (``expires_at``); no activity
  extends it, a renewal does (``expires_at = now + lifetime``, at most ``renewals`` times, as
  chall-manager recomputes it on each renewal);
- it is **idle** ``idle_timeout`` seconds after the owner last used it (``last_active_at``).

Whichever ends first releases it, exactly like the owner's own release (a fresh container warms,
the files are deleted), recorded as an ``expired`` event. 0 means never.

**Activity** is what shows that someone uses the container: traffic reaching it (the TCP
connections it accepted since the last sweep looked; the images' health checks read the
socket table instead of connecting, and broadcast chatter on the bridge is not a connection),
an upload, and the owner's actions in the portal, the CLI or the API (launching it again,
start/stop/restart, renewing).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import Conflict
from .models import ASSIGNED, Plan
from .warming import Warmer


@dataclass(frozen=True)
class Clocks:
    """When an assignment ends, and why."""

    lifetime_ends_at: float | None
    idle_ends_at: float | None
    renewals_left: int

    @property
    def expires_at(self) -> float | None:
        ends = [t for t in (self.lifetime_ends_at, self.idle_ends_at) if t is not None]
        return min(ends) if ends else None

    @property
    def reason(self) -> str:
        """Which clock ends first, in words."""
        if self.expires_at is None:
            return "never"
        return "idle" if self.expires_at == self.idle_ends_at else "lifetime"


class Lifecycle:
    """Clocks, activity, renewal and the expiry sweep of one platform's assignments."""

    def __init__(self, warmer: Warmer) -> None:
        self.warmer = warmer
        self.rows = warmer.rows
        self.engine = warmer.engine

    def clocks(self, row) -> Clocks:
        """The clocks of a row (a Row, or its mapping)."""
        m = getattr(row, "_mapping", row)
        cfg = self.warmer.runtime(m["runtime"])
        idle = None
        if cfg.idle_timeout and m["state"] == ASSIGNED and m["last_active_at"] is not None:
            idle = m["last_active_at"] + cfg.idle_timeout
        left = max(0, cfg.renewals - (m["renewals"] or 0)) if cfg.lifetime else 0
        return Clocks(m["expires_at"], idle, left)

    def touch(self, row) -> None:
        """The owner used this container: its idle clock starts again."""
        self.rows.move(row.id, ASSIGNED, last_active_at=time.time())

    def renew(self, row, *, apply: bool = True) -> Plan:
        """Push the lifetime of an assignment to ``now + lifetime`` (and restart its idle
        clock): :class:`Conflict` when it has no renewals left or never expires."""
        cfg = self.warmer.runtime(row.runtime)
        if row.state != ASSIGNED:
            raise Conflict(f"Container {row.name} is {row.state}: only an assigned one is renewed.")
        if not cfg.lifetime:
            raise Conflict(f"Container {row.name} has no lifetime to renew: it never expires.")
        if row.renewals >= cfg.renewals:
            raise Conflict(
                f"Container {row.name} was renewed {row.renewals} times, the most allowed: it "
                "ends when its lifetime does. Keep a copy of your files, then launch a new one."
            )
        now = time.time()
        plan = Plan(applied=apply, before={"expires_at": row.expires_at})
        plan.after = {"expires_at": now + cfg.lifetime}
        event = {"kind": "renew", "runtime": row.runtime, "container": row.name}
        event |= {"owner": row.owner, "detail": f"renewal {row.renewals + 1} of {cfg.renewals}"}
        if apply and not self.rows.renew(row.id, now + cfg.lifetime, now, cfg.renewals, event):
            raise Conflict(f"Container {row.name} was renewed or released meanwhile: look again.")
        plan.add("renewed", row.name, 1, f"renewed {row.name} until {_clock(now + cfg.lifetime)}")
        return plan

    def observe_traffic(self, rows: list, now: float) -> None:
        """Note each assignment's accepted-connections counter; a new one restarts its idle
        clock."""
        counters = self.engine.traffic([row.name for row in rows])
        seen = {}
        for row in rows:
            counter = counters.get(row.name)
            if counter is not None:
                active = row.connections is not None and counter != row.connections
                seen[row.id] = (counter, active)
        self.rows.note_traffic(seen, now)

    def sweep(self, now: float | None = None) -> list[str]:
        """Release every assignment whose lifetime ended or that has been idle too long."""
        now = now or time.time()
        rows = self.rows.listed(states=(ASSIGNED,))
        if not rows:
            return []
        # Look at the traffic of those claimed since the last look (to note where their
        # counter starts) and of those whose idle clock runs out before the next sweep: the
        # others cannot expire for idleness yet, and looking costs a call each on a Swarm.
        soon = now + max(self.warmer.settings.monitor_interval, 60.0)
        due = [
            r for r in rows if r.connections is None or (self.clocks(r).idle_ends_at or soon) < soon
        ]
        if due:
            self.observe_traffic(due, now)
        expired = []
        for row in self.rows.listed(states=(ASSIGNED,)):
            clocks = self.clocks(row)
            if clocks.expires_at is None or clocks.expires_at > now:
                continue
            cfg = self.warmer.runtime(row.runtime)
            why = (
                f"idle for {_span(cfg.idle_timeout)}"
                if clocks.reason == "idle"
                else f"its lifetime of {_span(cfg.lifetime)} ended"
            )
            if self.warmer.retire(row, "expired", detail=why):
                expired.append(row.name)
        return expired


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M", time.localtime(epoch))

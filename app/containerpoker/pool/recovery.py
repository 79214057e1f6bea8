"""Reconcile and recovery: make the store and the engine agree, replacing what failed.

Docker is the truth about containers, the store about who owns what. A reconcile pass:

- replaces a dead, missing or unhealthy container; an assigned one keeps its owner, port and
  files (they live in its volume), and moves to another node only when its node is gone;
- removes a dead ready container (the refill warms a fresh one) and finishes releases that a
  killed process left half done;
- cleans up warm-ups abandoned by a killed process;
- removes labelled containers and volumes the store does not know (orphans);
- releases assignments whose lifetime ended or that were idle too long (``lifecycle.py``);
- removes what lesson runs and terminals left behind: past their expiry, or made by a process
  of this host that is gone.

Two passes never run at once on one host (a file lock), so the recovery timer, the event
watcher and an operator's ``pool reconcile`` can run together and nothing is done twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Collection, Iterator

from ..engine import PoolContainerSpec
from ..errors import ContainerPokerError
from .lifecycle import Lifecycle
from .models import ASSIGNED, FAILED, READY, RELEASED, WARMING, ReconcileReport
from .warming import Warmer

ABANDONED_AFTER = 30.0  # s past the warm timeout: a warm-up nobody finishes
RELEASE_GRACE = 5.0  # s a release may take before reconcile finishes it


class Recovery:
    """Reconcile passes over one platform instance."""

    def __init__(self, warmer: Warmer, lifecycle: Lifecycle) -> None:
        self.warmer = warmer
        self.lifecycle = lifecycle
        self.rows = warmer.rows
        self.engine = warmer.engine
        self.settings = warmer.settings

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The one-pass-at-a-time lock (a file in the data directory)."""
        path = self.settings.data_dir / f"reconcile-{self.settings.instance}.lock"
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def reconcile(
        self, *, refill: bool = True, only: Collection[str] | None = None
    ) -> ReconcileReport:
        """One pass; ``only``: check just these containers (by name), no sweep of orphans.

        ``only`` is what the event watcher does when the engine reports a death.
        """
        report = ReconcileReport()
        with self.lock():
            if only is None:  # a full pass also releases what expired
                report.expired = self.lifecycle.sweep()
            # Rows first, then the engine: a row always exists before its container, so a
            # container listed now has a row unless it is a true orphan.
            rows = self.rows.listed(names=only)
            seen = {c.name: c for c in self.engine.list_pool_containers()}
            up = {node.name for node in self.engine.nodes()}  # ready and not drained
            for row in rows:
                found = seen.get(row.name)
                self._check(row, found if row.node in up else None, report)
            if only is None:
                self._sweep(report)
                self._sweep_lessons(report)
            if report.changed or report.failed:
                self.rows.store.record("reconcile", detail=report.summary())
        if refill and (only is None or report.changed or report.failed):
            report.created = self.warmer.refill(wait=True)
        return report

    def _check(self, row, found, report: ReconcileReport) -> None:
        healthy = found is not None and found.running and not found.unhealthy
        if row.state == WARMING:
            if self._abandoned(row) and self.rows.move(row.id, WARMING, state=RELEASED):
                self.warmer.destroy(row)
                report.abandoned.append(row.name)
        elif row.state == READY:
            if not healthy and self.rows.move(row.id, READY, state=RELEASED):
                self.warmer.destroy(row)
                report.removed_dead.append(row.name)
        elif row.state in (ASSIGNED, FAILED):
            if row.state == ASSIGNED and row.stopped and found is not None:
                return  # stopped by its owner on purpose: not a failure
            if not healthy or row.state == FAILED:
                if self.replace(row, reason="reconcile"):
                    report.replaced.append(row.name)
                else:
                    report.failed.append(row.name)
        elif row.state == RELEASED and time.time() - row.updated_at > RELEASE_GRACE:
            self.warmer.destroy(row)
            report.finished_releases.append(row.name)

    def _sweep(self, report: ReconcileReport) -> None:
        # List again: a request a killed process had already sent may have created its
        # container while we worked.
        names, volumes = self.rows.known()
        for found in self.engine.list_pool_containers():
            if found.name not in names:
                self.engine.remove_container(found.name)
                report.removed_orphans.append(found.name)
        for volume in self.engine.list_pool_volumes():
            if volume not in volumes:
                self.engine.remove_volume(volume)
                report.removed_volumes.append(volume)

    def _sweep_lessons(self, report: ReconcileReport) -> None:
        """Remove what lesson runs and terminals left: everything past its expiry, and this
        instance's objects whose process (on this host) is gone (a portal killed mid-run)."""
        now, host = time.time(), socket.gethostname()
        found = self.engine.labelled("lesson")
        dead = set()
        for thing in found:
            labels = thing.labels
            expires = float(labels.get("containerpoker.expires") or "inf")
            where, _, pid = labels.get("containerpoker.process", "").partition(":")
            mine = labels.get("containerpoker.instance") == self.settings.instance
            gone = mine and where == host and pid.isdigit() and not _alive(int(pid))
            if expires < now or gone:
                dead.add(labels.get("containerpoker.run"))
        order = {"container": 0, "network": 1, "volume": 2}  # what uses what goes first
        for thing in sorted(found, key=lambda t: order[t.kind]):
            if thing.labels.get("containerpoker.run") in dead and self.engine.remove_labelled(
                thing
            ):
                report.removed_lesson_objects.append(thing.name)

    def remove_all(self) -> int:
        """Remove every container and volume of this instance and forget them (``make stop``)."""
        with self.lock():
            count = sum(
                self.engine.remove_container(c.name) for c in self.engine.list_pool_containers()
            )
            for volume in self.engine.list_pool_volumes():
                self.engine.remove_volume(volume)
            for row in self.rows.listed():
                self.warmer.files.forget(row.name)
            self.rows.forget(None, {"kind": "stop", "detail": f"removed {count} containers"})
        return count

    def _abandoned(self, row) -> bool:
        """A warm-up whose process is gone, or that has taken far too long."""
        warmer = self.warmer
        other = row.worker_host == warmer.host and row.worker_pid not in (None, warmer.pid)
        if other and not _alive(row.worker_pid):
            return True
        return time.time() - row.updated_at > self.settings.warm_timeout + ABANDONED_AFTER

    def replace(self, row, *, reason: str) -> bool:
        """A fresh container for an assignment: same name, owner, port and volume.

        On the same node while it may still run containers, else on another (with a port
        free there). False (and the row marked failed) when the replacement did not serve.
        """
        cfg = self.warmer.runtime(row.runtime)
        node, port = row.node, row.host_port
        if node not in {n.name for n in self.warmer.eligible_nodes(cfg)}:
            node, port = self._port_elsewhere(row, cfg)
        self.engine.remove_container(row.name)
        spec = PoolContainerSpec(cfg, row.name, row.volume, node, port, row.owner)
        try:
            docker_id = self.engine.create_pool_container(spec)
            self.engine.wait_serving(node, port, row.name, self.settings.warm_timeout)
            if node != row.node:  # another node: its volume is not there, the copies are
                for tar in self.warmer.files.uploads(row.name):
                    self.engine.put_files(row.name, cfg.content_dir, tar)
        except (TimeoutError, ContainerPokerError) as exc:
            event = {"kind": "recovery_failed", "runtime": row.runtime, "container": row.name}
            event |= {"owner": row.owner, "detail": str(exc)[:500]}
            # Back to the node it was lost on: the next pass moves it again, files included.
            where = {"node": row.node, "host_port": row.host_port} if node != row.node else {}
            self.rows.move(
                row.id, (ASSIGNED, FAILED), event, state=FAILED, updated_at=time.time(), **where
            )
            return False
        moved = node != row.node
        where = f"moved to {node}, port {port}" if moved else f"port {port}"
        event = {
            "kind": "moved" if moved else "recovered" if reason == "reconcile" else "reset",
            "runtime": row.runtime,
            "container": row.name,
            "owner": row.owner,
            "detail": f"{where}, files kept",
        }
        kept = self.rows.move(
            row.id,
            (ASSIGNED, FAILED),
            event,
            state=ASSIGNED,
            docker_id=docker_id,
            node=node,
            host_port=port,
            stopped=0,
            updated_at=time.time(),
            replacements=row.replacements + 1,
        )
        if not kept:  # released while we replaced it: finish the release
            self.engine.remove_container(row.name)
        return bool(kept)

    def _port_elsewhere(self, row, cfg) -> tuple[str, int]:
        """A node that may run the runtime and a free port there, taken in the store at once
        (a refill running meanwhile would otherwise pick the same port); the row's own node
        and port when there is none."""
        for _ in range(5):
            moved = self.warmer.candidates(cfg, 1, row.owner)
            if not moved:
                break
            node, port = moved[0]["node"], moved[0]["host_port"]
            # Taken in the store before the container exists. None: another row has that port.
            if self.rows.move(row.id, (ASSIGNED, FAILED), node=node, host_port=port) is not None:
                return node, port  # ours, or the row was released meanwhile (finished below)
        return row.node, row.host_port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True

"""The watcher's bookkeeping between Docker's events and reconcile, on a fake pool (pure logic:
the real engine's side is tests/integration/test_monitor.py)."""

from __future__ import annotations

import queue
import threading
import time

from containerpoker import monitor as monitor_module
from containerpoker.engine import EngineEvent
from containerpoker.monitor import _DISCONNECTED, Monitor
from containerpoker.pool import ReconcileReport


class FakePool:
    """Records each reconcile; ``script`` says what the next ones report per name."""

    def __init__(self, script: list[dict[str, str]] | None = None) -> None:
        self.calls: list[tuple[float, set[str]]] = []
        self.script = list(script or [])

    def reconcile(self, *, only=None, refill=True) -> ReconcileReport:
        self.calls.append((time.time(), set(only)))
        outcome = self.script.pop(0) if self.script else {}
        report = ReconcileReport()
        for name in only:
            if outcome.get(name) == "replaced":
                report.replaced.append(name)
            elif outcome.get(name) == "failed":
                report.failed.append(name)
        return report


class FakePlatform:
    """What the watcher's loop uses of a platform: its pool."""

    def __init__(self, pool: FakePool) -> None:
        self.pool = pool


def event(name: str, action: str = "die") -> EngineEvent:
    return EngineEvent(name, action)


def follow(pool: FakePool, feed, seconds: float, tmp_path) -> list[str]:
    """Run the watcher's loop for ``seconds`` while ``feed(put)`` sends events."""
    said: list[str] = []
    watcher = Monitor(FakePlatform(pool), say=said.append, log_path=tmp_path / "recovery.log")
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    runner = threading.Thread(target=watcher._follow, args=(events, stop, 0.05))
    runner.start()
    try:
        feed(events.put)
        time.sleep(seconds)
    finally:
        stop.set()
        events.put(_DISCONNECTED)
        runner.join(5)
    assert not runner.is_alive()
    return said


def test_a_failed_attempts_own_events_do_not_undo_the_back_off(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "RECHECK_AFTER", 60.0)
    pool = FakePool([{"a": "failed"}, {"a": "replaced"}])

    def feed(put):
        put(event("a"))
        time.sleep(0.3)
        # The failed attempt removed its container: Docker reports that destroy.
        put(event("a", "destroy"))

    follow(pool, feed, 2.4, tmp_path)
    calls = [at for at, _ in pool.calls]
    # Only the first attempt and the retry 2 s later, not a third one right after the destroy.
    assert len(calls) == 2 and 1.8 <= calls[1] - calls[0] <= 2.6, calls


def test_a_death_right_after_a_quiet_recheck_is_handled(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "RECHECK_AFTER", 0.2)
    pool = FakePool([{"a": "replaced"}, {}, {"a": "replaced"}])

    def feed(put):
        put(event("a"))
        time.sleep(0.6)  # replaced, then rechecked (nothing to do)
        put(event("a"))  # killed again

    said = follow(pool, feed, 0.6, tmp_path)
    assert [names for _, names in pool.calls][:3] == [{"a"}, {"a"}, {"a"}], said
    assert sum("[watch] replaced: a" in line for line in said) == 2, said


def test_a_failed_replacement_is_retried_with_a_growing_delay(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "RECHECK_AFTER", 60.0)
    pool = FakePool([{"a": "failed"}, {"a": "failed"}, {"a": "replaced"}])
    started = time.time()
    said = follow(pool, lambda put: put(event("a")), 6.6, tmp_path)
    moments = [round(at - started, 1) for at, _ in pool.calls]
    assert len(moments) == 3, (moments, said)
    # First at once, then 2 s later, then 4 s after that; nothing once it worked.
    assert 1.8 <= moments[1] - moments[0] <= 2.6 and 3.8 <= moments[2] - moments[1] <= 4.6
    assert "[watch-retry] replaced: a" in said[-1]


def test_an_unexpected_error_is_retried_not_fatal(tmp_path, monkeypatch):
    monkeypatch.setattr(monitor_module, "RECHECK_AFTER", 60.0)

    class Busy(FakePool):
        def reconcile(self, *, only=None, refill=True):
            if not self.calls:
                self.calls.append((time.time(), set(only)))
                raise RuntimeError("database is locked")
            return super().reconcile(only=only)

    pool = Busy([{"a": "replaced"}])
    said = follow(pool, lambda put: put(event("a")), 2.6, tmp_path)
    assert len(pool.calls) == 2 and "database is locked" in said[0], said
    assert "[watch-retry] replaced: a" in said[-1]

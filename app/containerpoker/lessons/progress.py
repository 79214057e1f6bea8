"""Who ran which lesson and got how far in its challenge: the learner's own view, and the
instructor's class view (who is where, and which check people are stuck on).

Rounds of checks run every few seconds while a challenge page is open; a round writes only
when something changed (a check passed for the first time, or the learner is stuck on
another check), and otherwise at most every :data:`TOUCH_EVERY` seconds.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)

from ..store import Store, metadata
from .challenge import CheckResult

TOUCH_EVERY = 30.0  # seconds between writes of "last checked" alone

# The store's tables of the classroom (migration 0004_lesson_progress): each lesson run, and each learner's way through each
# lesson's challenge, for the learner's own page and the instructor's class view.
lesson_runs = Table(
    "lesson_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False),
    Column("lesson", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=True),
    Column("ok", Integer, nullable=True),  # NULL: still running, or the page went away
    Column("detail", Text, nullable=True),
    Index("ix_lesson_runs_username", "username", "lesson"),
)

challenge_progress = Table(
    "challenge_progress",
    metadata,
    Column("username", String(32), primary_key=True),
    Column("lesson", Integer, primary_key=True),
    Column("opened_at", Float, nullable=False),
    Column("last_checked_at", Float, nullable=True),
    Column("passed_at", Float, nullable=True),  # when every check passed, the first time
    Column("checks_passed", Integer, nullable=False, server_default="0"),
    # The first check not passed yet in the last round (NULL: none checked, or all passed).
    Column("stuck_on", Integer, nullable=True),
)

challenge_checks = Table(
    "challenge_checks",
    metadata,
    Column("username", String(32), primary_key=True),
    Column("lesson", Integer, primary_key=True),
    Column("check_index", Integer, primary_key=True),
    Column("passed_at", Float, nullable=False),  # the first time it passed
)


class LessonProgress:
    """Lesson runs and challenge progress, in the platform's store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        # (username, lesson) -> (stuck_on, passed indexes, last write): what the store holds.
        self._known: dict[tuple[str, int], tuple[int | None, frozenset[int], float]] = {}

    # -- lesson runs ---------------------------------------------------------------------

    def run_started(self, username: str, lesson: int) -> int:
        with self.store.write() as conn:
            found = conn.execute(
                insert(lesson_runs).values(username=username, lesson=lesson, started_at=time.time())
            )
            return int(found.inserted_primary_key[0])

    def run_finished(self, run_id: int, ok: bool | None, detail: str = "") -> None:
        with self.store.write() as conn:
            conn.execute(
                update(lesson_runs)
                .where(lesson_runs.c.id == run_id)
                .values(finished_at=time.time(), ok=None if ok is None else int(ok), detail=detail)
            )

    # -- challenges ----------------------------------------------------------------------

    def challenge_opened(self, username: str, lesson: int) -> None:
        """The learner opened the challenge (the first time counts)."""
        with self.store.write() as conn:
            found = conn.execute(
                select(challenge_progress.c.opened_at).where(
                    challenge_progress.c.username == username, challenge_progress.c.lesson == lesson
                )
            ).first()
            if found is None:
                conn.execute(
                    insert(challenge_progress).values(
                        username=username, lesson=lesson, opened_at=time.time()
                    )
                )

    def checked(self, username: str, lesson: int, results: list[CheckResult]) -> bool:
        """Record one round of checks; True when this round passed the whole challenge for the
        first time."""
        now = time.time()
        passed = frozenset(r.index for r in results if r.passed)
        pending = [r.index for r in results if not r.passed]
        stuck_on = pending[0] if pending else None
        key = (username, lesson)
        with self._lock:
            known = self._known.get(key)
        if known is not None and known[:2] == (stuck_on, passed) and now - known[2] < TOUCH_EVERY:
            return False
        first_pass = False
        with self.store.write() as conn:
            row = conn.execute(
                select(challenge_progress).where(
                    challenge_progress.c.username == username, challenge_progress.c.lesson == lesson
                )
            ).first()
            if row is None:
                conn.execute(
                    insert(challenge_progress).values(
                        username=username, lesson=lesson, opened_at=now
                    )
                )
            already = {
                r.check_index
                for r in conn.execute(
                    select(challenge_checks.c.check_index).where(
                        challenge_checks.c.username == username, challenge_checks.c.lesson == lesson
                    )
                )
            }
            for index in sorted(passed - already):
                conn.execute(
                    insert(challenge_checks).values(
                        username=username, lesson=lesson, check_index=index, passed_at=now
                    )
                )
            values = {"last_checked_at": now, "checks_passed": len(passed), "stuck_on": stuck_on}
            if not pending and (row is None or row.passed_at is None):
                values["passed_at"] = now
                first_pass = True
            conn.execute(
                update(challenge_progress)
                .where(
                    challenge_progress.c.username == username, challenge_progress.c.lesson == lesson
                )
                .values(**values)
            )
        with self._lock:
            self._known[key] = (stuck_on, passed, now)
        return first_pass

    # -- what the pages and the API show ------------------------------------------------

    def of_user(self, username: str) -> dict[int, dict]:
        """Per lesson: runs (count, passed, last), and the challenge's state."""
        table: dict[int, dict] = {}

        def entry(lesson: int) -> dict:
            return table.setdefault(
                lesson,
                {"lesson": lesson, "runs": 0, "runs_ok": 0, "last_run_at": None, "challenge": None},
            )

        with self.store.read() as conn:
            for run in conn.execute(
                select(lesson_runs).where(lesson_runs.c.username == username)
            ).all():
                item = entry(run.lesson)
                item["runs"] += 1
                item["runs_ok"] += int(run.ok == 1)
                item["last_run_at"] = max(item["last_run_at"] or 0, run.started_at)
            checks: dict[int, dict[int, float]] = {}
            for check in conn.execute(
                select(challenge_checks).where(challenge_checks.c.username == username)
            ).all():
                checks.setdefault(check.lesson, {})[check.check_index] = check.passed_at
            for row in conn.execute(
                select(challenge_progress).where(challenge_progress.c.username == username)
            ).all():
                entry(row.lesson)["challenge"] = {
                    "opened_at": row.opened_at,
                    "last_checked_at": row.last_checked_at,
                    "passed_at": row.passed_at,
                    "checks_passed": row.checks_passed,
                    "stuck_on": row.stuck_on,
                    "checks_first_passed_at": {
                        str(i): at for i, at in sorted(checks.get(row.lesson, {}).items())
                    },
                }
        return dict(sorted(table.items()))

    def class_view(self) -> dict:
        """Everyone's progress: per learner, where they are; per lesson, who passed, who is
        working on it, and on which check those not done are stuck."""
        with self.store.read() as conn:
            runs = conn.execute(select(lesson_runs)).all()
            rows = conn.execute(select(challenge_progress)).all()
        learners: dict[str, dict] = {}

        def learner(name: str) -> dict:
            return learners.setdefault(
                name,
                {
                    "username": name,
                    "lessons_run": set(),
                    "challenges_passed": [],
                    "working_on": None,
                    "last_active_at": 0.0,
                },
            )

        for run in runs:
            item = learner(run.username)
            item["lessons_run"].add(run.lesson)
            item["last_active_at"] = max(item["last_active_at"], run.finished_at or run.started_at)
        lessons: dict[int, dict] = {}
        for row in rows:
            item = learner(row.username)
            at = row.last_checked_at or row.opened_at
            summary = lessons.setdefault(
                row.lesson, {"lesson": row.lesson, "opened": 0, "passed": 0, "stuck_on": {}}
            )
            summary["opened"] += 1
            if row.passed_at is not None:
                item["challenges_passed"].append(row.lesson)
                summary["passed"] += 1
            else:
                if at >= item["last_active_at"]:
                    item["working_on"] = {
                        "lesson": row.lesson,
                        "stuck_on": row.stuck_on,
                        "checks_passed": row.checks_passed,
                        "since": row.opened_at,
                    }
                if row.stuck_on is not None:
                    key = str(row.stuck_on)
                    summary["stuck_on"][key] = summary["stuck_on"].get(key, 0) + 1
            item["last_active_at"] = max(item["last_active_at"], at)
        for item in learners.values():
            item["lessons_run"] = sorted(item["lessons_run"])
            item["challenges_passed"] = sorted(item["challenges_passed"])
        return {
            "learners": sorted(learners.values(), key=lambda i: i["username"]),
            "lessons": [lessons[n] for n in sorted(lessons)],
        }

    def forget(self, username: str) -> None:
        """Remove a user's progress (their account is deleted)."""
        with self.store.write() as conn:
            for table in (lesson_runs, challenge_progress, challenge_checks):
                conn.execute(delete(table).where(table.c.username == username))
        with self._lock:
            for key in [k for k in self._known if k[0] == username]:
                del self._known[key]

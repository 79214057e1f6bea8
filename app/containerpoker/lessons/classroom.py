"""The classroom's use cases: open a lesson's challenge on the learner's own engine, check it,
leave it, and the progress that results, for the portal and the CLI alike."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config import Settings
from ..errors import InvalidRequest, NotFound
from ..store import Store
from .challenge import Challenge, CheckResult, run_locally
from .framework import Lesson, docker_client, find, lessons
from .progress import LessonProgress
from .sandbox import ExecShell, LearnerEngine, LearnerEngines


def challenge_of(ref: int | str) -> tuple[Lesson, Challenge]:
    lesson = find(ref)
    if lesson.challenge is None:  # every shipped lesson has one; an edited one may not
        raise InvalidRequest(f"Lesson {lesson.number} has no challenge.")
    return lesson, lesson.challenge


def results_payload(lesson: Lesson, results: list[CheckResult]) -> dict:
    return {
        "lesson": lesson.number,
        "passed": all(r.passed for r in results),
        "checks": [r.as_dict() for r in results],
    }


class Classroom:
    """Learner engines and progress, behind the few things a learner and a teacher do."""

    def __init__(self, settings: Settings, store: Store, labels: Callable[[], dict]) -> None:
        self.settings = settings
        self.progress = LessonProgress(store)
        self.engines = LearnerEngines(settings, lambda: docker_client(settings), labels)

    def open_challenge(self, owner: str, ref: int | str) -> dict:
        """The learner's engine (started or taken from the warm pool) and a first round of
        checks; the challenge counts as opened."""
        lesson, challenge = challenge_of(ref)
        engine = self.engines.open(owner)
        self.progress.challenge_opened(owner, lesson.number)
        results = engine.check(challenge)
        self.progress.checked(owner, lesson.number, results)
        return results_payload(lesson, results) | {
            "engine": engine.name,
            "ready_seconds": round(engine.ready_seconds, 2),
        }

    def engine_of(self, owner: str) -> LearnerEngine:
        engine = self.engines.get(owner)
        if engine is None:
            raise NotFound(
                "You have no engine open: open the challenge first (its page starts one)."
            )
        return engine

    def check(self, owner: str, ref: int | str) -> dict:
        """One round of the challenge's checks on the learner's engine, recorded."""
        lesson, challenge = challenge_of(ref)
        engine = self.engine_of(owner)
        engine.last_seen = time.time()  # checking is being there: the idle clock restarts
        results = engine.check(challenge)
        first_pass = self.progress.checked(owner, lesson.number, results)
        return results_payload(lesson, results) | {"just_passed": first_pass}

    def shell(self, owner: str, term: str) -> tuple[LearnerEngine, ExecShell]:
        engine = self.engine_of(owner)
        return engine, engine.shell(term)

    def leave(self, owner: str) -> bool:
        return self.engines.close(owner)

    @staticmethod
    def check_here(ref: int | str) -> dict:
        """One round of checks on this machine's own engine (the CLI, on a learner's machine)."""
        lesson, challenge = challenge_of(ref)
        return results_payload(lesson, run_locally(challenge))

    def my_progress(self, owner: str) -> dict[int, dict]:
        """The learner's own progress, per lesson (every lesson listed)."""
        mine = self.progress.of_user(owner)
        table = {}
        for number, lesson in lessons().items():
            empty = {"lesson": number, "runs": 0, "runs_ok": 0, "last_run_at": None}
            table[number] = mine.get(number, empty | {"challenge": None})
            table[number]["title"] = lesson.title
            table[number]["checks"] = len(lesson.challenge.checks) if lesson.challenge else 0
        return table

    def class_view(self) -> dict:
        """Everyone's progress, with the lessons' titles and the names of the checks people
        are stuck on (:meth:`LessonProgress.class_view`)."""
        view = self.progress.class_view()
        table = lessons()

        def check_title(number: int, index: int | None) -> str | None:
            challenge = table[number].challenge if number in table else None
            if index is None or challenge is None or index >= len(challenge.checks):
                return None
            return challenge.checks[index].title

        for item in view["lessons"]:
            number = item["lesson"]
            item["title"] = table[number].title if number in table else f"lesson {number}"
            item["stuck_on"] = [
                {"index": int(i), "check": check_title(number, int(i)), "learners": count}
                for i, count in sorted(item["stuck_on"].items(), key=lambda kv: -kv[1])
            ]
        for learner in view["learners"]:
            working = learner["working_on"]
            if working is not None:
                working["check"] = check_title(working["lesson"], working["stuck_on"])
        return view

    def close(self) -> None:
        self.engines.close_all()

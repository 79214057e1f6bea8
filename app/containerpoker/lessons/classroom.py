"""The classroom's use cases: open a lesson's challenge on the learner's own engine, check it,
leave it, and the progress that results, for the portal and the CLI alike."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..config import Settings
from ..errors import InvalidRequest, NotFound
from ..store import Store
from .challenge import Challenge, CheckResult, run_locally
from .framework import Lesson, docker_client, find
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

    def close(self) -> None:
        self.engines.close_all()

"""Each lesson's wall time, with the images present, and all of them together.

    uv run python bench/lessons.py

Target (issue 4): all eight lessons together in 60 s or less.  Lessons not
written yet are listed as missing, not counted.  Everything a lesson creates
carries its labels and ``containerpoker.bench``, and is removed by the lesson.
Every lesson container runs within the lessons' default bounds (printed first):
the figures depend on its CPU share.
"""

from __future__ import annotations

import time

from _common import BENCH_TAG, cleanup  # bench/ is on sys.path
from containerpoker.config import load_settings
from containerpoker.lessons import lessons, run_lesson
from containerpoker.lessons.framework import LessonBounds


def main() -> int:
    settings = load_settings(
        env={
            "CONTAINERPOKER_EXTRA_LABELS": BENCH_TAG,
            "CONTAINERPOKER_ENV_FILE": "/nonexistent",
        }
    )
    bounds = LessonBounds()
    print(
        f"  each lesson container: {bounds.memory} memory, {bounds.cpus} CPU, "
        f"{bounds.pids} processes\n"
    )
    total = 0.0
    failed = []
    try:
        for number in range(1, 9):
            lesson = lessons().get(number)
            if lesson is None:
                print(f"  flow {number}: missing (not written yet)")
                continue
            start = time.perf_counter()
            try:
                steps = list(run_lesson(number, {}, settings=settings))
                ok = all(s.ok for s in steps)
            except Exception as exc:  # noqa: BLE001 - reported, the bench goes on
                ok, steps = False, []
                print(f"  flow {number}: FAILED: {exc}")
            took = time.perf_counter() - start
            total += took
            if not ok:
                failed.append(number)
            print(f"  flow {number} {lesson.title:38} {took:6.1f} s  ({len(steps)} steps)")
    finally:
        cleanup()
    written = len(lessons())
    print(f"\nall {written} written lessons: {total:.1f} s (target for all eight: <= 60 s)")
    print(
        f"  [{'met' if total <= 60 and written == 8 else 'MISSED' if written == 8 else 'partial'}] "
        f"{written}/8 lessons written, {total:.1f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

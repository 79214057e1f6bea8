"""A lesson run as the platform hands it out: its steps, holding one of the platform's lesson
slots (``LESSON_CONCURRENCY``) until the run ends, and telling progress how it ended."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)


class LessonRun:
    """A lesson's steps, holding one of the platform's lesson slots until the run ends: when
    its steps run out, fail, or the caller closes it (a page that went away)."""

    def __init__(
        self,
        steps: Iterator,
        slot: threading.BoundedSemaphore,
        on_end: Callable[[bool | None, str], None] | None = None,
    ) -> None:
        self._steps = steps
        self._slot = slot
        self._open = True
        self._on_end = on_end  # (passed: None when the page went away first, detail)

    def __iter__(self) -> LessonRun:
        return self

    def __next__(self):
        try:
            return next(self._steps)
        except StopIteration:
            self._ended(True, "")
            self.close()
            raise
        except BaseException as exc:
            self._ended(False, str(exc)[:500])
            self.close()
            raise

    def _ended(self, passed: bool | None, detail: str) -> None:
        if self._on_end is not None:
            callback, self._on_end = self._on_end, None
            try:
                callback(passed, detail)
            except Exception:  # noqa: BLE001 - progress is not worth failing a lesson for
                log.exception("Could not record the end of a lesson run")

    def close(self) -> None:
        if self._open:
            self._open = False
            self._ended(None, "stopped before the end")
            try:
                self._steps.close()  # the lesson cleans up
            finally:
                self._slot.release()

    __del__ = close

"""Editing a lesson's code from the browser, in development mode.

Saving writes the lesson's own file, whole or not at all: the text is compiled and loaded as
a module first (a syntax error comes back with its line, and a lesson that lacks what a
lesson declares is refused), then written to a temporary file beside it and renamed over it.
The next run loads the new version (:func:`~.framework.lessons` reloads a changed file). The
shipped version is copied aside before the first save, so "Restore original" can bring it
back.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import types
from pathlib import Path

from ..errors import InvalidRequest
from .framework import find, lesson_from

MAX_SOURCE = 200_000  # characters


class LessonCodeError(InvalidRequest):
    """The edited code cannot be a lesson; nothing was saved."""

    code = "lesson_code"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class LessonEditor:
    """Read, save and restore the lessons' files; originals kept in ``originals``."""

    def __init__(self, originals: Path) -> None:
        self.originals = originals

    def _paths(self, ref: int | str) -> tuple[int, Path, Path]:
        lesson = find(ref)
        path = Path(lesson.source)
        return lesson.number, path, self.originals / path.name

    def source(self, ref: int | str) -> dict:
        number, path, original = self._paths(ref)
        return {"lesson": number, "source": path.read_text(), "edited": original.exists()}

    def save(self, ref: int | str, text: str) -> dict:
        """Check ``text`` as a lesson, then write it in one step; :class:`LessonCodeError`
        (nothing written) when it is not one."""
        number, path, original = self._paths(ref)
        if len(text) > MAX_SOURCE:
            raise LessonCodeError(f"A lesson is at most {MAX_SOURCE} characters; nothing saved.")
        check_lesson_code(text, path)
        if not original.exists():  # the first edit: keep the shipped version
            self.originals.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, original)
        write_whole(path, text)
        return {"lesson": number, "saved": True, "edited": True}

    def restore(self, ref: int | str) -> dict:
        """Bring back the shipped version; False in ``restored`` when it was not edited."""
        number, path, original = self._paths(ref)
        if not original.exists():
            return {"lesson": number, "restored": False, "edited": False}
        write_whole(path, original.read_text())
        original.unlink()
        return {"lesson": number, "restored": True, "edited": False}


def check_lesson_code(text: str, path: Path) -> None:
    """Compile and load ``text`` as the module at ``path``, apart from the running one."""
    try:
        code = compile(text, str(path), "exec")
    except SyntaxError as exc:
        raise LessonCodeError(
            f"Line {exc.lineno}: {exc.msg}. Nothing was saved: the lesson still runs the code "
            "it had.",
            line=exc.lineno,
        ) from None
    module_name = f"{__package__}.{path.stem}"
    trial = types.ModuleType(module_name)
    trial.__file__ = str(path)
    trial.__package__ = __package__
    try:
        exec(code, trial.__dict__)  # noqa: S102 - the developer's own lesson, in dev mode only
        lesson_from(trial)
    except Exception as exc:  # noqa: BLE001 - any failure to load: shown, nothing saved
        line = _line_of(exc, str(path))
        where = f"Line {line}: " if line else ""
        raise LessonCodeError(
            f"{where}{type(exc).__name__}: {exc}. Nothing was saved: the lesson still runs "
            "the code it had.",
            line=line,
        ) from None


def _line_of(exc: BaseException, filename: str) -> int | None:
    found = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == filename:
            found = trace.tb_lineno
        trace = trace.tb_next
    return found


def write_whole(path: Path, text: str) -> None:
    """Write ``path`` in one step: a reader sees the old file or the new one, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""What a lesson edited in the page must be before it is saved (pure logic: no file of the
checkout is written; the browser test edits a copy)."""

from __future__ import annotations

from pathlib import Path

import pytest

import containerpoker.lessons.flow1_hello as flow1
from containerpoker.lessons.editing import LessonCodeError, check_lesson_code, write_whole

SHIPPED = Path(flow1.__file__)


def test_the_shipped_lesson_passes():
    check_lesson_code(SHIPPED.read_text(), SHIPPED)


def test_a_syntax_error_names_its_line():
    lines = SHIPPED.read_text().splitlines()
    lines.insert(30, "def broken(:")
    with pytest.raises(LessonCodeError) as raised:
        check_lesson_code("\n".join(lines), SHIPPED)
    assert raised.value.line == 31
    assert raised.value.message.startswith("Line 31: ")
    assert "Nothing was saved" in raised.value.message


def test_a_lesson_that_fails_to_load_is_refused_with_its_line():
    text = SHIPPED.read_text() + "\nundefined_name + 1\n"
    with pytest.raises(LessonCodeError) as raised:
        check_lesson_code(text, SHIPPED)
    assert "NameError" in raised.value.message
    assert raised.value.line == len(text.splitlines())


def test_a_lesson_without_its_challenge_is_refused():
    text = SHIPPED.read_text().split("\nCHALLENGE = ")[0]
    with pytest.raises(LessonCodeError, match="defines no CHALLENGE"):
        check_lesson_code(text, SHIPPED)


def test_write_whole_replaces_in_one_step(tmp_path):
    target = tmp_path / "lesson.py"
    target.write_text("old")
    write_whole(target, "new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["lesson.py"]  # no temporary file left

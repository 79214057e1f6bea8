"""The classroom: eight lessons, each one orchestration pattern with real containers.

A lesson is a module ``flowN_<slug>.py`` that starts with a ``LEARNING GOAL``
docstring, declares its parameters (:class:`Param`) and defines
``run(lab, params)``, a generator of narrated :class:`Step` objects: the idea
in a sentence or two, the exact Docker call made, and what came back.

:func:`run_lesson` validates the parameters, gives the lesson a
:class:`Lab` (a Docker client whose objects all carry the lesson's labels)
and removes everything the run created in ``finally``, even when the lesson
fails or is interrupted.  Lessons never touch pool containers.
"""

from __future__ import annotations

from .framework import Lab, Lesson, LessonFailed, Param, Step, lessons, run_lesson, validate

__all__ = ["Lab", "Lesson", "LessonFailed", "Param", "Step", "lessons", "run_lesson", "validate"]

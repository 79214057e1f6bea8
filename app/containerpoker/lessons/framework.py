"""Lesson plumbing: parameters, narrated steps, labelled objects, guaranteed clean-up."""

from __future__ import annotations

import importlib
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound

from ..config import Settings
from ..errors import ContainerPokerError, EngineUnavailable, InvalidRequest

LESSON_MODULES = [
    "flow1_hello",
    "flow2_shell",
    "flow3_pexpect",
    "flow4_dependencies",
    "flow5_logs",
    "flow6_health",
    "flow7_networking",
    "flow8_volumes",
]

_SAFE_TEXT = re.compile(r"^[A-Za-z0-9 _.,:@/+=-]*$")


class LessonFailed(ContainerPokerError):
    """A lesson's own check failed; the message says which and why."""

    code = "lesson_failed"


@dataclass(frozen=True)
class Param:
    """One lesson parameter: validated before anything is created."""

    name: str
    type: type
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None

    def parse(self, raw: object) -> Any:
        where = f"Parameter {self.name!r}"
        if self.type is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise InvalidRequest(f"{where} is true or false, not {str(raw)[:40]!r}.")
        if self.type in (int, float):
            try:
                value = self.type(str(raw).strip())
            except ValueError:
                kind = "a whole number" if self.type is int else "a number"
                raise InvalidRequest(f"{where} must be {kind}, not {str(raw)[:40]!r}.") from None
            if (self.min is not None and value < self.min) or (
                self.max is not None and value > self.max
            ):
                raise InvalidRequest(f"{where} must be between {self.min} and {self.max}.")
            return value
        text = str(raw)
        if self.choices and text not in self.choices:
            raise InvalidRequest(f"{where} must be one of {', '.join(map(str, self.choices))}.")
        if len(text) > 200 or not _SAFE_TEXT.match(text):
            raise InvalidRequest(
                f"{where} may use letters, digits, spaces and . , : @ / + = - _ only "
                "(at most 200): no shell metacharacters."
            )
        return text

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type.__name__,
            "default": self.default,
            "help": self.help,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
        }


@dataclass
class Step:
    """One narrated step: what we do, why, the exact call, what came back."""

    title: str
    idea: str
    call: str = ""
    result: str = ""
    ok: bool = True

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "idea": self.idea,
            "call": self.call,
            "result": self.result,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Lesson:
    number: int
    slug: str
    title: str
    category: str
    goal: str
    params: tuple[Param, ...]
    run: Callable[[Lab, dict], Iterator[Step]]
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "name": self.slug,
            "title": self.title,
            "category": self.category,
            "goal": self.goal,
            "params": [p.as_dict() for p in self.params],
        }


@dataclass
class Lab:
    """A Docker client for one lesson run: names, labels and clean-up.

    Every container, network and volume made through :meth:`labels` carries
    ``containerpoker.role=lesson``, the lesson's number and this run's id, so
    :meth:`cleanup` finds all of it, whatever happened in between.
    """

    client: docker.DockerClient
    lesson: int
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    extra_labels: dict[str, str] = field(default_factory=dict)

    def name(self, what: str) -> str:
        return f"cp-lesson{self.lesson}-{self.run_id}-{what}"

    def labels(self) -> dict[str, str]:
        return {
            "containerpoker.role": "lesson",
            "containerpoker.lesson": str(self.lesson),
            "containerpoker.run": self.run_id,
            **self.extra_labels,
        }

    def _filter(self) -> dict:
        return {"label": [f"containerpoker.run={self.run_id}", "containerpoker.role=lesson"]}

    def leftovers(self) -> list[str]:
        """Every object of this run still in Docker (empty after :meth:`cleanup`)."""
        found = [c.name for c in self.client.containers.list(all=True, filters=self._filter())]
        found += [n.name for n in self.client.networks.list(filters=self._filter())]
        found += [v.name for v in self.client.volumes.list(filters=self._filter())]
        return found

    def cleanup(self) -> list[str]:
        """Remove this run's containers, then its networks and volumes."""
        removed = []
        for container in self.client.containers.list(all=True, filters=self._filter()):
            try:
                container.remove(force=True)
                removed.append(container.name)
            except NotFound:
                pass
        for network in self.client.networks.list(filters=self._filter()):
            try:
                network.remove()
                removed.append(network.name)
            except NotFound:
                pass
        for volume in self.client.volumes.list(filters=self._filter()):
            for _ in range(20):  # a just-removed container may hold it for a moment
                try:
                    volume.remove(force=True)
                    removed.append(volume.name)
                    break
                except NotFound:
                    break
                except APIError:
                    time.sleep(0.1)
        return removed


def _load() -> dict[int, Lesson]:
    found: dict[int, Lesson] = {}
    for module_name in LESSON_MODULES:
        module = importlib.import_module(f"{__package__}.{module_name}")
        doc = module.__doc__ or ""
        if "LEARNING GOAL" not in doc:
            raise RuntimeError(f"lesson {module_name} has no LEARNING GOAL docstring")
        goal = doc.split("LEARNING GOAL", 1)[1].lstrip(": \n").split("\n\n")[0]
        number = int(module_name.removeprefix("flow").split("_")[0])
        found[number] = Lesson(
            number=number,
            slug=module_name.split("_", 1)[1],
            title=module.TITLE,
            category=module.CATEGORY,
            goal=" ".join(goal.split()),
            params=tuple(module.PARAMS),
            run=module.run,
            source=module.__file__ or "",
        )
    return dict(sorted(found.items()))


_LESSONS: dict[int, Lesson] | None = None


def lessons() -> dict[int, Lesson]:
    """Every lesson, by number."""
    global _LESSONS
    if _LESSONS is None:
        _LESSONS = _load()
    return _LESSONS


def find(ref: int | str) -> Lesson:
    table = lessons()
    text = str(ref).strip()
    for lesson in table.values():
        if text in (str(lesson.number), lesson.slug, f"flow{lesson.number}"):
            return lesson
    known = ", ".join(f"{n} ({lesson.slug})" for n, lesson in table.items())
    raise InvalidRequest(f"There is no lesson {text[:40]!r}: choose one of {known}.")


def validate(lesson: Lesson, raw: dict[str, object]) -> dict[str, Any]:
    """The lesson's parameters from ``raw`` (unknown names refused), defaults filled in."""
    names = {p.name: p for p in lesson.params}
    unknown = sorted(set(raw) - set(names))
    if unknown:
        allowed = ", ".join(names) or "none"
        raise InvalidRequest(
            f"Lesson {lesson.number} has no parameter {unknown[0]!r}; its parameters: {allowed}."
        )
    return {name: (p.parse(raw[name]) if name in raw else p.default) for name, p in names.items()}


def docker_client(settings: Settings | None) -> docker.DockerClient:
    try:
        if settings is not None and settings.docker_host:
            client = docker.DockerClient(base_url=settings.docker_host, version="auto")
        else:
            client = docker.from_env(version="auto")
        client.ping()
        return client
    except DockerException as exc:
        raise EngineUnavailable(
            f"Docker is not reachable ({exc}) — is the engine running? Try `make engine`."
        ) from None


def run_lesson(
    ref: int | str,
    raw_params: dict[str, object] | None = None,
    *,
    settings: Settings | None = None,
    client: docker.DockerClient | None = None,
) -> Iterator[Step]:
    """Run a lesson, yielding its narrated steps; everything it made is removed at the end.

    A failed check raises :class:`LessonFailed` after the clean-up step.
    """
    lesson = find(ref)
    params = validate(lesson, raw_params or {})
    own_client = client is None
    client = client or docker_client(settings)
    lab = Lab(client, lesson.number, extra_labels=dict(settings.extra_labels) if settings else {})
    finished = False
    try:
        yield from lesson.run(lab, params)
        finished = True
    finally:  # also on failure, Ctrl-C, or a consumer that stops reading (GeneratorExit)
        removed = lab.cleanup()
        if own_client:
            client.close()
    if finished:
        yield Step(
            "Clean up",
            "Everything this run created carries its labels, so it can all be found and "
            "removed, even after a failure.",
            f"remove every container, network and volume labelled containerpoker.run={lab.run_id}",
            ", ".join(removed) if removed else "nothing was left",
        )

"""Lesson plumbing: parameters, narrated steps, labelled and bounded objects, guaranteed
clean-up, and the waiting and platform workarounds, so that the lessons need none of their own."""

from __future__ import annotations

import importlib
import queue
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import docker
import docker.tls
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from docker.types import LogConfig

from ..config import Settings
from ..engine import cgroups
from ..errors import ContainerPokerError, EngineUnavailable, InvalidRequest
from .challenge import Challenge

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
# The Unix time after which the platform's sweep may remove a lesson's object.
EXPIRES_LABEL = "containerpoker.expires"


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
    challenge: Challenge | None = None

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "name": self.slug,
            "title": self.title,
            "category": self.category,
            "goal": self.goal,
            "params": [p.as_dict() for p in self.params],
            "challenge": self.challenge.as_dict() if self.challenge else None,
        }


@dataclass(frozen=True)
class LessonBounds:
    """What one lesson container may use at most, and how long a lesson's objects may live.

    Any registered user can start a lesson, and all of them share one machine: without
    bounds, one container could take all the memory, the CPU or the process table, fill
    the disk with logs, or outlive its lesson.  These are the defaults; give a
    :class:`Lab` other ones with ``bounds=``.
    """

    memory: str = "128m"  # RAM, with no swap on top
    cpus: float = 0.5  # share of one CPU
    pids: int = 128  # processes and threads
    log_max_size: str = "1m"  # per log file
    log_max_file: int = 2  # log files kept
    lifetime: int = 900  # seconds before the platform's sweep may remove what is left


@dataclass
class Lab:
    """A Docker client for one lesson run: names, labels, bounds and clean-up.

    Every container, network and volume made through :meth:`labels` carries
    ``containerpoker.role=lesson``, the lesson's number and this run's id, so
    :meth:`cleanup` finds all of it, whatever happened in between, and
    ``containerpoker.expires``, so the platform's sweep removes it even when
    nothing ran :meth:`cleanup` (a crash).  Every container also takes
    :meth:`limits`.
    """

    client: docker.DockerClient
    lesson: int
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    extra_labels: dict[str, str] = field(default_factory=dict)
    bounds: LessonBounds = field(default_factory=LessonBounds)
    expires: int = field(init=False)  # Unix time: now + the bounds' lifetime

    def __post_init__(self) -> None:
        self.expires = int(time.time()) + self.bounds.lifetime

    def name(self, what: str) -> str:
        return f"cp-lesson{self.lesson}-{self.run_id}-{what}"

    def labels(self) -> dict[str, str]:
        return {
            "containerpoker.role": "lesson",
            "containerpoker.lesson": str(self.lesson),
            "containerpoker.run": self.run_id,
            EXPIRES_LABEL: str(self.expires),
            **self.extra_labels,
        }

    def limits(self) -> dict[str, Any]:
        """The keyword arguments that bound a container; pass them to every ``create``/``run``.

        Memory, CPU and processes are capped, every Linux capability is dropped (root in
        the container may then not change file owners, bind low ports, trace processes...),
        no program may gain privileges (setuid), and the logs are rotated.
        """
        return {
            "mem_limit": self.bounds.memory,
            "memswap_limit": self.bounds.memory,  # the same figure: no swap on top
            "nano_cpus": round(self.bounds.cpus * 1e9),
            "pids_limit": self.bounds.pids,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "log_config": LogConfig(
                type="json-file",
                config={
                    "max-size": self.bounds.log_max_size,
                    "max-file": str(self.bounds.log_max_file),
                },
            ),
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


# Waiting, reading and platform workarounds: the lessons call these instead of
# writing their own loops, so that each lesson shows only its idea.


def wait_until(check: Callable[[], bool], timeout: float, interval: float, what: str) -> float:
    """Call ``check`` every ``interval`` seconds until it returns True; the seconds it took.

    Raises :class:`LessonFailed` naming ``what`` ("the app to become healthy") when
    ``timeout`` seconds pass first.
    """
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start >= timeout:
            raise LessonFailed(f"Waited {timeout} s for {what}; it did not happen.")
        time.sleep(interval)


def health(container: Container) -> str:
    """What Docker's health check says now: starting, healthy, unhealthy (or none)."""
    container.reload()
    return container.attrs["State"].get("Health", {}).get("Status", "none")


def wait_for_health(container: Container, status: str, timeout: float, what: str = "") -> float:
    """Wait until the container's health check reports ``status``; the seconds it took.

    A container that exits meanwhile never will: that fails at once, with the end of its log.
    """

    def reached() -> bool:
        if health(container) == status:
            return True
        if container.attrs["State"]["Status"] in ("exited", "dead"):
            log = container.logs().decode(errors="replace")[-300:]
            raise LessonFailed(f"{container.name} exited: {log}")
        return False

    return wait_until(reached, timeout, 0.2, what or f"{container.name} to be {status}")


def read_until(conn: socket.socket, marker: bytes, timeout: float) -> bytes:
    """Read from a socket until ``marker`` arrives; everything read, marker included."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise LessonFailed(
                f"The shell did not print {marker!r} in time; it printed {data[-200:]!r}."
            )
        conn.settimeout(left)
        try:
            chunk = conn.recv(4096)
        except TimeoutError:
            continue  # the deadline has passed: the check above says so
        if not chunk:
            break
        data += chunk
    return data


def items_until(source: queue.Queue, deadline: float) -> Iterator[Any]:
    """Each item put on ``source``, as it arrives, until ``time.monotonic()`` reaches ``deadline``."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        try:
            yield source.get(timeout=left)
        except queue.Empty:
            return


def docker_time(text: str) -> float:
    """A time as Docker writes it (``2024-05-01T12:00:00.123456789Z``, UTC) as Unix time."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    seconds = datetime.fromisoformat(whole).replace(tzinfo=timezone.utc).timestamp()
    if fraction:  # up to nanoseconds, more than datetime holds
        seconds += float(f"0.{fraction}")
    return seconds


@dataclass(frozen=True)
class ResourceUse:
    """A container's memory and process count, and how they were read."""

    memory_bytes: int
    pids: int | None
    call: str  # the command that shows the same numbers
    note: str = ""  # why they were not read the usual way, when they were not


def resource_use(container: Container) -> ResourceUse:
    """What ``docker stats --no-stream`` shows of a container's memory and processes.

    Docker reads these numbers from the kernel's cgroup files.  When its stats come back
    empty (it happens on some cgroup v1 hosts: see :mod:`containerpoker.engine.cgroups`), the
    same files are read directly.  A memory use of 0 means neither worked.
    """
    try:
        stats = container.stats(stream=False)
    except APIError as exc:
        raise LessonFailed(f"Docker did not give stats: {exc}.") from None
    memory = stats.get("memory_stats", {}).get("usage", 0)
    pids = stats.get("pids_stats", {}).get("current")
    if memory:
        return ResourceUse(memory, pids, f"docker stats --no-stream {container.name}")
    container.reload()
    found = cgroups.usage(container.attrs["State"]["Pid"])
    if found is None:
        return ResourceUse(0, pids, f"docker stats --no-stream {container.name}")
    return ResourceUse(
        found.memory_bytes,
        found.pids,
        f"cat {found.source}/memory.*  (docker stats came back empty)",
        " (read from the cgroup: Docker's stats API gave nothing on this host)",
    )


def lesson_from(module: ModuleType) -> Lesson:
    """The :class:`Lesson` a lesson module declares (``RuntimeError`` naming what it lacks)."""
    module_name = module.__name__.rsplit(".", 1)[-1]
    doc = module.__doc__ or ""
    if "LEARNING GOAL" not in doc:
        raise RuntimeError(f"lesson {module_name} has no LEARNING GOAL docstring")
    for name in ("TITLE", "CATEGORY", "PARAMS", "run", "CHALLENGE"):
        if not hasattr(module, name):
            raise RuntimeError(f"lesson {module_name} defines no {name}")
    goal = doc.split("LEARNING GOAL", 1)[1].lstrip(": \n").split("\n\n")[0]
    return Lesson(
        number=int(module_name.removeprefix("flow").split("_")[0]),
        slug=module_name.split("_", 1)[1],
        title=module.TITLE,
        category=module.CATEGORY,
        goal=" ".join(goal.split()),
        params=tuple(module.PARAMS),
        run=module.run,
        source=module.__file__ or "",
        challenge=module.CHALLENGE,
    )


# The lessons, and the modification time of each one's file when it was loaded: a lesson
# whose file changed (edited in development mode) is loaded again on its next use.
_LESSONS: dict[int, Lesson] = {}
_LOADED: dict[str, int] = {}
_LOAD_LOCK = threading.Lock()


def lessons() -> dict[int, Lesson]:
    """Every lesson, by number (a lesson file changed since it was loaded is loaded again)."""
    with _LOAD_LOCK:
        for module_name in LESSON_MODULES:
            full_name = f"{__package__}.{module_name}"
            module = sys.modules.get(full_name)
            if module is None:
                module = importlib.import_module(full_name)
            elif Path(module.__file__).stat().st_mtime_ns == _LOADED.get(module_name):
                continue  # loaded, and unchanged since
            else:
                module = importlib.reload(module)
            _LOADED[module_name] = Path(module.__file__).stat().st_mtime_ns
            lesson = lesson_from(module)
            _LESSONS[lesson.number] = lesson
        return dict(sorted(_LESSONS.items()))


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
    """The engine lessons run on: the platform's (a Swarm's manager, over mutual TLS when the
    platform reaches it over TCP), or the local one."""
    try:
        host = settings.docker_host if settings is not None else ""
        if host and host.startswith("tcp://") and settings.tls_dir:
            folder = Path(settings.tls_dir).expanduser()
            tls = docker.tls.TLSConfig(
                client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
                ca_cert=str(folder / "ca.pem"),
                verify=True,
            )
            client = docker.DockerClient(base_url=host.replace("tcp://", "https://"), tls=tls)
            client.api.trust_env = False  # the Swarm's own CA, not REQUESTS_CA_BUNDLE's
        elif host:
            client = docker.DockerClient(base_url=host, version="auto")
        else:
            client = docker.from_env(version="auto")
        client.ping()
        return client
    except DockerException as exc:
        raise EngineUnavailable(
            f"Docker is not reachable ({exc}) — is the engine running? Try `make engine`."
        ) from None


def bounds_from(settings: Settings) -> LessonBounds:
    """The bounds the platform's configuration sets (``CONTAINERPOKER_LESSON_*``)."""
    return LessonBounds(
        memory=settings.lesson_memory,
        cpus=settings.lesson_cpus,
        pids=settings.lesson_pids,
        lifetime=int(settings.lesson_lifetime),
    )


def run_lesson(
    ref: int | str,
    raw_params: dict[str, object] | None = None,
    *,
    settings: Settings | None = None,
    client: docker.DockerClient | None = None,
    extra_labels: dict[str, str] | None = None,
) -> Iterator[Step]:
    """Run a lesson, yielding its narrated steps; everything it made is removed at the end.

    A failed check raises :class:`LessonFailed` after the clean-up step. ``extra_labels``
    (default: the settings' own) go on everything the run creates.
    """
    lesson = find(ref)
    params = validate(lesson, raw_params or {})
    own_client = client is None
    client = client or docker_client(settings)
    if extra_labels is None:
        extra_labels = dict(settings.extra_labels) if settings else {}
    bounds = bounds_from(settings) if settings else LessonBounds()
    lab = Lab(client, lesson.number, extra_labels=extra_labels, bounds=bounds)
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

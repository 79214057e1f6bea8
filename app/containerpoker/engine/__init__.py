"""The one door to Docker: the engine interface and its backends.

Everything the platform does to containers goes through an :class:`Engine`: create a pool
container, start/stop/restart/remove it, its logs, stats and inspect data, put files into it,
list what carries the platform's labels, and follow its events. Nothing outside this package
calls the docker SDK (the lessons excepted: they teach it).

How a backend plugs in
----------------------
A backend is a subclass of :class:`Engine` that implements the abstract methods below and is
named in :data:`BACKENDS`; ``CONTAINERPOKER_ENGINE`` chooses it (``docker``, the single host,
is the default). The pool never asks which backend it has. It speaks in the platform's own
terms: a container is known by its pool *name* (never a Docker id), it lives on a *node*
(:meth:`Engine.nodes`; the single host has exactly one), a host port is unique per node, and a
user's URL names the node's address. A Swarm backend maps a pool container onto one service
pinned to a node with a host-mode port; the single host maps it onto one container.

Every object carries ``containerpoker.*`` labels (role, instance, runtime, slot, node, port,
owner) so that the real state can always be rebuilt from the engine itself. Pool containers are
created hardened: not privileged, every capability dropped, no-new-privileges, memory/CPU/pids
limits, bounded logs, no host mounts, no Docker socket.

Errors: a backend raises :class:`~containerpoker.errors.EngineError` (or its subclasses
``EngineUnavailable`` and ``ContainerMissing``), never its SDK's own exceptions.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RuntimeConfig, Settings
from ..errors import ConfigError, InvalidRequest

LABEL = "containerpoker"
ROLE_POOL = "pool"
#: Docker's container events that can mean "this container no longer serves its user".
WATCHED_ACTIONS = ("die", "oom", "destroy", "health_status", "node_down")


def label(name: str) -> str:
    """The full name of one of the platform's labels: ``label("owner")``."""
    return f"{LABEL}.{name}"


@dataclass(frozen=True)
class Node:
    """A machine pool containers run on, as the platform sees it."""

    name: str
    address: str  # in users' URLs
    reach: str  # where the platform itself reaches its published ports
    available: bool = True  # ready, and open for new containers (not drained)
    labels: dict[str, str] = field(default_factory=dict)
    cpus: float = 0.0  # capacity; 0 when unknown
    memory: int = 0
    id: str = ""  # the engine's own id of the node
    state: str = "ready"  # ready | down | unknown ...
    availability: str = "active"  # active | pause | drain


@dataclass(frozen=True)
class PoolContainerSpec:
    """One pool container to create: which runtime, under which name, where."""

    runtime: RuntimeConfig
    name: str
    volume: str
    node: str
    host_port: int
    owner: str | None = None


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about one of the platform's containers (from one list call)."""

    name: str
    docker_id: str
    node: str
    labels: dict[str, str]
    state: str  # running, exited, created, restarting ...
    status_text: str  # the engine's words: "Up 5 minutes (healthy)"
    image: str = ""
    started_at: float | None = None  # when the list call tells (a Swarm task does)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def unhealthy(self) -> bool:
        return "(unhealthy)" in self.status_text


@dataclass(frozen=True)
class LabelledObject:
    """A container, network or volume carrying the platform's labels (not a pool's)."""

    kind: str  # container | network | volume
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class EngineEvent:
    """A pool container's event: its name and what happened (``die``, ``health_status: ...``)."""

    name: str
    action: str

    @property
    def matters(self) -> bool:
        """True when the event can mean the container no longer serves its user."""
        if self.action.startswith("health_status"):
            return self.action.endswith("unhealthy")
        return self.action in WATCHED_ACTIONS


class EventStream(abc.ABC):
    """Iterates over :class:`EngineEvent` as they happen; ``close()`` from any thread ends it."""

    @abc.abstractmethod
    def __iter__(self) -> Iterator[EngineEvent]: ...

    @abc.abstractmethod
    def close(self) -> None: ...


class Engine(abc.ABC):
    """What the platform needs from a container engine."""

    #: The name ``CONTAINERPOKER_ENGINE`` gives this backend.
    backend = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- labels -------------------------------------------------------------------

    def pool_labels(self, spec: PoolContainerSpec) -> dict[str, str]:
        """The labels of one pool container (its volume gets the same, minus the port)."""
        labels = {
            label("role"): ROLE_POOL,
            label("instance"): self.settings.instance,
            label("runtime"): spec.runtime.name,
            label("slot"): spec.name,
            label("node"): spec.node,
            label("port"): str(spec.host_port),
            **self.settings.extra_labels,
        }
        if spec.owner:
            labels[label("owner")] = spec.owner
        return labels

    def instance_filter(self) -> list[str]:
        """Label filters selecting this instance's pool objects."""
        return [f"{label('role')}={ROLE_POOL}", f"{label('instance')}={self.settings.instance}"]

    # -- nodes --------------------------------------------------------------------

    @abc.abstractmethod
    def nodes(self, *, all_nodes: bool = False) -> list[Node]:
        """The nodes pool containers may run on now (the single host: one); ``all_nodes``:
        down and drained ones too."""

    def set_availability(self, node: str, availability: str) -> None:
        """Drain a node for maintenance (``drain``), or open it again (``active``)."""
        raise InvalidRequest(
            "Draining nodes needs the Swarm backend (CONTAINERPOKER_ENGINE=swarm): this "
            "platform runs on one Docker host."
        )

    # -- images -------------------------------------------------------------------

    @abc.abstractmethod
    def image_id(self, ref: str) -> str | None:
        """The id of an image present on the engine, or None."""

    @abc.abstractmethod
    def image_labels(self, ref: str) -> dict[str, str] | None:
        """An image's labels, or None when the image is missing."""

    @abc.abstractmethod
    def build_image(
        self, context: Path, dockerfile: str, tag: str, labels: dict[str, str]
    ) -> Iterator[str]:
        """Build an image, yielding its progress lines; :class:`EngineError` on failure."""

    @abc.abstractmethod
    def require_image(self, runtime: RuntimeConfig) -> None:
        """Raise :class:`~containerpoker.errors.ImageMissing` unless the runtime's image is there."""

    # -- pool containers ---------------------------------------------------------

    @abc.abstractmethod
    def create_pool_container(self, spec: PoolContainerSpec) -> str:
        """Create and start one hardened pool container on ``spec.node``; return its id.

        The volume is created when missing (a replacement reuses the user's).
        """

    @abc.abstractmethod
    def remove_container(self, name: str) -> bool:
        """Force-remove a pool container; ``False`` when it was already gone."""

    @abc.abstractmethod
    def remove_volume(self, name: str) -> bool:
        """Remove a pool volume; ``False`` when it was already gone."""

    @abc.abstractmethod
    def start(self, name: str) -> None: ...

    @abc.abstractmethod
    def stop(self, name: str, timeout: int = 5) -> None: ...

    @abc.abstractmethod
    def restart(self, name: str, timeout: int = 5) -> None: ...

    @abc.abstractmethod
    def list_pool_containers(self) -> list[ContainerState]:
        """Every pool container of this instance, running or not."""

    @abc.abstractmethod
    def list_pool_volumes(self) -> list[str]:
        """The names of every pool volume of this instance."""

    @abc.abstractmethod
    def is_running(self, name: str) -> bool: ...

    @abc.abstractmethod
    def started_at(self, name: str) -> float | None:
        """When the container last started (epoch seconds), or None."""

    @abc.abstractmethod
    def inspect(self, name: str) -> dict:
        """The engine's full description of a container (for tests and diagnosis)."""

    @abc.abstractmethod
    def put_files(self, name: str, path: str, tar: bytes) -> None:
        """Unpack a tar archive into ``path`` inside the container."""

    @abc.abstractmethod
    def logs(self, name: str, *, since: float | None = None, tail: int = 200) -> list:
        """Log lines ``(timestamp, text)`` of a container, oldest first."""

    @abc.abstractmethod
    def stats(self, name: str) -> dict:
        """``cpu_percent``, ``memory_bytes`` and ``memory_limit`` (None when unknown)."""

    @abc.abstractmethod
    def labelled(self, role: str) -> list[LabelledObject]:
        """Every container, network and volume labelled ``containerpoker.role=<role>``."""

    @abc.abstractmethod
    def remove_labelled(self, thing: LabelledObject) -> bool:
        """Remove one of them (a container with force); ``False`` when it was already gone."""

    @abc.abstractmethod
    def traffic(self, names: list[str]) -> dict[str, int]:
        """TCP connections each running container has accepted so far (a counter that only
        grows while it runs; the images' health checks do not connect): how the platform
        tells that someone uses it."""

    @abc.abstractmethod
    def pool_events(self) -> EventStream:
        """This instance's pool container events that can mean a failure."""

    # -- reaching published ports --------------------------------------------------

    @abc.abstractmethod
    def port_is_free(self, node: str, port: int) -> bool:
        """True when nothing else holds ``port`` on ``node``."""

    @abc.abstractmethod
    def wait_serving(self, node: str, port: int, name: str, timeout: float) -> None:
        """Block until the container answers HTTP; ``TimeoutError``/``EngineError`` otherwise."""

    def close(self) -> None:  # noqa: B027 - optional
        """Release the backend's connections."""


def open_engine(settings: Settings) -> Engine:
    """The backend ``settings.engine`` names, connected (or :class:`EngineUnavailable`)."""
    if settings.engine == "docker":
        from .docker_host import DockerHostEngine

        return DockerHostEngine(settings)
    if settings.engine == "swarm":
        from .swarm import SwarmEngine

        return SwarmEngine(settings)
    raise ConfigError(
        f"CONTAINERPOKER_ENGINE={settings.engine!r} is not a known backend: use docker or swarm."
    )


__all__ = [
    "LABEL",
    "ROLE_POOL",
    "WATCHED_ACTIONS",
    "ContainerState",
    "Engine",
    "EngineEvent",
    "EventStream",
    "LabelledObject",
    "Node",
    "PoolContainerSpec",
    "label",
    "open_engine",
]

"""What the pool hands out and reports: assignments, pool counts, reconcile reports, plans."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InvalidRequest
from ..store import ASSIGNED, FAILED, READY, RELEASED, STATES, WARMING

OWNER_MAX = 120

__all__ = [
    "ASSIGNED",
    "FAILED",
    "READY",
    "RELEASED",
    "STATES",
    "WARMING",
    "Assignment",
    "Plan",
    "PoolStatus",
    "ReconcileReport",
]


@dataclass(frozen=True)
class Assignment:
    """A container as its owner sees it."""

    name: str
    runtime: str
    owner: str | None
    host_port: int
    url: str
    state: str
    docker_id: str | None
    claimed_at: float | None
    node: str = "local"
    stopped: bool = False  # by its owner, on purpose
    # The two clocks (see lifecycle.py): when it is released, and which clock ends first.
    expires_at: float | None = None
    expires_reason: str = "never"  # idle | lifetime | never
    lifetime_ends_at: float | None = None
    idle_ends_at: float | None = None
    renewals_left: int = 0
    cold_start: bool = False
    reused: bool = False

    @classmethod
    def of(cls, m, url: str, clocks, *, cold: bool = False, reused: bool = False) -> Assignment:
        """From a row's mapping, its URL and its clocks (``lifecycle.Clocks``)."""
        return cls(
            name=m["name"],
            runtime=m["runtime"],
            owner=m["owner"],
            host_port=m["host_port"],
            url=url,
            state=m["state"],
            docker_id=m["docker_id"],
            claimed_at=m["claimed_at"],
            node=m["node"],
            stopped=bool(m["stopped"]),
            expires_at=clocks.expires_at,
            expires_reason=clocks.reason,
            lifetime_ends_at=clocks.lifetime_ends_at,
            idle_ends_at=clocks.idle_ends_at,
            renewals_left=clocks.renewals_left,
            cold_start=cold,
            reused=reused,
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class PoolStatus:
    """One pool's counts by state and its limits."""

    runtime: str
    image: str
    warm_target: int
    max_containers: int
    ports: str
    ready: int = 0
    warming: int = 0
    assigned: int = 0
    released: int = 0
    failed: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # live containers per node

    @property
    def total(self) -> int:
        return self.ready + self.warming + self.assigned + self.released + self.failed

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["total"] = self.total
        return data


@dataclass
class ReconcileReport:
    """What a reconcile pass found and did."""

    replaced: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    removed_dead: list[str] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)
    removed_volumes: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)
    removed_lesson_objects: list[str] = field(default_factory=list)
    finished_releases: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    #: The lists that mean "something was changed", in the order they are reported.
    CHANGES = (
        "replaced",
        "expired",
        "removed_dead",
        "removed_orphans",
        "removed_volumes",
        "abandoned",
        "removed_lesson_objects",
        "finished_releases",
    )

    @property
    def changed(self) -> bool:
        return any(getattr(self, key) for key in self.CHANGES) or any(self.created.values())

    def summary(self) -> str:
        parts = [
            f"{len(getattr(self, key))} {key.replace('_', ' ')}"
            for key in (*self.CHANGES, "failed")
            if getattr(self, key)
        ]
        return ", ".join(parts) or "nothing to do"

    def as_dict(self) -> dict:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return data | {"changed": self.changed}


@dataclass
class Plan:
    """What an operation does, or would do: the same list whether it acted or not.

    ``actions`` are sentences for people (and Ansible's ``actions``); ``changes`` counts them
    by kind (``created``, ``removed``, ``replaced``, ``released``, ``target``) per runtime or
    container; ``applied`` says whether it was carried out. ``before``/``after`` hold what a
    person would want to see in a diff.
    """

    applied: bool
    actions: list[str] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    before: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    subjects: list[Assignment] = field(default_factory=list)  # the containers acted on

    @property
    def changed(self) -> bool:
        return bool(self.actions)

    def add(self, kind: str, key: str, count: int, sentence: str) -> None:
        """Record ``count`` changes of ``kind`` for ``key`` (nothing when count is 0)."""
        if count:
            self.changes.setdefault(kind, {})
            self.changes[kind][key] = self.changes[kind].get(key, 0) + count
            self.actions.append(sentence)

    def count(self, kind: str, key: str | None = None) -> int:
        found = self.changes.get(kind, {})
        return found.get(key, 0) if key is not None else sum(found.values())

    def keys(self, kind: str) -> list[str]:
        """The runtimes or containers that had changes of ``kind``, in order."""
        return list(self.changes.get(kind, {}))

    def as_dict(self) -> dict:
        return {
            "applied": self.applied,
            "changed": self.changed,
            "actions": list(self.actions),
            "changes": {k: dict(v) for k, v in self.changes.items()},
            "before": self.before,
            "after": self.after,
            "subjects": [a.as_dict() for a in self.subjects],
        }


def check_owner(owner: str) -> str:
    owner = (owner or "").strip()
    if not owner or len(owner) > OWNER_MAX or not owner.isprintable():
        raise InvalidRequest(
            f"The owner must be 1 to {OWNER_MAX} printable characters, like a user name."
        )
    return owner

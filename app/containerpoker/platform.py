"""The composition root: one object, assembled from ``Settings``, that owns everything.

The portal, the CLI, the recovery monitor and the Ansible modules each build one
:class:`Platform` and use it, and nothing below it: its store, accounts, pool, engine and
lessons, and the use cases that more than one front end needs, written here once:

- deleting a user: the last-admin check comes first, then the user's containers are
  released, then the account is removed;
- setting a password;
- the host's load;
- opening an interactive shell session on a fresh lesson container.

The engine is connected on first use, so a platform opens (and its front end can say what is
wrong) while Docker is down. ``Platform(settings, plans_only=True)`` writes nothing anywhere:
it works on an in-memory copy of the database, for Ansible's check mode and ``--dry-run``.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from pathlib import Path

from .accounts import PASSWORD_MIN, Accounts, User
from .config import Settings
from .containers import ContainerControl
from .engine import Engine, open_engine
from .errors import Busy, ConfigError, ContainerPokerError, InvalidRequest
from .lessons.runs import LessonRun
from .pool import Plan, Pool
from .pool.warming import Progress
from .store import WARMING, Store

log = logging.getLogger(__name__)
LABEL = "containerpoker"


class Platform:
    """Settings, store, accounts, engine, pool and lessons, and the shared use cases."""

    def __init__(
        self,
        settings: Settings,
        *,
        plans_only: bool = False,
        progress: Progress | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.settings = settings
        self.plans_only = plans_only
        self.progress = progress
        if not plans_only:
            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(
                    f"Cannot create the data directory {settings.data_dir}: {exc.strerror}. "
                    "Set CONTAINERPOKER_DATA_DIR to a writable directory."
                ) from None
        url = settings.database_url
        self.store = Store.for_plans(url) if plans_only else Store(url)
        self.accounts = Accounts(self.store, hash_threads=settings.hash_threads)
        self._engine = engine
        self._pool: Pool | None = None
        self._control: ContainerControl | None = None
        self._lock = threading.RLock()
        # What any portal user can start besides pool containers, bounded platform-wide.
        self._lesson_runs = threading.BoundedSemaphore(settings.max_lesson_runs)
        self._terminals: dict[str, int] = {}
        self._classroom = None

    # -- what it owns (built on first use) -----------------------------------------------

    @property
    def engine(self) -> Engine:
        """The container engine (``EngineUnavailable`` while it cannot be reached)."""
        with self._lock:
            if self._engine is None:
                self._engine = open_engine(self.settings)
            return self._engine

    @property
    def pool(self) -> Pool:
        with self._lock:
            if self._pool is None:
                self._pool = Pool(self.settings, self.store, self.engine, progress=self.progress)
            return self._pool

    @property
    def control(self) -> ContainerControl:
        """Status, start/stop/restart, logs and stats of users' containers."""
        with self._lock:
            if self._control is None:
                self._control = ContainerControl(self.pool)
            return self._control

    @property
    def classroom(self):
        """Lessons' challenges on learners' own engines, and everyone's progress
        (:class:`~containerpoker.lessons.classroom.Classroom`)."""
        from .lessons.classroom import Classroom

        with self._lock:
            if self._classroom is None:
                self._classroom = Classroom(self.settings, self.store, self.lesson_labels)
            return self._classroom

    @property
    def lesson_editor(self):
        """Read, save and restore the lessons' code (development mode; the portal decides
        when it may be used): :class:`~containerpoker.lessons.editing.LessonEditor`."""
        from .lessons.editing import LessonEditor

        return LessonEditor(self.settings.data_dir / "lessons-original")

    def warm_up(self) -> None:
        """Connect to the engine now rather than on the first launch (which would pay for it).

        A down engine is logged, and connected to again on first use.
        """
        try:
            self.pool  # noqa: B018 - builds it
        except ContainerPokerError as exc:
            log.warning("Docker is not reachable yet (%s); retrying on first use.", exc)

    # -- users ------------------------------------------------------------------------

    def delete_user(self, username: str, *, apply: bool = True) -> Plan:
        """Delete an account: refused for the last admin before anything happens; then the
        user's containers are released, then the account is removed."""
        user = self.accounts.get(username)
        self.accounts.check_deletable(user)
        plan = self.pool.release_all(user.username, apply=apply)
        if apply:
            self.accounts.delete(user.username)
            self.classroom.progress.forget(user.username)
        plan.add("deleted", user.username, 1, f"deleted {user.username}")
        return plan

    def set_password(self, username: str, password: str, *, apply: bool = True) -> bool:
        """Set a user's password; False when it already was that password (nothing changed)."""
        return self.accounts.set_password(username, password, apply=apply)

    # -- nodes (the Swarm backend; the single host has one) -----------------------------------

    def nodes(self) -> list[dict]:
        """Every node, with its state and how many pool containers of each runtime it runs."""
        load = self.pool.rows.tally("node", "runtime", live=True)
        return [
            {
                "name": node.name,
                "address": node.address,
                "state": node.state,
                "availability": node.availability,
                "runtimes": node.labels.get("containerpoker.runtimes"),
                "containers": load.get(node.name, {}),
            }
            for node in self.engine.nodes(all_nodes=True)
        ]

    def set_node(self, name: str, availability: str, *, apply: bool = True) -> Plan:
        """Drain a node for maintenance (``drain``), or open it again (``active``).

        Draining stops placing on it and, with a reconcile pass, replaces its ready containers
        elsewhere and moves its assigned ones, with their files, to other nodes (their owners
        see the new address, and a ``moved`` event).
        """
        found = {node.name: node for node in self.engine.nodes(all_nodes=True)}.get(name)
        if found is None:
            known = ", ".join(n.name for n in self.engine.nodes(all_nodes=True))
            raise InvalidRequest(f"There is no node {name!r}: the nodes are {known}.")
        plan = Plan(applied=apply, before={"availability": found.availability})
        plan.after = {"availability": availability}
        if found.availability != availability:
            if apply:
                self.engine.set_availability(name, availability)
            plan.add("availability", name, 1, f"{name}: {found.availability} -> {availability}")
        if availability == "drain":
            held = [r for r in self.pool.rows.listed() if r.node == name]
            moved = sum(r.owner is not None for r in held)
            warm = sum(r.state == "ready" for r in held)
            if apply:  # what the passes did (a container may have failed to move)
                moved, warm = self._empty(name)
            plan.add("moved", name, moved, f"{name}: {moved} assigned containers moved, files kept")
            plan.add("removed", name, warm, f"{name}: {warm} warm containers replaced elsewhere")
        return plan

    def _empty(self, node: str) -> tuple[int, int]:
        """Reconcile passes until no warm-up is left on a drained node: one placed there just
        before the drain (a refill after a claim, here or in another process) becomes ready
        after the first pass, and the next one replaces it elsewhere."""
        moved = warm = 0
        deadline = time.monotonic() + self.settings.warm_timeout
        while True:
            self.pool.wait_idle(timeout=max(0.0, deadline - time.monotonic()))
            report = self.pool.reconcile()
            moved, warm = moved + len(report.replaced), warm + len(report.removed_dead)
            rows = self.pool.rows.listed()
            if time.monotonic() > deadline or not any(
                r.node == node and r.state == WARMING for r in rows
            ):
                return moved, warm
            time.sleep(0.5)

    # -- the host ---------------------------------------------------------------------

    @staticmethod
    def host_load() -> dict:
        """Load averages, CPUs and memory of the machine the platform runs on."""
        load1, load5, load15 = os.getloadavg()
        memory = {}
        try:
            with open("/proc/meminfo") as handle:
                for line in handle:
                    key, _, rest = line.partition(":")
                    if key in ("MemTotal", "MemAvailable"):
                        memory[key] = int(rest.split()[0]) * 1024
        except OSError:
            pass
        return {
            "load": [round(load1, 2), round(load5, 2), round(load15, 2)],
            "cpus": os.cpu_count(),
            "memory_total": memory.get("MemTotal"),
            "memory_available": memory.get("MemAvailable"),
        }

    def activity(self, owner: str | None, limit: int = 15) -> list[dict]:
        """Recent events: everyone's (``owner`` None, admins) or one user's."""
        events = self.store.recent_events(limit=200 if owner else limit)
        if owner is not None:
            events = [e for e in events if e.get("owner") == owner]
        return events[:limit]

    # -- lessons ----------------------------------------------------------------------

    @staticmethod
    def lessons() -> dict:
        """Every lesson, by number."""
        from .lessons import lessons

        return lessons()

    @staticmethod
    def find_lesson(ref: int | str, params: dict | None = None):
        """A lesson by number or name, and its parameters validated (defaults filled in).

        ``InvalidRequest`` (nothing created) for an unknown lesson or a bad parameter.
        """
        from .lessons.framework import find, validate

        lesson = find(ref)
        return lesson, validate(lesson, params or {})

    @staticmethod
    def check_challenge_here(ref: int | str) -> dict:
        """One round of a lesson's challenge checks against this machine's own engine."""
        from .lessons.classroom import Classroom

        return Classroom.check_here(ref)

    def lesson_labels(self, owner: str | None = None) -> dict[str, str]:
        """Labels on everything a lesson run or a terminal creates: the instance, and the
        process that made it, so that a reconcile removes what a dead process left behind."""
        labels = dict(self.settings.extra_labels)
        labels[f"{LABEL}.instance"] = self.settings.instance
        labels[f"{LABEL}.process"] = f"{socket.gethostname()}:{os.getpid()}"
        if owner:
            labels[f"{LABEL}.owner"] = owner
        return labels

    def run_lesson(
        self, ref: int | str, params: dict | None = None, *, owner: str | None = None
    ) -> LessonRun:
        """Run a lesson on the platform's engine: its narrated steps, one by one.

        At most ``max_lesson_runs`` run at once on this platform (:class:`Busy` otherwise);
        every container a run creates is bounded (``lesson_*`` settings).
        """
        from .lessons import run_lesson

        if not self._lesson_runs.acquire(blocking=False):
            raise Busy(
                f"{self.settings.max_lesson_runs} lessons are running on this platform "
                "already: retry in a moment."
            )
        on_end = None
        try:
            steps = run_lesson(
                ref, params or {}, settings=self.settings, extra_labels=self.lesson_labels(owner)
            )
            if owner:  # the learner's progress: this run, and how it ended
                progress = self.classroom.progress
                run_id = progress.run_started(owner, self.find_lesson(ref)[0].number)
                on_end = functools.partial(progress.run_finished, run_id)
        except BaseException:
            self._lesson_runs.release()
            raise
        return LessonRun(steps, self._lesson_runs, on_end)

    def open_shell(self, term: str = "xterm-256color", *, owner: str | None = None):
        """A started :class:`~containerpoker.lessons.shell.ShellSession`; close it when done.

        Its container is bounded like a lesson's and has no network (``terminal_network``).
        At most ``max_terminals`` are open on this platform, and ``terminals_per_user`` per
        user (:class:`Busy` otherwise).
        """
        from .lessons.framework import Lab, bounds_from, docker_client
        from .lessons.shell import ShellSession

        with self._lock:
            mine = self._terminals.get(owner or "", 0)
            if sum(self._terminals.values()) >= self.settings.max_terminals:
                raise Busy(
                    f"{self.settings.max_terminals} terminals are open on this platform "
                    "already: retry in a minute."
                )
            if owner and mine >= self.settings.terminals_per_user:
                raise Busy(
                    f"You have {mine} terminals open already, the most one user may: close one."
                )
            self._terminals[owner or ""] = mine + 1
        session = None
        try:
            client = docker_client(self.settings)
            labels = self.lesson_labels(owner)
            lab = Lab(client, 2, extra_labels=labels, bounds=bounds_from(self.settings))
            network = self.settings.terminal_network
            session = ShellSession(
                client, lab, term, network=None if network == "bridge" else network
            )
            session.on_close = lambda: self._terminal_closed(owner)
            return session.start()
        except BaseException:
            if session is not None:
                session.close()
            else:
                self._terminal_closed(owner)
            raise

    def _terminal_closed(self, owner: str | None) -> None:
        with self._lock:
            self._terminals[owner or ""] -= 1

    # -- images and schema (what an operator runs before the platform serves) ------------

    def build_images(self, runtimes=None, *, force: bool = False, progress=None) -> dict:
        """Build the runtime images that are missing or outdated: ``{runtime: built|current}``."""
        from .images import build_images

        return build_images(self.settings, self.engine, runtimes, force=force, progress=progress)

    def image_states(self) -> dict[str, str]:
        """``{runtime: current|outdated|missing}``."""
        from .images import image_state

        return image_state(self.settings, self.engine)

    @staticmethod
    def schema(settings: Settings) -> dict:
        """The database's schema revision and the latest one, without changing anything."""
        store = Store(settings.database_url, migrate=False)
        try:
            return {"revision": store.revision(), "latest": store.head_revision()}
        finally:
            store.dispose()

    @staticmethod
    def upgrade_schema(settings: Settings) -> tuple[str | None, str | None]:
        """Apply the migrations the database lacks; the revisions before and after."""
        store = Store(settings.database_url, migrate=False)
        try:
            return store.migrate()
        finally:
            store.dispose()

    @staticmethod
    def backup(settings: Settings, dest: str | os.PathLike) -> dict:
        """A consistent copy of the database in the file ``dest``, taken while it serves."""
        from .backup import backup_database

        return backup_database(settings.database_url, Path(dest))

    @staticmethod
    def check_backup(settings: Settings, source: str | os.PathLike) -> str:
        """``sqlite`` or ``postgresql`` once ``source`` is a backup the database can take."""
        from .backup import check_backup

        return check_backup(settings.database_url, Path(source))

    @staticmethod
    def restore(settings: Settings, source: str | os.PathLike) -> dict:
        """Replace the database with a backup, bring its schema up to date, then make Docker
        agree with it (a reconcile pass: what the backup lacks is removed, what it holds and
        Docker lost is replaced). The warm pools are warmed afresh: a container warm in the
        backup may have been handed out since. Nothing else may use the database meanwhile."""
        from .backup import forget_warm_containers, restore_database

        done = restore_database(settings.database_url, Path(source))
        done["schema_before"], done["schema"] = Platform.upgrade_schema(settings)
        with Platform(settings) as platform:
            done["warm_forgotten"] = forget_warm_containers(platform.store)
            platform.store.record("restored", detail=f"from {Path(source).name}")
            try:
                done["reconcile"] = platform.pool.reconcile().as_dict()
            except ContainerPokerError as exc:  # Docker down: the database is restored anyway
                done["reconcile"] = None
                done["reconcile_error"] = (
                    f"{exc.message} Run `containerpoker pool reconcile` when Docker is back."
                )
        return done

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Wait for background work, then release connections."""
        with self._lock:
            if self._classroom is not None:
                self._classroom.close()
            if self._pool is not None:
                self._pool.close()
            if self._engine is not None:
                self._engine.close()
        self.store.dispose()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["PASSWORD_MIN", "Plan", "Platform", "User"]

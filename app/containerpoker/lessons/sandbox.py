"""Learner engines: a Docker engine of their own for each learner doing a challenge.

A learner engine is one container of ``containerpoker/learner-engine``
(``infrastructure/images/learner-engine``) running its own ``dockerd``, nested the way the
project's platform-host containers run Docker, but narrower:

- never privileged, no host mounts, no Docker socket: the capabilities SYS_ADMIN and
  NET_ADMIN (a nested engine mounts file systems and sets up networks), a private cgroup
  namespace (its containers' cgroups nest under its own limits), seccomp and AppArmor
  unconfined (the engine inside applies its own profiles to its containers);
- memory, CPU and processes capped for the engine and everything it runs, together; its
  storage a tmpfs of a fixed size (the disk limit), gone with the container;
- on a network of the platform's where inter-container traffic is off, so one learner's
  engine cannot reach another's;
- labelled like a lesson's objects (``containerpoker.role=lesson``, an expiry, the process
  that made it), so the recovery sweep removes what a crashed portal left.

:class:`LearnerEngines` hands them out, one per learner, from a warm pool when
``sandbox_warm`` > 0, and removes one when its learner has had no page open on it for
``sandbox_idle`` seconds, or ``sandbox_lifetime`` after it started.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import docker
from docker.errors import DockerException, ImageNotFound
from docker.models.containers import Container

from ..config import Settings
from ..errors import Busy, ContainerPokerError, EngineUnavailable, ImageMissing, InvalidRequest
from .challenge import Challenge, CheckResult, combined_script, parse_combined
from .framework import Lab, LessonBounds, LessonFailed, wait_until
from .shell import own_socket

log = logging.getLogger(__name__)

ROLE_LABEL = "containerpoker.sandbox"
READY_FILE = "/run/engine-ready"  # engine.sh creates it once dockerd answers
SWEEP_INTERVAL = 5.0


class SandboxOff(InvalidRequest):
    """Learner engines are off on this platform."""

    code = "sandbox_off"


@dataclass
class LearnerEngine:
    """One learner's engine: its container, whose it is, and its clocks."""

    container: Container
    lab: Lab
    started_at: float
    ready_seconds: float = 0.0
    owner: str | None = None
    last_seen: float = field(default_factory=time.time)
    viewers: int = 0  # pages (terminals, check streams) open on it now

    @property
    def name(self) -> str:
        return self.container.name

    def run(self, script: str, environment: dict | None = None) -> tuple[int, str]:
        """Run a shell script in the engine's container (``docker`` there is the learner's
        engine): its exit code and what it printed."""
        result = self.container.exec_run(["sh", "-c", script], environment=environment or {})
        return result.exit_code, result.output.decode(errors="replace")

    def check(self, challenge: Challenge) -> list[CheckResult]:
        """One round of the challenge's checks, all in one ``docker exec``."""
        script, environment = combined_script(challenge)
        _, output = self.run(script, environment)
        return parse_combined(challenge, output)

    def shell(self, term: str = "xterm-256color") -> ExecShell:
        """A started login shell in the engine's container, on a terminal."""
        return ExecShell(self.container, term).start()


class ExecShell:
    """``docker exec -it <learner engine> bash``: bytes in, bytes out, a terminal size."""

    def __init__(self, container: Container, term: str) -> None:
        self.api = container.client.api
        self.exec_id = self.api.exec_create(
            container.id,
            ["bash", "-l"],
            stdin=True,
            tty=True,
            environment={"TERM": term, "PS1": r"learner:\w\$ "},
            workdir="/root",
        )["Id"]
        self._stream = None
        self._socket = None

    def start(self) -> ExecShell:
        self._stream = self.api.exec_start(self.exec_id, tty=True, socket=True)
        self._socket = own_socket(self._stream)
        # The HTTP client may have left the socket non-blocking (a timeout): reads here block.
        self._socket.settimeout(None)
        return self

    def send(self, data: bytes) -> None:
        self._socket.sendall(data)

    def recv(self, size: int = 4096) -> bytes:
        return self._socket.recv(size)

    def resize(self, rows: int, cols: int) -> None:
        self.api.exec_resize(self.exec_id, height=rows, width=cols)

    def close(self) -> None:
        for stream in (self._socket, self._stream):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()


class LearnerEngines:
    """Hands out learner engines, one per learner, and removes them when left or expired."""

    def __init__(
        self,
        settings: Settings,
        client_factory: Callable[[], docker.DockerClient],
        labels: Callable[[], dict[str, str]],
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory
        self._labels = labels
        self._client: docker.DockerClient | None = None
        self._lock = threading.RLock()
        self._owned: dict[str, LearnerEngine] = {}
        self._warm: list[LearnerEngine] = []
        self._starting = 0
        self._closed = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._network_id: str | None = None

    # -- the pieces ----------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.settings.sandbox_enabled

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                self._client = self._client_factory()
            return self._client

    def _network(self) -> str:
        """The learners' network (its id): inter-container traffic off, so engines cannot reach
        each other (the platform reaches them through the Docker API, not the network). Made
        once, under the lock: Docker allows two networks of one name."""
        with self._lock:
            if self._network_id is None:
                name = f"cp-{self.settings.instance}-learners"
                found = [n for n in self.client.networks.list(names=[name]) if n.name == name]
                if found:
                    self._network_id = found[0].id
                else:
                    self._network_id = self.client.networks.create(
                        name,
                        driver="bridge",
                        options={"com.docker.network.bridge.enable_icc": "false"},
                        labels={**self._labels(), ROLE_LABEL: "network"},
                    ).id
            return self._network_id

    def _start(self) -> LearnerEngine:
        """Start one engine and wait until it answers (seconds, on a quiet machine)."""
        s = self.settings
        bounds = LessonBounds(lifetime=int(s.sandbox_lifetime))
        lab = Lab(self.client, 0, extra_labels=self._labels(), bounds=bounds)
        started_at = time.monotonic()
        try:
            container = self.client.containers.run(
                s.sandbox_image,
                name=lab.name("engine"),
                hostname="learner",
                labels={**lab.labels(), ROLE_LABEL: "learner-engine"},
                detach=True,
                network=self._network(),
                cap_add=["SYS_ADMIN", "NET_ADMIN"],
                cgroupns="private",
                security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                tmpfs={"/var/lib/docker": f"size={s.sandbox_disk}", "/run": "size=16m"},
                mem_limit=s.sandbox_memory,
                memswap_limit=s.sandbox_memory,
                nano_cpus=round(s.sandbox_cpus * 1e9),
                pids_limit=s.sandbox_pids,
                log_config={"type": "json-file", "config": {"max-size": "1m", "max-file": "1"}},
            )
        except ImageNotFound:
            lab.cleanup()
            raise ImageMissing(
                f"The learner engine image {s.sandbox_image} is not built: run "
                "`make learner-image` (or docker build -t containerpoker/learner-engine "
                "infrastructure/images/learner-engine)."
            ) from None
        except DockerException as exc:
            lab.cleanup()  # created, then failed to start: it goes too
            raise EngineUnavailable(f"Could not start a learner engine: {exc}") from None
        engine = LearnerEngine(container, lab, started_at=time.time())

        def ready() -> bool:
            container.reload()
            if container.status not in ("created", "running"):
                log_tail = container.logs(tail=5).decode(errors="replace")
                raise LessonFailed(f"The learner engine stopped: {log_tail}")
            return container.exec_run(["test", "-f", READY_FILE]).exit_code == 0

        try:
            wait_until(ready, timeout=120, interval=0.25, what="a learner engine to answer")
        except (LessonFailed, DockerException):
            lab.cleanup()
            raise
        engine.ready_seconds = time.monotonic() - started_at
        return engine

    def _remove(self, engine: LearnerEngine) -> None:
        try:
            engine.lab.cleanup()
        except DockerException as exc:
            log.warning("Could not remove learner engine %s: %s", engine.name, exc)

    # -- what the portal does ------------------------------------------------------------

    def open(self, owner: str) -> LearnerEngine:
        """The learner's engine: theirs already, a warm one, or a new one (waits for it)."""
        if not self.enabled:
            raise SandboxOff(
                "Learner engines are off on this platform (the operator enables them with "
                "CONTAINERPOKER_SANDBOX_ENABLED=1). Do the challenge on your own machine: "
                "`containerpoker lesson challenge N`, then `--check`."
            )
        self._ensure_sweeper()
        with self._lock:
            mine = self._owned.get(owner)
            if mine is not None:
                mine.last_seen = time.time()
                return mine
            if len(self._owned) + self._starting >= self.settings.max_sandboxes:
                raise Busy(
                    f"{self.settings.max_sandboxes} learners have an engine already, the most "
                    "this platform runs at once: retry in a few minutes, or do the challenge "
                    "on your own machine (`containerpoker lesson challenge N`)."
                )
            engine = self._warm.pop(0) if self._warm else None
            if engine is None:
                self._starting += 1
        if engine is None:
            try:
                engine = self._start()
            finally:
                with self._lock:
                    self._starting -= 1
        with self._lock:
            if owner in self._owned:  # two pages of one learner raced: keep the first
                self._warm.append(engine)
                return self._owned[owner]
            engine.owner, engine.last_seen = owner, time.time()
            self._owned[owner] = engine
        self._refill_later()
        return engine

    def get(self, owner: str) -> LearnerEngine | None:
        with self._lock:
            return self._owned.get(owner)

    @contextlib.contextmanager
    def viewing(self, engine: LearnerEngine):
        """While a page is open on the engine (a terminal, a check stream) it stays."""
        with self._lock:
            engine.viewers += 1
        try:
            yield engine
        finally:
            with self._lock:
                engine.viewers -= 1
                engine.last_seen = time.time()

    def close(self, owner: str) -> bool:
        """Remove the learner's engine now (they left); False when they had none."""
        with self._lock:
            engine = self._owned.pop(owner, None)
        if engine is None:
            return False
        self._remove(engine)
        return True

    def status(self) -> dict:
        with self._lock:
            return {
                "enabled": self.enabled,
                "owned": {o: e.name for o, e in self._owned.items()},
                "warm": len(self._warm),
                "starting": self._starting,
            }

    # -- the clocks and the warm pool ----------------------------------------------------

    def sweep(self, now: float | None = None) -> list[str]:
        """Remove engines left alone for ``sandbox_idle`` s, past their lifetime, or dead."""
        now = time.time() if now is None else now
        s = self.settings
        gone = []
        with self._lock:
            for owner, engine in list(self._owned.items()):
                idle = engine.viewers == 0 and now - engine.last_seen > s.sandbox_idle
                expired = now - engine.started_at > s.sandbox_lifetime
                if idle or expired:
                    gone.append(self._owned.pop(owner))
            for engine in list(self._warm):
                if now - engine.started_at > s.sandbox_lifetime:
                    self._warm.remove(engine)
                    gone.append(engine)
        for engine in gone:
            self._remove(engine)
        self._refill_later()
        return [engine.name for engine in gone]

    def _refill_later(self) -> None:
        with self._lock:
            room = self.settings.max_sandboxes - len(self._owned) - len(self._warm)
            missing = min(self.settings.sandbox_warm - len(self._warm) - self._starting, room)
            if missing <= 0 or self._closed.is_set():
                return
            self._starting += missing
        for _ in range(missing):
            threading.Thread(target=self._warm_one, daemon=True).start()

    def _warm_one(self) -> None:
        try:
            engine = self._start()
        except ContainerPokerError as exc:
            log.warning("Could not warm a learner engine: %s", exc)
            with self._lock:
                self._starting -= 1
            return
        with self._lock:
            self._starting -= 1
            if self._closed.is_set():
                engine = None
            else:
                self._warm.append(engine)
                return
        if engine is None:
            return
        self._remove(engine)

    def warm_up(self) -> None:
        """Start the warm pool now (in the background), if there is one."""
        if self.enabled:
            self._ensure_sweeper()
            self._refill_later()

    def warm_names(self) -> list[str]:
        with self._lock:
            return [engine.name for engine in self._warm]

    def wait_warm(self, timeout: float) -> int:
        """Wait until the warm pool is full (benches); how many are warm."""
        wanted = min(self.settings.sandbox_warm, self.settings.max_sandboxes)
        with contextlib.suppress(LessonFailed):
            wait_until(lambda: len(self._warm) >= wanted, timeout, 0.2, "the warm pool")
        return len(self._warm)

    def _ensure_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is None and not self._closed.is_set():
                self._sweeper = threading.Thread(target=self._sweep_loop, daemon=True)
                self._sweeper.start()

    def _sweep_loop(self) -> None:
        while not self._closed.wait(SWEEP_INTERVAL):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - keep sweeping; the next pass retries
                log.exception("The learner engines' sweep failed")

    def close_all(self) -> None:
        """Remove every engine (the platform is closing)."""
        self._closed.set()
        with self._lock:
            engines = list(self._owned.values()) + self._warm
            self._owned.clear()
            self._warm.clear()
        for engine in engines:
            self._remove(engine)
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

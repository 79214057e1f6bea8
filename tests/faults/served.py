"""A platform served for real, for the fault suite and ``bench/faults.py``.

``containerpoker portal`` (gunicorn, and the recovery monitor it starts beside it) runs as a
child process in its own session, on its own instance name and data folder: what `make run`
serves, so a fault meets the whole platform, not a part of it. The data folder is a small tmpfs
when this runs as root (the disk-full fault fills it). Users are made straight in the store with
one password hash and get tokens signed with the portal's key: 200 Argon2 hashes would cost
minutes on two cores and prove nothing here.

Nothing here is pytest-specific; the suite's fixtures (``conftest.py``) and the bench build
:class:`ServedPlatform` the same way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import requests

CLI = str(Path(sys.executable).parent / "containerpoker")
RUNTIME = "nginx"
TMPFS_SIZE = "64m"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``check`` until it returns something true; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, requests.RequestException) as exc:
            value, last = None, exc
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s ({last or 'no error'})")


def serves(url: str, expect: str) -> bool:
    """The URL answers 200 with exactly ``expect``."""
    try:
        response = requests.get(url, timeout=2)
    except requests.RequestException:
        return False
    return response.status_code == 200 and response.text.strip() == expect


class ServedPlatform:
    """One served platform: start, kill, restart; users, claims, uploads; the invariants.

    ``labels``: extra labels on everything it creates (the test run's or the bench's), which
    ``cleanup`` removes. ``ports``: the nginx pool's first host port (100 ports from there).
    """

    def __init__(
        self,
        *,
        labels: str,
        ports: int,
        warm: int = 2,
        maximum: int = 8,
        monitor_interval: float = 3.0,
        tmpfs: bool | None = None,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="cp-faults-"))
        self.data = self.root / "data"
        self.data.mkdir()
        self.tmpfs = (os.geteuid() == 0) if tmpfs is None else tmpfs
        if self.tmpfs:  # the disk-full fault says so when this could not be done
            mounted = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE},mode=0755", "tmpfs", self.data],
                check=False,
                capture_output=True,
            )
            self.tmpfs = mounted.returncode == 0
        self.instance = "f" + secrets.token_hex(4)
        self.portal_port = free_port()
        self.url = f"http://localhost:{self.portal_port}"
        self.warm, self.maximum = warm, maximum
        self.port_range = (ports, ports + 99)
        self.env = {
            **os.environ,
            "CONTAINERPOKER_DATA_DIR": str(self.data),
            "CONTAINERPOKER_ENV_FILE": str(self.root / "none.env"),
            "CONTAINERPOKER_INSTANCE": self.instance,
            "CONTAINERPOKER_RUNTIMES": RUNTIME,
            "CONTAINERPOKER_NGINX_PORTS": f"{ports}-{ports + 99}",
            "CONTAINERPOKER_NGINX_WARM": str(warm),
            "CONTAINERPOKER_NGINX_MAX": str(maximum),
            "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
            "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
            "CONTAINERPOKER_PORTAL_HOST": "localhost",
            "CONTAINERPOKER_PORTAL_PORT": str(self.portal_port),
            "CONTAINERPOKER_EXTRA_LABELS": labels,
            "CONTAINERPOKER_WARM_TIMEOUT": "30",
            "CONTAINERPOKER_MONITOR_INTERVAL": str(monitor_interval),
            "CONTAINERPOKER_SECRET_KEY": secrets.token_hex(32),
            "CONTAINERPOKER_MAX_PER_USER": "3",
        }
        self.labels = labels
        self.process: subprocess.Popen | None = None
        self.docker = docker.from_env(version="auto")
        self._app = None
        self._platform = None
        self._user_seq = 0

    # -- the served platform ---------------------------------------------------------

    def settings(self):
        from containerpoker.config import load_settings

        return load_settings(env=self.env)

    @property
    def platform(self):
        """A platform of this instance in this process: the store and the engine, read-only
        by habit (the portal is the one serving)."""
        if self._platform is None:
            from containerpoker.platform import Platform

            self._platform = Platform(self.settings())
        return self._platform

    def init(self) -> None:
        """Warm the pool (what `make run` does before serving)."""
        done = self.cli("pool", "init")
        assert done.returncode == 0, done.stdout + done.stderr

    def start(self, timeout: float = 180) -> float:
        """Serve the portal; seconds until it answers and its monitor watches Docker."""
        started = time.monotonic()
        log = open(self.root / "portal.log", "a")  # noqa: SIM115 - the child writes it
        self.process = subprocess.Popen(
            [CLI, "portal", "--bind", f"127.0.0.1:{self.portal_port}", "--threads", "128"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        wait_for(self.answers, timeout, "the portal answering")
        wait_for(self.watching, timeout, "the recovery monitor watching Docker")
        return time.monotonic() - started

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"the portal exited:\n{self.log_tail()}")
        return requests.get(self.url + "/login", timeout=2).status_code == 200

    def watching(self) -> bool:
        path = self.data / "monitor.log"
        if not path.exists():
            return False
        text = path.read_text(errors="replace")
        return text.count("Watching Docker events") >= getattr(self, "_watch_count", 0) + 1

    def kill(self) -> None:
        """SIGKILL the portal: gunicorn's master, its worker and the monitor (its session)."""
        assert self.process is not None
        self._watch_count = (self.data / "monitor.log").read_text().count("Watching Docker events")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def reconnect(self) -> None:
        """New connections to the engine for this process (after the daemon restarted)."""
        self.docker.close()
        self.docker = docker.from_env(version="auto")
        if self._platform is not None:
            self._platform.close()
            self._platform = None

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [CLI, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for name in ("portal.log", "data/monitor.log"):
            path = self.root / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name}\n" + "\n".join(tail))
        return "\n".join(parts)

    def cleanup(self) -> None:
        """Stop the portal, remove everything it made, unmount and delete the data folder."""
        self.stop()
        if self._platform is not None:
            self._platform.close()
        key, _, value = self.labels.partition("=")
        selector = [f"{key}={value}", f"containerpoker.instance={self.instance}"]
        for container in self.docker.containers.list(all=True, filters={"label": selector}):
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True, v=True)
        for volume in self.docker.volumes.list(filters={"label": selector}):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)
        for network in self.docker.networks.list(filters={"label": selector}):
            with contextlib.suppress(docker.errors.APIError):
                network.remove()
        if self.tmpfs:
            subprocess.run(["umount", "-l", self.data], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        self.docker.close()

    # -- users and their requests ---------------------------------------------------------

    def users(self, count: int) -> list[User]:
        """``count`` new users, each with a token (made in the store; see the module doc)."""
        from flask_jwt_extended import create_access_token
        from sqlalchemy import insert, select

        from containerpoker.accounts import hash_password
        from containerpoker.portal import create_app
        from containerpoker.store import users

        if self._app is None:
            self._app = create_app(settings=self.settings())
            self._hash = hash_password("a long enough passphrase")
        names = []
        for _ in range(count):
            self._user_seq += 1
            names.append(f"u{self._user_seq:04d}")
        store = self.platform.store
        with store.write() as conn:
            conn.execute(
                insert(users),
                [
                    {
                        "username": name,
                        "email": f"{name}@example.org",
                        "password_hash": self._hash,
                        "is_admin": 0,
                        "created_at": time.time(),
                    }
                    for name in names
                ],
            )
            ids = dict(conn.execute(select(users.c.username, users.c.id)).all())
        with self._app.app_context():
            return [
                User(
                    self,
                    name,
                    create_access_token(identity=name, additional_claims={"uid": ids[name]}),
                )
                for name in names
            ]

    def claim_all(self, people: list[User], workers: int = 50) -> list[requests.Response]:
        """Everyone claims at once (a burst); the responses, in order."""
        with ThreadPoolExecutor(min(workers, len(people))) as pool:
            return list(pool.map(lambda u: u.claim(), people))

    # -- the invariants ------------------------------------------------------------------

    def double_owners(self, handed: dict[str, set[str]] | None = None) -> int:
        """Containers with two owners, counted three ways: one owner holding two containers
        of the runtime in the store; a container whose owner label names someone other than
        its row; and (``handed``: container name -> users the API gave it to) one container
        handed to two users."""
        rows = [r for r in self.platform.pool.rows.listed() if r.owner]
        per_owner: dict[tuple[str, str], int] = {}
        for row in rows:
            per_owner[(row.owner, row.runtime)] = per_owner.get((row.owner, row.runtime), 0) + 1
        count = sum(n - 1 for n in per_owner.values())
        labels = {
            c.name: c.labels.get("containerpoker.owner")
            for c in self.platform.engine.list_pool_containers()
        }
        count += sum(1 for r in rows if labels.get(r.name) not in (None, r.owner))
        live = [r for r in self.platform.pool.rows.listed() if r.state != "released"]
        ports = [(r.node, r.host_port) for r in live]
        count += len(ports) - len(set(ports))
        for owners in (handed or {}).values():
            count += len(owners) - 1
        return count

    def ready_and_live(self) -> tuple[int, int]:
        rows = self.platform.pool.rows.listed(runtime=RUNTIME)
        ready = sum(r.state == "ready" for r in rows)
        return ready, sum(r.state != "released" for r in rows)

    def settled(self) -> bool:
        """The pool is at its target: ``warm`` ready, nothing warming or being released, and
        every container the engine runs for this instance has a row (no orphan)."""
        rows = self.platform.pool.rows.listed(runtime=RUNTIME)
        states = [r.state for r in rows]
        names = {r.name for r in rows}
        engine = {c.name for c in self.platform.engine.list_pool_containers()}
        return (
            states.count("ready") == self.warm
            and "warming" not in states
            and "released" not in states
            and engine == names
        )

    def fresh_claim_serves(self) -> bool:
        """A new user launches, uploads and is served (then releases): the platform serves."""
        (user,) = self.users(1)
        if user.claim().status_code not in (200, 201):
            return False
        token = secrets.token_hex(6)
        try:
            if user.upload("probe.html", token).status_code != 201:
                return False
            wait_for(lambda: serves(user.url + "probe.html", token), 30, "the probe served")
            return True
        except AssertionError:
            return False
        finally:
            user.release()


class User:
    """One portal user and the container the API gave them."""

    def __init__(self, served: ServedPlatform, name: str, token: str) -> None:
        self.served, self.name, self.token = served, name, token
        self.box: dict | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.token}

    @property
    def url(self) -> str:
        assert self.box is not None
        return self.box["url"]

    def claim(self, timeout: float = 90) -> requests.Response:
        response = requests.post(
            self.served.url + "/api/containers/spawn",
            json={"runtime": RUNTIME},
            headers=self.headers,
            timeout=timeout,
        )
        if response.status_code in (200, 201):
            self.box = response.json()["container"]
        return response

    def upload(self, filename: str, text: str) -> requests.Response:
        assert self.box is not None
        return requests.post(
            f"{self.served.url}/api/containers/{self.box['name']}/files",
            files={"file": (filename, text.encode())},
            headers=self.headers,
            timeout=60,
        )

    def release(self) -> requests.Response:
        assert self.box is not None
        return requests.post(
            f"{self.served.url}/api/containers/{self.box['name']}/action",
            json={"action": "release"},
            headers=self.headers,
            timeout=60,
        )

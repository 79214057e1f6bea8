"""Restarting this machine's Docker daemon the way it was started, for the daemon-restart fault.

systemd's unit where systemd runs Docker; otherwise (containers, WSL, the machines this project
is built on) ``scripts/engine.sh`` started ``dockerd`` in the background: the same command line,
environment and folder again, in a session of its own, logging where engine.sh logs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import docker

from .served import wait_for


def restart_engine(timeout: float = 120) -> None:
    """Restart dockerd the way it was started: systemd's unit where systemd runs it, else the
    same command line in a session of its own (what scripts/engine.sh starts), logging where
    engine.sh logs. Returns when `docker info` answers."""
    pid = dockerd_pid()
    if _systemd_runs_docker():
        subprocess.run(["systemctl", "restart", "docker"], check=True, timeout=timeout)
    else:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        cwd = os.readlink(f"/proc/{pid}/cwd")
        cwd = cwd if Path(cwd).is_dir() else "/"
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        env = dict(v.decode().split("=", 1) for v in environ if b"=" in v) or dict(os.environ)
        env.setdefault("PATH", os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))
        os.kill(pid, signal.SIGTERM)  # it stops its containers, then exits
        if not _exited(pid, timeout):
            os.kill(pid, signal.SIGKILL)  # an engine must run again, whatever happens
            _exited(pid, 30)
        log = os.environ.get("CONTAINERPOKER_DOCKERD_LOG", "/var/log/containerpoker-dockerd.log")
        with open(log, "ab") as out:
            subprocess.Popen(
                [c.decode() for c in command],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    wait_for(_docker_answers, timeout, "`docker info` answering after the restart")


def _exited(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _state(pid) not in ("gone", "Z"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def dockerd_pid() -> int:
    """This machine's dockerd: the one in our own mount namespace (the engines nested in
    containers, lesson sandboxes and test clusters, run dockerd too, in theirs)."""
    if os.environ.get("DOCKER_HOST", "unix://").split("://")[0] != "unix":
        raise AssertionError("DOCKER_HOST names a remote engine: it cannot be restarted from here")
    ours = os.readlink("/proc/self/ns/mnt")
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                comm = (proc / "comm").read_text().strip()
                if comm == "dockerd" and os.readlink(proc / "ns" / "mnt") == ours:
                    return int(proc.name)
    raise AssertionError("no dockerd runs on this machine (is the engine remote?)")


def _state(pid: int) -> str:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("State:"):
                return line.split()[1]
    except OSError:
        pass
    return "gone"


def _systemd_runs_docker() -> bool:
    try:
        if Path("/proc/1/comm").read_text().strip() != "systemd":
            return False
    except OSError:
        return False
    done = subprocess.run(["systemctl", "is-active", "docker"], capture_output=True, text=True)
    return done.stdout.strip() == "active"


def _docker_answers() -> bool:
    """`docker info`'s question: does the engine answer? (Its socket may not exist yet.)"""
    try:
        client = docker.from_env(version="auto")
    except docker.errors.DockerException:
        return False
    try:
        return bool(client.ping())
    except docker.errors.DockerException:
        return False
    finally:
        client.close()

"""Serving the portal: gunicorn (threads, for the server-sent event streams) or,
with ``dev``, Flask's reloader (a changed .py file restarts it, templates are live).

Beside it runs the recovery monitor (``containerpoker monitor --watch``: the event watcher and
a full pass every ``monitor_interval``, expiry included), so that ``make run`` and ``make dev``
heal and expire containers like a provisioned host, where systemd runs the monitor instead
(``CONTAINERPOKER_PORTAL_MONITOR=0``). It stops with the portal, or when the portal dies.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from ..config import Settings

DEFAULT_THREADS = 64  # each open live stream holds one while it sleeps


def pid_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "portal.pid"


def monitor_pid_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "monitor.pid"


def running_pid(path: Path, role: bytes) -> int | None:
    """The pid in a pid file if that process is still ours (its command line has
    ``containerpoker`` and ``role``); else the file is stale and removed. A killed portal (SIGKILL,
    a crash, a power cut) leaves its pid files, and on a busy host that pid is soon another
    program's: gunicorn would refuse to start, and ``make stop`` would signal a stranger."""
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return None
    if not Path("/proc/self/cmdline").exists():  # no procfs: trust the file
        return pid
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        command = []
    if any(b"containerpoker" in part for part in command) and role in command:
        return pid
    path.unlink(missing_ok=True)
    return None


def start_monitor(settings: Settings) -> subprocess.Popen | None:
    """The recovery monitor as a child process (when ``portal_monitor``), stopped at exit."""
    if not settings.portal_monitor:
        return None
    log = open(Path(settings.data_dir) / "monitor.log", "a", buffering=1)  # noqa: SIM115
    child = subprocess.Popen(
        [sys.executable, "-m", "containerpoker.cli", "monitor", "--watch"]
        + ["--parent", str(os.getpid())],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    monitor_pid_file(settings).write_text(f"{child.pid}\n")
    starter = os.getpid()

    def stop() -> None:
        if os.getpid() != starter:  # a forked worker exiting: the monitor is not its own
            return
        if child.poll() is None:
            child.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(10)
        monitor_pid_file(settings).unlink(missing_ok=True)
        log.close()

    atexit.register(stop)
    return child


def serve(
    settings: Settings, *, bind: str, threads: int = DEFAULT_THREADS, dev: bool = False
) -> None:
    from . import create_app

    host, _, port = bind.rpartition(":")
    if dev:
        app = create_app(settings=settings)
        app.config["TEMPLATES_AUTO_RELOAD"] = True
        app.config["LESSON_EDITING"] = True  # with one local user (portal/editor.py)
        if os.environ.get("WERKZEUG_RUN_MAIN") == "true":  # the reloader's serving child
            app.extensions["containerpoker"].warm_up()
        else:  # the reloader's own process: it lives as long as `make dev`
            start_monitor(settings)
        app.run(
            host=host or "0.0.0.0",
            port=int(port),
            debug=False,
            use_reloader=True,
            # The stat reloader, whatever else is installed: werkzeug picks watchdog when it
            # can import it (mkdocs, a dev dependency, brings it), and watchdog's loop missed
            # edits to a package on PYTHONPATH (tests/e2e/test_dev_reload.py).
            reloader_type="stat",
            reloader_interval=1,
            threaded=True,
        )
        return

    from gunicorn.app.base import BaseApplication

    app = create_app(settings=settings)  # fails here, before forking, on a bad configuration
    running_pid(pid_file(settings), b"portal")  # a stale one would stop gunicorn
    start_monitor(settings)

    class Portal(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": bind,
                "workers": 1,  # one process: the claim batcher and the rate limits live in it
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 60,
                "graceful_timeout": 5,
                "keepalive": 5,
                "pidfile": str(pid_file(settings)),
                "accesslog": str(Path(settings.data_dir) / "portal-access.log"),
                "errorlog": "-",
                "proc_name": "containerpoker-portal",
                # In the worker (threads must not exist before the fork): connect
                # to Docker before the first user pays for it.
                "post_fork": lambda _server, _worker: app.extensions["containerpoker"].warm_up(),
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return app

    Portal().run()


def running(settings: Settings) -> dict[str, int]:
    """The portal and its monitor, by name, with the pid of each one that runs (pid files)."""
    found = {}
    for name, path in (("portal", pid_file(settings)), ("monitor", monitor_pid_file(settings))):
        try:
            pid = int(path.read_text().strip())
            os.kill(pid, 0)  # only asks whether it exists
        except (FileNotFoundError, ValueError, ProcessLookupError):
            continue
        except PermissionError:  # it exists, as another user (systemd's)
            pass
        if not _zombie(pid):
            found[name] = pid
    return found


def _zombie(pid: int) -> bool:
    """Ended, but not yet waited for by its parent: it no longer uses anything."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] == "Z"


def stop_portal(settings: Settings) -> bool:
    """Stop a portal started by ``containerpoker portal``, and its monitor (their pid files);
    False if no portal runs."""
    stopped = False
    for path, role in ((pid_file(settings), b"portal"), (monitor_pid_file(settings), b"monitor")):
        pid = running_pid(path, role)
        if pid is None:
            continue
        try:
            os.kill(pid, signal.SIGTERM)
            stopped = stopped or role == b"portal"
        except ProcessLookupError:
            pass
    return stopped

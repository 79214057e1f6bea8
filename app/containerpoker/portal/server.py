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
            reloader_interval=1,
            threaded=True,
        )
        return

    from gunicorn.app.base import BaseApplication

    app = create_app(settings=settings)  # fails here, before forking, on a bad configuration
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


def stop_portal(settings: Settings) -> bool:
    """Stop a portal started by ``containerpoker portal``, and its monitor (their pid files);
    False if no portal runs."""
    stopped = False
    for path in (pid_file(settings), monitor_pid_file(settings)):
        try:
            os.kill(int(path.read_text().strip()), signal.SIGTERM)
            stopped = stopped or path == pid_file(settings)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
    return stopped

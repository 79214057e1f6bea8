"""Serving the portal: gunicorn (threads, for the server-sent event streams) or,
with ``dev``, Flask's reloader (a changed .py file restarts it, templates are live)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ..config import Settings

DEFAULT_THREADS = 64  # each open live stream holds one while it sleeps


def pid_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "portal.pid"


def serve(
    settings: Settings, *, bind: str, threads: int = DEFAULT_THREADS, dev: bool = False
) -> None:
    from . import create_app

    host, _, port = bind.rpartition(":")
    if dev:
        app = create_app(settings=settings)
        app.config["TEMPLATES_AUTO_RELOAD"] = True
        if os.environ.get("WERKZEUG_RUN_MAIN") == "true":  # the reloader's serving child
            app.extensions["containerpoker"].warm_up()
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
    """Stop a portal started by ``containerpoker portal`` (its pid file); False if none runs."""
    path = pid_file(settings)
    try:
        pid = int(path.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True

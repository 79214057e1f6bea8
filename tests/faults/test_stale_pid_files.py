"""What the portal-SIGKILL fault found: a killed portal leaves its pid files behind, and on a busy
host their pids soon belong to other programs. The portal must start again all the same, and
`containerpoker stop` (`make stop`) must not signal those programs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from containerpoker.config import load_settings
from containerpoker.portal.server import monitor_pid_file, pid_file, running_pid, stop_portal

from ..conftest import make_env


def test_pid_files_naming_another_program_are_stale_and_it_is_not_signalled(tmp_path):
    settings = load_settings(env=make_env(tmp_path, "tstale"))
    settings.data_dir.mkdir(parents=True)
    stranger = subprocess.Popen(["sleep", "600"])
    ours = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", "containerpoker", "monitor"]
    )
    try:
        pid_file(settings).write_text(f"{stranger.pid}\n")
        monitor_pid_file(settings).write_text(f"{stranger.pid}\n")
        assert stop_portal(settings) is False
        with pytest.raises(subprocess.TimeoutExpired):  # still alive: it was not signalled
            stranger.wait(2)
        assert not pid_file(settings).exists() and not monitor_pid_file(settings).exists()
        # A live process of ours is found, and the file kept.
        monitor_pid_file(settings).write_text(f"{ours.pid}\n")
        assert running_pid(monitor_pid_file(settings), b"monitor") == ours.pid
        stop_portal(settings)
        assert ours.wait(10) != 0  # stopped by SIGTERM
    finally:
        for process in (stranger, ours):
            process.kill()
            process.wait()

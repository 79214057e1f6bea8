"""Recovery time: from `docker kill` of an assigned container to its replacement serving the
user's uploaded file again, with the event watcher and with the timer alone.

    uv run python bench/recovery.py [--kills 5] [--timer-kills 3] [--interval 20]

The monitor runs as it does on a platform host: the real `containerpoker monitor --watch`
process, and for the timer `containerpoker monitor --once` started every --interval seconds
(the systemd timer's default is 2 min; the time with the timer alone is about half the interval
on average, the whole interval at worst, plus one pass). The baseline, measured in the same run:
replacing the container by hand (remove, create, start, until it serves), the floor any monitor
adds its reaction time to.

Target (issue 6): with the watcher, <= 3 s from the kill to the file being served.
Everything the bench creates is labelled ``containerpoker.bench`` and removed at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import docker

from _common import BENCH_TAG, cleanup, pct  # bench/ is on sys.path
from containerpoker.config import load_settings
from containerpoker.platform import Platform

CLI = str(Path(sys.executable).parent / "containerpoker")
TARGET_S = 3.0


def serves(url: str, token: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200 and response.read().decode().strip() == token
    except (OSError, urllib.error.URLError):
        return False


def kill_and_time(manager, name: str, url: str, token: str, limit: float) -> float:
    """Kill the container; seconds until the user's file is served again."""
    container = docker.from_env().containers.get(name)
    start = time.perf_counter()
    container.kill()  # the fault, injected for real
    while time.perf_counter() - start < limit:
        if serves(url, token):
            return time.perf_counter() - start
        time.sleep(0.02)
    raise SystemExit(f"not recovered within {limit:.0f} s: is the monitor running?")


def by_hand(manager, name: str, url: str, token: str) -> float:
    """The floor: replace the container ourselves, right away (what reconcile does)."""
    start = time.perf_counter()
    docker.from_env().containers.get(name).kill()
    report = manager.reconcile(only=[name])
    assert report.replaced == [name], report
    while not serves(url, token):
        time.sleep(0.02)
    return time.perf_counter() - start


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label:34} p50 {statistics.median(values):6.2f} s   max {max(values):6.2f} s"
        f"   (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=5, help="kills with the watcher")
    parser.add_argument("--timer-kills", type=int, default=3, help="kills with the timer alone")
    parser.add_argument("--interval", type=float, default=20, help="timer interval, seconds")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="cp-bench-recovery-"))
    env = {
        "CONTAINERPOKER_DATA_DIR": str(data),
        "CONTAINERPOKER_ENV_FILE": str(data / "none.env"),
        "CONTAINERPOKER_INSTANCE": "bench" + secrets.token_hex(3),
        "CONTAINERPOKER_RUNTIMES": "nginx",
        "CONTAINERPOKER_NGINX_PORTS": "19500-19599",
        "CONTAINERPOKER_NGINX_WARM": "1",
        "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
        "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
        "CONTAINERPOKER_EXTRA_LABELS": BENCH_TAG,
    }
    child_env = {**os.environ, **env}
    settings = load_settings(env=env)
    watcher = None
    try:
        with Platform(settings) as platform:
            manager = platform.pool
            manager.init()
            box = manager.claim("bench-user", "nginx")
            token = secrets.token_hex(8)
            manager.upload(box.name, "proof.html", token.encode(), owner="bench-user")
            url = box.url + "proof.html"
            assert serves(url, token), "the uploaded file is not served"
            print(f"One assigned nginx container ({box.name}) serving {url}")

            floor = [by_hand(manager, box.name, url, token) for _ in range(3)]

            watcher = subprocess.Popen(
                [CLI, "monitor", "--watch"],
                env=child_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for line in watcher.stdout:
                if "Watching Docker events" in line:
                    break
            else:
                raise SystemExit("the watcher stopped before watching")
            watched = []
            for _ in range(args.kills):
                time.sleep(1.0)
                watched.append(kill_and_time(manager, box.name, url, token, 30))
            watcher.terminate()
            watcher.wait(timeout=30)
            watcher = None

            stop = threading.Event()

            def timer() -> None:  # what systemd does with OnUnitActiveSec=interval
                while not stop.is_set():
                    subprocess.run([CLI, "-q", "monitor", "--once"], env=child_env, check=False)
                    stop.wait(args.interval)

            ticking = threading.Thread(target=timer, daemon=True)
            ticking.start()
            timed = []
            for _ in range(args.timer_kills):
                time.sleep(random.uniform(1, args.interval))
                timed.append(kill_and_time(manager, box.name, url, token, args.interval * 3))
            stop.set()
            ticking.join(timeout=args.interval + 30)
            log = (data / "recovery.log").read_text().splitlines()
    finally:
        if watcher is not None:
            watcher.kill()
        cleanup()
        shutil.rmtree(data, ignore_errors=True)

    print()
    print(summary("replaced by hand (baseline)", floor))
    print(summary("with the watcher (monitor --watch)", watched))
    print(summary(f"with the timer alone (every {args.interval:.0f} s)", timed))
    print(f"watcher / baseline (p50): {statistics.median(watched) / statistics.median(floor):.2f}")
    print(f"watcher p99 of {len(watched)}: {pct(watched, 99):.2f} s")
    print(f"recovery log: {len(log)} entries written")
    verdict = "met" if max(watched) <= TARGET_S else "MISSED"
    print(f"target: watcher <= {TARGET_S:.0f} s from kill to the file served: {verdict}")
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main())

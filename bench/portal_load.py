"""The portal under load: 50 users register, log in, launch and release, all at once.

    uv run python bench/portal_load.py [--users 50] [--runtime nginx]

Starts the portal as `containerpoker portal` serves it (gunicorn) on a bench
instance with a warm pool big enough for every user, then runs N threads,
each one user doing register -> login -> launch -> release over HTTP as fast
as it can, all starting together.  Prints p50/p99 per endpoint, double
assignments (must be 0), and the portal's peak RSS (sampled every 20 ms).
Targets (issue 3): launch p99 <= 75 ms with a warm pool; RSS <= 250 MB.
Everything is labelled ``containerpoker.bench`` and removed at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import BENCH_TAG, cleanup, pct  # bench/ is on sys.path
from containerpoker.config import load_settings
from containerpoker.platform import Platform

PASSWORD = "a long enough passphrase"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_of_tree(pid: int) -> tuple[int, int]:
    """(RSS of ``pid`` and its children, RSS of the largest one), in bytes."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    sizes = []
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) * 1024)
        except OSError:
            pass
    return sum(sizes), max(sizes, default=0)


class Client:
    """One keep-alive HTTP connection per simulated user (as a browser would have)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("localhost", port, timeout=60)
        self.token = ""

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, float]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        start = time.perf_counter()
        self.conn.request(method, path, body=json.dumps(body) if body else None, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        took = time.perf_counter() - start
        return response.status, (json.loads(data) if data else {}), took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--runtime", default="nginx")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of N users (more samples)")
    args = parser.parse_args()
    n, runtime = args.users, args.runtime
    instance = "bench" + secrets.token_hex(3)
    data = Path(tempfile.mkdtemp(prefix="cp-bench-portal-"))
    port = free_port()
    env = os.environ | {
        "CONTAINERPOKER_DATA_DIR": str(data),
        "CONTAINERPOKER_ENV_FILE": str(data / "none.env"),
        "CONTAINERPOKER_INSTANCE": instance,
        "CONTAINERPOKER_RUNTIMES": runtime,
        f"CONTAINERPOKER_{runtime.upper()}_PORTS": "28000-28399",
        f"CONTAINERPOKER_{runtime.upper()}_WARM": str(n + 5),
        f"CONTAINERPOKER_{runtime.upper()}_MAX": str(2 * n + 20),
        "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
        "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
        "CONTAINERPOKER_PORTAL_HOST": "localhost",
        "CONTAINERPOKER_PORTAL_PORT": str(port),
        "CONTAINERPOKER_EXTRA_LABELS": BENCH_TAG,
    }
    settings = load_settings(env=env)
    cli = str(Path(sys.executable).parent / "containerpoker")
    portal = None
    try:
        print(f"warming a pool of {n + 5} {runtime} containers ...", flush=True)
        with Platform(settings) as platform:
            pool = platform.pool
            pool.init()
        log = open(data / "portal.log", "w")  # noqa: SIM115 - closed with the process
        portal = subprocess.Popen(
            [cli, "portal", "--bind", f"127.0.0.1:{port}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                probe = http.client.HTTPConnection("localhost", port, timeout=2)
                probe.request("GET", "/login")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            if portal.poll() is not None or time.monotonic() > deadline:
                print((data / "portal.log").read_text()[-2000:])
                raise SystemExit("the portal did not start")
            time.sleep(0.3)

        peak = {"total": 0, "largest": 0}
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                total, largest = rss_of_tree(portal.pid)
                peak["total"] = max(peak["total"], total)
                peak["largest"] = max(peak["largest"], largest)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        idle_total, _ = rss_of_tree(portal.pid)

        timings: dict[str, list[float]] = defaultdict(list)
        failures: list[str] = []
        owners_of: dict[str, set[str]] = defaultdict(set)
        lock = threading.Lock()
        barrier = threading.Barrier(n)

        def user(i: int) -> None:
            name = f"load{i:04d}"
            client = Client(port)
            barrier.wait()
            steps = [
                (
                    "register",
                    "POST",
                    "/api/auth/register",
                    {"username": name, "email": f"{name}@example.org", "password": PASSWORD},
                ),
                ("login", "POST", "/api/auth/login", {"username": name, "password": PASSWORD}),
                ("launch", "POST", "/api/containers/spawn", {"runtime": runtime}),
            ]
            for label, method, path, body in steps:
                status, reply, took = client.call(method, path, body)
                with lock:
                    timings[label].append(took)
                if status >= 300:
                    failures.append(f"{name} {label}: {status} {reply}")
                    return
                if label == "login":
                    client.token = reply["access_token"]
                if label == "launch":
                    container = reply["container"]
                    with lock:
                        owners_of[container["name"]].add(name)
                        timings["launch: claim inside the portal"].append(reply["claim_ms"] / 1000)
                    if container["cold_start"]:
                        failures.append(f"{name}: cold start (the pool was not warm enough)")
            status, reply, took = client.call(
                "POST", f"/api/containers/{container['name']}/action", {"action": "release"}
            )
            with lock:
                timings["release"].append(took)
            if status != 200:
                failures.append(f"{name} release: {status} {reply}")

        walls = []
        for round_no in range(args.rounds):
            if round_no:  # wait until the portal has refilled the pool for the next round
                with Platform(settings) as platform:
                    pool = platform.pool
                    while {p.runtime: p for p in pool.status()}[runtime].ready < n:
                        time.sleep(0.5)
            started = time.perf_counter()
            with ThreadPoolExecutor(n) as threads:
                list(threads.map(user, range(round_no * n, (round_no + 1) * n)))
            walls.append(time.perf_counter() - started)
        sampling.set()
        sampler.join()
    finally:
        if portal is not None:
            os.killpg(portal.pid, signal.SIGTERM)
            try:
                portal.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(portal.pid, signal.SIGKILL)
        cleanup()
        shutil.rmtree(data, ignore_errors=True)  # the bench's database and logs

    doubles = sum(1 for owners in owners_of.values() if len(owners) > 1)
    print()
    print(
        f"{args.rounds} rounds of {n} users, each register -> login -> launch -> release, "
        f"all at once: {', '.join(f'{w:.1f} s' for w in walls)}"
    )
    for label in ("register", "login", "launch", "launch: claim inside the portal", "release"):
        values = timings[label]
        if values:
            print(
                f"  {label:9} {len(values):3} requests  p50 {pct(values, 50) * 1000:8.1f} ms"
                f"  p99 {pct(values, 99) * 1000:8.1f} ms"
            )
    print(f"double assignments: {doubles}")
    print(f"failed requests: {len(failures)}")
    for line in failures[:10]:
        print("   ", line)
    mb = 1024 * 1024
    print(
        f"portal RSS: idle {idle_total / mb:.0f} MB, peak {peak['total'] / mb:.0f} MB "
        f"(gunicorn master + worker; largest process {peak['largest'] / mb:.0f} MB)"
    )
    launch_p99 = pct(timings["launch"], 99) if timings["launch"] else float("inf")
    checks = [
        ("launch p99 <= 75 ms with a warm pool", launch_p99 <= 0.075),
        ("portal RSS <= 250 MB", peak["total"] <= 250 * mb),
        ("no double assignment", doubles == 0),
        ("no failed request", not failures),
    ]
    print()
    for label, ok in checks:
        print(f"  [{'met' if ok else 'MISSED'}] {label}")
    return 0 if not failures and doubles == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

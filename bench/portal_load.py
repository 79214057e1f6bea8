"""The portal under load: 50 users register at once, log in at once, then launch and release.

    uv run python bench/portal_load.py [--users 50] [--rounds 3] [--no-launch] [--no-baseline]

Starts the portal as `containerpoker portal` serves it (gunicorn) on a bench instance with a
warm pool big enough for every user. Each round is bursts of N threads, each burst released
by one barrier, every user on their own HTTP connection (as a browser has): N registrations,
then N logins, then N launch -> release. Prints p50/p99 per endpoint, double assignments
(must be 0), and the portal's peak RSS (sampled every 20 ms).

Logins and registrations cost one Argon2id hash each, so they are printed next to:

- the hashing rate of this machine, measured in the same run with the portal's own hasher,
  on 1 thread and on one thread per core (before and after the rounds). A burst of N logins
  cannot end before N hashes at the portal's rate: the *floor* its p99 is compared with;
- a baseline portal served beside it with one hashing thread, as the portal was before
  issue 11 (``--no-baseline`` leaves it out). Its registration and login bursts alternate
  with the portal's, round after round, so both meet the same load on a shared machine.

``--no-launch`` times registrations and logins only, with no pool to warm (a minute).

Targets: launch p99 <= 75 ms with a warm pool, RSS <= 250 MB (issue 3); login p99 <= 1.5 s
for 50 at once on a 2-core machine (issue 11). Everything is labelled
``containerpoker.bench=<run>`` and removed at the end.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import BENCH_TAG, cleanup, pct  # bench/ is on sys.path
from containerpoker.accounts import PASSWORD_HASHER, usable_cores
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


def hash_rate(threads: int, seconds: float = 3.0) -> float:
    """Argon2id hashes per second on ``threads`` threads, with the portal's parameters."""
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def hash_until(slot: int) -> None:
        start.wait()
        while time.perf_counter() < deadline[0]:
            PASSWORD_HASHER.hash(PASSWORD)
            counts[slot] += 1

    workers = [threading.Thread(target=hash_until, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - began)


class Client:
    """One keep-alive HTTP connection per simulated user (as a browser would have)."""

    def __init__(self, port: int, token: str = "") -> None:
        self.conn = http.client.HTTPConnection("localhost", port, timeout=120)
        self.token = token

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


class ServedPortal:
    """``containerpoker portal`` in its own process group, with its own data folder."""

    def __init__(self, label: str, env: dict[str, str], data: Path) -> None:
        self.label = label
        self.port = int(env["CONTAINERPOKER_PORTAL_PORT"])
        self.tokens: dict[str, str] = {}
        self.log = data / "portal.log"
        cli = str(Path(sys.executable).parent / "containerpoker")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [cli, "portal", "--bind", f"127.0.0.1:{self.port}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                probe = http.client.HTTPConnection("localhost", self.port, timeout=2)
                probe.request("GET", "/login")
                if probe.getresponse().status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                print(self.log.read_text()[-2000:])
                raise SystemExit(f"the {self.label} portal did not start")
            time.sleep(0.3)

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--runtime", default="nginx")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of N users (more samples)")
    parser.add_argument(
        "--hash-threads", type=int, default=0, help="the portal's hashing threads (0: per core)"
    )
    parser.add_argument("--ports", default="28000-28399", help="host ports of the bench pool")
    parser.add_argument(
        "--no-launch", action="store_true", help="registrations and logins only (no pool)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="no one-thread baseline portal beside it"
    )
    args = parser.parse_args()
    n, runtime = args.users, args.runtime
    instance = "bench" + secrets.token_hex(3)
    data = Path(tempfile.mkdtemp(prefix="cp-bench-portal-"))
    env = os.environ | {
        "CONTAINERPOKER_DATA_DIR": str(data / "portal"),
        "CONTAINERPOKER_ENV_FILE": str(data / "none.env"),
        "CONTAINERPOKER_INSTANCE": instance,
        "CONTAINERPOKER_RUNTIMES": runtime,
        f"CONTAINERPOKER_{runtime.upper()}_PORTS": args.ports,
        f"CONTAINERPOKER_{runtime.upper()}_WARM": "0" if args.no_launch else str(n + 5),
        f"CONTAINERPOKER_{runtime.upper()}_MAX": str(2 * n + 20),
        "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
        "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
        "CONTAINERPOKER_PORTAL_HOST": "localhost",
        "CONTAINERPOKER_PORTAL_PORT": str(free_port()),
        "CONTAINERPOKER_HASH_THREADS": str(args.hash_threads),
        "CONTAINERPOKER_PORTAL_MONITOR": "0",  # its passes would be noise here
        "CONTAINERPOKER_EXTRA_LABELS": BENCH_TAG,
    }
    # The baseline: its own instance and data, no pool, one hashing thread.
    baseline_env = env | {
        "CONTAINERPOKER_DATA_DIR": str(data / "baseline"),
        "CONTAINERPOKER_INSTANCE": instance + "-base",
        f"CONTAINERPOKER_{runtime.upper()}_WARM": "0",
        "CONTAINERPOKER_PORTAL_PORT": str(free_port()),
        "CONTAINERPOKER_HASH_THREADS": "1",
    }
    settings = load_settings(env=env)
    cores = usable_cores()
    portal_threads = args.hash_threads or cores
    portals: list[ServedPortal] = []
    rates: list[tuple[float, float]] = []  # (1 thread, one per core), before and after
    try:
        if not args.no_launch:
            print(f"warming a pool of {n + 5} {runtime} containers ...", flush=True)
            with Platform(settings) as platform:
                platform.pool.init()
        for label, each_env in [("portal", env), ("baseline", baseline_env)][
            : 1 if args.no_baseline else 2
        ]:
            folder = Path(each_env["CONTAINERPOKER_DATA_DIR"])
            folder.mkdir(parents=True, exist_ok=True)
            portals.append(ServedPortal(label, each_env, folder))
        for portal in portals:
            portal.wait_ready()
        main_portal = portals[0]

        print("measuring the hashing rate ...", flush=True)
        rates.append((hash_rate(1), hash_rate(cores)))

        peak = {"total": 0, "largest": 0}
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                total, largest = rss_of_tree(main_portal.process.pid)
                peak["total"] = max(peak["total"], total)
                peak["largest"] = max(peak["largest"], largest)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        idle_total, _ = rss_of_tree(main_portal.process.pid)

        timings: dict[tuple[str, str], list[float]] = defaultdict(list)
        walls: dict[tuple[str, str], list[float]] = defaultdict(list)
        failures: list[str] = []
        owners_of: dict[str, set[str]] = defaultdict(set)
        lock = threading.Lock()

        def burst(portal: ServedPortal, label: str, names: list[str], step: Callable) -> None:
            """Run ``step`` for every user at once (each connected first)."""
            barrier = threading.Barrier(len(names) + 1)

            def one(name: str) -> None:
                client = Client(portal.port, portal.tokens.get(name, ""))
                client.conn.connect()
                barrier.wait()
                step(portal, name, client)
                client.conn.close()

            with ThreadPoolExecutor(len(names)) as threads:
                done = [threads.submit(one, name) for name in names]
                barrier.wait()
                started = time.perf_counter()
                for each in done:
                    each.result()
                walls[portal.label, label].append(time.perf_counter() - started)

        def timed(portal, label, name, client, method, path, body=None):
            status, reply, took = client.call(method, path, body)
            with lock:
                timings[portal.label, label].append(took)
                if status >= 300:
                    failures.append(f"{portal.label}: {name} {label}: {status} {reply}")
            return status, reply

        def register(portal: ServedPortal, name: str, client: Client) -> None:
            body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
            timed(portal, "register", name, client, "POST", "/api/auth/register", body)

        def login(portal: ServedPortal, name: str, client: Client) -> None:
            body = {"username": name, "password": PASSWORD}
            status, reply = timed(portal, "login", name, client, "POST", "/api/auth/login", body)
            if status == 200:
                portal.tokens[name] = reply["access_token"]

        def launch_and_release(portal: ServedPortal, name: str, client: Client) -> None:
            if not client.token:
                return
            body = {"runtime": runtime}
            spawn = "/api/containers/spawn"
            status, reply = timed(portal, "launch", name, client, "POST", spawn, body)
            if status >= 300:
                return
            container = reply["container"]
            with lock:
                owners_of[container["name"]].add(name)
                timings[portal.label, "launch: claim inside the portal"].append(
                    reply["claim_ms"] / 1000
                )
                if container["cold_start"]:
                    failures.append(f"{name}: cold start (the pool was not warm enough)")
            action = f"/api/containers/{container['name']}/action"
            timed(portal, "release", name, client, "POST", action, {"action": "release"})

        def settle() -> None:
            """Wait until the pool is back at its target with nothing warming or being removed.

            Releases start refills and removals that cost the engine (and so the hashing
            threads) CPU for tens of seconds: a burst timed during them measures the refill.
            """
            if args.no_launch:
                return
            with Platform(settings) as platform:
                while True:
                    pool = {p.runtime: p for p in platform.pool.status()}[runtime]
                    if pool.ready >= pool.warm_target and pool.total == pool.ready:
                        break
                    time.sleep(0.5)
            time.sleep(2)  # the last removal's volume and the health checks' first execs

        for round_no in range(args.rounds):
            if round_no:
                settle()
            names = [f"load{i:04d}" for i in range(round_no * n, (round_no + 1) * n)]
            # Alternate who goes first, so that neither always meets the other's leftovers.
            order = portals if round_no % 2 == 0 else portals[::-1]
            for label, step in (("register", register), ("login", login)):
                for portal in order:
                    burst(portal, label, names, step)
            if not args.no_launch:
                burst(main_portal, "launch", names, launch_and_release)
        sampling.set()
        sampler.join()
        settle()
        rates.append((hash_rate(1), hash_rate(cores)))
    finally:
        for portal in portals:
            portal.stop()
        cleanup()
        shutil.rmtree(data, ignore_errors=True)  # the bench's databases and logs

    one = sum(r[0] for r in rates) / len(rates)
    many = sum(r[1] for r in rates) / len(rates)
    floors = {"portal": n / (one if portal_threads == 1 else many), "baseline": n / one}
    doubles = sum(1 for owners in owners_of.values() if len(owners) > 1)
    print()
    print(
        f"password hashing in this run (Argon2id as the portal hashes): 1 thread {one:.1f} "
        f"hashes/s, {cores} threads {many:.1f} hashes/s (x{many / one:.2f}); "
        + ", ".join(
            f"{when} {a:.1f} / {b:.1f}"
            for when, (a, b) in zip(("before the rounds", "after"), rates, strict=False)
        )
    )
    print(
        f"floor of {n} logins at once (that many hashes at the rate above): portal "
        f"({portal_threads} hashing threads) {floors['portal']:.2f} s"
        + ("" if args.no_baseline else f", baseline (1 thread) {floors['baseline']:.2f} s")
    )
    print(f"{args.rounds} rounds of {n} users, each step a burst of {n} at once:")
    for portal in portals:
        for label in ("register", "login", "launch"):
            if walls[portal.label, label]:
                times = ", ".join(f"{w:.2f} s" for w in walls[portal.label, label])
                print(f"  {portal.label} {label} bursts: {times}")
    for portal in portals:
        for label in ("register", "login", "launch", "launch: claim inside the portal", "release"):
            values = timings[portal.label, label]
            if not values:
                continue
            line = (
                f"  {portal.label:8} {label:9} {len(values):3} requests"
                f"  p50 {pct(values, 50) * 1000:8.1f} ms  p99 {pct(values, 99) * 1000:8.1f} ms"
            )
            if label in ("register", "login"):
                line += f"  (p99 = {pct(values, 99) / floors[portal.label]:.2f} x its floor)"
            print(line)
    login_p99 = pct(timings["portal", "login"], 99) if timings["portal", "login"] else float("inf")
    if not args.no_baseline and timings["baseline", "login"]:
        base = pct(timings["baseline", "login"], 99)
        print(f"login p99: baseline / portal = {base / login_p99:.2f}")
    print(f"double assignments: {doubles}")
    print(f"failed requests: {len(failures)}")
    for line in failures[:10]:
        print("   ", line)
    mb = 1024 * 1024
    print(
        f"portal RSS: idle {idle_total / mb:.0f} MB, peak {peak['total'] / mb:.0f} MB "
        f"(gunicorn master + worker; largest process {peak['largest'] / mb:.0f} MB)"
    )
    launch = timings["portal", "launch"]
    checks = []
    if not args.no_launch:
        launch_p99 = pct(launch, 99) if launch else float("inf")
        checks.append(("launch p99 <= 75 ms with a warm pool", launch_p99 <= 0.075))
    checks += [
        (f"login p99 <= 1.5 s with {n} at once", login_p99 <= 1.5),
        ("login p99 <= 1.25 x its floor in this run", login_p99 <= 1.25 * floors["portal"]),
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

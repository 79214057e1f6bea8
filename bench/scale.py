"""How the platform's costs grow with the number of pool containers: 50, 200, 500.

    uv run python bench/scale.py [--sizes 50,200,500] [--cluster] [--no-host]

For each size, a warm nginx pool of that many containers, on this machine's engine and (with
``--cluster``) split over a real 3-node test Swarm (tests/cluster: one manager, two workers).
Prints, per backend and size:

- claim p50 and p99 with 50 claims at once (50 threads released by one barrier);
- one full reconcile pass (the recovery monitor's work: every container checked, orphans
  swept, what expired released), the median of three;
- ``GET /api/status`` and the containers page as an admin sees it (every container), through
  the portal's own app, the median of five;
- the engine's memory per container: the resident memory of the engine's own processes
  (dockerd, containerd and each container's shim and port proxy) divided by the containers;
- the machine's CPU with the pool idle (percent of all cores busy, over 10 s): what the
  pool's own health checks cost (each one a ``docker exec``, every HEALTH_INTERVAL per
  container).

The figures are taken once every container has had a health check (one health interval after
the pool is warm): before that the engine is not yet at the load it keeps.

Ratios against the 50-container figures of the same run show what grows faster than the count.
Everything is labelled ``containerpoker.bench`` and removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import BENCH_TAG, cleanup, pct  # bench/ is on sys.path
from containerpoker.config import load_settings
from containerpoker.platform import Platform

ROOT = Path(__file__).resolve().parents[1]
ENGINE_PROCESSES = (
    "dockerd",
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v2",
    "docker-proxy",
)


def env_for(size: int, data: Path, extra: dict[str, str]) -> dict[str, str]:
    return {
        "CONTAINERPOKER_DATA_DIR": str(data),
        "CONTAINERPOKER_INSTANCE": "scale" + secrets.token_hex(3),
        "CONTAINERPOKER_ENV_FILE": str(data / "none.env"),
        "CONTAINERPOKER_RUNTIMES": "nginx",
        "CONTAINERPOKER_NGINX_PORTS": "30000-30999",
        "CONTAINERPOKER_NGINX_WARM": str(size),
        "CONTAINERPOKER_NGINX_MAX": str(size + 60),
        "CONTAINERPOKER_NGINX_LIFETIME": "0",
        "CONTAINERPOKER_NGINX_IDLE_TIMEOUT": "0",
        "CONTAINERPOKER_MAX_PER_USER": "100",
        "CONTAINERPOKER_BIND_ADDRESS": "127.0.0.1",
        "CONTAINERPOKER_PUBLIC_HOST": "127.0.0.1",
        "CONTAINERPOKER_PORTAL_HOST": "localhost",
        "CONTAINERPOKER_EXTRA_LABELS": BENCH_TAG,
        "CONTAINERPOKER_WARM_PARALLELISM": "6",
        "CONTAINERPOKER_WARM_TIMEOUT": "120",
        **extra,
    }


def claims(pool, count: int = 50) -> list[float]:
    users = [f"claimer{i}-{secrets.token_hex(2)}" for i in range(count)]
    barrier = threading.Barrier(count)
    took: list[float] = []
    lock = threading.Lock()

    def one(user: str) -> None:
        barrier.wait()
        start = time.perf_counter()
        pool.claim(user, "nginx")
        with lock:
            took.append(time.perf_counter() - start)

    with ThreadPoolExecutor(count) as threads:
        list(threads.map(one, users))
    return took


def median_time(action, times: int) -> float:
    found = []
    for _ in range(times):
        start = time.perf_counter()
        action()
        found.append(time.perf_counter() - start)
    return statistics.median(found)


def engine_rss(processes: list[int] | None = None) -> int:
    """Resident memory of the engine's own processes on this machine, in bytes."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            name = (entry / "comm").read_text().strip()
            if name.startswith(ENGINE_PROCESSES):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
    return total


def cpu_busy(seconds: float) -> float:
    """The share of the machine's CPU time spent busy over ``seconds`` (all cores)."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as handle:
            fields = [int(x) for x in handle.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total, idle = read()
    time.sleep(seconds)
    total2, idle2 = read()
    return 1 - (idle2 - idle) / max(1, total2 - total)


def measure(size: int, extra: dict[str, str], label: str, rss_before: int) -> dict:
    data = Path(tempfile.mkdtemp(prefix="cp-scale-"))
    settings = load_settings(env=env_for(size, data, extra))
    platform = Platform(settings)
    try:
        pool = platform.pool
        started = time.perf_counter()
        pool.init()
        warmed = time.perf_counter() - started
        print(f"  [{label}] warmed {size} in {warmed:.0f} s", flush=True)
        rss = (engine_rss() - rss_before) / size
        time.sleep(settings.health_interval + 5)  # every container has had a health check
        busy = cpu_busy(10)
        claim = claims(pool)
        pool.wait_idle()
        reconcile = median_time(lambda: pool.reconcile(refill=False), 3)
        from containerpoker.portal import create_app

        app = create_app({"TESTING": True}, settings=settings)
        client = app.test_client()
        platform_app = app.extensions["containerpoker"]
        platform_app.accounts.create(
            "scaleadmin", "a@example.org", "a long enough passphrase", admin=True
        )
        token = client.post(
            "/api/auth/login",
            json={"username": "scaleadmin", "password": "a long enough passphrase"},
        ).json["access_token"]
        client.post(
            "/api/auth/login",
            json={"username": "scaleadmin", "password": "a long enough passphrase"},
        )
        status = median_time(
            lambda: client.get("/api/status", headers={"Authorization": f"Bearer {token}"}), 5
        )
        page = median_time(lambda: client.get("/containers"), 5)
        platform_app.close()
        row = {
            "size": size,
            "claim_p50": pct(claim, 50),
            "claim_p99": pct(claim, 99),
            "reconcile": reconcile,
            "status": status,
            "page": page,
            "rss": rss,
            "busy": busy,
        }
        print(  # as it comes: a run cut short still leaves its figures
            f"  [{label}] {size}: claim p50 {row['claim_p50'] * 1000:.2f} ms p99 "
            f"{row['claim_p99'] * 1000:.2f} ms, reconcile {reconcile:.2f} s, status "
            f"{status * 1000:.1f} ms, page {page * 1000:.0f} ms, engine {rss / 1024**2:.1f} MB/ctr, "
            f"CPU busy with the pool idle {busy:.0%}",
            flush=True,
        )
        return row
    finally:
        with contextlib.suppress(Exception):
            platform.pool.remove_all()
        platform.close()


def report(label: str, rows: list[dict]) -> None:
    base = rows[0]
    print(f"\n{label}")
    print(
        f"{'containers':>10} {'claim p50':>10} {'claim p99':>10} {'reconcile':>10} {'/api/status':>12} {'page':>9} {'engine/ctr':>11} {'CPU busy':>9}"
    )
    for r in rows:
        print(
            f"{r['size']:>10} {r['claim_p50'] * 1000:>8.2f}ms {r['claim_p99'] * 1000:>8.2f}ms "
            f"{r['reconcile']:>9.2f}s {r['status'] * 1000:>10.1f}ms {r['page'] * 1000:>7.0f}ms "
            f"{r['rss'] / 1024**2:>8.1f} MB {r['busy']:>8.0%}"
        )
    for r in rows[1:]:
        k = r["size"] / base["size"]
        print(
            f"  x{k:g} containers: claim p99 x{r['claim_p99'] / base['claim_p99']:.2f}, reconcile "
            f"x{r['reconcile'] / base['reconcile']:.2f}, status x{r['status'] / base['status']:.2f}, "
            f"page x{r['page'] / base['page']:.2f}"
        )
    last = rows[-1]
    verdict = "met" if last["reconcile"] <= 2.0 else "MISSED"
    print(f"  [{verdict}] a reconcile pass at {last['size']} containers <= 2 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--cluster", action="store_true", help="also on a 3-node test Swarm")
    parser.add_argument("--no-host", action="store_true", help="only on the Swarm")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    try:
        if not args.no_host:
            before = engine_rss()
            rows = [measure(size, {}, "one host", before) for size in sizes]
            report("one Docker host", rows)
        if args.cluster:
            sys.path.insert(0, str(ROOT))
            from tests.cluster import cluster as cluster_lib

            print("forming a 3-node Swarm (a few minutes) ...", flush=True)
            cluster = cluster_lib.start(workers=2, labels=[{"containerpoker.runtimes": ""}, {}, {}])
            try:
                extra = {
                    "CONTAINERPOKER_ENGINE": "swarm",
                    "CONTAINERPOKER_DOCKER_HOST": cluster.manager_endpoint,
                    "CONTAINERPOKER_TLS_DIR": str(cluster.cert_dir),
                    "CONTAINERPOKER_REGISTRY": cluster.registry,
                }
                before = engine_rss()
                rows = [measure(size, extra, "3-node Swarm", before) for size in sizes]
                report("a 3-node Swarm (2 workers run the containers)", rows)
            finally:
                cluster.destroy()
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""Learner engines: N learners open a challenge at once; how long until each one's terminal is
ready, and how much memory each learner's engine takes.

    uv run python bench/learners.py [--learners 20]

Three runs, all in this one process and on this machine:

1. baseline: one learner alone, cold (an engine started for them);
2. N learners at once, cold: N engines start together;
3. N learners at once from a warm pool of N (``sandbox_warm``), filled beforehand.

"Ready" is what the page waits for: the challenge opened (the learner's engine answers and a
first round of checks ran) and a shell attached in the engine, with its first prompt read.
Memory is ``docker stats`` of each engine after its learner ran lesson 7's solution (two
containers and a network inside), and of an idle warm one. Target (issue 15): p95 <= 10 s.
Everything carries ``containerpoker.bench`` and is removed at the end.
"""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import docker

from _common import BENCH_LABEL, cleanup, pct  # bench/ is on sys.path
from containerpoker.config import load_settings
from containerpoker.engine import cgroups
from containerpoker.platform import Platform

SOLUTION_LESSON = 7


def settings_for(warm: int, learners: int):
    return load_settings(
        env={
            "CONTAINERPOKER_EXTRA_LABELS": f"{BENCH_LABEL}=1",
            "CONTAINERPOKER_ENV_FILE": "/nonexistent",
            "CONTAINERPOKER_INSTANCE": f"bench-learners-{warm}",
            "CONTAINERPOKER_DATA_DIR": f"/tmp/containerpoker-bench-learners-{warm}",
            "CONTAINERPOKER_SANDBOX_ENABLED": "1",
            "CONTAINERPOKER_SANDBOX_WARM": str(warm),
            "CONTAINERPOKER_MAX_SANDBOXES": str(max(learners, warm)),
            "CONTAINERPOKER_SANDBOX_IDLE": "1h",  # no page holds them open here
        }
    )


def open_terminal(platform: Platform, learner: str, start: threading.Event) -> float:
    """What a learner's page does: open the challenge, attach a shell, read its prompt."""
    start.wait()
    began = time.monotonic()
    platform.classroom.open_challenge(learner, SOLUTION_LESSON)
    _, shell = platform.classroom.shell(learner, "xterm")
    try:
        shell.send(b"echo ready\n")
        seen = b""
        while b"ready\r\n" not in seen:
            chunk = shell.recv(4096)
            if not chunk:
                raise RuntimeError(f"{learner}'s shell ended")
            seen += chunk
    finally:
        shell.close()
    return time.monotonic() - began


def memory_mb(platform: Platform, name: str) -> float:
    """The engine's memory as its cgroup counts it (what ``docker stats`` shows; read from
    the kernel's files directly, since Docker's stats API can hang on a busy cgroup-v1
    host). Everything the learner runs in the engine is in it, and so is its tmpfs storage."""
    container = platform.classroom.engines.client.containers.get(name)
    found = cgroups.usage(container.attrs["State"]["Pid"])
    return found.memory_bytes / 1024 / 1024 if found else float("nan")


def crowd(learners: int, warm: int, label: str) -> tuple[list[float], list[float], float | None]:
    """Ready times of ``learners`` opening at once; memory per engine after the task; memory
    of an idle warm engine (when there is a pool)."""
    platform = Platform(settings_for(warm, learners))
    try:
        idle = None
        if warm:
            print(f"  (filling a warm pool of {warm})", file=sys.stderr)
            platform.classroom.engines.warm_up()
            filled = platform.classroom.engines.wait_warm(timeout=600)
            if filled < warm:
                print(f"  (only {filled} of {warm} warm engines started)")
            warm_names = platform.classroom.engines.warm_names()
            if warm_names:
                idle = memory_mb(platform, warm_names[0])
        start = threading.Event()
        names = [f"learner{i}" for i in range(learners)]
        with ThreadPoolExecutor(max_workers=learners) as pool:
            futures = [pool.submit(open_terminal, platform, name, start) for name in names]
            start.set()
            ready = [f.result() for f in futures]
            print(line(label, ready, "s"), flush=True)
            solution = platform.find_lesson(SOLUTION_LESSON)[0].challenge.solution
            engines = [platform.classroom.engines.get(name) for name in names]
            list(pool.map(lambda engine: engine.run(solution), engines))
        time.sleep(2)
        memory = [memory_mb(platform, platform.classroom.engines.get(name).name) for name in names]
        return ready, memory, idle
    finally:
        platform.close()


def line(label: str, values: list[float], unit: str) -> str:
    return (
        f"{label:<34} p50 {pct(values, 50):7.2f} {unit}  p95 {pct(values, 95):7.2f} {unit}  "
        f"max {max(values):7.2f} {unit}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=20)
    n = parser.parse_args().learners
    faulthandler.register(signal.SIGUSR1)  # kill -USR1 <pid>: where each thread is
    s = settings_for(0, n)
    print(
        f"  each learner engine: {s.sandbox_memory} memory, {s.sandbox_cpus} CPU, "
        f"{s.sandbox_pids} processes, {s.sandbox_disk} storage\n"
    )
    try:
        alone, _, _ = crowd(1, 0, "1 learner, cold (baseline)")
        cold, cold_memory, _ = crowd(n, 0, f"{n} learners at once, cold")
        warm, warm_memory, idle = crowd(n, n, f"{n} learners at once, warm pool {n}")
        print()
        print(
            f"  cold crowd p95 / alone: {pct(cold, 95) / alone[0]:.1f}x; "
            f"warm crowd p95 / alone: {pct(warm, 95) / alone[0]:.2f}x"
        )
        print(line("memory per engine, after task", cold_memory + warm_memory, "MB"))
        if idle is not None:
            print(f"{'memory of an idle warm engine':<34} {idle:7.1f} MB")
        target = pct(warm, 95) <= 10
        print(f"\n  target p95 <= 10 s with a warm pool: {'met' if target else 'NOT met'}")
        return 0 if target else 1
    finally:
        cleanup()
        client = docker.from_env()
        for network in client.networks.list(filters={"label": BENCH_LABEL}):
            network.remove()
        client.close()


if __name__ == "__main__":
    raise SystemExit(main())

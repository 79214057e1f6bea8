"""What the benches share: percentiles and the clean-up of everything they labelled."""

from __future__ import annotations

import docker

BENCH_LABEL = "containerpoker.bench"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cleanup(run: str | None = None) -> None:
    """Remove everything a bench created (all of it carries ``BENCH_LABEL``); with ``run``,
    only what carries ``BENCH_LABEL=run``, so that a bench on a shared engine leaves other
    runs alone."""
    client = docker.from_env(version="auto")
    selector = {"label": f"{BENCH_LABEL}={run}" if run else BENCH_LABEL}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True)
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)
    client.close()

"""What the benches share: percentiles and the clean-up of everything they labelled."""

from __future__ import annotations

import docker

BENCH_LABEL = "containerpoker.bench"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cleanup() -> None:
    """Remove everything a bench created (all of it carries ``BENCH_LABEL``)."""
    client = docker.from_env(version="auto")
    for container in client.containers.list(all=True, filters={"label": BENCH_LABEL}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": BENCH_LABEL}):
        volume.remove(force=True)
    client.close()

"""What the benches share: percentiles and the clean-up of everything they labelled."""

from __future__ import annotations

import os
import secrets

import docker

BENCH_LABEL = "containerpoker.bench"
#: This run's value of the label: clean-up removes only what this bench run made, so two benches
#: (or a bench and a developer's platform) can share one engine.
BENCH_RUN = os.environ.setdefault("CONTAINERPOKER_BENCH_RUN", secrets.token_hex(4))
BENCH_TAG = f"{BENCH_LABEL}={BENCH_RUN}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cleanup() -> None:
    """Remove everything this bench run created (all of it carries ``BENCH_TAG``)."""
    client = docker.from_env(version="auto")
    for container in client.containers.list(all=True, filters={"label": BENCH_TAG}):
        container.remove(force=True)
    for volume in client.volumes.list(filters={"label": BENCH_TAG}):
        volume.remove(force=True)
    client.close()

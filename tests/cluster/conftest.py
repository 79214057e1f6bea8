"""A real 3-node Swarm (1 manager, 2 workers) of systemd host containers, one per session.

`swarm_cluster` yields a :class:`tests.cluster.cluster.Cluster`: ``manager_endpoint``
(tcp://<manager's bridge address>:2376, mutual TLS), ``ca_cert``/``client_cert``/``client_key``
(``cert_dir`` in DOCKER_CERT_PATH layout), ``nodes`` (each with ``name``, ``role``,
``address``, ``endpoint``, ``labels``), ``registry``, ``client(node)`` (a Docker SDK client over
mutual TLS), ``converge()`` and ``kill(node)``. The timings are printed at the end of the run
and written to test-artifacts/cluster-timings.json, the playbook's output (with each task's
time) to test-artifacts/cluster-converge.log.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator

import pytest

from . import cluster as cluster_lib

TIMINGS: dict[str, float] = {}
ARTIFACTS = cluster_lib.ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def swarm_cluster() -> Iterator[cluster_lib.Cluster]:
    # Not the docker_client fixture: its end-of-session sweep removes every test object on
    # the engine, other sessions' clusters included; this one removes exactly its own.
    cluster = cluster_lib.start(workers=2)
    try:
        yield cluster
    finally:
        TIMINGS.update(cluster.timings)
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(OSError):  # kept for reading after the run (CI's artefacts)
            shutil.copy(cluster.workdir / "converge.log", ARTIFACTS / "cluster-converge.log")
        cluster.destroy()


@pytest.fixture
def timing():
    """Record a measured duration (seconds) for the end-of-run summary."""

    def record(name: str, seconds: float) -> None:
        TIMINGS[name] = seconds
        print(f"{name}: {seconds:.1f} s")

    return record


def pytest_terminal_summary(terminalreporter):
    if not TIMINGS:
        return
    terminalreporter.section("cluster timings")
    for name, seconds in TIMINGS.items():
        terminalreporter.write_line(f"{name:55} {seconds:7.1f} s")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "cluster-timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")

"""The platform on a real 3-node Swarm (CONTAINERPOKER_ENGINE=swarm): the pool's core scenarios
(tests/pool_scenarios.py, also run on one host), placement and capacity, a node lost with its
users' files kept, and a drain. The platform runs here, on the host, and reaches the manager and
every node's engine over mutual TLS only; users' containers are services on the workers.

The cluster's nodes: a manager that runs no pool container (label ``containerpoker.runtimes``
empty), worker1 (nginx, python) and worker2 (nginx). The test that loses a node starts it
again, so that the cluster is whole for the tests after it."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import threading
import time

import pytest

from containerpoker.config import load_settings
from containerpoker.monitor import Monitor
from containerpoker.platform import Platform

from .. import pool_scenarios as scenarios
from ..conftest import make_env

pytestmark = [pytest.mark.cluster, pytest.mark.docker, pytest.mark.slow]


def swarm_env(cluster, tmp_path, **overrides: str) -> dict[str, str]:
    settings = {
        "CONTAINERPOKER_ENGINE": "swarm",
        "CONTAINERPOKER_DOCKER_HOST": cluster.manager_endpoint,
        "CONTAINERPOKER_TLS_DIR": str(cluster.cert_dir),
        "CONTAINERPOKER_REGISTRY": cluster.registry,
        "CONTAINERPOKER_RUNTIMES": "nginx,python",
        "CONTAINERPOKER_NGINX_WARM": "2",
        "CONTAINERPOKER_PYTHON_WARM": "0",
        "CONTAINERPOKER_WARM_TIMEOUT": "90",
    }
    return make_env(tmp_path, "s" + secrets.token_hex(4), **(settings | overrides))


@pytest.fixture
def swarm_platform(swarm_cluster, tmp_path):
    made = []

    def build(**overrides: str) -> Platform:
        made.append(Platform(load_settings(env=swarm_env(swarm_cluster, tmp_path, **overrides))))
        return made[-1]

    yield build
    for platform in made:
        with contextlib.suppress(Exception):
            platform.pool.remove_all()
        platform.close()


@pytest.fixture
def swarm_faults(swarm_cluster) -> scenarios.Faults:
    def container(name):
        with contextlib.closing(swarm_cluster.client()) as manager:
            [task] = [
                t for t in manager.api.tasks({"service": name}) if t["DesiredState"] == "running"
            ]
            node = manager.api.inspect_node(task["NodeID"])["Description"]["Hostname"]
            return node, task["Status"]["ContainerStatus"]["ContainerID"]

    def kill(name):
        node, cid = container(name)
        with contextlib.closing(swarm_cluster.client(_node(swarm_cluster, node))) as engine:
            engine.api.kill(cid)

    def remove(name):
        with contextlib.closing(swarm_cluster.client()) as manager:
            manager.api.remove_service(name)

    return scenarios.Faults(kill=kill, remove=remove)


def _node(cluster, name):
    return next(n for n in cluster.nodes if n.name == name)


@pytest.mark.parametrize(
    "scenario",
    [
        scenarios.claim_and_the_same_again,
        scenarios.upload_then_reset_keeps_owner_port_and_files,
        scenarios.release_removes_and_the_pool_refills,
        scenarios.an_expired_container_is_released_and_replaced,
    ],
    ids=lambda f: f.__name__,
)
def test_scenario_on_the_swarm(swarm_platform, scenario):
    scenario(swarm_platform().pool)


def test_reconcile_replaces_a_killed_and_a_removed_service(swarm_platform, swarm_faults):
    scenarios.reconcile_replaces_a_killed_and_a_removed_container(
        swarm_platform().pool, swarm_faults
    )


def test_containers_spread_over_the_workers_by_free_capacity_and_labels(
    swarm_platform, swarm_cluster
):
    platform = swarm_platform(CONTAINERPOKER_NGINX_WARM="4", CONTAINERPOKER_PYTHON_WARM="2")
    pool = platform.pool
    pool.init()
    placed = {(a.runtime, a.node) for a in pool.containers()}
    workers = {n.name for n in swarm_cluster.workers}
    nginx_nodes = {node for runtime, node in placed if runtime == "nginx"}
    assert nginx_nodes == workers  # spread over both; none on the manager (label: none)
    python_node = {
        n.name for n in swarm_cluster.workers if "python" in n.labels["containerpoker.runtimes"]
    }
    assert {node for runtime, node in placed if runtime == "python"} == python_node
    # A host port is unique per node, not across the Swarm: the same port on two nodes is fine.
    ports = [(a.node, a.host_port) for a in pool.containers()]
    assert len(set(ports)) == len(ports)
    box = pool.claim("ada", "python")
    address = {n.name: n.address for n in swarm_cluster.nodes}[box.node]
    assert box.url == f"http://{address}:{box.host_port}/"  # the URL names the node
    assert "containerpoker" in scenarios.fetch(box.url)
    counts = {n["name"]: n["containers"] for n in platform.nodes()}
    assert sum(counts[w].get("nginx", 0) for w in workers) == 4
    assert counts[swarm_cluster.manager.name] == {}


def test_a_service_is_hardened_like_a_container(swarm_platform):
    pool = swarm_platform().pool
    pool.init(["nginx"])
    item = pool.containers()[0]
    host = pool.engine.inspect(item.name)["HostConfig"]  # from the node's own engine, over TLS
    assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert host["Memory"] == pool.settings.runtime("nginx").memory_bytes
    assert host["PidsLimit"] == pool.settings.runtime("nginx").pids
    assert host["NanoCpus"] == int(pool.settings.runtime("nginx").cpus * 1e9)
    # Swarm 20.10 services cannot ask for no-new-privileges: every node's engine sets it for
    # all (docker_engine_no_new_privileges). The kernel says whether it holds.
    engine = pool.engine.node_client(item.node)
    container = pool.engine.inspect(item.name)["Id"]
    run = engine.api.exec_create(container, ["grep", "NoNewPrivs", "/proc/1/status"])
    assert engine.api.exec_start(run["Id"]).decode().split() == ["NoNewPrivs:", "1"]


def test_a_drained_node_empties_and_its_users_keep_their_files(swarm_platform, swarm_cluster):
    platform = swarm_platform(CONTAINERPOKER_NGINX_WARM="2", CONTAINERPOKER_NGINX_MAX="12")
    pool = platform.pool
    pool.init()
    owners = {}
    for index in range(4):
        box = pool.claim(f"user{index}", "nginx")
        pool.upload(box.name, "mine.txt", f"file of user{index}".encode(), owner=box.owner)
        owners[box.name] = box
    victim = next(node for node in {b.node for b in owners.values()})
    plan = platform.set_node(victim, "drain")
    try:
        assert plan.changed and any("moved" in a for a in plan.actions), plan.actions
        left = [(a.name, a.state) for a in pool.containers() if a.node == victim]
        assert [item for item in left if item[1] != "released"] == [], left
        for name, before in owners.items():
            after = pool.get(name)
            assert after.owner == before.owner
            assert scenarios.fetch(after.url + "mine.txt", expect=f"file of {before.owner}")
        moved = [e for e in pool.events(200) if e["kind"] == "moved"]
        assert {e["container"] for e in moved} == {n for n, b in owners.items() if b.node == victim}
        scenarios.assert_one_owner_each(pool)
    finally:
        platform.set_node(victim, "active")


def test_a_lost_node_s_containers_serve_their_files_elsewhere_within_seconds(
    swarm_platform, swarm_cluster, timing
):
    platform = swarm_platform(CONTAINERPOKER_NGINX_WARM="2", CONTAINERPOKER_NGINX_MAX="12")
    pool = platform.pool
    pool.init()
    boxes = []
    for index in range(4):
        box = pool.claim(f"owner{index}", "nginx")
        pool.upload(box.name, "proof.txt", f"proof {index}".encode(), owner=box.owner)
        boxes.append(box)
    victim = _node(swarm_cluster, boxes[0].node)
    on_victim = [b for b in boxes if b.node == victim.name]
    stop = threading.Event()
    watcher = threading.Thread(
        target=Monitor(platform, say=lambda _: None).watch, args=(stop,), daemon=True
    )
    watcher.start()
    time.sleep(2)  # connected
    try:
        killed = swarm_cluster.kill(victim)
        served: dict[str, float] = {}
        while time.monotonic() - killed < 90 and len(served) < len(on_victim):
            for box in on_victim:
                if box.name not in served:
                    now = pool.get(box.name)
                    if now.node != victim.name and scenarios.fetch_ok(
                        now.url + "proof.txt", f"proof {boxes.index(box)}"
                    ):
                        served[box.name] = time.monotonic() - killed
            time.sleep(0.2)
        for name, seconds in served.items():
            timing(f"node lost -> {name} serves its file elsewhere", seconds)
        assert len(served) == len(on_victim), f"not all moved: {served}"
        assert all(pool.get(b.name).owner == b.owner for b in boxes)
        scenarios.assert_one_owner_each(pool)
    finally:
        stop.set()
        watcher.join(30)
        subprocess.run(["docker", "start", victim.name], capture_output=True, timeout=120)
        _wait_ready(swarm_cluster, victim.name)


def _wait_ready(cluster, name: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception), contextlib.closing(cluster.client()) as manager:
            nodes = {
                n["Description"]["Hostname"]: n["Status"]["State"] for n in manager.api.nodes()
            }
            if nodes.get(name) == "ready":
                return
        time.sleep(2)

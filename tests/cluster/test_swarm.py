"""The swarm role on a real 3-node Swarm (tests/cluster/cluster.py): the cluster, its labels,
the engines' mutual-TLS endpoints, the private registry, a service pinned to a worker, a second
run that changes nothing and a killed worker marked Down. The tests share one cluster and run
in this order (the last one kills a worker)."""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from contextlib import closing

import docker
import pytest
import requests

from .cluster import API_VERSION

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.docker,
    pytest.mark.slow,
    # The first test also waits for the cluster to form.
    pytest.mark.timeout(1800),
]


def test_the_swarm_has_every_node_ready(swarm_cluster):
    with closing(swarm_cluster.client()) as manager:
        nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in manager.nodes.list()}
    assert sorted(nodes) == sorted(n.name for n in swarm_cluster.nodes)
    for node in swarm_cluster.nodes:
        attrs = nodes[node.name]
        assert attrs["Status"]["State"] == "ready", attrs["Status"]
        assert attrs["Status"]["Addr"] == node.address
        assert attrs["Spec"]["Role"] == node.role


def test_node_labels_come_from_the_inventory(swarm_cluster):
    with closing(swarm_cluster.client()) as manager:
        labels = {
            n.attrs["Description"]["Hostname"]: n.attrs["Spec"].get("Labels", {})
            for n in manager.nodes.list()
        }
    for node in swarm_cluster.nodes:
        assert labels[node.name] == node.labels


def test_every_engine_answers_over_mutual_tls_only(swarm_cluster):
    for node in swarm_cluster.nodes:
        with closing(swarm_cluster.client(node)) as engine:
            assert engine.info()["Name"] == node.name
        # No client certificate, or a node's own (another node's, or its own): refused. Only
        # the clients' CA, which signed the platform's certificate alone, opens an engine.
        for identity in ("none", swarm_cluster.workers[0].name, node.name):
            with (
                closing(swarm_cluster.client(node, identity=identity)) as refused,
                pytest.raises(requests.exceptions.SSLError, match="certificate"),
            ):
                refused.ping()
        # No TLS at all: the endpoint does not speak plain HTTP.
        plain = docker.DockerClient(base_url=node.endpoint, version=API_VERSION, timeout=10)
        with (
            closing(plain),
            pytest.raises(docker.errors.APIError, match="HTTP request to an HTTPS server"),
        ):
            plain.ping()
        # The unix socket stays, inside the node.
        assert swarm_cluster.exec(node, "docker", "info", "--format", "{{.Name}}") == node.name


def _registry_get(swarm_cluster, path: str, with_client_cert: bool = True) -> dict:
    context = ssl.create_default_context(cafile=str(swarm_cluster.ca_cert))
    if with_client_cert:
        context.load_cert_chain(str(swarm_cluster.client_cert), str(swarm_cluster.client_key))
    url = f"https://{swarm_cluster.registry}{path}"
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return json.loads(response.read())


def test_the_registry_holds_the_images_and_each_node_has_those_it_needs(swarm_cluster):
    catalog = _registry_get(swarm_cluster, "/v2/_catalog")
    assert sorted(catalog["repositories"]) == sorted(swarm_cluster.images)
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        _registry_get(swarm_cluster, "/v2/_catalog", with_client_cert=False)
    # Each engine reaches it with its node's certificate (shown from /etc/docker/certs.d).
    shown = swarm_cluster.exec(
        swarm_cluster.workers[0], "ls", f"/etc/docker/certs.d/{swarm_cluster.registry}/"
    )
    assert shown.split() == ["ca.crt", "clients-ca.pem", "node.cert", "node.key"]

    for node in swarm_cluster.workers:
        wanted = {f"containerpoker/{r}" for r in node.labels["containerpoker.runtimes"].split(",")}
        with closing(swarm_cluster.client(node)) as engine:
            present = {
                tag.rsplit(":", 1)[0]: image.attrs
                for image in engine.images.list()
                for tag in image.tags
            }
        for name in swarm_cluster.images:
            if name in wanted:
                # Pulled from the registry (its digest there), and under its short name too.
                assert name in present
                assert any(
                    d.startswith(f"{swarm_cluster.registry}/{name}@sha256:")
                    for d in present[name]["RepoDigests"]
                ), present[name]["RepoDigests"]
            else:
                assert name not in present and f"{swarm_cluster.registry}/{name}" not in present


def _http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except (OSError, urllib.error.URLError):
        return None


def test_a_read_only_service_pinned_to_a_worker_serves_http(swarm_cluster, timing):
    worker = swarm_cluster.workers[0]
    with closing(swarm_cluster.client()) as manager:
        started = time.monotonic()
        service = manager.services.create(
            f"{swarm_cluster.registry}/containerpoker/nginx:latest",
            name="cp-test-web",
            constraints=[f"node.hostname=={worker.name}"],
            endpoint_spec=docker.types.EndpointSpec(ports={8080: (8080, "tcp", "host")}),
            read_only=True,
            # nginx.conf keeps every writable path under /tmp (the image runs as user web).
            mounts=[docker.types.Mount(target="/tmp", source=None, type="tmpfs")],
            labels={"containerpoker.test": "1"},
        )
        try:
            url = f"http://{worker.address}:8080/"
            status = None
            while time.monotonic() - started < 120 and status != 200:
                status = _http_status(url)
                if status != 200:
                    time.sleep(0.2)
            served = time.monotonic() - started
            tasks = service.tasks()
            assert status == 200, tasks
            # "starting" until the image's health check first passes, "running" after.
            [task] = [t for t in tasks if t["Status"]["State"] in ("starting", "running")]
            node = manager.nodes.get(task["NodeID"])
            assert node.attrs["Description"]["Hostname"] == worker.name
            assert task["Spec"]["ContainerSpec"]["ReadOnly"] is True
            timing("service create to HTTP 200 on the worker", served)
        finally:
            service.remove()


def test_a_second_run_changes_nothing(swarm_cluster, timing):
    done = swarm_cluster.converge()
    assert done.returncode == 0, swarm_cluster.last_converge[-5000:]
    recap = swarm_cluster.recap()
    assert sorted(recap) == sorted(n.name for n in swarm_cluster.nodes)
    changed = {host: r["changed"] for host, r in recap.items() if r["changed"] or r["failed"]}
    assert not changed, swarm_cluster.last_converge[-8000:]
    timing("swarm role, second run (changed=0)", swarm_cluster.last_duration)


def test_a_killed_worker_is_marked_down(swarm_cluster, timing):
    victim = swarm_cluster.workers[-1]
    with closing(swarm_cluster.client()) as manager:
        node = next(
            n for n in manager.nodes.list() if n.attrs["Description"]["Hostname"] == victim.name
        )
        killed = swarm_cluster.kill(victim)
        state = "ready"
        while time.monotonic() - killed < 60:
            node.reload()
            state = node.attrs["Status"]["State"]
            if state == "down":
                break
            time.sleep(0.25)
        seen = time.monotonic() - killed
    assert state == "down"
    timing("worker killed to marked Down", seen)
    assert seen < 30

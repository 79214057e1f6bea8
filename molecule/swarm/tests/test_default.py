"""site.yml on three fresh instances: the Swarm (seen from the manager), the node labels, the
registry, every engine's mutual-TLS endpoint, and the platform on the manager with the Swarm
backend: its pools spread over both workers, and a claim served from a worker."""

import json

import pytest

# GET a URL over TLS with the CA (and a client certificate unless CERT is empty); prints the
# status and the body, or the error's name.
FETCH = """
import ssl, sys, urllib.request
url, ca, cert, key = sys.argv[1:5]
context = ssl.create_default_context(cafile=ca)
if cert:
    context.load_cert_chain(cert, key)
try:
    with urllib.request.urlopen(url, context=context, timeout=10) as answer:
        print(answer.status, answer.read().decode())
except Exception as exc:
    print('refused', type(exc).__name__, exc)
"""


def fetch(host, url: str, ca: str, cert: str = "", key: str = "") -> str:
    done = host.run("python3 -c %s %s %s %s %s", FETCH, url, ca, cert, key)
    assert done.rc == 0, done.stderr
    return done.stdout.strip()


def groups(host) -> list[str]:
    return host.ansible.get_variables()["group_names"]


def address(host) -> str:
    """The instance's address on the scenario's network (the one the role advertises)."""
    route = host.check_output("ip -4 -o route get 1.1.1.1").split()
    return route[route.index("src") + 1]


def test_the_engine_refuses_tls_clients_without_the_platform_certificate(host):
    url = f"https://{address(host)}:2376/version"
    tls = "/etc/docker/tls"
    # The node's own certificate (the nodes' CA) does not open an engine, nor does no certificate.
    assert fetch(host, url, f"{tls}/ca.crt", f"{tls}/node.cert", f"{tls}/node.key").startswith(
        "refused"
    )
    assert fetch(host, url, f"{tls}/ca.crt").startswith("refused")
    assert host.socket("unix:///run/docker.sock").is_listening
    assert host.file(f"{tls}/node.key").mode == 0o600


def test_the_platform_certificate_opens_every_engine(host):
    if "swarm_managers" not in groups(host):
        pytest.skip("the platform's certificate is on the manager")
    client = "/etc/containerpoker/swarm-tls"
    addresses = host.check_output(
        "docker node inspect --format '{{.Status.Addr}}' $(docker node ls -q)"
    ).split()
    assert len(addresses) == 3
    for node in addresses:
        answer = fetch(
            host,
            f"https://{node}:2376/version",
            f"{client}/ca.pem",
            f"{client}/cert.pem",
            f"{client}/key.pem",
        )
        assert answer.startswith("200 ") and json.loads(answer[4:])["ApiVersion"], answer


def test_every_node_is_ready_and_labelled(host):
    if "swarm_managers" not in groups(host):
        pytest.skip("seen from the manager")
    nodes = host.check_output("docker node ls --format '{{.Hostname}} {{.Status}}'").splitlines()
    assert sorted(nodes) == [
        "cp-molecule-swarm-manager Ready",
        "cp-molecule-swarm-worker1 Ready",
        "cp-molecule-swarm-worker2 Ready",
    ]
    labels = host.check_output(
        "docker node inspect cp-molecule-swarm-worker1 --format '{{json .Spec.Labels}}'"
    )
    assert json.loads(labels) == {"containerpoker.runtimes": "nginx"}


def test_the_registry_serves_the_images_to_clients_of_the_ca(host):
    if "swarm_managers" not in groups(host):
        pytest.skip("the registry runs on the manager")
    assert host.service("docker-registry").is_enabled
    assert host.service("docker-registry").is_running
    url = f"https://{address(host)}:5443/v2/_catalog"
    client = "/etc/containerpoker/swarm-tls"
    answer = fetch(host, url, f"{client}/ca.pem", f"{client}/cert.pem", f"{client}/key.pem")
    assert answer.startswith("200 "), answer
    assert json.loads(answer[4:])["repositories"] == ["containerpoker/nginx"]
    assert fetch(host, url, f"{client}/ca.pem").startswith("refused")


def test_each_node_pulled_the_images_its_label_names(host):
    labels = host.ansible.get_variables()["swarm_node_labels"]["containerpoker.runtimes"]
    if "nginx" not in labels:
        pytest.skip("this node runs no nginx container")
    shown = host.run("docker image inspect containerpoker/nginx --format '{{json .RepoDigests}}'")
    assert shown.rc == 0, shown.stderr
    assert any(":5443/containerpoker/nginx@sha256:" in d for d in json.loads(shown.stdout))


# The platform on the manager: its command, as the platform's user, with its configuration.
CLI = (
    "runuser -u containerpoker -- env CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env"
    " /opt/containerpoker/venv/bin/containerpoker --json"
)


def platform(host, command: str):
    done = host.run(f"{CLI} {command}")
    assert done.rc == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_the_portal_runs_with_the_swarm_backend(host):
    if "platform" not in groups(host):
        pytest.skip("the platform runs on the manager")
    config = host.file("/etc/containerpoker/containerpoker.env").content_string
    registry = f"{address(host)}:5443"
    for line in (
        "CONTAINERPOKER_ENGINE=swarm",
        "CONTAINERPOKER_TLS_DIR=/etc/containerpoker/swarm-tls",
        f"CONTAINERPOKER_REGISTRY={registry}",
    ):
        assert line in config.splitlines()
    assert host.service("containerpoker-portal").is_running
    assert host.service("containerpoker-watch").is_running
    page = host.run(
        "python3 -c %s",
        "import urllib.request as u; print(u.urlopen('http://127.0.0.1:5000/login').status)",
    )
    assert page.stdout.strip() == "200", page.stderr
    nodes = {n["name"]: n for n in platform(host, "node list")}
    assert sorted(nodes) == [
        "cp-molecule-swarm-manager",
        "cp-molecule-swarm-worker1",
        "cp-molecule-swarm-worker2",
    ]


def test_the_pools_spread_over_both_workers(host):
    if "platform" not in groups(host):
        pytest.skip("the platform runs on the manager")
    ready = [c for c in platform(host, "pool list --runtime nginx") if c["state"] == "ready"]
    assert len(ready) == 4, ready
    assert {c["node"] for c in ready} == {"cp-molecule-swarm-worker1", "cp-molecule-swarm-worker2"}


def test_a_claim_is_served_from_a_worker(host):
    if "platform" not in groups(host):
        pytest.skip("the platform runs on the manager")
    claimed = platform(host, "pool claim nginx --user molecule-verify --no-wait")
    try:
        assert claimed["node"].startswith("cp-molecule-swarm-worker"), claimed
        worker = host.check_output(
            "docker node inspect %s --format '{{.Status.Addr}}'", claimed["node"]
        )
        assert claimed["url"] == f"http://{worker}:{claimed['host_port']}/", claimed
        # From the manager (as the test host would), to the worker's address: the runtime's page.
        answer = fetch(host, claimed["url"], "", "", "")
        assert answer.startswith("200 ") and "Your nginx container is ready" in answer, answer
    finally:
        platform(host, f"pool release {claimed['name']}")

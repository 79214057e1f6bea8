"""A throwaway Docker Swarm of systemd host containers, for the tests and by hand.

Each node is a container of infrastructure/images/swarm-node (platform-host with Debian's
docker.io baked in) on a private bridge network of its own; the swarm role (playbooks/swarm.yml)
forms the Swarm through the community.docker.docker_api connection, as a real inventory would
over SSH. Everything carries the label ``containerpoker.test=1`` (and ``containerpoker.cluster``
with the cluster's id) and is removed by :meth:`Cluster.destroy`.

From a script (the nodes stay up until ``down``)::

    scripts/uv.sh run --frozen --no-sync python -m tests.cluster.cluster up
    scripts/uv.sh run --frozen --no-sync python -m tests.cluster.cluster down
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..host_containers import HOST_FLAGS

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEST_LABEL = "containerpoker.test"
CLUSTER_LABEL = "containerpoker.cluster"
HOST_IMAGE = "containerpoker/platform-host"
NODE_IMAGE = "containerpoker/swarm-node"
TLS_PORT = 2376
REGISTRY_PORT = 5443
# The nodes' engine: Debian bookworm's docker.io 20.10 (fixed, so that no request is made
# before the client is set up; see Cluster.client).
API_VERSION = "1.41"
# What the nodes run (the manager runs no pool container: the platform and the registry).
DEFAULT_LABELS = [
    {"containerpoker.runtimes": ""},
    {"containerpoker.runtimes": "nginx,python"},
    {"containerpoker.runtimes": "nginx"},
]
DEFAULT_IMAGES = ["containerpoker/nginx", "containerpoker/python"]


class ClusterError(RuntimeError):
    pass


def sh(*args: str, timeout: float = 600, check: bool = True, **kwargs) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and done.returncode != 0:
        raise ClusterError(f"{' '.join(args[:6])}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


@dataclass
class Node:
    name: str
    role: str  # "manager" or "worker"
    labels: dict[str, str]
    address: str = ""

    @property
    def endpoint(self) -> str:
        """The node's engine over mutual TLS (the client certificate is required)."""
        return f"tcp://{self.address}:{TLS_PORT}"


@dataclass
class Cluster:
    id: str
    network: str
    nodes: list[Node]
    workdir: Path
    images: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    last_converge: str = ""
    last_duration: float = 0.0

    @property
    def manager(self) -> Node:
        return next(n for n in self.nodes if n.role == "manager")

    @property
    def workers(self) -> list[Node]:
        return [n for n in self.nodes if n.role == "worker"]

    @property
    def manager_endpoint(self) -> str:
        return self.manager.endpoint

    @property
    def registry(self) -> str:
        """The private registry as the nodes name it (``<registry>/containerpoker/nginx``)."""
        return f"{self.manager.address}:{REGISTRY_PORT}"

    # The CA and the platform's client certificate, as the swarm role made them on this
    # controller (DOCKER_CERT_PATH layout: ca.pem, cert.pem, key.pem).
    @property
    def pki_dir(self) -> Path:
        return self.workdir / "pki"

    @property
    def cert_dir(self) -> Path:
        return self.pki_dir / "client"

    @property
    def ca_cert(self) -> Path:
        return self.cert_dir / "ca.pem"

    @property
    def client_cert(self) -> Path:
        return self.cert_dir / "cert.pem"

    @property
    def client_key(self) -> Path:
        return self.cert_dir / "key.pem"

    @property
    def inventory(self) -> Path:
        return self.workdir / "hosts.json"

    def tls_config(self, identity: str = "platform"):
        """TLS settings that trust the nodes' CA and show a certificate: the platform's
        ("platform"), none ("none"), or a node's own (its name: engines must refuse it)."""
        import docker.tls

        if identity == "platform":
            cert = (str(self.client_cert), str(self.client_key))
        elif identity == "none":
            cert = None
        else:
            own = self.pki_dir / "nodes" / identity
            cert = (str(own / "cert.pem"), str(own / "key.pem"))
        return docker.tls.TLSConfig(client_cert=cert, ca_cert=str(self.ca_cert), verify=True)

    def client(self, node: Node | None = None, identity: str = "platform", timeout: int = 30):
        """A Docker SDK client of a node's engine (the manager's by default), over mutual TLS."""
        import docker

        client = docker.DockerClient(
            base_url=(node or self.manager).endpoint,
            tls=self.tls_config(identity),
            version=API_VERSION,
            timeout=timeout,
        )
        # requests verifies against REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, when either is set,
        # instead of the client's own CA; without this, the cluster's CA would be ignored there.
        client.api.trust_env = False
        return client

    def exec(self, node: Node, *command: str, check: bool = True, timeout: float = 300) -> str:
        return sh("docker", "exec", node.name, *command, check=check, timeout=timeout)

    def write_inventory(self) -> Path:
        hosts = {
            n.name: {
                "ansible_connection": "community.docker.docker_api",
                "ansible_python_interpreter": "/usr/bin/python3",
                "swarm_node_labels": n.labels,
            }
            for n in self.nodes
        }
        inventory = {
            "swarm": {
                "vars": {
                    "docker_engine_live_restore": False,
                    "docker_engine_no_new_privileges": True,
                    "swarm_pki_dir": str(self.pki_dir),
                    "swarm_registry_images": self.images,
                },
                "children": {
                    "swarm_managers": {"hosts": {self.manager.name: hosts[self.manager.name]}},
                    "swarm_workers": {"hosts": {n.name: hosts[n.name] for n in self.workers}},
                },
            }
        }
        self.inventory.write_text(json.dumps(inventory, indent=2))
        return self.inventory

    def converge(self, timeout: float = 1200) -> subprocess.CompletedProcess:
        """Run playbooks/swarm.yml on the nodes; the output is kept in ``last_converge`` and
        appended to ``converge.log`` in the working folder."""
        started = time.monotonic()
        done = subprocess.run(
            [
                str(BIN / "ansible-playbook"),
                "-i",
                str(self.write_inventory()),
                "playbooks/swarm.yml",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "PATH": f"{BIN}:{os.environ['PATH']}",
                "ANSIBLE_NOCOLOR": "1",
                # One exec per task instead of copying each module in first: the docker_api
                # connection's round trips are most of a converge's time.
                "ANSIBLE_PIPELINING": "1",
                "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
                "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
            },
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.last_converge = done.stdout + done.stderr
        self.last_duration = time.monotonic() - started
        with (self.workdir / "converge.log").open("a") as log:
            log.write(self.last_converge)
        return done

    def recap(self, output: str | None = None) -> dict[str, dict[str, int]]:
        """PLAY RECAP of the last converge: {host: {"ok": 12, "changed": 0, ...}}."""
        found = {}
        for line in (output or self.last_converge).splitlines():
            match = re.match(r"^(\S+)\s+:\s+(ok=.*)$", line)
            if match and match.group(1) in {n.name for n in self.nodes}:
                found[match.group(1)] = {
                    k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))
                }
        return found

    def task_times(self, output: str | None = None) -> dict[str, float]:
        """Seconds per task of a converge (ansible.posix.profile_tasks), by task name."""
        times: dict[str, float] = {}
        for line in (output or self.last_converge).splitlines():
            match = re.match(r"^(?:containerpoker\.lab\.)?(?:\w+ : )?(.+?) -+ (\d+\.\d+)s$", line)
            if match:
                times[match.group(1).strip()] = float(match.group(2))
        return times

    def kill(self, node: Node) -> float:
        """`docker kill` the node's container; returns the time.monotonic() of the kill."""
        sh("docker", "kill", node.name, timeout=60)
        return time.monotonic()

    def destroy(self) -> None:
        """Remove the containers (with their volumes), the network and the working folder."""
        remove(self.id)
        shutil.rmtree(self.workdir, ignore_errors=True)


def remove(cluster_id: str | None = None) -> None:
    """Remove a cluster's containers, volumes and network (every test cluster's without an id)."""
    selector = f"{CLUSTER_LABEL}={cluster_id}" if cluster_id else CLUSTER_LABEL
    containers = sh("docker", "ps", "-aq", "--filter", f"label={selector}", check=False).split()
    if containers:
        sh("docker", "rm", "-f", "-v", *containers, check=False, timeout=300)
    volumes = sh("docker", "volume", "ls", "-q", "--filter", f"label={selector}", check=False)
    if volumes.split():
        sh("docker", "volume", "rm", "-f", *volumes.split(), check=False, timeout=300)
    networks = sh("docker", "network", "ls", "-q", "--filter", f"label={selector}", check=False)
    if networks.split():
        sh("docker", "network", "rm", *networks.split(), check=False)


def build_node_image() -> str:
    """Build platform-host and swarm-node (Docker's cache makes this quick when unchanged)."""
    for image, folder in ((HOST_IMAGE, "platform-host"), (NODE_IMAGE, "swarm-node")):
        sh("docker", "build", "-q", "-t", image, str(ROOT / "infrastructure/images" / folder))
    return NODE_IMAGE


def _parallel(function, items) -> None:
    errors: list[BaseException] = []

    def run(item):
        try:
            function(item)
        except BaseException as exc:  # re-raised below, in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _wait_for_systemd(node: Node, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sh(
            "docker", "exec", node.name, "systemctl", "is-system-running", "--wait", check=False
        )
        if state in ("running", "degraded"):
            return
        time.sleep(0.5)
    raise ClusterError(f"{node.name}: systemd did not finish booting")


def _ensure_engine(node: Node) -> None:
    """Install Debian's engine where the image lacks it (platform-host), then wait for it."""
    if not sh("docker", "exec", node.name, "sh", "-c", "command -v dockerd || true"):
        # What infrastructure/images/swarm-node bakes in.
        install = "apt-get update -qq && apt-get install -y -qq --no-install-recommends"
        install += " docker.io python3-docker"
        sh("docker", "exec", "-e", "DEBIAN_FRONTEND=noninteractive", node.name, "sh", "-c", install)
    for _ in range(120):
        info = subprocess.run(["docker", "exec", node.name, "docker", "info"], capture_output=True)
        if info.returncode == 0:
            return
        time.sleep(0.5)
    raise ClusterError(f"{node.name}: its engine did not start")


def start(
    workers: int = 2,
    image: str | None = None,
    images: list[str] | None = None,
    labels: list[dict[str, str]] | None = None,
    parent: Path | None = None,
) -> Cluster:
    """Start the nodes, carry the images into the manager, form the Swarm (swarm role).

    The inventory and the certificates go to a new folder (under ``parent``, or the system's
    temporary folder). On any failure the cluster is destroyed before the exception propagates.
    """
    cluster_id = secrets.token_hex(3)
    labels = labels or DEFAULT_LABELS
    nodes = [Node(f"cp-swarm-{cluster_id}-manager", "manager", dict(labels[0]))]
    nodes += [
        Node(f"cp-swarm-{cluster_id}-worker{i}", "worker", dict(labels[min(i, len(labels) - 1)]))
        for i in range(1, workers + 1)
    ]
    if parent:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f"cp-swarm-{cluster_id}-", dir=parent))
    cluster = Cluster(
        id=cluster_id,
        network=f"cp-swarm-{cluster_id}",
        nodes=nodes,
        workdir=workdir,
        images=list(images or DEFAULT_IMAGES),
    )
    tags = ["--label", f"{TEST_LABEL}=1", "--label", f"{CLUSTER_LABEL}={cluster_id}"]
    try:
        began = time.monotonic()
        image = image or build_node_image()
        cluster.timings["node image build"] = time.monotonic() - began

        began = time.monotonic()
        sh("docker", "network", "create", "--driver", "bridge", *tags, cluster.network)
        for node in nodes:
            volume_labels = f"volume-label={TEST_LABEL}=1,volume-label={CLUSTER_LABEL}={cluster_id}"
            volume = f"type=volume,src={node.name}-docker,dst=/var/lib/docker,{volume_labels}"
            sh(
                *("docker", "run", "-d", "--name", node.name, "--hostname", node.name),
                *("--network", cluster.network, *tags, *HOST_FLAGS, "--mount", volume, image),
            )
            address = f"(index .NetworkSettings.Networks {json.dumps(cluster.network)}).IPAddress"
            node.address = sh("docker", "inspect", "-f", f"{{{{{address}}}}}", node.name)
        _parallel(_wait_for_systemd, nodes)
        cluster.timings["nodes booted (systemd)"] = time.monotonic() - began

        began = time.monotonic()
        _parallel(_ensure_engine, nodes)
        cluster.timings["engines up"] = time.monotonic() - began

        # The runtime images reach the manager the way runtime_images would carry them in
        # (docker save | docker load); the swarm role pushes them into the registry from there.
        began = time.monotonic()
        subprocess.run(
            f"docker save {' '.join(cluster.images)} | docker exec -i {cluster.manager.name} docker load",
            shell=True,
            check=True,
            capture_output=True,
            timeout=900,
        )
        cluster.timings["images into the manager"] = time.monotonic() - began

        done = cluster.converge()
        if done.returncode != 0:
            raise ClusterError("playbooks/swarm.yml failed:\n" + cluster.last_converge[-6000:])
        cluster.timings["swarm role, first run"] = cluster.last_duration
        tasks = cluster.task_times()
        for label, prefix in (
            ("registry push (manager)", "Push them into the registry"),
            ("registry pull (nodes, in parallel)", "Pull the images this node needs"),
        ):
            cluster.timings[label] = sum(t for name, t in tasks.items() if name.startswith(prefix))
        cluster.timings["formation (nodes started to Swarm formed)"] = sum(
            cluster.timings[k]
            for k in (
                "nodes booted (systemd)",
                "engines up",
                "images into the manager",
                "swarm role, first run",
            )
        )
        return cluster
    except BaseException:
        cluster.destroy()
        raise


def describe(cluster: Cluster) -> str:
    lines = [f"Swarm {cluster.id} on network {cluster.network}"]
    for node in cluster.nodes:
        lines.append(f"  {node.role:7} {node.name:28} {node.endpoint:26} labels {node.labels}")
    lines.append(
        f"  registry {cluster.registry} (images as {cluster.registry}/containerpoker/<runtime>)"
    )
    lines.append(f"  client certificate: {cluster.cert_dir} (ca.pem, cert.pem, key.pem)")
    lines.append(
        f"  export DOCKER_HOST={cluster.manager_endpoint} DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH={cluster.cert_dir}"
    )
    lines += [f"  {name}: {value:.1f} s" for name, value in cluster.timings.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a cluster and leave it running")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--image", help=f"node image (default: build {NODE_IMAGE})")
    up.add_argument("--images", nargs="+", default=DEFAULT_IMAGES, help="runtime images to carry")
    sub.add_parser("down", help="remove every test cluster (containers, volumes, networks)")
    args = parser.parse_args(argv)
    if args.command == "down":
        remove()
        for folder in (ROOT / "var/test-cluster").glob("*"):
            shutil.rmtree(folder, ignore_errors=True)
        return 0
    parent = ROOT / "var/test-cluster"
    cluster = start(workers=args.workers, image=args.image, images=args.images, parent=parent)
    print(describe(cluster))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The Swarm backend's pieces: connections over mutual TLS, the service that is one pool
container, a node as the platform sees it, and the node events the watcher follows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docker
from docker.errors import DockerException
from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    TaskTemplate,
)
from requests.exceptions import RequestException

from ..config import Settings
from ..errors import ConfigError, EngineUnavailable
from . import EngineEvent, EventStream, Node
from . import PoolContainerSpec as Spec
from .docker_host import engine_errors
from .util import short

if TYPE_CHECKING:
    from .swarm import SwarmEngine

API_VERSION = "1.41"  # Debian bookworm's docker.io 20.10
PUBLIC_HOST_LABEL = "containerpoker.public-host"  # a node's name in users' URLs


def tls_config(settings: Settings):
    import docker.tls

    folder = Path(settings.tls_dir).expanduser() if settings.tls_dir else None
    files = [folder / f for f in ("ca.pem", "cert.pem", "key.pem")] if folder else []
    if not files or not all(f.is_file() for f in files):
        raise ConfigError(
            "The Swarm backend reaches the nodes' engines only over mutual TLS: set "
            "CONTAINERPOKER_TLS_DIR to a folder with ca.pem, cert.pem and key.pem (the "
            f"swarm role writes them to /etc/containerpoker/swarm-tls){'' if not folder else f'; {folder} lacks some'}."
        )
    ca, cert, key = (str(f) for f in files)
    return docker.tls.TLSConfig(client_cert=(cert, key), ca_cert=ca, verify=True)


def connect(url: str | None, tls) -> docker.DockerClient:
    """A client of a Swarm engine: over mutual TLS for tcp:// URLs, else the local socket."""
    where = url or "the local socket"
    try:
        if url and url.startswith("tcp://"):
            client = docker.DockerClient(
                base_url=url.replace("tcp://", "https://"),
                tls=tls,
                version=API_VERSION,
                timeout=60,
            )
            # requests would trust REQUESTS_CA_BUNDLE instead of the Swarm's own CA.
            client.api.trust_env = False
        else:
            client = (
                docker.DockerClient(base_url=url, version=API_VERSION, timeout=60)
                if url
                else docker.from_env(version=API_VERSION, timeout=60)
            )
        client.ping()
        return client
    except (DockerException, RequestException) as exc:
        raise EngineUnavailable(
            f"The Swarm's engine at {where} does not answer ({short(exc)}): is the node "
            "up, and its TLS endpoint reachable from here?"
        ) from None


def service_spec(settings: Settings, spec: Spec, image: str, labels: dict) -> tuple:
    """The task template and the endpoint of the service that is one pool container."""
    runtime = spec.runtime
    container = ContainerSpec(
        image,
        env={"PORT": str(runtime.internal_port)},
        hostname=spec.name[:63],
        labels=labels,
        mounts=[
            Mount(runtime.content_dir, spec.volume, type="volume", labels=labels),
            Mount("/tmp", None, type="tmpfs", tmpfs_size=16 * 1024**2),
        ],
        read_only=True,
        cap_drop=["ALL"],
        healthcheck={"Interval": int(settings.health_interval * 1e9)},
    )
    resources = Resources(cpu_limit=int(runtime.cpus * 1e9), mem_limit=runtime.memory_bytes)
    resources["Limits"]["Pids"] = runtime.pids  # API 1.41: not in the SDK's helper yet
    task = TaskTemplate(
        container,
        resources=resources,
        restart_policy=RestartPolicy(condition="any", delay=1_000_000_000),
        placement=Placement(constraints=[f"node.hostname=={spec.node}"]),
        log_driver={"Name": "json-file", "Options": {"max-size": "1m", "max-file": "2"}},
    )
    ports = EndpointSpec(ports={spec.host_port: (runtime.internal_port, "tcp", "host")})
    return task, ports


class SwarmEvents(EventStream):
    """The manager's node events, as events of the pool services on that node: a node that goes
    down or is drained means each of its services must be looked at (and moved)."""

    def __init__(self, engine: SwarmEngine) -> None:
        self.engine = engine
        with engine_errors("follow the Swarm's events"):
            self._stream = engine.manager.api.events(filters={"type": ["node"]}, decode=True)

    def __iter__(self) -> Iterator[EngineEvent]:
        try:
            for _ in self._stream:
                self.engine.forget_nodes()
                gone = {n.name for n in self.engine.nodes(all_nodes=True) if not n.available}
                for state in self.engine.list_pool_containers():
                    node = state.labels.get("containerpoker.node")
                    if node in gone:
                        yield EngineEvent(state.name, "node_down")
        except (DockerException, RequestException, OSError, ValueError) as exc:
            raise EngineUnavailable(f"The Swarm's event stream ended ({short(exc)}).") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


def node_from(item: dict) -> Node:
    spec, status = item.get("Spec", {}), item.get("Status", {})
    resources = item.get("Description", {}).get("Resources", {})
    labels = dict(spec.get("Labels") or {})
    address = status.get("Addr", "")
    state, availability = status.get("State", "unknown"), spec.get("Availability", "active")
    return Node(
        name=item.get("Description", {}).get("Hostname", item["ID"]),
        address=labels.get(PUBLIC_HOST_LABEL) or address,
        reach=address,
        available=state == "ready" and availability == "active",
        labels=labels,
        cpus=resources.get("NanoCPUs", 0) / 1e9,
        memory=resources.get("MemoryBytes", 0),
        id=item["ID"],
        state=state,
        availability=availability,
    )

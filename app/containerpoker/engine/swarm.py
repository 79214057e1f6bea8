"""The Swarm backend: pool containers run on the nodes of a Docker Swarm.

``CONTAINERPOKER_ENGINE=swarm``; the platform talks to a manager (``CONTAINERPOKER_DOCKER_HOST``,
or the local socket on the manager itself). How a pool container maps onto Swarm objects:

- one **service** per pool container, named like it, one replica, its labels on the service
  and on the container it runs;
- a **placement constraint** ``node.hostname==<node>``: the platform chooses the node (by free
  capacity, as on one host it chooses a port), Swarm keeps the task there and restarts it when
  it fails (restart condition ``any``, the image's health check included);
- a **host-mode published port**: the port is bound on that node only, so a host port is unique
  per node and capacity grows with nodes (the routing mesh would take each port on every node);
  the user's URL names that node's address;
- the user's files in a **local volume** on the node (``<name>-files``), and kept by the
  platform (``pool/files.py``) for a replacement on another node;
- hardening as on one host: read-only root with a tmpfs on /tmp, every capability dropped,
  memory, CPU and process limits, rotated logs. ``no-new-privileges`` is set on every node's
  engine (``daemon.json``, the swarm role): Swarm 20.10 has no such service option.

What needs a node's own engine (files, stats, the connections counter, the container's inspect
data) goes to ``tcp://<node address>:<node_port>`` over mutual TLS with the platform's client
certificate (``CONTAINERPOKER_TLS_DIR``, DOCKER_CERT_PATH layout), never over a bare socket.
Logs come from the manager (``service logs``). Lessons and terminals run on the manager's engine.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
from docker.errors import DockerException, NotFound
from requests.exceptions import RequestException

from ..config import RuntimeConfig, Settings
from ..errors import ConfigError, ContainerMissing, EngineError, EngineUnavailable, ImageMissing
from . import ContainerState, Engine, EventStream, LabelledObject, Node, cgroups
from . import PoolContainerSpec as Spec
from .docker_host import engine_errors
from .swarm_parts import SwarmEvents, connect, node_from, service_spec, tls_config
from .util import http_answers, parse_docker_time, short, usage_from_stats

_NODES_TTL = 2.0


class SwarmEngine(Engine):
    """A Swarm manager for services, and each node's engine (mutual TLS) for the rest."""

    backend = "swarm"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.tls = tls_config(settings)
        self.manager = connect(settings.docker_host or None, self.tls)
        self._api = self.manager.api
        with engine_errors("read the Swarm's state"):
            swarm = self._api.info().get("Swarm") or {}
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise ConfigError(
                f"The engine at {settings.docker_host or 'the local socket'} is not a Swarm "
                "manager: point CONTAINERPOKER_DOCKER_HOST at one (the swarm role forms the "
                "Swarm), or set CONTAINERPOKER_ENGINE=docker for one host."
            )
        self._node_clients: dict[str, docker.DockerClient] = {}
        self._nodes: tuple[float, list[Node]] = (0.0, [])
        self._lock = threading.Lock()

    # -- connections -------------------------------------------------------------------

    def node_client(self, node: str) -> docker.DockerClient:
        """The engine of ``node``, over mutual TLS."""
        with self._lock:
            client = self._node_clients.get(node)
        if client is None:
            found = {n.name: n for n in self.nodes(all_nodes=True)}.get(node)
            if found is None:
                raise ContainerMissing(f"No node {node!r} in the Swarm.")
            client = connect(f"tcp://{found.reach}:{self.settings.node_port}", self.tls)
            with self._lock:
                self._node_clients[node] = client
        return client

    def close(self) -> None:
        for client in [self.manager, *self._node_clients.values()]:
            with contextlib.suppress(Exception):
                client.close()

    # -- nodes --------------------------------------------------------------------------

    def nodes(self, *, all_nodes: bool = False) -> list[Node]:
        """The Swarm's nodes (read at most every 2 s); ``all_nodes``: down and drained too."""
        at, cached = self._nodes
        if time.monotonic() - at > _NODES_TTL:
            with engine_errors("list the Swarm's nodes"):
                found = self._api.nodes()
            cached = [node_from(item) for item in found]
            self._nodes = (time.monotonic(), cached)
        return [n for n in cached if all_nodes or n.available]

    def forget_nodes(self) -> None:
        """Read the nodes again at the next question (one changed)."""
        self._nodes = (0.0, [])

    def node_of(self, name: str) -> str | None:
        """The node the service's running task is on."""
        task = self._task(name)
        return self._node_name(task["NodeID"]) if task else None

    def _node_name(self, node_id: str) -> str:
        for item in self._nodes[1] or self.nodes(all_nodes=True):
            if item.id == node_id:
                return item.name
        self.forget_nodes()  # a node that joined since: read them again
        found = {n.id: n.name for n in self.nodes(all_nodes=True)}
        return found.get(node_id, node_id)

    def set_availability(self, node: str, availability: str) -> None:
        """``active``, ``pause`` or ``drain`` (Swarm's own; the platform then acts on it)."""
        with engine_errors(f"update the node {node}"):
            item = self._api.inspect_node(node)
            spec = dict(item["Spec"], Availability=availability)
            self._api.update_node(item["ID"], item["Version"]["Index"], spec)
        self.forget_nodes()

    # -- images (built on the manager; the swarm role pushes them to the registry) -----------

    def image_id(self, ref: str) -> str | None:
        try:
            return self._api.inspect_image(ref)["Id"]
        except NotFound:
            return None
        except (DockerException, RequestException) as exc:
            raise EngineUnavailable(f"The Swarm manager does not answer ({short(exc)}).") from None

    def image_labels(self, ref: str) -> dict[str, str] | None:
        try:
            return self._api.inspect_image(ref)["Config"].get("Labels") or {}
        except NotFound:
            return None

    def build_image(
        self, context: Path, dockerfile: str, tag: str, labels: dict[str, str]
    ) -> Iterator[str]:
        with engine_errors(f"build {tag}"):
            for chunk in self._api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                labels=labels,
                rm=True,
                decode=True,
            ):
                if "error" in chunk:
                    raise EngineError(f"Building {tag} failed: {chunk['error'].strip()}")
                if (chunk.get("stream") or "").strip():
                    yield chunk["stream"].strip()

    def require_image(self, runtime: RuntimeConfig) -> None:
        if self.image_id(runtime.image) is None:
            raise ImageMissing(
                f"The image {runtime.image} is not on the Swarm manager: run `containerpoker "
                "images build` there (the swarm role then pushes it to the registry)."
            )

    def service_image(self, runtime: RuntimeConfig) -> str:
        """The image as nodes pull it: from the private registry when one is configured."""
        if self.settings.registry:
            return f"{self.settings.registry}/{runtime.image}"
        return runtime.image

    # -- pool containers = services ------------------------------------------------------------

    def create_pool_container(self, spec: Spec) -> str:
        labels = self.pool_labels(spec)
        task, ports = service_spec(self.settings, spec, self.service_image(spec.runtime), labels)
        with engine_errors(f"create the service {spec.name}"):
            created = self._api.create_service(
                task, name=spec.name, labels=labels, endpoint_spec=ports
            )
        return created["ID"]

    def remove_container(self, name: str) -> bool:
        try:
            with engine_errors(f"remove the service {name}"):
                self._api.remove_service(name)
            return True
        except ContainerMissing:
            return False

    def remove_volume(self, name: str) -> bool:
        removed = False
        for node in self.nodes(all_nodes=True):
            if node.state != "ready":
                continue  # a node that is down keeps its volumes until it is back
            with contextlib.suppress(EngineError):
                for _ in range(20):
                    try:
                        self.node_client(node.name).api.remove_volume(name, force=True)
                        removed = True
                        break
                    except NotFound:
                        break
                    except DockerException as exc:
                        if "in use" not in str(exc):
                            raise EngineError(
                                f"Cannot remove {name} on {node.name}: {short(exc)}"
                            ) from None
                        time.sleep(0.2)  # the task's container is still going
        return removed

    def _scale(self, name: str, replicas: int, force: bool = False) -> None:
        with engine_errors(f"update the service {name}"):
            service = self._api.inspect_service(name)
            spec = service["Spec"]
            self._api.update_service(
                service["ID"],
                service["Version"]["Index"],
                task_template=spec["TaskTemplate"],
                name=spec["Name"],
                labels=spec.get("Labels"),
                mode={"Replicated": {"Replicas": replicas}},
                endpoint_spec=spec.get("EndpointSpec"),
                fetch_current_spec=False,
                force_update=force,
            )

    def start(self, name: str) -> None:
        self._scale(name, 1)

    def stop(self, name: str, timeout: int = 5) -> None:
        self._scale(name, 0)

    def restart(self, name: str, timeout: int = 5) -> None:
        self._scale(name, 1, force=True)

    def _tasks(self, filters: dict | None = None) -> list[dict]:
        with engine_errors("list the Swarm's tasks"):
            return self._api.tasks(filters=filters or {})

    def _task(self, name: str) -> dict | None:
        """The service's current task: running, or the newest."""
        tasks = self._tasks({"service": name})
        tasks = [t for t in tasks if t.get("DesiredState") == "running"] or tasks
        return max(tasks, key=lambda t: t.get("UpdatedAt", ""), default=None)

    def list_pool_containers(self) -> list[ContainerState]:
        with engine_errors("list the pool's services"):
            services = self._api.services(filters={"label": self.instance_filter()})
        tasks: dict[str, dict] = {}
        for task in self._tasks({"label": self.instance_filter(), "desired-state": "running"}):
            tasks[task["ServiceID"]] = task
        found = []
        for service in services:
            spec = service["Spec"]
            task = tasks.get(service["ID"])
            state = (task or {}).get("Status", {}).get("State", "")
            found.append(
                ContainerState(
                    name=spec["Name"],
                    docker_id=service["ID"],
                    node=self._node_name(task["NodeID"]) if task and task.get("NodeID") else "",
                    labels=spec.get("Labels") or {},
                    # "starting" until its health check passes: running, for the platform
                    state="running" if state in ("running", "starting") else (state or "exited"),
                    status_text=(task or {}).get("Status", {}).get("Message", "no task"),
                    image=spec["TaskTemplate"]["ContainerSpec"]["Image"],
                    started_at=parse_docker_time(
                        (task or {}).get("Status", {}).get("Timestamp", "")
                    )
                    if state in ("running", "starting")
                    else None,
                )
            )
        return found

    def list_pool_volumes(self) -> list[str]:
        names: set[str] = set()
        for node in self.nodes():
            with contextlib.suppress(EngineError, DockerException, RequestException):
                found = self.node_client(node.name).api.volumes(
                    filters={"label": self.instance_filter()}
                )
                names |= {v["Name"] for v in found.get("Volumes") or []}
        return sorted(names)

    def is_running(self, name: str) -> bool:
        task = self._task(name)
        return bool(task) and task["Status"]["State"] in ("running", "starting")

    def _container(self, name: str) -> tuple[docker.DockerClient, str]:
        """The node engine and the id of the container running the service's task."""
        task = self._task(name)
        container = (task or {}).get("Status", {}).get("ContainerStatus", {}).get("ContainerID")
        if not task or not container:
            raise ContainerMissing(f"The service {name} has no running container.")
        return self.node_client(self._node_name(task["NodeID"])), container

    def started_at(self, name: str) -> float | None:
        task = self._task(name)
        if not task or task["Status"]["State"] not in ("running", "starting"):
            return None
        return parse_docker_time(task["Status"].get("Timestamp", ""))

    def inspect(self, name: str) -> dict:
        client, container = self._container(name)
        with engine_errors(f"inspect {name}"):
            return client.api.inspect_container(container)

    def put_files(self, name: str, path: str, tar: bytes) -> None:
        client, container = self._container(name)
        with engine_errors(f"copy files into {name}"):
            client.api.put_archive(container, path, tar)

    def logs(self, name: str, *, since: float | None = None, tail: int = 200) -> list:
        with engine_errors(f"read the logs of {name}"):
            raw = b"".join(
                self._api.service_logs(
                    name,
                    stdout=True,
                    stderr=True,
                    timestamps=True,
                    tail=tail if since is None else "all",
                    since=since or 0,
                )
            )
        lines = []
        for line in raw.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            ts = parse_docker_time(stamp)
            if ts is not None and (since is None or ts > since):
                lines.append((ts, text.split(" ", 1)[-1] if "|" in text[:80] else text))
        return lines[-tail:]

    def stats(self, name: str) -> dict:
        try:
            client, container = self._container(name)
            with engine_errors(f"read the stats of {name}"):
                return usage_from_stats(client.api.stats(container, stream=False))
        except EngineError:
            return {"cpu_percent": None, "memory_bytes": None, "memory_limit": None}

    def traffic(self, names: list[str]) -> dict[str, int]:
        found = {}
        for name in names:
            with contextlib.suppress(EngineError, DockerException, RequestException):
                client, container = self._container(name)
                exec_id = client.api.exec_create(container, ["cat", "/proc/net/snmp"])
                counter = cgroups.parse_tcp_accepts(client.api.exec_start(exec_id["Id"]).decode())
                if counter is not None:
                    found[name] = counter
        return found

    # -- lessons and terminals run on the manager's engine -------------------------------------

    def labelled(self, role: str) -> list[LabelledObject]:
        filters = {"label": [f"containerpoker.role={role}"]}
        with engine_errors(f"list the objects labelled containerpoker.role={role}"):
            found = [
                LabelledObject("container", c["Names"][0].lstrip("/"), c.get("Labels") or {})
                for c in self._api.containers(all=True, filters=filters)
            ]
            found += [
                LabelledObject("network", n["Name"], n.get("Labels") or {})
                for n in self._api.networks(filters=filters)
            ]
            found += [
                LabelledObject("volume", v["Name"], v.get("Labels") or {})
                for v in self._api.volumes(filters=filters).get("Volumes") or []
            ]
        return found

    def remove_labelled(self, thing: LabelledObject) -> bool:
        remove = {
            "container": lambda n: self._api.remove_container(n, force=True),
            "network": self._api.remove_network,
            "volume": lambda n: self._api.remove_volume(n, force=True),
        }
        try:
            with engine_errors(f"remove {thing.name}"):
                remove[thing.kind](thing.name)
            return True
        except ContainerMissing:
            return False

    # -- events: a node that goes down or is drained ---------------------------------------------

    def pool_events(self) -> EventStream:
        return SwarmEvents(self)

    def port_is_free(self, node: str, port: int) -> bool:
        # A remote node's ports cannot be probed from here; a port another process holds makes
        # the task fail to start, and the warm-up then gives the row back.
        return True

    def wait_serving(self, node: str, port: int, name: str, timeout: float) -> None:
        target = {n.name: n.reach for n in self.nodes(all_nodes=True)}.get(node, node)
        deadline = time.monotonic() + timeout
        delay = 0.05
        while time.monotonic() < deadline:
            if http_answers(target, port):
                return
            task = self._task(name)
            state = (task or {}).get("Status", {}).get("State")
            if state in ("failed", "rejected", "shutdown"):
                message = task["Status"].get("Err") or task["Status"].get("Message")
                raise EngineError(f"The service {name} could not start on {node}: {message}.")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)
        raise TimeoutError(f"no HTTP answer on {target}:{port} within {timeout:.0f}s")

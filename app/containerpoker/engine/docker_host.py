"""The single-host backend: pool containers are containers of one Docker engine.

The default (``CONTAINERPOKER_ENGINE=docker``), what ``make run`` uses. The engine is the local
socket, or ``DOCKER_HOST``/``CONTAINERPOKER_DOCKER_HOST``. There is one node, called ``local``;
users reach it at ``PUBLIC_HOST`` and the platform at the bind address.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from requests.exceptions import RequestException

from ..config import RuntimeConfig, Settings
from ..errors import ContainerMissing, EngineError, EngineUnavailable, ImageMissing
from . import (
    WATCHED_ACTIONS,
    ContainerState,
    Engine,
    EventStream,
    LabelledObject,
    Node,
    cgroups,
)
from . import PoolContainerSpec as Spec
from .docker_events import DockerEvents
from .util import http_answers, parse_docker_time, short, usage_from_stats

LOCAL_NODE = "local"
log = logging.getLogger(__name__)


@contextlib.contextmanager
def engine_errors(what: str) -> Iterator[None]:
    """Turn the docker SDK's exceptions into the platform's, saying what was being done."""
    try:
        yield
    except NotFound as exc:
        raise ContainerMissing(f"{what}: {short(exc)}") from None
    except APIError as exc:
        raise EngineError(f"Docker refused to {what}: {exc.explanation or short(exc)}.") from None
    except (DockerException, RequestException) as exc:
        raise EngineUnavailable(
            f"Docker is not reachable ({short(exc)}) — is the engine running? Try `make engine`."
        ) from None


class DockerHostEngine(Engine):
    """One Docker engine, reached through its API."""

    backend = "docker"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        where = settings.docker_host or "unix:///var/run/docker.sock"
        try:
            self.client = (
                docker.DockerClient(base_url=settings.docker_host, version="auto", timeout=120)
                if settings.docker_host
                else docker.from_env(version="auto", timeout=120)
            )
            self.client.ping()
        except (DockerException, RequestException) as exc:
            raise EngineUnavailable(
                f"Docker is not reachable at {where} ({short(exc)}) — is the engine running? "
                "Try `make engine`."
            ) from None
        self._api = self.client.api
        self._local = str(self._api.base_url).startswith("http+docker://")
        self._warned_stats = False
        self._pids: dict[str, int] = {}  # docker id -> its main process, for traffic()
        # CIS Docker Benchmark 5.14: published on the address users reach, not on all.
        self.bind = settings.publish_address()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close()

    # -- nodes --------------------------------------------------------------------

    def nodes(self, *, all_nodes: bool = False) -> list[Node]:
        bind = self.bind
        reach = "127.0.0.1" if bind in ("0.0.0.0", "") else ("::1" if bind == "::" else bind)
        return [Node(LOCAL_NODE, self.settings.public_host, reach)]

    # -- images -------------------------------------------------------------------

    def image_id(self, ref: str) -> str | None:
        try:
            return self._api.inspect_image(ref)["Id"]
        except ImageNotFound:
            return None
        except (DockerException, RequestException) as exc:
            raise EngineUnavailable(f"Docker is not reachable ({short(exc)}).") from None

    def image_labels(self, ref: str) -> dict[str, str] | None:
        try:
            return self._api.inspect_image(ref)["Config"].get("Labels") or {}
        except ImageNotFound:
            return None

    def build_image(
        self, context: Path, dockerfile: str, tag: str, labels: dict[str, str]
    ) -> Iterator[str]:
        with engine_errors(f"build {tag}"):
            stream = self._api.build(
                path=str(context),
                dockerfile=dockerfile,
                tag=tag,
                labels=labels,
                rm=True,
                forcerm=True,
                pull=False,
                decode=True,
            )
            for chunk in stream:
                if "error" in chunk:
                    raise EngineError(f"Building {tag} failed: {chunk['error'].strip()}")
                line = (chunk.get("stream") or "").strip()
                if line:
                    yield line

    def require_image(self, runtime: RuntimeConfig) -> None:
        if self.image_id(runtime.image) is None:
            raise ImageMissing(
                f"The image {runtime.image} is not built: run `containerpoker images build` "
                "(or `make images`)."
            )

    # -- pool containers ---------------------------------------------------------

    def create_pool_container(self, spec: Spec) -> str:
        runtime = spec.runtime
        labels = self.pool_labels(spec)
        vol_labels = {k: v for k, v in labels.items() if not k.endswith(".port")}
        with engine_errors(f"create the volume {spec.volume}"):
            try:
                self._api.inspect_volume(spec.volume)
            except NotFound:
                self._api.create_volume(name=spec.volume, labels=vol_labels)
        host_config = self._api.create_host_config(
            port_bindings={f"{runtime.internal_port}/tcp": (self.bind, spec.host_port)},
            mounts=[
                docker.types.Mount(runtime.content_dir, spec.volume, type="volume", read_only=False)
            ],
            privileged=False,
            # CIS Docker Benchmark 5.13: a read-only root; the images write only to /tmp (a
            # small tmpfs) and the content folder (the user's volume).
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            mem_limit=runtime.memory_bytes,
            memswap_limit=runtime.memory_bytes,
            nano_cpus=int(runtime.cpus * 1e9),
            pids_limit=runtime.pids,
            log_config=docker.types.LogConfig(
                type="json-file", config={"max-size": "1m", "max-file": "2"}
            ),
            restart_policy={"Name": "unless-stopped"},
            tmpfs={"/tmp": "rw,noexec,nosuid,size=16m"},
            init=False,
        )
        with engine_errors(f"create the container {spec.name}"):
            try:
                created = self._api.create_container(
                    runtime.image,
                    name=spec.name,
                    hostname=spec.name[:63],
                    labels=labels,
                    ports=[runtime.internal_port],
                    environment={"PORT": str(runtime.internal_port)},
                    # The image's health command, at the configured pace (no "test": inherited).
                    healthcheck={"interval": int(self.settings.health_interval * 1e9)},
                    host_config=host_config,
                    detach=True,
                )
            except ImageNotFound:
                raise ImageMissing(
                    f"The image {runtime.image} is not built: run `containerpoker images build`."
                ) from None
        container_id = created["Id"]
        try:
            if not self._volume_labelled(spec.volume):
                self.remove_container(container_id)
                self.remove_volume(spec.volume)
                raise EngineError(
                    f"The volume {spec.volume} was removed while its container was being "
                    "created (a stop or a sweep at the same moment); this warm-up is given up."
                )
            with engine_errors(f"start the container {spec.name}"):
                self._api.start(container_id)
        except EngineError:
            self.remove_container(container_id)
            raise
        return container_id

    def _volume_labelled(self, volume: str) -> bool:
        """Whether a pool volume still has this instance's labels: one removed (``make stop``,
        a sweep) just before its container was created is re-created by Docker without them,
        where no sweep would ever find it."""
        with engine_errors(f"inspect the volume {volume}"):
            labels = self._api.inspect_volume(volume).get("Labels") or {}
        wanted = dict(f.split("=", 1) for f in self.instance_filter())
        return wanted.items() <= labels.items()

    def remove_container(self, name: str) -> bool:
        try:
            self._api.remove_container(name, force=True, v=False)
            return True
        except NotFound:
            return False
        except APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc):
                return False
            raise EngineError(f"Docker refused to remove {name}: {exc.explanation}.") from None
        except (DockerException, RequestException) as exc:
            raise EngineUnavailable(f"Docker is not reachable ({short(exc)}).") from None

    def remove_volume(self, name: str) -> bool:
        for _ in range(20):
            try:
                self._api.remove_volume(name, force=True)
                return True
            except NotFound:
                return False
            except APIError as exc:
                if exc.status_code != 409:
                    raise EngineError(
                        f"Docker refused to remove the volume {name}: {exc.explanation}."
                    ) from None
                time.sleep(0.1)  # a just-removed container lets go of it a moment later
            except (DockerException, RequestException) as exc:
                raise EngineUnavailable(f"Docker is not reachable ({short(exc)}).") from None
        return False

    def start(self, name: str) -> None:
        with engine_errors(f"start {name}"):
            self._api.start(name)

    def stop(self, name: str, timeout: int = 5) -> None:
        with engine_errors(f"stop {name}"):
            self._api.stop(name, timeout=timeout)

    def restart(self, name: str, timeout: int = 5) -> None:
        with engine_errors(f"restart {name}"):
            self._api.restart(name, timeout=timeout)

    def list_pool_containers(self) -> list[ContainerState]:
        with engine_errors("list the pool containers"):
            found = self._api.containers(all=True, filters={"label": self.instance_filter()})
        return [
            ContainerState(
                name=item["Names"][0].lstrip("/") if item.get("Names") else item["Id"][:12],
                docker_id=item["Id"],
                node=(item.get("Labels") or {}).get("containerpoker.node", LOCAL_NODE),
                labels=item.get("Labels") or {},
                state=item.get("State", ""),
                status_text=item.get("Status", ""),
                image=item.get("Image", ""),
            )
            for item in found
        ]

    def list_pool_volumes(self) -> list[str]:
        with engine_errors("list the pool volumes"):
            found = self._api.volumes(filters={"label": self.instance_filter()})
        return [v["Name"] for v in (found.get("Volumes") or [])]

    def is_running(self, name: str) -> bool:
        try:
            with engine_errors(f"inspect {name}"):
                return bool(self._api.inspect_container(name)["State"]["Running"])
        except ContainerMissing:
            return False

    def started_at(self, name: str) -> float | None:
        try:
            with engine_errors(f"inspect {name}"):
                state = self._api.inspect_container(name)["State"]
        except EngineError:
            return None
        return parse_docker_time(state["StartedAt"]) if state.get("Running") else None

    def inspect(self, name: str) -> dict:
        with engine_errors(f"inspect {name}"):
            return self._api.inspect_container(name)

    def put_files(self, name: str, path: str, tar: bytes) -> None:
        with engine_errors(f"copy files into {name}"):
            self._api.put_archive(name, path, tar)

    def logs(self, name: str, *, since: float | None = None, tail: int = 200) -> list:
        with engine_errors(f"read the logs of {name}"):
            raw = self._api.logs(
                name,
                stdout=True,
                stderr=True,
                timestamps=True,
                tail=tail if since is None else "all",
                since=since,
            )
        lines = []
        for line in raw.decode("utf-8", "replace").splitlines():
            stamp, _, text = line.partition(" ")
            ts = parse_docker_time(stamp)
            if ts is None or (since is not None and ts <= since):
                continue
            lines.append((ts, text))
        return lines[-tail:]

    def stats(self, name: str) -> dict:
        try:
            with engine_errors(f"read the stats of {name}"):
                raw = self._api.stats(name, stream=False)
        except EngineError:
            return {"cpu_percent": None, "memory_bytes": None, "memory_limit": None}
        result = usage_from_stats(raw)
        if result["memory_bytes"] is None:
            result.update(self._kernel_usage(name))
        return result

    def _kernel_usage(self, name: str) -> dict:
        """Memory and CPU read from the container's cgroup when Docker's stats come back
        empty (CPU sampled over half a second, as Docker samples its own).

        Only for an engine on this machine (a Unix socket): a process id from a remote engine
        names some unrelated process here.
        """
        if not self._local:
            return {}
        try:
            with engine_errors(f"inspect {name}"):
                pid = self._api.inspect_container(name)["State"]["Pid"]
        except EngineError:
            return {}
        found = cgroups.usage(pid)
        if found is None:
            return {}
        if not self._warned_stats:
            self._warned_stats = True
            log.warning(
                "Docker returned empty stats for %s (its log says why); reading memory and CPU from %s",
                name,
                found.source,
            )
        return {
            "memory_bytes": found.memory_bytes,
            "memory_limit": found.memory_limit,
            "cpu_percent": cgroups.cpu_percent(pid),
        }

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
            volumes = self._api.volumes(filters=filters).get("Volumes") or []
            found += [LabelledObject("volume", v["Name"], v.get("Labels") or {}) for v in volumes]
        return found

    def remove_labelled(self, thing: LabelledObject) -> bool:
        if thing.kind == "container":
            return self.remove_container(thing.name)
        if thing.kind == "volume":
            return self.remove_volume(thing.name)
        try:
            with engine_errors(f"remove the network {thing.name}"):
                self._api.remove_network(thing.name)
            return True
        except ContainerMissing:
            return False

    def traffic(self, names: list[str]) -> dict[str, int]:
        wanted = set(names)
        found = {}
        for state in self.list_pool_containers():
            if state.name not in wanted or not state.running:
                continue
            counter = None
            if self._local:  # from the kernel: two small files, no API call
                pid = self._pids.get(state.docker_id)
                if pid is not None:
                    counter = cgroups.tcp_accepts(pid, state.docker_id)
                if counter is None:
                    with contextlib.suppress(EngineError):
                        with engine_errors(f"inspect {state.name}"):
                            pid = self._api.inspect_container(state.docker_id)["State"]["Pid"]
                        self._pids[state.docker_id] = pid
                        counter = cgroups.tcp_accepts(pid, state.docker_id)
            if counter is None:  # a remote engine: read the same counter inside it
                with contextlib.suppress(EngineError):
                    with engine_errors(f"read the connections of {state.name}"):
                        exec_id = self._api.exec_create(state.docker_id, ["cat", "/proc/net/snmp"])
                        output = self._api.exec_start(exec_id["Id"])
                    counter = cgroups.parse_tcp_accepts(output.decode(errors="replace"))
            if counter is not None:
                found[state.name] = counter
        return found

    def pool_events(self) -> EventStream:
        filters = {
            "type": "container",
            "event": list(WATCHED_ACTIONS),
            "label": self.instance_filter(),
        }
        with engine_errors("follow Docker's events"):
            return DockerEvents(self._api, filters)

    # -- reaching published ports --------------------------------------------------

    def port_is_free(self, node: str, port: int) -> bool:
        address = self.bind
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # Like docker-proxy: a port in TIME_WAIT is free, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return False
        return True

    def wait_serving(self, node: str, port: int, name: str, timeout: float) -> None:
        target = self.nodes()[0].reach
        deadline = time.monotonic() + timeout
        delay = 0.02
        checks = 0
        while time.monotonic() < deadline:
            if http_answers(target, port):
                return
            checks += 1
            if checks % 25 == 0 and not self.is_running(name):
                raise EngineError(f"The container {name} stopped while starting.")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        raise TimeoutError(f"no HTTP answer on port {port} within {timeout:.0f}s")

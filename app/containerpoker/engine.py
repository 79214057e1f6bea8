"""The only module that talks to Docker.

Every object the platform creates carries ``containerpoker.*`` labels
(role, instance, runtime, slot, port, owner) so that the real state can be
rebuilt from Docker itself.  Pool containers are created hardened: not
privileged, every capability dropped (the runtime images run as an
unprivileged user on a high port and need none), no-new-privileges,
memory/CPU/pids limits, bounded logs, no host mounts, no Docker socket.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import CancellableStream
from docker.utils import convert_filters

from .config import RuntimeConfig, Settings
from .errors import EngineUnavailable, ImageMissing

LABEL = "containerpoker"
ROLE_POOL = "pool"


def label(name: str) -> str:
    return f"{LABEL}.{name}"


@dataclass(frozen=True)
class ContainerState:
    """What Docker says about one labelled container (from one list call)."""

    docker_id: str
    name: str
    labels: dict[str, str]
    running: bool
    unhealthy: bool


class Engine:
    """A Docker client with the few operations the platform needs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        where = settings.docker_host or "unix:///var/run/docker.sock"
        try:
            self.client = (
                docker.DockerClient(base_url=settings.docker_host, version="auto", timeout=120)
                if settings.docker_host
                else docker.from_env(version="auto", timeout=120)
            )
            self.client.ping()
        except DockerException as exc:
            raise EngineUnavailable(
                f"Docker is not reachable at {where} ({_short(exc)}) — is the engine running? "
                "Try `make engine`."
            ) from None
        self.api = self.client.api

    # -- labels -----------------------------------------------------------------

    def pool_labels(self, runtime: str, slot: str, port: int, owner: str | None) -> dict:
        labels = {
            label("role"): ROLE_POOL,
            label("instance"): self.settings.instance,
            label("runtime"): runtime,
            label("slot"): slot,
            label("port"): str(port),
            **self.settings.extra_labels,
        }
        if owner:
            labels[label("owner")] = owner
        return labels

    def _instance_filter(self) -> list[str]:
        return [f"{label('role')}={ROLE_POOL}", f"{label('instance')}={self.settings.instance}"]

    # -- images -----------------------------------------------------------------

    def require_image(self, runtime: RuntimeConfig) -> None:
        try:
            self.api.inspect_image(runtime.image)
        except ImageNotFound:
            raise ImageMissing(
                f"The image {runtime.image} is not built: run `containerpoker images build` "
                "(or `make images`)."
            ) from None

    # -- pool containers ---------------------------------------------------------

    def create_pool_container(
        self,
        runtime: RuntimeConfig,
        *,
        name: str,
        volume: str,
        host_port: int,
        owner: str | None = None,
    ) -> str:
        """Create and start one hardened pool container; return its id.

        The volume is created when missing (a replacement reuses the user's).
        """
        labels = self.pool_labels(runtime.name, name, host_port, owner)
        vol_labels = {k: v for k, v in labels.items() if k != label("port")}
        try:
            self.api.inspect_volume(volume)
        except NotFound:
            self.api.create_volume(name=volume, labels=vol_labels)
        host_config = self.api.create_host_config(
            port_bindings={f"{runtime.internal_port}/tcp": (self.settings.bind_address, host_port)},
            mounts=[
                docker.types.Mount(runtime.content_dir, volume, type="volume", read_only=False)
            ],
            privileged=False,
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
        try:
            created = self.api.create_container(
                runtime.image,
                name=name,
                hostname=name[:63],
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
            self.api.start(container_id)
        except APIError:
            self.remove_container(container_id)
            raise
        return container_id

    def remove_container(self, ref: str) -> bool:
        """Force-remove a container; ``False`` when it was already gone."""
        try:
            self.api.remove_container(ref, force=True, v=False)
            return True
        except NotFound:
            return False
        except APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc):
                return False
            raise

    def remove_volume(self, name: str) -> bool:
        """Remove a volume; retries briefly while a just-removed container lets go of it."""
        for _ in range(20):
            try:
                self.api.remove_volume(name, force=True)
                return True
            except NotFound:
                return False
            except APIError as exc:
                if exc.status_code != 409:
                    raise
                time.sleep(0.1)
        return False

    def list_pool_containers(self) -> list[ContainerState]:
        """Every pool container of this instance, running or not (one API call)."""
        found = self.api.containers(all=True, filters={"label": self._instance_filter()})
        result = []
        for item in found:
            status = item.get("Status", "")
            result.append(
                ContainerState(
                    docker_id=item["Id"],
                    name=item["Names"][0].lstrip("/") if item.get("Names") else item["Id"][:12],
                    labels=item.get("Labels") or {},
                    running=item.get("State") == "running",
                    unhealthy="(unhealthy)" in status,
                )
            )
        return result

    def events(self, filters: dict) -> CancellableStream:
        """Docker's events matching ``filters``, one dict each, handed over as they happen.

        Not ``APIClient.events()``: with urllib3 2 its reader (``read(1)`` then ``chunk_left``)
        hands each event over only when the next one arrives, so a lone "die" could wait
        minutes for the next health check. Reading the chunked response line by line as the
        bytes arrive has no such lag. ``close()`` (from any thread) ends the iteration.
        """
        api = self.api
        response = api._get(
            api._url("/events"),
            params={"filters": convert_filters(filters)},
            stream=True,
            timeout=None,
        )
        api._raise_for_status(response)

        def decoded() -> Iterator[dict]:
            for line in response.iter_lines(chunk_size=None):
                if line:
                    yield json.loads(line)

        return CancellableStream(decoded(), response)

    def list_pool_volumes(self) -> list[str]:
        found = self.api.volumes(filters={"label": self._instance_filter()})
        return [v["Name"] for v in (found.get("Volumes") or [])]

    def container_running(self, ref: str) -> bool:
        try:
            return bool(self.api.inspect_container(ref)["State"]["Running"])
        except NotFound:
            return False

    def put_archive(self, ref: str, path: str, tar_bytes: bytes) -> None:
        self.api.put_archive(ref, path, tar_bytes)

    def inspect(self, ref: str) -> dict:
        return self.api.inspect_container(ref)

    # -- host ports ---------------------------------------------------------------

    def port_is_free(self, port: int) -> bool:
        """True when no other process holds ``port`` on the bind address."""
        address = self.settings.bind_address
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # Like docker-proxy: a port in TIME_WAIT is free, one with a listener is not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError:
                return False
        return True

    def wait_serving(self, host_port: int, container_id: str, timeout: float) -> None:
        """Block until the container answers HTTP on its host port.

        Raises ``TimeoutError`` (or ``RuntimeError`` when the container stopped).
        """
        address = self.settings.bind_address
        target = (
            "127.0.0.1" if address in ("0.0.0.0", "") else ("::1" if address == "::" else address)
        )
        deadline = time.monotonic() + timeout
        delay = 0.02
        checks = 0
        while time.monotonic() < deadline:
            conn = http.client.HTTPConnection(target, host_port, timeout=2)
            try:
                conn.request("GET", "/")
                if conn.getresponse().status < 500:
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            checks += 1
            if checks % 25 == 0 and not self.container_running(container_id):
                raise RuntimeError(f"container {container_id[:12]} stopped while starting")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        raise TimeoutError(f"no HTTP answer on port {host_port} within {timeout:.0f}s")


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]

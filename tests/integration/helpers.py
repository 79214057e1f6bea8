"""Small helpers shared by the integration tests."""

from __future__ import annotations

import time
import urllib.error
import urllib.request


def fetch(url: str, timeout: float = 15.0, expect: str | None = None) -> str:
    """GET ``url`` until it answers (and contains ``expect``); return the body."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                body = response.read().decode("utf-8", "replace")
            if expect is None or expect in body:
                return body
            last = body[:200]
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer{f' with {expect!r}' if expect else ''}: {last}")


def files_in(docker_client, name: str, path: str = "/srv/www") -> list[str]:
    """The files under ``path`` in a container, via ``docker exec find``."""
    container = docker_client.containers.get(name)
    result = container.exec_run(["find", path, "-mindepth", "1"])
    assert result.exit_code == 0, result.output
    return sorted(result.output.decode().split())


def wait_gone(docker_client, name: str, timeout: float = 15.0) -> None:
    """Wait until no container called ``name`` is left (removal may be in the background)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The low-level list: the high-level one inspects each container it lists, which
        # fails with NotFound when the removal lands in between.
        if not docker_client.api.containers(all=True, filters={"name": f"^{name}$"}):
            return
        time.sleep(0.2)
    raise AssertionError(f"container {name} was still there after {timeout:.0f} s")


def container_names(docker_client) -> set[str]:
    """Every container's name, from one list call: no inspect of a container that another
    test (or another session on this engine) removes meanwhile."""
    listed = docker_client.api.containers(all=True)
    return {c["Names"][0].lstrip("/") for c in listed if c.get("Names")}

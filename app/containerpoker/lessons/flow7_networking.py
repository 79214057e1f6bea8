"""Networking: containers find each other by name on their own network, and only there.

LEARNING GOAL: create user-defined networks, let containers reach each other
by name, publish a port to the host, and prove isolation: a container on
another network can neither resolve nor reach them.

Docker gives every user-defined network its own DNS: a container's name (and
its aliases) resolve to its address for the containers on that network only.
Publishing a port maps a host port to a container port, for the outside world.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

from .framework import Lab, LessonFailed, Param, Step

TITLE = "Networking"
CATEGORY = "Networking"
PARAMS = [
    Param("alias", str, "web", "The name the web server is known by on its network."),
    Param("timeout", int, 3, "Seconds the outsider tries before giving up.", min=1, max=10),
]
WEB_IMAGE = "containerpoker/nginx"
CLIENT_IMAGE = "containerpoker/python"
# A tiny HTTP client in Python (the images have no curl); the URL comes in as argv.
FETCH = (
    "import sys, urllib.request\n"
    "try:\n"
    "    print(urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])).read()[:60].decode())\n"
    "except Exception as exc:\n"
    "    print('FAILED:', type(exc).__name__, exc); sys.exit(1)\n"
)


def _fetch_from(lab: Lab, network: str, url: str, timeout: int, what: str) -> tuple[int, str]:
    container = lab.client.containers.run(
        CLIENT_IMAGE,
        ["python3", "-c", FETCH, url, str(timeout)],
        name=lab.name(what),
        labels=lab.labels(),
        network=network,
        detach=True,
        user="10001",
    )
    code = container.wait(timeout=timeout + 30)["StatusCode"]
    output = container.logs().decode().strip()
    container.remove()
    return code, output


def run(lab: Lab, params: dict) -> Iterator[Step]:
    alias, timeout = params["alias"], params["timeout"]
    front, other = lab.name("front"), lab.name("other")
    for net in (front, other):
        lab.client.networks.create(net, driver="bridge", labels=lab.labels())
    yield Step(
        "Create two networks",
        "User-defined bridge networks: each has its own addresses and its own DNS.",
        f"docker network create {front} && docker network create {other}",
        f"{front}, {other}",
    )

    web = lab.client.containers.run(
        WEB_IMAGE,
        name=lab.name("web"),
        labels=lab.labels(),
        detach=True,
        network=front,
        ports={"8080/tcp": ("127.0.0.1", None)},
    )
    # The alias is a second DNS name on that network only.
    lab.client.networks.get(front).disconnect(web)
    lab.client.networks.get(front).connect(web, aliases=[alias])
    web.reload()
    address = web.attrs["NetworkSettings"]["Networks"][front]["IPAddress"]
    host_port = web.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    yield Step(
        "Start a web server on the first network",
        "It gets an address on that network, the DNS name of its alias, and a host port.",
        f"docker run -d --network {front} --network-alias {alias} -p 127.0.0.1::8080 {WEB_IMAGE}",
        f"address {address}, alias {alias}, published on 127.0.0.1:{host_port}",
    )

    code, output = 1, ""
    for _ in range(20):  # nginx needs a moment to listen
        code, output = _fetch_from(lab, front, f"http://{alias}:8080/", timeout, "neighbour")
        if code == 0:
            break
    yield Step(
        "Reach it by name from the same network",
        "Docker's DNS resolves the alias for containers on the same network.",
        f"docker run --network {front} {CLIENT_IMAGE} python3 -c 'urlopen(\"http://{alias}:8080/\")'",
        output,
        ok=code == 0,
    )
    if code != 0:
        raise LessonFailed(f"A container on {front} could not reach {alias}: {output}")

    with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=10) as response:
        from_host = response.status
    yield Step(
        "Reach it from the host through the published port",
        "Publishing maps a host port to the container's port: the outside way in.",
        f"curl http://127.0.0.1:{host_port}/",
        f"HTTP {from_host}",
    )

    by_name = _fetch_from(lab, other, f"http://{alias}:8080/", timeout, "outsider-name")
    by_address = _fetch_from(lab, other, f"http://{address}:8080/", timeout, "outsider-ip")
    yield Step(
        "Try from another network, by name and by address",
        "Another network has other DNS and no route to the first: both attempts fail.",
        f"docker run --network {other} ... urlopen('http://{alias}:8080/') and "
        f"urlopen('http://{address}:8080/')",
        f"by name: {by_name[1]}\nby address: {by_address[1]}",
        ok=by_name[0] != 0 and by_address[0] != 0,
    )
    if by_name[0] == 0 or by_address[0] == 0:
        raise LessonFailed("A container on another network reached the web server: no isolation.")

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

from .challenge import Challenge, Check
from .framework import Lab, LessonFailed, Param, Step, wait_until

TITLE = "Networking"
CATEGORY = "Networking"
PARAMS = [
    Param("alias", str, "web", "The name the web server is known by on its network."),
    Param("timeout", int, 3, "Seconds the outsider tries before giving up.", min=1, max=10),
]
WEB_IMAGE = "containerpoker/nginx"
CLIENT_IMAGE = "containerpoker/python"

# A tiny HTTP client in Python (the images have no curl). It prints the start of
# the page, or FAILED and why, and exits with 1 when it failed.
FETCH = """\
import sys
import urllib.request

url, timeout = sys.argv[1], float(sys.argv[2])
try:
    page = urllib.request.urlopen(url, timeout=timeout).read()
    print(page[:60].decode())
except Exception as exc:
    print("FAILED:", type(exc).__name__, exc)
    sys.exit(1)
"""
# The nginx image's own health command: bash opens a connection to the port.
LISTENING = ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]


def fetch_from(lab: Lab, network: str, url: str, timeout: int, what: str) -> tuple[int, str]:
    """Fetch ``url`` from a throwaway container on ``network``: its exit code and output.

    The URL comes in as an argument, never as part of the program.
    """
    container = lab.client.containers.run(
        CLIENT_IMAGE,
        ["python3", "-c", FETCH, url, str(timeout)],
        name=lab.name(what),
        labels=lab.labels(),
        network=network,
        detach=True,
        user="10001",  # no need to be root to fetch a page
        # The machine is shared by everyone running a lesson: every container is
        # bounded (memory, CPU, processes, no capabilities, rotated logs).
        **lab.limits(),
    )
    code = container.wait(timeout=timeout + 30)["StatusCode"]
    output = container.logs().decode().strip()
    container.remove()
    return code, output


def run(lab: Lab, params: dict) -> Iterator[Step]:
    alias, timeout = params["alias"], params["timeout"]

    # 1. Two user-defined bridge networks. Each gets its own addresses and its
    #    own DNS; Docker keeps traffic from one from reaching the other.
    front, other = lab.name("front"), lab.name("other")
    lab.client.networks.create(front, driver="bridge", labels=lab.labels())
    lab.client.networks.create(other, driver="bridge", labels=lab.labels())
    yield Step(
        "Create two networks",
        "User-defined bridge networks: each has its own addresses and its own DNS.",
        f"docker network create {front} && docker network create {other}",
        f"{front}, {other}",
    )

    # 2. Start nginx on the first network, with a second DNS name (the alias) that
    #    exists on that network only, and publish its port 8080 to the host: on
    #    127.0.0.1 only, at a free port Docker chooses. Bounded like every lesson
    #    container (the image runs as an unprivileged user on 8080: it needs no
    #    capability).
    web = lab.client.containers.run(
        WEB_IMAGE,
        name=lab.name("web"),
        labels=lab.labels(),
        detach=True,
        network=front,
        networking_config={front: lab.client.api.create_endpoint_config(aliases=[alias])},
        ports={"8080/tcp": ("127.0.0.1", None)},
        **lab.limits(),
    )
    web.reload()  # its attributes now include its address and the host port
    address = web.attrs["NetworkSettings"]["Networks"][front]["IPAddress"]
    host_port = web.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
    yield Step(
        "Start a web server on the first network",
        "It gets an address on that network, the DNS name of its alias, and a host port.",
        f"docker run -d --network {front} --network-alias {alias} -p 127.0.0.1::8080 {WEB_IMAGE}",
        f"address {address}, alias {alias}, published on 127.0.0.1:{host_port}",
    )

    # 3. nginx needs a moment after it starts before it listens. Wait for that,
    #    asking inside its container, so that what follows tests the network,
    #    not nginx's start-up.
    def listening() -> bool:
        return web.exec_run(LISTENING).exit_code == 0

    wait_until(listening, timeout=10, interval=0.2, what="nginx to listen on port 8080")

    # 4. From a container on the same network, fetch the page by the alias:
    #    Docker's DNS on that network answers with the web server's address.
    code, output = fetch_from(lab, front, f"http://{alias}:8080/", timeout, "neighbour")
    yield Step(
        "Reach it by name from the same network",
        "Docker's DNS resolves the alias for containers on the same network.",
        f"docker run --network {front} {CLIENT_IMAGE} python3 -c 'urlopen(\"http://{alias}:8080/\")'",
        output,
        ok=code == 0,
    )
    if code != 0:
        raise LessonFailed(f"A container on {front} could not reach {alias}: {output}")

    # 5. From the host, through the published port: the way in from outside.
    with urllib.request.urlopen(f"http://127.0.0.1:{host_port}/", timeout=10) as response:
        from_host = response.status
    yield Step(
        "Reach it from the host through the published port",
        "Publishing maps a host port to the container's port: the outside way in.",
        f"curl http://127.0.0.1:{host_port}/",
        f"HTTP {from_host}",
    )

    # 6. From a container on the other network: the name is unknown there (its
    #    DNS has no such entry), and even the address cannot be reached (no route
    #    between the networks: the attempt waits out its timeout).
    by_name_code, by_name = fetch_from(
        lab, other, f"http://{alias}:8080/", timeout, "outsider-name"
    )
    by_address_code, by_address = fetch_from(
        lab, other, f"http://{address}:8080/", timeout, "outsider-ip"
    )
    both_failed = by_name_code != 0 and by_address_code != 0
    yield Step(
        "Try from another network, by name and by address",
        "Another network has other DNS and no route to the first: both attempts fail.",
        f"docker run --network {other} ... urlopen('http://{alias}:8080/') and "
        f"urlopen('http://{address}:8080/')",
        f"by name: {by_name}\nby address: {by_address}",
        ok=both_failed,
    )
    if not both_failed:
        raise LessonFailed("A container on another network reached the web server: no isolation.")


# The challenge: two containers that find each other by name on their own network. Each
# check is a shell line that exits 0 once that part of the task is done, on your own engine.
CHALLENGE = Challenge(
    task=(
        "Create a network named shop and run two containers on it: web, a web server on "
        "port 80 (busybox's `httpd -f -p 80 -h /www`, with a page in /www/index.html), and "
        "client (`sleep 3600`). Make web answer client by name."
    ),
    checks=(
        Check(
            "The network shop exists",
            "docker network inspect shop >/dev/null",
            "`docker network create shop`",
        ),
        Check(
            "web and client are both on shop",
            "for name in web client; do docker inspect -f "
            "'{{range $net, $_ := .NetworkSettings.Networks}}{{$net}} {{end}}' $name "
            "| grep -qw shop || exit 1; done",
            "Start each with `--network shop` (or `docker network connect shop client`).",
        ),
        Check(
            "client gets web's page by name",
            """docker exec client sh -c 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 2 web 80' | grep -q ' 200 '""",
            "web must serve a page: `sh -c 'mkdir -p /www && echo hello > /www/index.html "
            "&& httpd -f -p 80 -h /www'`; names resolve only on the same network.",
        ),
    ),
    solution=(
        "docker network create shop\n"
        "docker run -d --name web --network shop busybox "
        "sh -c 'mkdir -p /www && echo hello > /www/index.html && httpd -f -p 80 -h /www'\n"
        "docker run -d --name client --network shop busybox sleep 3600"
    ),
    cleanup="docker rm -f web client; docker network rm shop",
)

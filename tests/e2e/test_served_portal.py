"""The portal as gunicorn serves it: live streams do not starve launches and releases."""

from __future__ import annotations

import http.client
import json
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from ..conftest import TEST_SELECTOR

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PASSWORD = "a long enough passphrase"


def call(portal, method, path, body=None, token=None, timeout=30):
    parts = urlparse(portal.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, (json.loads(data) if data else {})


def user(portal, name):
    call(
        portal,
        "POST",
        "/api/auth/register",
        {"username": name, "email": f"{name}@example.org", "password": PASSWORD},
    )
    status, body = call(portal, "POST", "/api/auth/login", {"username": name, "password": PASSWORD})
    assert status == 200, body
    return body["access_token"]


def test_fifty_open_streams_while_others_launch_and_release(served_portal):
    watcher = user(served_portal, "watcher")
    parts = urlparse(served_portal.url)
    streams = []
    try:
        for _ in range(50):
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request("GET", "/api/stream", headers={"Authorization": f"Bearer {watcher}"})
            response = conn.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Type").startswith("text/event-stream")
            streams.append((conn, response))
        # Every stream is live: each has sent its first state event.
        for _, response in streams:
            seen = b""
            while b"event: state" not in seen:
                seen += response.readline()

        # Meanwhile, four other users launch and release, in parallel, three times each.
        tokens = [user(served_portal, f"busy{i}") for i in range(4)]

        def cycle(token):
            results = []
            for _ in range(3):
                status, body = call(
                    served_portal, "POST", "/api/containers/spawn", {"runtime": "nginx"}, token
                )
                results.append(status)
                if status in (200, 201):
                    name = body["container"]["name"]
                    status, _ = call(
                        served_portal,
                        "POST",
                        f"/api/containers/{name}/action",
                        {"action": "release"},
                        token,
                    )
                    results.append(status)
            return results

        with ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(cycle, tokens))
        assert all(code in (200, 201) for codes in outcomes for code in codes), outcomes
        status, _ = call(served_portal, "GET", "/api/me", token=watcher)
        assert status == 200
    finally:
        for conn, _ in streams:
            conn.close()


def test_cli_creates_the_first_admin(served_portal):
    env = served_portal.env | {"ADMIN_PASSWORD": PASSWORD}
    made = served_portal.cli(
        "user",
        "create",
        "boss",
        "--email",
        "boss@example.org",
        "--admin",
        "--password-env",
        "ADMIN_PASSWORD",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    status, body = call(
        served_portal, "POST", "/api/auth/login", {"username": "boss", "password": PASSWORD}
    )
    assert status == 200 and body["user"]["is_admin"] is True
    again = served_portal.cli(
        "user",
        "create",
        "boss",
        "--email",
        "b2@example.org",
        "--password-env",
        "ADMIN_PASSWORD",
        env=env,
    )
    assert again.returncode == 1 and "already registered" in again.stderr
    listed = served_portal.cli("--json", "user", "list")
    assert "boss" in {u["username"] for u in json.loads(listed.stdout)}


def test_the_terminal_socket_needs_a_login_and_the_portals_own_origin(served_portal, docker_client):
    import simple_websocket

    call(
        served_portal,
        "POST",
        "/api/auth/register",
        {"username": "wsuser", "email": "ws@example.org", "password": PASSWORD},
    )
    parts = urlparse(served_portal.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(
        "POST",
        "/api/auth/login",
        body=json.dumps({"username": "wsuser", "password": PASSWORD}),
        headers={"Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    cookies = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie"))
    url = served_portal.url.replace("http://", "ws://") + "/ws/lessons/shell"
    cases = [
        ({"Origin": served_portal.url}, "Log in first"),
        ({"Origin": "http://evil.example", "Cookie": cookies}, "portal's own pages"),
    ]
    for headers, words in cases:
        ws = simple_websocket.Client.connect(url, headers=headers)
        with pytest.raises(simple_websocket.ConnectionClosed) as closed:
            while True:
                ws.receive(timeout=10)
        assert closed.value.reason == 1008 and words in closed.value.message
    mine = {"label": ["containerpoker.lesson=2", TEST_SELECTOR]}
    assert docker_client.containers.list(all=True, filters=mine) == []


def test_the_served_portal_heals_a_killed_container_by_itself(served_portal, docker_client):
    """What `make run` serves runs the recovery monitor beside the portal: a container killed
    behind its back serves its owner's file again, with no timer and no systemd."""
    import time
    import urllib.request

    monitor = served_portal.settings.data_dir / "monitor.pid"
    assert monitor.exists(), "the portal did not start its recovery monitor"
    token = user(served_portal, "healer")
    status, body = call(served_portal, "POST", "/api/containers/spawn", {"runtime": "nginx"}, token)
    assert status in (200, 201), body
    box = body["container"]
    container = docker_client.containers.get(box["name"])
    container.put_archive("/srv/www", _tar("proof.html", b"still here"))
    url = box["url"] + "proof.html"
    assert urllib.request.urlopen(url, timeout=5).read() == b"still here"

    container.kill()  # the fault, for real
    killed = time.monotonic()
    served = None
    while time.monotonic() - killed < 60:
        try:
            if urllib.request.urlopen(url, timeout=1).read() == b"still here":
                served = time.monotonic() - killed
                break
        except OSError:
            pass
        time.sleep(0.1)
    assert served is not None, (served_portal.settings.data_dir / "monitor.log").read_text()[-2000:]
    print(f"killed container served its file again after {served:.2f} s")
    # By the monitor's watcher (or its first full pass, when it was still connecting).
    assert (
        "] replaced: " + box["name"]
        in (served_portal.settings.data_dir / "monitor.log").read_text()
    )


def _tar(name: str, data: bytes) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.uid, info.gid, info.mode = len(data), 10001, 10001, 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_burst_of_guesses_is_throttled_while_a_neighbour_logs_in(served_portal):
    user(served_portal, "guessed")
    user(served_portal, "neighbour")  # behind the same address as the guesser

    def guess(_):
        return call(
            served_portal,
            "POST",
            "/api/auth/login",
            {"username": "guessed", "password": "not the password"},
        )

    with ThreadPoolExecutor(20) as guessers:
        answers = list(guessers.map(guess, range(20)))
    codes = [status for status, _ in answers]
    # Five free failures, however many guesses arrive at once; the rest wait (one to three
    # more may pass if a loaded machine spreads the burst over the first delays: 1, 2, 4 s).
    assert set(codes) == {401, 429} and 5 <= codes.count(401) <= 8, codes
    refused = next(body for status, body in answers if status == 429)
    assert "wait" in refused["detail"] and "admin" in refused["detail"]
    status, body = call(
        served_portal, "POST", "/api/auth/login", {"username": "neighbour", "password": PASSWORD}
    )
    assert status == 200, body

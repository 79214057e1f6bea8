"""The container API against the real engine: launch, files, actions, logs, isolation
between users, and every kind of bad input."""

from __future__ import annotations

import contextlib
import io
import json
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from ..archives import ATTACKS, _zip
from ..integration.helpers import fetch, files_in, wait_gone

pytestmark = pytest.mark.docker


def spawn(client, headers, runtime="nginx", **extra):
    return client.post("/api/containers/spawn", json={"runtime": runtime, **extra}, headers=headers)


def upload(client, headers, name, filename, data):
    """A multipart upload carrying ``filename`` exactly (RFC 5987, so that quoting by the
    encoder cannot turn ``a\\b.html`` into a harmless ``ab.html`` on the way)."""
    boundary = "cp-test-boundary-7d1f"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f"filename*=UTF-8''{quote(filename, safe='')}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(
        f"/api/containers/{name}/files",
        data=body,
        headers=headers,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def test_launch_upload_see_it_served_then_release(app, client, auth, docker_client):
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, headers = auth.user()
    first = spawn(client, headers)
    assert first.status_code == 201, first.json
    box = first.json["container"]
    assert box["url"].startswith("http://127.0.0.1:") and not box["cold_start"]
    again = spawn(client, headers)
    assert again.status_code == 200 and again.json["container"]["name"] == box["name"]

    sent = upload(client, headers, box["name"], "index.html", b"<h1>my portal page</h1>")
    assert sent.status_code == 201, sent.json
    assert "my portal page" in fetch(box["url"], expect="my portal page")

    mine = client.get("/api/containers", headers=headers).json["containers"]
    assert [c["name"] for c in mine] == [box["name"]]
    assert mine[0]["status"] == "running" and mine[0]["uptime"] >= 0
    assert client.get(f"/api/containers/{box['name']}", headers=headers).status_code == 200

    done = client.post(
        f"/api/containers/{box['name']}/action", json={"action": "release"}, headers=headers
    )
    assert done.status_code == 200
    # Not the user's any more at once; removed by Docker moments later.
    assert client.get(f"/api/containers/{box['name']}", headers=headers).status_code == 404
    wait_gone(docker_client, box["name"])


def test_another_users_container_is_not_found_everywhere(app, client, auth):
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, alice = auth.user()
    _, mallory = auth.user()
    name = spawn(client, alice).json["container"]["name"]
    attempts = [
        client.get(f"/api/containers/{name}", headers=mallory),
        client.get(f"/api/containers/{name}/logs?follow=0", headers=mallory),
        client.get(f"/api/containers/{name}/logs", headers=mallory),
        client.get(f"/api/containers/{name}/stats", headers=mallory),
        client.post(f"/api/containers/{name}/action", json={"action": "stop"}, headers=mallory),
        client.post(f"/api/containers/{name}/action", json={"action": "release"}, headers=mallory),
        upload(client, mallory, name, "index.html", b"defaced"),
    ]
    for response in attempts:
        assert response.status_code == 404, (response.request.path, response.json)
        assert response.json["error"] == "not_found"
    assert client.get(f"/api/containers/{name}", headers=alice).status_code == 200


def test_extra_fields_never_reach_docker(app, client, auth, docker_client):
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, headers = auth.user()
    response = spawn(
        client,
        headers,
        privileged=True,
        image="alpine",
        binds=["/:/host"],
        cap_add=["ALL"],
        network_mode="host",
    )
    assert response.status_code == 201
    info = docker_client.api.inspect_container(response.json["container"]["name"])
    host = info["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert not host["Binds"] and host["NetworkMode"] != "host"
    assert info["Config"]["Image"] == "containerpoker/nginx"
    assert all(m["Type"] == "volume" for m in info["Mounts"])


def test_an_unknown_runtime_is_400_and_docker_is_never_called(app, client, auth, monkeypatch):
    platform = app.extensions["containerpoker"]
    api = platform.pool.engine.client.api
    calls = []
    real_send = api.send

    def counting_send(request, **kwargs):
        calls.append(request.url)
        return real_send(request, **kwargs)

    monkeypatch.setattr(api, "send", counting_send)
    _, headers = auth.user()
    for runtime in ("mysql", "", "../nginx", 42, None, ["nginx"]):
        response = client.post("/api/containers/spawn", json={"runtime": runtime}, headers=headers)
        assert response.status_code == 400, runtime
        assert "choose one of nginx, python" in response.json["detail"]
    assert calls == []


class _NoReading(io.RawIOBase):
    """A request body that fails the test if anyone reads more than a little of it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:  # the test client asks where the body starts and ends
        return 0

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def readinto(self, buffer) -> int:
        self.read_bytes += len(buffer)
        if self.read_bytes > 1024 * 1024:
            raise AssertionError("the oversized upload was read")
        buffer[: len(buffer)] = b"x" * len(buffer)
        return len(buffer)


def test_an_oversized_upload_is_413_without_being_read(app, client, auth):
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, headers = auth.user()
    name = spawn(client, headers).json["container"]["name"]
    body = _NoReading()
    response = client.post(
        f"/api/containers/{name}/files",
        input_stream=body,
        headers=headers | {"Content-Type": "multipart/form-data; boundary=x"},
        environ_overrides={"CONTENT_LENGTH": str(200 * 1024 * 1024)},
    )
    assert response.status_code == 413
    assert response.json["error"] == "too_large" and "MB" in response.json["detail"]
    assert body.read_bytes == 0


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_archive_attack_is_400_and_nothing_is_written(
    app, client, auth, docker_client, attack
):
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    _, headers = auth.user()
    name = spawn(client, headers).json["container"]["name"]
    before = files_in(docker_client, name)
    filename, build = ATTACKS[attack]
    response = upload(client, headers, name, filename, build())
    assert response.status_code in (400, 413), response.json
    assert set(response.json) == {"error", "detail"}
    assert files_in(docker_client, name) == before


def test_200_launches_by_one_user_give_one_container_and_429s(app, client, auth, docker_client):
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    user, headers = auth.user()
    codes = [spawn(client, headers).status_code for _ in range(200)]
    assert codes[0] == 201
    assert set(codes[1:]) <= {200, 429} and codes.count(429) >= 150
    assert len(platform.pool.containers(owner=user)) == 1
    labelled = docker_client.containers.list(
        filters={"label": f"containerpoker.instance={platform.settings.instance}"}
    )
    assert len([c for c in platform.pool.containers() if c.owner]) == 1
    assert len(labelled) <= platform.settings.runtime("nginx").max_containers


def test_an_exhausted_pool_is_503_with_retry_after(tmp_path, instance, auth_factory):
    app, client, auth = auth_factory(CONTAINERPOKER_NGINX_WARM="1", CONTAINERPOKER_NGINX_MAX="1")
    app.extensions["containerpoker"].pool.init(["nginx"])
    assert spawn(client, auth.user()[1]).status_code == 201
    response = spawn(client, auth.user()[1])
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.json["error"] == "pool_exhausted"


def test_stop_start_restart_and_recovery_leaves_a_stopped_container_alone(
    app, client, auth, docker_client
):
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    _, headers = auth.user()
    box = spawn(client, headers).json["container"]

    def act(action):
        return client.post(
            f"/api/containers/{box['name']}/action", json={"action": action}, headers=headers
        )

    assert act("stop").status_code == 200
    assert docker_client.api.inspect_container(box["name"])["State"]["Running"] is False
    report = platform.pool.reconcile(refill=False)
    assert box["name"] not in report.replaced  # stopped on purpose is not a failure
    assert act("start").status_code == 200
    assert docker_client.api.inspect_container(box["name"])["State"]["Running"] is True
    assert act("restart").status_code == 200
    assert fetch(box["url"])
    assert act("explode").status_code == 400
    assert act("remove").status_code == 200
    wait_gone(docker_client, box["name"])


def test_logs_stream_as_server_sent_events_and_stats_are_numbers(app, client, auth):
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, headers = auth.user()
    box = spawn(client, headers).json["container"]
    fetch(box["url"])
    # An access-log line a page must escape (a 404 is still logged).
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(box["url"] + "<script>alert(1)</script>", timeout=5)
    response = client.get(f"/api/containers/{box['name']}/logs", headers=headers)
    assert response.mimetype == "text/event-stream"
    stream = response.response
    chunks = []
    for chunk in stream:
        chunks.append(chunk.decode() if isinstance(chunk, bytes) else chunk)
        if "event: log" in "".join(chunks):
            break
    response.close()
    data = "".join(chunks).split("event: log\n", 1)[1].split("data: ", 1)[1].split("\n\n")[0]
    lines = json.loads(data)
    assert any("GET /" in entry["line"] for entry in lines)
    snapshot = client.get(f"/api/containers/{box['name']}/logs?follow=0", headers=headers).json
    assert any("<script>" in entry["line"] for entry in snapshot["lines"])

    stats = client.get(f"/api/containers/{box['name']}/stats", headers=headers).json
    assert stats["memory_bytes"] > 0 and stats["memory_limit"] == 64 * 1024 * 1024
    assert stats["cpu_percent"] >= 0


def test_upload_of_a_zip_lists_its_files(app, client, auth):
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, headers = auth.user()
    box = spawn(client, headers).json["container"]
    archive = _zip({"index.html": b"<p>zipped</p>", "css/a.css": b"p{}"})
    response = upload(client, headers, box["name"], "site.zip", archive)
    assert response.status_code == 201
    assert sorted(response.json["uploads"][0]["files"]) == ["css/a.css", "index.html"]
    assert fetch(box["url"], expect="zipped")

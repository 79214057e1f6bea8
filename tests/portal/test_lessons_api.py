"""The lessons over HTTP: list, run as JSON, run as a stream, bad input, clean-up."""

from __future__ import annotations

import json

import pytest

from ..lessons.test_lessons import lesson_objects
from .conftest import csrf

pytestmark = pytest.mark.docker


def test_list_and_run_a_lesson_as_json(client, auth, docker_client):
    _, headers = auth.user()
    listed = client.get("/api/examples", headers=headers).json["examples"]
    assert [e["number"] for e in listed] == list(range(1, 9))
    assert all(e["goal"] and e["params"] is not None for e in listed)
    done = client.post(
        "/api/examples/1", json={"params": {"message": "over HTTP"}}, headers=headers
    )
    assert done.status_code == 200 and done.json["ok"] is True
    steps = {s["title"]: s for s in done.json["steps"]}
    assert steps["Read its output"]["result"] == "over HTTP"
    assert "docker create" in steps["Create a container"]["call"]
    assert lesson_objects(docker_client) == []


def test_run_a_lesson_as_a_stream(client, auth, docker_client):
    _, headers = auth.user()
    response = client.post(
        "/api/examples/volumes",
        json={"files": 2},
        headers=headers | {"Accept": "text/event-stream"},
    )
    assert response.mimetype == "text/event-stream"
    text = response.get_data(as_text=True)
    events = [b for b in text.split("\n\n") if b.startswith("event:")]
    steps = [json.loads(b.split("data: ", 1)[1]) for b in events if b.startswith("event: step")]
    assert steps[0]["number"] == 1 and steps[-1]["title"] == "Clean up"
    assert json.loads(events[-1].split("data: ", 1)[1]) == {"ok": True}
    assert lesson_objects(docker_client) == []


@pytest.mark.parametrize(
    "flow, body, words",
    [
        ("9", {}, "no lesson"),
        ("8", {"files": 0}, "between 1 and 50"),
        ("1", {"message": "<script>alert(1)</script>"}, "shell metacharacters"),
        ("1", {"image": "alpine"}, "one of"),
        ("1", {"privileged": True}, "no parameter"),
        ("7", {"params": ["web"]}, "must be an object"),
    ],
)
def test_bad_lesson_requests_are_400_and_create_nothing(
    client, auth, docker_client, flow, body, words
):
    _, headers = auth.user()
    response = client.post(f"/api/examples/{flow}", json=body, headers=headers)
    assert response.status_code == 400, response.json
    assert words in response.json["detail"]
    assert lesson_objects(docker_client) == []


def test_the_lessons_page_renders_and_needs_csrf_to_run(client, auth):
    name = auth.register()
    auth.login(client, name)
    page = client.get("/lessons").get_data(as_text=True)
    assert "Learning goal" in page and "Volumes and data" in page
    assert client.post("/api/examples/1", json={}).status_code == 401  # no CSRF header
    assert client.post("/api/examples/1", json={}, headers=csrf(client)).status_code == 200
    source = client.get("/lessons/3/source").get_data(as_text=True)
    assert "LEARNING GOAL" in source and "pexpect" in source

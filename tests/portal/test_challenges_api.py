"""Challenges and progress over HTTP: opening a challenge on a learner engine, live checks as
a stream, progress (the learner's own, and the admins' class view), and learner engines off by
default."""

from __future__ import annotations

import json

import pytest

from ..lessons.test_challenges import learner_image  # noqa: F401 - a fixture
from .conftest import csrf

pytestmark = pytest.mark.docker


def events(response, name: str):
    """The payloads of a server-sent event stream's ``name`` events, as they arrive."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            if block.startswith(f"event: {name}"):
                yield json.loads(block.split("data: ", 1)[1])


def test_engines_off_by_default_progress_and_class_view(client, auth):
    name, headers = auth.user()
    refused = client.post("/api/lessons/7/challenge", headers=headers)
    assert refused.status_code == 400
    assert refused.json["error"] == "sandbox_off"
    assert "lesson challenge" in refused.json["detail"]

    ran = client.post("/api/lessons/1", json={}, headers=headers)
    assert ran.json["ok"] is True
    mine = client.get("/api/lessons/progress", headers=headers).json["lessons"]
    assert [item["lesson"] for item in mine] == list(range(1, 9))
    assert mine[0]["runs"] == 1 and mine[0]["runs_ok"] == 1 and mine[0]["last_run_at"]
    assert mine[1]["runs"] == 0 and mine[0]["challenge"] is None

    assert client.get("/api/admin/lessons/progress", headers=headers).status_code == 403
    _, admin = auth.user(admin=True)
    view = client.get("/api/admin/lessons/progress", headers=admin).json
    learner = {item["username"]: item for item in view["learners"]}[name]
    assert learner["lessons_run"] == [1]

    # The page says why the engine is off and what to do instead.
    auth.login(client, name)
    page = client.get("/lessons/7/challenge").get_data(as_text=True)
    assert "Learner engines are off" in page
    assert "containerpoker lesson challenge 7 --watch" in page


@pytest.mark.challenges
def test_challenge_live_on_a_learner_engine(auth_factory, learner_image):  # noqa: F811
    app, client, auth = auth_factory(CONTAINERPOKER_SANDBOX_ENABLED="1")
    classroom = app.extensions["containerpoker"].classroom
    name = auth.register()
    auth.login(client, name)
    stuck = auth.register()
    stuck_client = app.test_client()
    auth.login(stuck_client, stuck)
    admin = auth.register(admin=True)

    opened = client.post("/api/lessons/1/challenge", headers=csrf(client))
    assert opened.status_code == 200, opened.json
    assert opened.json["passed"] is False
    assert [c["state"] for c in opened.json["checks"]] == ["pending"] * 3
    assert classroom.engines.get(name).name == opened.json["engine"]

    # Live: the stream's first event is the state now; do the task; an event says it passed.
    stream = client.get("/api/lessons/1/challenge", headers={"Accept": "text/event-stream"})
    assert stream.mimetype == "text/event-stream"
    seen = events(stream, "checks")
    assert next(seen)["passed"] is False
    code, output = classroom.engines.get(name).run(
        "docker run --name hello busybox echo 'hello, docker'"
    )
    assert code == 0, output
    for state in seen:
        if state["passed"]:
            break
    assert [c["state"] for c in state["checks"]] == ["passed"] * 3
    stream.close()

    # Another learner stops half way: the class view says on which check.
    stuck_client.post("/api/lessons/1/challenge", headers=csrf(stuck_client))
    classroom.engines.get(stuck).run("docker run --name hello busybox echo hi")
    assert stuck_client.get("/api/lessons/1/challenge").json["checks"][2]["state"] == "pending"
    view = client.get("/api/admin/lessons/progress", headers=auth.headers(admin)).json
    lesson = {item["lesson"]: item for item in view["lessons"]}[1]
    assert lesson["opened"] == 2 and lesson["passed"] == 1
    assert lesson["stuck_on"] == [{"index": 2, "check": "It printed hello, docker", "learners": 1}]
    learners = {item["username"]: item for item in view["learners"]}
    assert learners[name]["challenges_passed"] == [1]
    assert learners[stuck]["working_on"]["check"] == "It printed hello, docker"
    admin_client = app.test_client()
    auth.login(admin_client, admin)
    page = admin_client.get("/admin/lessons").get_data(as_text=True)
    assert "It printed hello, docker (1)" in page

    mine = client.get("/api/lessons/progress").json["lessons"][0]["challenge"]
    assert mine["passed_at"] and mine["checks_passed"] == 3
    assert set(mine["checks_first_passed_at"]) == {"0", "1", "2"}

    # Leaving removes the engine.
    left = client.delete("/api/lessons/challenge/engine", headers=csrf(client))
    assert left.json == {"removed": True}
    assert classroom.engines.get(name) is None
    assert client.get("/api/lessons/1/challenge").status_code == 404

"""GET /api/containers/stats: the figures of every running container a user may see, in one
answer (the containers page fills every row from it)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def test_one_answer_has_the_figures_of_every_container_i_may_see(app, client, auth):
    pool = app.extensions["containerpoker"].pool
    pool.init(["nginx"])
    _, mine = auth.user()
    box = client.post("/api/containers/spawn", json={"runtime": "nginx"}, headers=mine)
    pool.wait_idle()  # the refill that follows a claim is over: the set of containers is still
    name = box.json["container"]["name"]
    own = client.get("/api/containers/stats?all=1", headers=mine).json["stats"]
    assert [s["container"] for s in own] == [name]  # ?all=1 means nothing to a student
    assert own[0]["memory_bytes"] > 0 and own[0]["cpu_percent"] is not None
    _, other = auth.user()
    assert client.get("/api/containers/stats", headers=other).json["stats"] == []
    _, admin = auth.user(admin=True)
    everyone = client.get("/api/containers/stats?all=1", headers=admin).json["stats"]
    running = {
        c["name"]
        for c in client.get("/api/containers?all=1", headers=admin).json["containers"]
        if c["status"] == "running"
    }
    assert {s["container"] for s in everyone} == running and name in running

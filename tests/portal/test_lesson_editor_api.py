"""Editing lessons is off unless the portal runs in development mode with one local user, and
the page and the API say why (the editing itself: tests/e2e/test_lesson_editor.py)."""

from __future__ import annotations

from pathlib import Path

from containerpoker.lessons import lessons

from .conftest import csrf


def test_editing_is_off_outside_development_mode(app, client, auth):
    name = auth.register()
    auth.login(client, name)
    source = client.get("/api/lessons/1/source").json
    assert source["editable"] is False and "make dev" in source["reason"]
    assert source["source"] == Path(lessons()[1].source).read_text()
    refused = client.put("/api/lessons/1/source", json={"source": "x"}, headers=csrf(client))
    assert refused.status_code == 403 and "make dev" in refused.json["detail"]
    assert client.delete("/api/lessons/1/source", headers=csrf(client)).status_code == 403
    page = client.get("/lessons/1/edit").get_data(as_text=True)
    assert "Editing lessons is off" in page and 'id="save-source"' not in page


def test_editing_is_off_with_more_than_one_user(app, client, auth):
    app.config["LESSON_EDITING"] = True  # what `portal --dev` sets
    name = auth.register()
    auth.login(client, name)
    assert client.get("/api/lessons/1/source").json["editable"] is True
    auth.register()
    source = client.get("/api/lessons/1/source").json
    assert source["editable"] is False and "2 users share this portal" in source["reason"]
    refused = client.put("/api/lessons/1/source", json={"source": "x"}, headers=csrf(client))
    assert refused.status_code == 403

"""Expiry, renewal and quotas over HTTP: the renew route, the 409 answers, /metrics."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.docker


def spawn(client, headers, runtime="nginx"):
    return client.post("/api/containers/spawn", json={"runtime": runtime}, headers=headers)


def test_renew_pushes_the_lifetime_back_then_says_when_no_renewal_is_left(auth_factory):
    app, client, auth = auth_factory(
        CONTAINERPOKER_NGINX_LIFETIME="1h", CONTAINERPOKER_NGINX_RENEWALS="1"
    )
    app.extensions["containerpoker"].pool.init(["nginx"])
    _, headers = auth.user()
    box = spawn(client, headers).json["container"]
    assert box["expires_reason"] in ("idle", "lifetime") and box["renewals_left"] == 1

    renewed = client.post(f"/api/containers/{box['name']}/renew", headers=headers)
    assert renewed.status_code == 200, renewed.json
    assert renewed.json["container"]["renewals_left"] == 0
    assert renewed.json["container"]["lifetime_ends_at"] >= box["lifetime_ends_at"]

    refused = client.post(f"/api/containers/{box['name']}/renew", headers=headers)
    assert refused.status_code == 409 and set(refused.json) == {"error", "detail"}
    assert "the most allowed" in refused.json["detail"]

    _, other = auth.user()  # another user's container is "not found"
    assert client.post(f"/api/containers/{box['name']}/renew", headers=other).status_code == 404


def test_the_quota_across_runtimes_is_a_409_that_says_what_to_do(auth_factory):
    app, client, auth = auth_factory(
        CONTAINERPOKER_MAX_PER_USER="1", CONTAINERPOKER_PYTHON_WARM="1"
    )
    app.extensions["containerpoker"].pool.init()
    _, headers = auth.user()
    assert spawn(client, headers, "nginx").status_code == 201
    refused = spawn(client, headers, "python")
    assert refused.status_code == 409
    assert refused.json["error"] == "quota_exceeded" and "release one" in refused.json["detail"]
    assert spawn(client, headers, "nginx").status_code == 200  # the one held, again


def test_an_expiry_is_counted_in_metrics_and_shown_as_activity(auth_factory):
    app, client, auth = auth_factory(CONTAINERPOKER_NGINX_LIFETIME="30")
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    _, headers = auth.user()
    box = spawn(client, headers).json["container"]
    assert platform.pool.lifecycle.sweep(now=box["claimed_at"] + 31) == [box["name"]]

    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'containerpoker_expiries_total{runtime="nginx"} 1' in metrics
    state = client.get("/api/containers", headers=headers).json
    assert state["containers"] == []
    dashboard = client.get("/api/stream", headers=headers, buffered=False)
    first = next(chunk for chunk in dashboard.response if b"event: state" in chunk)
    dashboard.close()
    assert b'"kind":"expired"' in first and box["name"].encode() in first
    assert b"its lifetime of 30 s ended" in first

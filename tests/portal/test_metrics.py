"""``/metrics`` is read by prometheus_client's own parser, as Prometheus would read it."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.docker


def scrape(client) -> dict:
    """``{sample name: {labels as a sorted tuple: value}}`` and the metric types, parsed."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples: dict = {}
    types: dict = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        types[family.name] = family.type
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return {"samples": samples, "types": types}


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped["samples"][name][tuple(sorted(labels.items()))]


def test_metrics_follow_the_naming_guide_and_count_what_happened(auth_factory, docker_client):
    app, client, auth = auth_factory(CONTAINERPOKER_NGINX_WARM="1")
    platform = app.extensions["containerpoker"]
    platform.pool.init(["nginx"])
    name, headers = auth.user()
    warm = client.post("/api/containers/spawn", json={"runtime": "nginx"}, headers=headers)
    cold = client.post("/api/containers/spawn", json={"runtime": "python"}, headers=headers)
    assert (warm.status_code, cold.status_code) == (201, 201)
    assert cold.json["container"]["cold_start"] is True
    bad = client.post("/api/auth/login", json={"username": name, "password": "wrong password"})
    assert bad.status_code == 401
    # A recovery: the owner's python container dies, the reconcile pass replaces it.
    docker_client.containers.get(cold.json["container"]["name"]).kill()
    assert platform.pool.reconcile().replaced
    released = client.post(
        f"/api/containers/{warm.json['container']['name']}/action",
        json={"action": "release"},
        headers=headers,
    )
    assert released.status_code == 200

    scraped = scrape(client)
    types = scraped["types"]
    # Counters end in _total, durations are in seconds, everything has the prefix.
    for family, kind in types.items():
        if family.startswith("process_"):
            continue
        assert family.startswith("containerpoker_"), family
        if kind == "counter":
            assert f"{family}_total" in scraped["samples"], family
    assert types["containerpoker_claim_duration_seconds"] == "histogram"
    assert types["containerpoker_pool_containers"] == "gauge"
    for counter in ("launches", "releases", "expiries", "recoveries", "claims", "logins"):
        assert types[f"containerpoker_{counter}"] == "counter", counter

    bucket = "containerpoker_claim_duration_seconds_bucket"
    assert value(scraped, bucket, runtime="nginx", start="warm", le="+Inf") == 1
    assert value(scraped, bucket, runtime="python", start="cold", le="+Inf") == 1
    assert (
        value(scraped, "containerpoker_claim_duration_seconds_sum", runtime="nginx", start="warm")
        > 0
    )
    assert value(scraped, "containerpoker_claims_total", runtime="python", outcome="cold") == 1
    assert value(scraped, "containerpoker_launches_total", runtime="nginx", start="warm") == 1
    assert value(scraped, "containerpoker_launches_total", runtime="python", start="cold") == 1
    assert value(scraped, "containerpoker_releases_total", runtime="nginx") == 1
    assert value(scraped, "containerpoker_recoveries_total", runtime="python") == 1
    assert value(scraped, "containerpoker_expiries_total", runtime="nginx") == 0
    assert value(scraped, "containerpoker_logins_total", outcome="success") == 1
    assert value(scraped, "containerpoker_logins_total", outcome="failure") == 1
    assert value(scraped, "containerpoker_pool_containers", runtime="python", state="assigned") == 1
    assert value(scraped, "containerpoker_pool_warm_target", runtime="nginx") == 1

    # A second portal in the same process keeps its own registry: nothing shared, no clash.
    _, other_client, other_auth = auth_factory()
    other_auth.login(other_client, other_auth.register())
    other = scrape(other_client)
    assert value(other, "containerpoker_logins_total", outcome="success") == 1
    assert "containerpoker_claims_total" not in other["samples"]

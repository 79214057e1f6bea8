"""Containers expire, renew and count against a quota, on the real engine.

The sweep is driven with an explicit ``now`` where a test is about time passing, so that it
needs no sleeping for minutes; the traffic it looks at is real (requests to the container).
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from containerpoker.config import load_settings
from containerpoker.errors import Conflict, QuotaExceeded
from containerpoker.store import events

from ..conftest import make_env
from .helpers import container_names, fetch

pytestmark = pytest.mark.docker


def lifecycle_manager(tmp_path, instance, make_manager, **env):
    settings = load_settings(
        env=make_env(
            tmp_path,
            instance,
            CONTAINERPOKER_RUNTIMES="nginx,python,apache",
            CONTAINERPOKER_HEALTH_INTERVAL="1",
            **env,
        )
    )
    return make_manager(settings)


def kinds(manager, container: str) -> list[str]:
    with manager.store.read() as conn:
        found = conn.execute(select(events.c.kind).where(events.c.container == container))
        return [kind for (kind,) in found]


def test_a_container_expires_when_its_lifetime_ends_like_a_release(
    tmp_path, instance, make_manager, docker_client
):
    manager = lifecycle_manager(
        tmp_path,
        instance,
        make_manager,
        CONTAINERPOKER_NGINX_LIFETIME="60",
        CONTAINERPOKER_NGINX_IDLE_TIMEOUT="0",
    )
    manager.init(["nginx"])
    box = manager.claim("ada", "nginx")
    assert box.expires_reason == "lifetime" and box.expires_at == pytest.approx(
        box.claimed_at + 60, abs=1
    )
    manager.upload(box.name, "index.html", b"ada's page", owner="ada")

    assert manager.lifecycle.sweep(now=box.claimed_at + 59) == []  # not yet
    assert manager.lifecycle.sweep(now=box.claimed_at + 61) == [box.name]

    # Exactly a release: not hers any more, container and files gone, a fresh one warms.
    assert manager.containers(owner="ada") == []
    assert manager.wait_idle(60)
    assert box.name not in container_names(docker_client)
    assert f"{box.name}-files" not in [v.name for v in docker_client.volumes.list()]
    assert kinds(manager, box.name) == ["warmed", "claim", "upload", "expired"]
    expired = next(e for e in manager.events() if e["kind"] == "expired")
    assert expired["owner"] == "ada" and expired["detail"] == "its lifetime of 1 min ended"
    status = {s.runtime: s for s in manager.status()}["nginx"]
    assert (status.ready, status.assigned) == (1, 0)


def test_traffic_and_uploads_keep_a_container_alive_and_health_checks_do_not(
    tmp_path, instance, make_manager
):
    manager = lifecycle_manager(
        tmp_path,
        instance,
        make_manager,
        CONTAINERPOKER_NGINX_LIFETIME="0",
        CONTAINERPOKER_NGINX_IDLE_TIMEOUT="60",
    )
    manager.init(["nginx"])
    box = manager.claim("ada", "nginx")
    t0 = box.claimed_at
    assert box.expires_reason == "idle" and box.lifetime_ends_at is None
    assert manager.lifecycle.sweep(now=t0 + 10) == []  # the first look only notes the counter

    time.sleep(3)  # three health checks run inside it (on loopback): not activity
    assert manager.lifecycle.sweep(now=t0 + 20) == []
    assert manager.get(box.name).idle_ends_at == pytest.approx(t0 + 60, abs=1)

    fetch(box.url)  # someone visits the site: activity
    assert manager.lifecycle.sweep(now=t0 + 50) == []
    assert manager.get(box.name).idle_ends_at == pytest.approx(t0 + 110, abs=1)
    assert manager.lifecycle.sweep(now=t0 + 100) == []  # it would have expired at t0 + 60

    manager.upload(box.name, "a.txt", b"work", owner="ada")  # an upload is activity (real now)
    assert manager.get(box.name).idle_ends_at == pytest.approx(time.time() + 60, abs=2)

    assert manager.lifecycle.sweep(now=time.time() + 61) == [box.name]
    assert "idle for 1 min" in next(e for e in manager.events() if e["kind"] == "expired")["detail"]


def test_renewals_push_the_lifetime_back_a_few_times(tmp_path, instance, make_manager):
    manager = lifecycle_manager(
        tmp_path,
        instance,
        make_manager,
        CONTAINERPOKER_NGINX_LIFETIME="100",
        CONTAINERPOKER_NGINX_RENEWALS="2",
    )
    manager.init(["nginx"])
    box = manager.claim("ada", "nginx")
    assert box.renewals_left == 2

    planned = manager.renew(box.name, owner="ada", apply=False)  # a dry run changes nothing
    assert planned.changed and manager.get(box.name).renewals_left == 2
    with pytest.raises(Exception, match="No container"):
        manager.renew(box.name, owner="mallory")

    time.sleep(1.1)
    first = manager.renew(box.name, owner="ada").subjects[0]
    assert first.renewals_left == 1 and first.lifetime_ends_at > box.lifetime_ends_at + 1
    assert manager.renew(box.name, owner="ada").subjects[0].renewals_left == 0
    with pytest.raises(Conflict, match="renewed 2 times, the most allowed"):
        manager.renew(box.name, owner="ada")
    assert kinds(manager, box.name).count("renew") == 2


def test_a_user_holds_at_most_max_per_user_containers(
    tmp_path, instance, make_manager, docker_client
):
    manager = lifecycle_manager(tmp_path, instance, make_manager, CONTAINERPOKER_MAX_PER_USER="2")
    manager.init()
    nginx = manager.claim("ada", "nginx")
    manager.claim("ada", "python")
    before = container_names(docker_client)
    with pytest.raises(QuotaExceeded, match="You hold 2 containers"):
        manager.claim("ada", "apache")
    assert manager.claim("ada", "nginx").reused  # the one she has is hers again
    manager.claim("bob", "apache")  # others are not affected
    manager.release(nginx.name, owner="ada")
    assert manager.claim("ada", "apache").owner == "ada"
    assert len(manager.containers(owner="ada")) == 2
    # The refused claim started nothing (no cold start either).
    assert not {n for n in container_names(docker_client) - before if "apache" in n} - {
        a.name for a in manager.containers(runtime="apache")
    }

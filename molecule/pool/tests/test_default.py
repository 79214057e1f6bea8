"""The pool role: warm containers, labelled, running, and known to the platform."""

import json

CLI = (
    "sudo -u containerpoker CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env "
    "/opt/containerpoker/venv/bin/containerpoker"
)


def test_pool_containers_are_labelled_and_running(host):
    listed = host.run(
        "docker ps --filter label=containerpoker.role=pool --format '{{json .Labels}}|{{.State}}'"
    )
    rows = [line.split("|") for line in listed.stdout.splitlines()]
    assert len(rows) == 1, listed.stdout
    labels, state = rows[0]
    assert state == "running"
    assert "containerpoker.runtime=nginx" in labels and "containerpoker.port=" in labels


def test_the_platform_counts_them_ready(host):
    shown = host.run(f"{CLI} --json pool status")
    assert shown.rc == 0, shown.stderr
    nginx = next(p for p in json.loads(shown.stdout) if p["runtime"] == "nginx")
    assert nginx["ready"] == 1 and nginx["warm_target"] == 1


def test_the_database_stays_the_portal_users(host):
    assert host.file("/var/lib/containerpoker/containerpoker.db").user == "containerpoker"

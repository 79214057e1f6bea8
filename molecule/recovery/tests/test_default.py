"""The recovery role: the timer enabled and scheduled, the watcher running, and a killed
container really replaced, with its owner, port and files."""

import json
import time

CLI = (
    "sudo -u containerpoker CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env "
    "/opt/containerpoker/venv/bin/containerpoker"
)


def test_the_timer_is_enabled_and_scheduled(host):
    timer = host.service("containerpoker-recovery.timer")
    assert timer.is_enabled and timer.is_running
    listed = host.run("systemctl list-timers containerpoker-recovery.timer --no-pager")
    assert (
        "containerpoker-recovery.timer" in listed.stdout
        and "n/a" not in listed.stdout.split("\n")[1]
    )


def test_the_watcher_is_enabled_and_running(host):
    watcher = host.service("containerpoker-watch")
    assert watcher.is_enabled and watcher.is_running
    assert (
        "Watching Docker events" in host.run("journalctl -u containerpoker-watch --no-pager").stdout
    )


def test_a_killed_container_is_replaced_with_its_files(host):
    box = json.loads(host.run(f"{CLI} --json pool claim nginx --user dana").stdout)
    host.run("sh -c 'echo dana > /tmp/proof.html && chmod 644 /tmp/proof.html'")
    assert host.run(f"{CLI} pool upload {box['name']} /tmp/proof.html").rc == 0
    url = f"http://localhost:{box['host_port']}/proof.html"
    fetch = f"python3 -c \"import urllib.request; print(urllib.request.urlopen('{url}', timeout=1).read().decode())\""
    assert host.run(fetch).stdout.strip() == "dana"
    assert host.run(f"docker kill {box['name']}").rc == 0
    for _ in range(100):
        if host.run(fetch).stdout.strip() == "dana":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the killed container was not replaced within 10 s")
    mine = json.loads(host.run(f"{CLI} --json pool list --user dana").stdout)
    assert [(c["name"], c["host_port"]) for c in mine] == [(box["name"], box["host_port"])]
    log = json.loads(host.run(f"{CLI} --json monitor --log").stdout)
    assert any(box["name"] in entry.get("replaced", []) for entry in log), log

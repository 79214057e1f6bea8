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
    deadline = time.monotonic() + 30
    while host.run(fetch).stdout.strip() != "dana":
        if time.monotonic() > deadline:
            raise AssertionError(
                "the killed container was not replaced within 30 s\n" + diagnostics(host)
            )
        time.sleep(0.1)
    mine = json.loads(host.run(f"{CLI} --json pool list --user dana").stdout)
    assert [(c["name"], c["host_port"]) for c in mine] == [(box["name"], box["host_port"])]
    log = json.loads(host.run(f"{CLI} --json monitor --log").stdout)
    assert any(box["name"] in entry.get("replaced", []) for entry in log), log


def diagnostics(host) -> str:
    """What a person would look at when recovery did not happen: the watcher's own account,
    the recovery log, the containers and the pool's rows."""
    commands = (
        "journalctl -u containerpoker-watch -u containerpoker-recovery --no-pager -n 40",
        f"{CLI} monitor --log",
        "docker ps -a --format '{{.Names}} {{.Status}} {{.Ports}}'",
        f"{CLI} pool list",
        f"{CLI} pool events",
    )
    return "\n".join(
        f"$ {command}\n{(done := host.run(command)).stdout}{done.stderr}" for command in commands
    )

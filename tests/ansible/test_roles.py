"""Roles converged for real on a fresh platform host: a systemd container built locally
(infrastructure/images/platform-host), with a Docker engine of its own inside."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import TEST_SELECTOR
from ..host_containers import HOST_FLAGS
from .test_collection import run

# site.yml twice on a fresh host: minutes, many more on a loaded machine.
pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.converge, pytest.mark.timeout(2700)]


@pytest.fixture(scope="module")
def platform_host(platform_host_image, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """A running systemd host container and an inventory for it."""
    name = "cp-host-" + secrets.token_hex(3)
    volume = name + "-docker"
    started = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--hostname",
            name,
            "--label",
            TEST_SELECTOR,
            "-p",
            "127.0.0.1::5000",
            *HOST_FLAGS,
            "--mount",
            f"type=volume,src={volume},dst=/var/lib/docker,volume-label={TEST_SELECTOR}",
            platform_host_image,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    inventory = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    inventory.write_text(
        json.dumps(
            {
                "platform": {
                    "hosts": {
                        name: {
                            "ansible_connection": "community.docker.docker_api",
                            "ansible_python_interpreter": "/usr/bin/python3",
                        }
                    }
                }
            }
        )
    )
    try:
        for _ in range(60):
            state = subprocess.run(
                ["docker", "exec", name, "systemctl", "is-system-running"],
                capture_output=True,
                text=True,
            )
            if state.stdout.strip() in ("running", "degraded"):
                break
        yield name, inventory
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)


def in_host(name: str, *command: str) -> str:
    done = subprocess.run(["docker", "exec", name, *command], capture_output=True, text=True)
    return done.stdout.strip()


def test_docker_engine_role_converges_then_changes_nothing(platform_host):
    name, inventory = platform_host
    args = ["ansible-playbook", "-i", str(inventory), "tests/ansible/playbooks/docker_engine.yml"]
    first = run(args, timeout=900)
    assert first.returncode == 0, first.stdout[-4000:]
    assert "failed=0" in first.stdout and "changed=0" not in first.stdout
    second = run(args, timeout=900)
    assert second.returncode == 0 and "changed=0" in second.stdout, second.stdout[-3000:]

    assert in_host(name, "systemctl", "is-enabled", "docker") == "enabled"
    assert in_host(name, "systemctl", "is-active", "docker") == "active"
    settings = json.loads(in_host(name, "cat", "/etc/docker/daemon.json"))
    assert settings == {
        "log-driver": "json-file",
        "live-restore": True,
        "log-opts": {"max-size": "5m", "max-file": "3"},
    }
    # The engine inside really runs containers (an image carried in from this engine).
    subprocess.run(
        f"docker save debian:bookworm-slim | docker exec -i {name} docker load",
        shell=True,
        check=True,
        capture_output=True,
    )
    assert (
        in_host(name, "docker", "run", "--rm", "debian:bookworm-slim", "echo", "nested") == "nested"
    )


@pytest.fixture(scope="module")
def converged(platform_host, tmp_path_factory) -> dict:
    """site.yml applied twice to the platform host; the second run's output and the inventory."""
    name, _ = platform_host
    tmp_path = tmp_path_factory.mktemp("site")
    images = tmp_path / "images.tar"
    carried = [
        "containerpoker/nginx",
        "containerpoker/python",
        "debian:bookworm-slim",
    ]
    subprocess.run(["docker", "save", "-o", str(images), *carried], check=True, timeout=600)
    inventory = tmp_path / "hosts.yml"
    host_vars = {
        "ansible_connection": "community.docker.docker_api",
        "ansible_python_interpreter": "/usr/bin/python3",
        "portal_host": "127.0.0.1",
        "portal_public_host": "localhost",
        "portal_runtimes": "nginx,python",
        "portal_settings": {"nginx_max": 4, "nginx_warm": 1, "python_max": 2, "python_warm": 1},
        # This network re-signs PyPI's certificate: pip inside must trust the host's bundle.
        "portal_ca_bundle_src": "/etc/ssl/certs/ca-certificates.crt",
        "runtime_images_archive": str(images),
        "runtime_images_names": carried,
        "platform_python": "/opt/containerpoker/venv/bin/python",
        "pool_sizes": {"nginx": 1, "python": 1},
    }
    inventory.write_text(json.dumps({"platform": {"hosts": {name: host_vars}}}))
    args = ["ansible-playbook", "-i", str(inventory), "playbooks/site.yml"]
    first = run(args, timeout=1800)
    assert first.returncode == 0, first.stdout[-5000:]
    second = run(args, timeout=1800)
    assert second.returncode == 0, second.stdout[-3000:]
    mapped = subprocess.run(["docker", "port", name, "5000/tcp"], capture_output=True, text=True)
    return {
        "name": name,
        "inventory": inventory,
        "second": second.stdout,
        "portal": "http://127.0.0.1:" + mapped.stdout.split(":")[-1].strip(),
    }


def platform_cli(name: str, *args: str) -> str:
    """The containerpoker CLI on the platform host, as the platform's user."""
    return in_host(
        name,
        "sudo",
        "-u",
        "containerpoker",
        "CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env",
        "/opt/containerpoker/venv/bin/containerpoker",
        *args,
    )


def pool_status(name: str) -> dict[str, dict]:
    shown = platform_cli(name, "--json", "pool", "status")
    return {pool["runtime"]: pool for pool in json.loads(shown)}


def test_site_turns_a_fresh_host_into_a_platform(converged):
    name = converged["name"]
    recap = [line for line in converged["second"].splitlines() if line.startswith(name)]
    assert recap and "changed=0" in recap[0], converged["second"][-3000:]

    with urllib.request.urlopen(converged["portal"] + "/login", timeout=10) as page:
        assert page.status == 200 and b"Log in" in page.read()
    assert in_host(name, "systemctl", "is-active", "containerpoker-portal") == "active"
    assert in_host(name, "systemctl", "is-enabled", "containerpoker-recovery.timer") == "enabled"
    assert "containerpoker-recovery.timer" in in_host(name, "systemctl", "list-timers", "--all")
    assert in_host(name, "systemctl", "is-active", "containerpoker-watch") == "active"
    assert in_host(name, "systemctl", "is-enabled", "containerpoker-watch") == "enabled"
    pools = pool_status(name)
    assert pools["nginx"]["ready"] == 1 and pools["python"]["ready"] == 1


def test_the_deployed_portal_is_whole_lesson_2s_terminal_answers_in_chromium(converged):
    """xterm.js reached the host in the wheel: lesson 2's terminal page, opened in Chromium on
    the converged host's portal, runs a typed command."""
    from ..browser_terminal import ANSWER, type_in_lesson_terminal

    name, password = "typist", secrets.token_urlsafe(12)
    _api(
        converged["portal"],
        "/api/auth/register",
        {"username": name, "email": f"{name}@example.org", "password": password},
    )
    vendored = in_host(
        converged["name"],
        "sh",
        "-c",
        "ls /opt/containerpoker/venv/lib/python3*/site-packages/containerpoker/portal/static/vendor",
    )
    # Every browser file the portal serves (portal/vendor.py), each library with its licence.
    from containerpoker.portal import vendor

    licences = {"xterm.LICENSE", "swagger-ui.LICENSE", "codemirror.LICENSE"}
    assert set(vendored.split()) == set(vendor.FILES) | licences
    shown = type_in_lesson_terminal(converged["portal"], name, password)
    assert ANSWER in shown


@pytest.mark.parametrize("lesson", range(1, 9))
def test_lessons_yml_runs_every_lesson_on_the_platform_host(converged, lesson):
    done = run(
        [
            "ansible-playbook",
            "-i",
            str(converged["inventory"]),
            "lessons.yml",
            "-e",
            f"lesson={lesson}",
        ],
        timeout=600,
    )
    fatal = [
        line.split('"msg": ', 1)[-1][:600] for line in done.stdout.splitlines() if '"msg": ' in line
    ]
    assert done.returncode == 0, (lesson, fatal or done.stdout[-3000:])
    assert f"Lesson {lesson}:" in done.stdout and "[FAILED]" not in done.stdout
    assert (
        in_host(
            converged["name"], "docker", "ps", "-aq", "--filter", "label=containerpoker.role=lesson"
        )
        == ""
    )


def test_admin_playbooks_change_what_they_say_on_the_platform_host(converged):
    name, inventory = converged["name"], converged["inventory"]

    def play(book: str, *pairs: str, password: str = "") -> str:
        args = ["ansible-playbook", "-i", str(inventory), f"playbooks/admin/{book}.yml"]
        for pair in pairs:
            args += ["-e", pair]
        done = run(args, env={"CONTAINERPOKER_PASSWORD": password}, timeout=600)
        assert done.returncode == 0, (book, pairs, done.stdout[-3000:])
        assert not password or password not in done.stdout
        return done.stdout

    def python_names() -> set[str]:
        listed = in_host(
            name,
            "docker",
            "ps",
            "--format",
            "{{.Names}}",
            "--filter",
            "label=containerpoker.runtime=python",
        )
        return set(listed.split())

    python_before = python_names()
    assert "created ada (admin)" in play(
        "users",
        "op=create",
        "user=ada",
        "email=ada@example.org",
        "admin=true",
        password="a long enough passphrase",
    )
    assert "created bob" in play(
        "users", "op=create", "user=bob", "email=bob@example.org", password="another passphrase"
    )
    listed = play("users", "op=list")
    assert '"ada"' in listed and '"bob"' in listed

    # The portal, running as its own user, still writes to the database the playbooks (become_user
    # the platform's user) touched: bob logs in from outside the host and gets a container.
    token = _api(
        converged["portal"],
        "/api/auth/login",
        {"username": "bob", "password": "another passphrase"},
    )
    box = _api(
        converged["portal"], "/api/containers/spawn", {"runtime": "nginx"}, token["access_token"]
    )
    assert box["container"]["owner"] == "bob"
    owners = in_host(
        name,
        "stat",
        "-c",
        "%U",
        "/var/lib/containerpoker",
        "/var/lib/containerpoker/containerpoker.db",
    )
    assert owners.split() == ["containerpoker", "containerpoker"]

    resized = play("pool", "op=resize", "runtime=nginx", "count=2")
    assert (
        "nginx: warm size 1 -> 2" in resized and "nginx: 2 ready, 0 warming, 1 assigned" in resized
    )
    again = play("pool", "op=reset", "runtime=nginx")
    assert again.count("replaced cp-") == 3  # the 2 ready ones, and bob's (still his)
    assert pool_status(name)["nginx"]["assigned"] == 1
    released = play("pool", "op=release", "user=bob")
    assert "released cp" in released and "nothing changed" not in released
    assert "promoted bob" in play("users", "op=promote", "user=bob")
    assert "deleted bob" in play("users", "op=delete", "user=bob")
    status = play("pool", "op=status")
    assert "changed=0" in status and "python: 1 ready, 0 warming, 0 assigned, target 1" in status
    # Nothing else moved: the python pool kept the very same container throughout.
    assert python_names() == python_before


def test_the_watcher_brings_a_killed_container_back_with_its_files(converged):
    name = converged["name"]
    box = json.loads(platform_cli(name, "--json", "pool", "claim", "nginx", "--user", "carol"))
    in_host(name, "sh", "-c", "echo carol > /tmp/proof.html && chmod 644 /tmp/proof.html")
    platform_cli(name, "pool", "upload", box["name"], "/tmp/proof.html")
    fetch = (
        "import sys, time, urllib.request\n"
        "for _ in range(300):\n"
        "    try:\n"
        f"        body = urllib.request.urlopen('http://localhost:{box['host_port']}/proof.html',"
        " timeout=1).read()\n"
        "        if body.strip() == b'carol': sys.exit(print(round(time.time(), 2)))\n"
        "    except OSError: pass\n"
        "    time.sleep(0.05)\n"
        "sys.exit('not served')\n"
    )
    assert in_host(name, "python3", "-c", fetch), "the file was not served before the kill"
    killed = float(
        in_host(name, "sh", "-c", f"date +%s.%N && docker kill {box['name']} >/dev/null")
    )
    back = in_host(name, "python3", "-c", fetch)
    assert back, "the killed container did not come back"
    log = json.loads(platform_cli(name, "--json", "monitor", "--log"))
    assert any(e["source"] == "watch" and box["name"] in e.get("replaced", []) for e in log), log
    assert pool_status(name)["nginx"]["assigned"] == 1
    print(f"back {float(back) - killed:.2f} s after the kill, nested")


def _api(base: str, path: str, body: dict, token: str | None = None) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_the_backup_playbook_fetches_a_backup_and_restores_it(converged, tmp_path):
    """playbooks/admin/backup.yml: a backup taken while the portal serves lands on the
    controller; restoring it brings back what was lost since (an account, with its password
    and its container), and the services that ran are running again."""
    name, inventory = converged["name"], converged["inventory"]

    def play(*pairs: str) -> str:
        args = ["ansible-playbook", "-i", str(inventory), "playbooks/admin/backup.yml"]
        for pair in (f"backup_controller_dir={tmp_path}", *pairs):
            args += ["-e", pair]
        done = run(args, timeout=600)
        assert done.returncode == 0, (pairs, done.stdout[-4000:])
        return done.stdout

    in_host(
        name,
        "sudo",
        "-u",
        "containerpoker",
        "CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env",
        "RITA_PASSWORD=rita's old password",
        "/opt/containerpoker/venv/bin/containerpoker",
        "user",
        "create",
        "rita",
        "--email",
        "rita@example.org",
        "--password-env",
        "RITA_PASSWORD",
    )
    box = json.loads(platform_cli(name, "--json", "pool", "claim", "nginx", "--user", "rita"))
    assert "Backed up the sqlite database" in play()
    fetched = sorted(tmp_path.glob(f"{name}/containerpoker-*.backup"))
    assert len(fetched) == 1 and fetched[0].read_bytes().startswith(b"SQLite format 3\x00")

    platform_cli(name, "user", "delete", "rita")  # lost after the backup, with her container
    assert "rita" not in platform_cli(name, "user", "list")
    restored = play(f"backup_restore_from={fetched[0]}")
    assert "Restored the database" in restored and box["name"] in restored  # replaced

    for unit in ("containerpoker-portal", "containerpoker-watch", "containerpoker-recovery.timer"):
        assert in_host(name, "systemctl", "is-active", unit) == "active", unit
    owner = in_host(name, "stat", "-c", "%U", "/var/lib/containerpoker/containerpoker.db")
    assert owner == "containerpoker"
    deadline = time.monotonic() + 60
    while True:  # the portal starts again
        try:
            token = _api(
                converged["portal"],
                "/api/auth/login",
                {"username": "rita", "password": "rita's old password"},
            )
            break
        except OSError:
            assert time.monotonic() < deadline, "rita cannot log in after the restore"
            time.sleep(0.5)
    assert token["user"]["username"] == "rita"
    held = json.loads(platform_cli(name, "--json", "pool", "list", "--user", "rita"))
    assert [(c["name"], c["host_port"]) for c in held] == [(box["name"], box["host_port"])]

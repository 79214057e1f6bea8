"""The portal role: its user, its environment and configuration, the service on port 5000."""

import json
import subprocess
import time
import urllib.request


def test_the_portal_user_may_use_docker(host):
    user = host.user("containerpoker")
    assert user.exists and "docker" in user.groups
    assert host.file("/var/lib/containerpoker").user == "containerpoker"


def test_the_configuration_is_rendered_and_kept_private(host):
    env = host.file("/etc/containerpoker/containerpoker.env")
    assert env.exists and env.user == "root" and env.group == "containerpoker"
    assert env.mode & 0o007 == 0
    assert "CONTAINERPOKER_PORTAL_PORT=5000" in env.content_string


def test_the_program_is_installed_in_its_environment(host):
    shown = host.run("/opt/containerpoker/venv/bin/containerpoker --version")
    assert shown.rc == 0 and "containerpoker" in shown.stdout


def test_the_database_is_at_the_latest_schema_and_the_portal_user_s(host):
    shown = host.run(
        "runuser -u containerpoker -- env CONTAINERPOKER_ENV_FILE=/etc/containerpoker/"
        "containerpoker.env /opt/containerpoker/venv/bin/containerpoker --json db status"
    )
    assert shown.rc == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["revision"] == status["latest"]
    assert host.file("/var/lib/containerpoker/containerpoker.db").user == "containerpoker"


def test_the_service_is_enabled_running_and_answers_on_5000(host):
    portal = host.service("containerpoker-portal")
    assert portal.is_enabled and portal.is_running
    assert host.socket("tcp://0.0.0.0:5000").is_listening or host.socket("tcp://5000").is_listening
    # From outside the host, as a user would.
    mapped = subprocess.run(
        ["docker", "port", host.backend.get_hostname(), "5000/tcp"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    url = "http://127.0.0.1:" + mapped.split(":")[-1].strip() + "/login"
    for _ in range(50):
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                assert page.status == 200 and b"Log in" in page.read()
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")

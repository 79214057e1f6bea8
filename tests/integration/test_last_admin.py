"""Deleting the last admin is refused by every front end, and nothing of theirs is released first.

The use case lives once, in ``Platform.delete_user``: the last-admin check comes first, then the
user's containers are released, then the account is removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from containerpoker.config import load_settings
from containerpoker.errors import Conflict
from containerpoker.platform import Platform
from containerpoker.portal import create_app

from ..conftest import make_env

pytestmark = pytest.mark.docker

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough passphrase"


@pytest.fixture
def env(tmp_path, instance) -> dict[str, str]:
    return make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_PORTAL_HOST="localhost",
    )


@pytest.fixture
def admin_with_a_container(env):
    """The only admin, holding an nginx container; yields (platform, container name)."""
    platform = Platform(load_settings(env=env))
    try:
        platform.accounts.create("root", "root@example.org", PASSWORD, admin=True)
        platform.pool.init()
        box = platform.pool.claim("root", "nginx")
        yield platform, box.name
    finally:
        platform.close()


def still_whole(platform: Platform, name: str) -> None:
    assert platform.accounts.get("root").is_admin
    held = platform.pool.get(name)
    assert (held.owner, held.state) == ("root", "assigned")
    assert platform.engine.is_running(name)


def test_the_core_refuses_before_releasing(admin_with_a_container):
    platform, name = admin_with_a_container
    with pytest.raises(Conflict, match="last admin"):
        platform.delete_user("root")
    with pytest.raises(Conflict, match="last admin"):
        platform.delete_user("root", apply=False)  # a dry run says the same
    still_whole(platform, name)


def test_the_cli_refuses_and_releases_nothing(admin_with_a_container, env):
    platform, name = admin_with_a_container
    done = subprocess.run(
        [str(BIN / "containerpoker"), "user", "delete", "root"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1 and "last admin" in done.stderr, done.stderr
    still_whole(platform, name)


def test_the_portal_refuses_and_releases_nothing(admin_with_a_container, env):
    platform, name = admin_with_a_container
    app = create_app({"TESTING": True}, settings=load_settings(env=env))
    try:
        client = app.test_client()
        login = client.post("/api/auth/login", json={"username": "root", "password": PASSWORD})
        token = login.json["access_token"]
        refused = client.delete(
            "/api/admin/users/root", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 409 and "last admin" in refused.json["detail"]
    finally:
        app.extensions["containerpoker"].close()
    still_whole(platform, name)


def test_the_ansible_module_refuses_and_releases_nothing(admin_with_a_container, env):
    platform, name = admin_with_a_container
    config = {k.removeprefix("CONTAINERPOKER_"): v for k, v in env.items()}
    args = json.dumps({"name": "root", "state": "absent", "config": config})
    for check_mode in ([], ["--check"]):
        done = subprocess.run(
            [
                str(BIN / "ansible"),
                "localhost",
                "-m",
                "containerpoker.lab.portal_user",
                "-a",
                args,
                *check_mode,
            ],
            cwd=ROOT,
            env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
            capture_output=True,
            text=True,
        )
        assert done.returncode != 0 and "last admin" in done.stdout, done.stdout[-2000:]
    still_whole(platform, name)

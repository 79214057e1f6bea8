"""The collection: ansible-doc renders every module, the modules behave (a playbook of
register / changed / not changed / check_mode twins), and lessons.yml works as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import make_env

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MODULES = [
    "pool_init",
    "pool_info",
    "container_reset",
    "container_renew",
    "pool_release",
    "pool_node",
    "lesson_run",
    "portal_user",
    "portal_user_info",
]

pytestmark = pytest.mark.docker


def run(args: list[str], env: dict | None = None, timeout: int = 600):
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=ROOT,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_every_module(module):
    shown = run(["ansible-doc", f"containerpoker.lab.{module}"])
    assert shown.returncode == 0, shown.stderr
    assert "EXAMPLES" in shown.stdout and "RETURN" in shown.stdout
    assert "ATTRIBUTES" in shown.stdout and "check_mode" in shown.stdout


def test_modules_change_what_they_say_and_nothing_twice(tmp_path, instance):
    env = make_env(tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx")
    config = {k.removeprefix("CONTAINERPOKER_"): v for k, v in env.items()}
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"cp_config": config}))
    played = run(["ansible-playbook", "tests/ansible/playbooks/modules.yml", "-e", f"@{extra}"])
    assert played.returncode == 0, played.stdout[-4000:] + played.stderr[-2000:]
    assert "failed=0" in played.stdout


def test_lessons_playbook_as_written(tmp_path, instance):
    env = make_env(tmp_path, instance)
    done = run(["ansible-playbook", "lessons.yml", "-e", "lesson=8"], env=env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert (
        "Lesson 8: Volumes and data" in done.stdout and "-> shared by two containers" in done.stdout
    )
    by_prd_name = run(["ansible-playbook", "lessons.yml", "-e", "flow=hello"], env=env)
    assert by_prd_name.returncode == 0 and "Lesson 1: Hello world" in by_prd_name.stdout
    for args, words in ((["-e", "flow=9"], "Got 9"), ([], "No lesson was given")):
        refused = run(["ansible-playbook", "lessons.yml", *args], env=env)
        assert refused.returncode == 2, refused.stdout[-2000:]
        assert "Say which lesson to run" in refused.stdout and words in refused.stdout


def test_admin_playbooks_do_what_they_say(tmp_path, instance):
    env = make_env(
        tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx", CONTAINERPOKER_NGINX_WARM="1"
    )
    config = {k.removeprefix("CONTAINERPOKER_"): v for k, v in env.items()}
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"platform_config": config}))

    def play(book, *pairs):
        args = ["ansible-playbook", f"playbooks/admin/{book}.yml", "-e", f"@{extra}"]
        for pair in pairs:
            args += ["-e", pair]
        return run(args)

    made = play(
        "users",
        "action=create",
        "user=ada",
        "email=ada@example.org",
        '{"password": "a long enough passphrase"}',
    )
    assert made.returncode == 0 and "created ada" in made.stdout, made.stdout[-2000:]
    promoted = play("users", "action=promote", "user=ada")
    assert "promoted ada" in promoted.stdout
    listed = play("users", "action=list")
    assert listed.returncode == 0 and '"ada"' in listed.stdout, listed.stdout[-2000:]
    refused = play("users", "action=rename")
    assert refused.returncode == 2 and "one of list, create, delete, promote" in refused.stdout

    resized = play("pool", "action=resize", "runtime=nginx", "count=2")
    assert resized.returncode == 0, resized.stdout[-2000:]
    assert "nginx: warm size 1 -> 2" in resized.stdout and "nginx: 2 ready" in resized.stdout
    added = play("pool", "action=add", "runtime=nginx", "count=1")
    assert "nginx: warm size 2 -> 3" in added.stdout and "nginx: 3 ready" in added.stdout
    again = play("pool", "action=reinitialise", "runtime=nginx")
    assert "replaced 3 containers" in again.stdout and "nginx: 3 ready" in again.stdout
    nothing = play("pool", "action=release", "user=ada")
    assert "released nothing" in nothing.stdout
    status = play("pool", "action=status")
    assert (
        "changed=0" in status.stdout
        and "nginx: 3 ready, 0 warming, 0 assigned, target 3" in status.stdout
    )
    refused = play("pool", "action=grow")
    assert (
        refused.returncode == 2
        and "one of status, add, resize, reinitialise, release" in refused.stdout
    )
    deleted = play("users", "action=delete", "user=ada")
    assert deleted.returncode == 2 and "last admin" in deleted.stdout  # refused, as it should be


def test_container_renew_renews_once_per_run_and_its_check_mode_twin_changes_nothing(
    tmp_path, instance
):
    from containerpoker.config import load_settings
    from containerpoker.platform import Platform

    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_NGINX_LIFETIME="1h",
        CONTAINERPOKER_NGINX_RENEWALS="1",
    )
    config = {k.removeprefix("CONTAINERPOKER_"): v for k, v in env.items()}
    with Platform(load_settings(env=env)) as platform:
        platform.pool.init()
        box = platform.pool.claim("ada", "nginx")

        def renew(*flags: str):
            args = json.dumps({"container": box.name, "owner": "ada", "config": config})
            done = run(
                ["ansible", "localhost", "-m", "containerpoker.lab.container_renew"]
                + ["-a", args, *flags]
            )
            return done.returncode, done.stdout

        code, out = renew("--check", "--diff")
        assert code == 0 and "CHANGED" in out and "renewed " + box.name in out, out
        assert platform.pool.get(box.name).renewals_left == 1  # check mode renewed nothing
        code, out = renew()
        assert code == 0 and "CHANGED" in out, out
        assert platform.pool.get(box.name).renewals_left == 0
        code, out = renew()
        assert code != 0 and "the most allowed" in out, out

"""The collection: ansible-doc renders every module, the modules behave (its integration
targets, run by ansible-test), and lessons.yml and the admin playbooks work as written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from ..conftest import make_env

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = ROOT / "collections/ansible_collections/containerpoker/lab"
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


@pytest.mark.timeout(1800)  # nine ansible-playbook runs; minutes on a loaded machine
def test_the_collections_integration_targets_pass_against_the_real_engine(tmp_path, instance):
    """`ansible-test integration` runs tests/integration/targets/<module> (register, changed,
    not changed, check_mode and diff twins) against this test's own platform."""
    env = make_env(
        tmp_path,
        instance,
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_NGINX_LIFETIME="1h",
        CONTAINERPOKER_NGINX_RENEWALS="1",
    )
    config = {k.removeprefix("CONTAINERPOKER_"): v for k, v in env.items()}
    # ansible-test passes this file to every target as extra variables.
    settings = COLLECTION / "tests/integration/integration_config.yml"
    settings.write_text(json.dumps({"cp_config": config}) + "\n")
    targets = sorted(
        p.name for p in (COLLECTION / "tests/integration/targets").iterdir() if p.name in MODULES
    )
    assert targets == sorted(MODULES), "every module has its integration target"
    python = "{}.{}".format(*sys.version_info[:2])
    try:
        done = subprocess.run(
            [str(BIN / "ansible-test"), "integration", "--python", python, "--color", "no"],
            cwd=COLLECTION,
            env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
            capture_output=True,
            text=True,
            timeout=1800,
        )
    finally:
        settings.unlink()
    ran = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("Running ")]
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert sorted(ran) == sorted(MODULES), ran


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


@pytest.mark.slow
def test_admin_playbooks_do_what_they_say(tmp_path, instance):
    """Every user and pool operation of the CLI, in its playbook form; passwords from the
    environment or a vault file, never shown; no reserved variable names."""
    env = make_env(
        tmp_path, instance, CONTAINERPOKER_RUNTIMES="nginx", CONTAINERPOKER_NGINX_WARM="1"
    )
    config = {k.removeprefix("CONTAINERPOKER_"): v for k, v in env.items()}
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"platform_config": config}))

    def play(book, *pairs, env=None, args=()):
        command = ["ansible-playbook", f"playbooks/admin/{book}.yml", "-e", f"@{extra}", *args]
        for pair in pairs:
            command += ["-e", pair]
        done = run(command, env=env)
        assert "reserved name" not in done.stderr, done.stderr
        return done

    secret = "a long enough passphrase"
    made = play(
        "users",
        "op=create",
        "user=ada",
        "email=ada@example.org",
        env={"CONTAINERPOKER_PASSWORD": secret},
    )
    assert made.returncode == 0 and "created ada" in made.stdout, made.stdout[-2000:]
    assert secret not in made.stdout + made.stderr
    # No password at all, and no terminal to ask at: refused with what to do.
    unasked = play("users", "op=create", "user=bob", "email=bob@example.org")
    assert unasked.returncode == 2 and "Never pass it with -e" in unasked.stdout
    # From a vault file: the same password again changes nothing, a new one is set.
    vault_pass = tmp_path / "vault-pass"
    vault_pass.write_text("vault key for the test\n")
    secrets_file = tmp_path / "secrets.yml"
    for password, words in (
        (secret, "nothing to do: ada"),
        ("a new passphrase", "set the password of ada"),
    ):
        secrets_file.write_text(f"user_password: {password}\n")
        encrypted = run(
            [
                "ansible-vault",
                "encrypt",
                "--vault-password-file",
                str(vault_pass),
                str(secrets_file),
            ]
        )
        assert encrypted.returncode == 0, encrypted.stderr
        changed = play(
            "users",
            "op=password",
            "user=ada",
            f"@{secrets_file}",
            args=("--vault-password-file", str(vault_pass)),
        )
        assert changed.returncode == 0 and words in changed.stdout, changed.stdout[-2000:]
        assert password not in changed.stdout + changed.stderr
    promoted = play("users", "op=promote", "user=ada")
    assert "promoted ada" in promoted.stdout
    listed = play("users", "op=list")
    assert listed.returncode == 0 and '"ada"' in listed.stdout, listed.stdout[-2000:]
    refused = play("users", "op=rename")
    assert (
        refused.returncode == 2
        and "one of list, create, password, promote, delete" in refused.stdout
    )

    resized = play("pool", "op=resize", "runtime=nginx", "count=2", args=("--diff",))
    assert resized.returncode == 0, resized.stdout[-2000:]
    assert "nginx: warm size 1 -> 2" in resized.stdout and "nginx: 2 ready" in resized.stdout
    assert '-        "warm": 1' in resized.stdout and '+        "warm": 2' in resized.stdout  # diff
    added = play("pool", "op=add", "runtime=nginx", "count=1")
    assert "nginx: warm size 2 -> 3" in added.stdout and "nginx: 3 ready" in added.stdout
    checked = play("pool", "op=resize", "runtime=nginx", "count=1", args=("--check",))
    assert "nginx: warm size 3 -> 1" in checked.stdout and "target 3" in checked.stdout
    again = play("pool", "op=reset", "runtime=nginx")
    assert again.stdout.count("replaced cp-") == 3 and "nginx: 3 ready" in again.stdout, (
        again.stdout[-2000:]
    )
    warmed = play("pool", "op=init")
    assert warmed.returncode == 0 and "nothing changed" in warmed.stdout
    nothing = play("pool", "op=release", "user=ada")
    assert "nothing changed" in nothing.stdout
    status = play("pool", "op=status")
    assert (
        "changed=0" in status.stdout
        and "nginx: 3 ready, 0 warming, 0 assigned, target 3" in status.stdout
    )
    listed = play("pool", "op=list", "runtime=nginx")
    assert listed.stdout.count(" nginx ready - port ") == 3, listed.stdout[-2000:]
    # A container lost behind the platform's back: reconcile notices and refills; events tell.
    client = docker.from_env(version="auto")
    lost = client.containers.list(filters={"label": f"containerpoker.instance={instance}"})[0]
    lost.remove(force=True)
    client.close()
    healed = play("pool", "op=reconcile")
    assert healed.returncode == 0 and f"removed_dead: {lost.name}" in healed.stdout, healed.stdout[
        -2000:
    ]
    assert "created: nginx 1" in healed.stdout and "changed=1" in healed.stdout
    assert "changed=0" in play("pool", "op=reconcile").stdout  # nothing left to do
    told = play("pool", "op=events", "count=5")
    assert told.returncode == 0 and "reconcile - - - 1 removed dead" in told.stdout, told.stdout[
        -2000:
    ]
    refused = play("pool", "op=grow")
    assert (
        refused.returncode == 2
        and "one of status, list, init, add, resize, reset, release, renew, reconcile, events"
        in refused.stdout
    )
    deleted = play("users", "op=delete", "user=ada")
    assert deleted.returncode == 2 and "last admin" in deleted.stdout  # refused, as it should be


@pytest.mark.slow
def test_admin_playbooks_renew_release_and_reset_one_container(tmp_path, instance):
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
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({"platform_config": config}))

    def play(*pairs):
        command = ["ansible-playbook", "playbooks/admin/pool.yml", "-e", f"@{extra}"]
        for pair in pairs:
            command += ["-e", pair]
        return run(command)

    with Platform(load_settings(env=env)) as platform:
        platform.pool.init()
        box = platform.pool.claim("ada", "nginx")
        platform.pool.wait_idle()
    mine = play("op=list", "user=ada")
    assert f"{box.name} nginx assigned ada port {box.host_port}" in mine.stdout, mine.stdout[-2000:]
    renewed = play("op=renew", f"container={box.name}")
    assert renewed.returncode == 0 and f"renewed {box.name}" in renewed.stdout, renewed.stdout[
        -2000:
    ]
    reset = play("op=reset", f"container={box.name}")
    assert reset.returncode == 0 and f"replaced {box.name}" in reset.stdout, reset.stdout[-2000:]
    released = play("op=release", f"container={box.name}", "user=ada")
    assert released.returncode == 0 and f"released {box.name}" in released.stdout
    mine = play("op=list", "user=ada")
    assert "no containers" in mine.stdout, mine.stdout[-2000:]

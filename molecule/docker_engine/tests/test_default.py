"""The docker_engine role: the engine enabled and running, its daemon settings, nested containers."""

import json
import subprocess


def test_the_engine_is_enabled_and_running(host):
    docker = host.service("docker")
    assert docker.is_enabled and docker.is_running
    assert host.socket("unix:///run/docker.sock").is_listening


def test_daemon_settings_limit_logs_and_keep_containers_across_restarts(host):
    settings = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert settings["live-restore"] is True
    assert settings["log-driver"] == "json-file"
    assert settings["log-opts"]["max-size"] and settings["log-opts"]["max-file"]


def test_it_runs_containers(host):
    name = host.backend.get_hostname()
    # An image carried in from the engine outside (nothing can be pulled).
    subprocess.run(
        f"docker save debian:bookworm-slim | docker exec -i {name} docker load",
        shell=True,
        check=True,
        capture_output=True,
    )
    ran = host.run("docker run --rm debian:bookworm-slim echo nested")
    assert ran.rc == 0 and ran.stdout.strip() == "nested", ran.stderr

# -*- coding: utf-8 -*-
# Copyright: containerpoker developers; MIT licence.
"""Unit tests for module_utils/platform.py: how a module's options become the core's settings.

The translation of the ``config`` option into CONTAINERPOKER_* environment keys is
``config_env``; ``platform_settings(module)`` puts it over ``os.environ`` and hands it to the
core's ``load_settings(env=..., env_file=...)``. These tests drive ``platform_settings`` with a
stand-in module and a recording ``load_settings``, and look at the environment and env file it
hands to the core. They run without the containerpoker core (which
the units virtual environment does not have) and without a Docker engine.
"""

from __future__ import annotations

import pytest

from ansible_collections.containerpoker.lab.plugins.module_utils import platform


class Failed(Exception):
    """What FakeModule.fail_json raises (AnsibleModule.fail_json exits the process)."""

    def __init__(self, kwargs):
        super().__init__(kwargs.get("msg"))
        self.kwargs = kwargs


class FakeModule:
    def __init__(self, **params):
        self.params = {"env_file": None, "config": {}}
        self.params.update(params)

    def fail_json(self, **kwargs):
        raise Failed(kwargs)


class FakeSettings:
    data_dir = "/nonexistent/containerpoker-unit-test"


@pytest.fixture
def core(monkeypatch, tmp_path):
    """Pretend the core is importable; record what load_settings() receives."""
    calls = []

    def load_settings(env=None, env_file=None):
        calls.append({"env": env, "env_file": env_file})
        return FakeSettings()

    monkeypatch.setattr(platform, "CORE_IMPORT_ERROR", None)
    monkeypatch.setattr(platform, "load_settings", load_settings)
    # No /etc/containerpoker/containerpoker.env from the machine running the tests.
    monkeypatch.setattr(platform, "DEFAULT_ENV_FILE", str(tmp_path / "absent.env"))
    for name in list(platform.os.environ):
        if name.startswith("CONTAINERPOKER_"):
            monkeypatch.delenv(name)
    return calls


def settings_env(calls):
    assert len(calls) == 1
    return calls[0]["env"]


def containerpoker_keys(env):
    return {k: v for k, v in env.items() if k.startswith("CONTAINERPOKER_")}


def test_config_names_without_prefix_become_upper_case_containerpoker_keys(core):
    platform.platform_settings(
        FakeModule(config={"instance": "lab2", "data_dir": "/srv/cp", "nginx_warm": 8})
    )
    assert containerpoker_keys(settings_env(core)) == {
        "CONTAINERPOKER_INSTANCE": "lab2",
        "CONTAINERPOKER_DATA_DIR": "/srv/cp",
        "CONTAINERPOKER_NGINX_WARM": "8",
    }


def test_config_names_with_the_prefix_are_kept_as_they_are(core):
    platform.platform_settings(FakeModule(config={"CONTAINERPOKER_PYTHON_PORTS": "9200-9299"}))
    assert containerpoker_keys(settings_env(core)) == {"CONTAINERPOKER_PYTHON_PORTS": "9200-9299"}


def test_mixed_case_names_are_upper_cased(core):
    platform.platform_settings(FakeModule(config={"Data_Dir": "/srv/cp"}))
    assert containerpoker_keys(settings_env(core)) == {"CONTAINERPOKER_DATA_DIR": "/srv/cp"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(5, "5"), (2.5, "2.5"), (True, "True"), ("20m", "20m")],
)
def test_values_reach_the_core_as_strings(core, value, expected):
    platform.platform_settings(FakeModule(config={"warm_timeout": value}))
    assert settings_env(core)["CONTAINERPOKER_WARM_TIMEOUT"] == expected


def test_config_overrides_the_process_environment_which_is_otherwise_passed_on(core, monkeypatch):
    monkeypatch.setenv("CONTAINERPOKER_INSTANCE", "from-env")
    monkeypatch.setenv("CONTAINERPOKER_PUBLIC_HOST", "lab.example.org")
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/other.sock")
    platform.platform_settings(FakeModule(config={"instance": "from-config"}))
    env = settings_env(core)
    assert env["CONTAINERPOKER_INSTANCE"] == "from-config"
    assert env["CONTAINERPOKER_PUBLIC_HOST"] == "lab.example.org"
    assert env["DOCKER_HOST"] == "unix:///run/other.sock"


@pytest.mark.parametrize("config", [{}, None])
def test_no_config_adds_no_keys(core, config):
    platform.platform_settings(FakeModule(config=config))
    assert containerpoker_keys(settings_env(core)) == {}


def test_the_process_environment_itself_is_not_changed(core):
    platform.platform_settings(FakeModule(config={"instance": "lab2"}))
    assert "CONTAINERPOKER_INSTANCE" not in platform.os.environ


def test_a_lower_case_prefixed_name_is_not_prefixed_twice(core):
    platform.platform_settings(FakeModule(config={"containerpoker_instance": "lab2"}))
    assert containerpoker_keys(settings_env(core)) == {"CONTAINERPOKER_INSTANCE": "lab2"}


def test_an_explicit_env_file_is_handed_to_the_core(core, tmp_path):
    env_file = tmp_path / "lab.env"
    env_file.write_text("CONTAINERPOKER_INSTANCE=lab\n")
    platform.platform_settings(FakeModule(env_file=str(env_file)))
    assert core[0]["env_file"] == str(env_file)


def test_a_missing_env_file_fails_before_reading_settings(core, tmp_path):
    missing = str(tmp_path / "missing.env")
    with pytest.raises(Failed) as failed:
        platform.platform_settings(FakeModule(env_file=missing))
    assert failed.value.kwargs["msg"] == "The env_file %s does not exist." % missing
    assert core == []


def test_the_default_env_file_is_used_when_it_exists(core, monkeypatch, tmp_path):
    default = tmp_path / "containerpoker.env"
    default.write_text("")
    monkeypatch.setattr(platform, "DEFAULT_ENV_FILE", str(default))
    platform.platform_settings(FakeModule())
    assert core[0]["env_file"] == str(default)


def test_no_env_file_at_all_hands_none_to_the_core(core):
    platform.platform_settings(FakeModule())
    assert core[0]["env_file"] is None


def test_a_configuration_error_fails_the_module_with_its_message(core, monkeypatch):
    def load_settings(env=None, env_file=None):
        raise platform.ContainerPokerError("CONTAINERPOKER_INSTANCE='Bad' is not a valid name")

    monkeypatch.setattr(platform, "load_settings", load_settings)
    with pytest.raises(Failed) as failed:
        platform.platform_settings(FakeModule(config={"instance": "Bad"}))
    assert failed.value.kwargs["msg"] == "CONTAINERPOKER_INSTANCE='Bad' is not a valid name"


def test_a_missing_core_fails_with_ansibles_missing_library_message(monkeypatch):
    monkeypatch.setattr(platform, "CORE_IMPORT_ERROR", "Traceback: No module named containerpoker")
    with pytest.raises(Failed) as failed:
        platform.platform_settings(FakeModule())
    msg = failed.value.kwargs["msg"]
    assert "Failed to import the required Python library (containerpoker)" in msg
    assert failed.value.kwargs["exception"] == "Traceback: No module named containerpoker"


def test_platform_args_declare_the_options_the_doc_fragment_documents():
    assert platform.PLATFORM_ARGS == {
        "env_file": {"type": "path"},
        "config": {"type": "dict", "default": {}},
    }


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"nginx_warm": 8}, {"CONTAINERPOKER_NGINX_WARM": "8"}),
        ({"CONTAINERPOKER_INSTANCE": "a"}, {"CONTAINERPOKER_INSTANCE": "a"}),
        ({"containerpoker_instance": "a"}, {"CONTAINERPOKER_INSTANCE": "a"}),
        ({}, {}),
        (None, {}),
    ],
)
def test_config_env_is_the_pure_translation(config, expected):
    assert platform.config_env(config) == expected

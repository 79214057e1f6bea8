"""Configuration: defaults of DESIGN.md, precedence, and errors that say what to do."""

from __future__ import annotations

import pytest

from containerpoker.config import load_settings, parse_size
from containerpoker.errors import ConfigError


def _env(tmp_path, **extra):
    return {
        "CONTAINERPOKER_ENV_FILE": str(tmp_path / "none.env"),
        "CONTAINERPOKER_DATA_DIR": str(tmp_path),
        **extra,
    }


def test_defaults_match_the_design(tmp_path):
    s = load_settings(env=_env(tmp_path))
    ports = {n: (r.port_start, r.port_end) for n, r in s.runtimes.items()}
    assert ports == {
        "nginx": (8000, 8099),
        "apache": (8100, 8199),
        "python": (8200, 8299),
        "node": (8300, 8399),
    }
    assert {n: r.warm for n, r in s.runtimes.items()} == {
        "nginx": 5,
        "apache": 3,
        "python": 3,
        "node": 2,
    }
    assert s.database_url == f"sqlite:///{tmp_path}/containerpoker.db"


def test_environment_beats_dotenv_beats_toml(tmp_path):
    toml = tmp_path / "cp.toml"
    toml.write_text('[runtimes.nginx]\nwarm = 2\nmax = 9\n[platform]\npublic_host = "toml"\n')
    dotenv = tmp_path / "cp.env"
    dotenv.write_text("CONTAINERPOKER_NGINX_WARM=3\nCONTAINERPOKER_PUBLIC_HOST=dotenv\n")
    s = load_settings(
        env={
            "CONTAINERPOKER_CONFIG": str(toml),
            "CONTAINERPOKER_ENV_FILE": str(dotenv),
            "CONTAINERPOKER_NGINX_WARM": "4",
            "CONTAINERPOKER_DATA_DIR": str(tmp_path),
        }
    )
    assert s.runtime("nginx").warm == 4
    assert s.runtime("nginx").max_containers == 9
    assert s.public_host == "dotenv"


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("CONTAINERPOKER_NGINX_PORTS", "80-90", "1024-65535"),
        ("CONTAINERPOKER_NGINX_PORTS", "eight", "write it like 8000-8099"),
        ("CONTAINERPOKER_NGINX_WARM", "-1", "out of range"),
        ("CONTAINERPOKER_NGINX_WARM", "lots", "not a whole number"),
        ("CONTAINERPOKER_NGINX_WARM", "50", "larger than CONTAINERPOKER_NGINX_MAX"),
        ("CONTAINERPOKER_NGINX_MAX", "500", "widen the range"),
        ("CONTAINERPOKER_NGINX_MEMORY", "4m", "below 16m"),
        ("CONTAINERPOKER_NGINX_MEMORY", "lots", "not a size"),
        ("CONTAINERPOKER_NGINX_CPUS", "0", "out of range"),
        ("CONTAINERPOKER_APACHE_PORTS", "8050-8150", "overlap"),
        ("CONTAINERPOKER_INSTANCE", "Bad Name!", "not a valid name"),
        ("CONTAINERPOKER_EXTRA_LABELS", "evil=1", "must start with 'containerpoker.'"),
        ("CONTAINERPOKER_CONFIG", "/nonexistent.toml", "does not exist"),
    ],
)
def test_broken_configuration_is_one_clear_sentence(tmp_path, key, value, says):
    with pytest.raises(ConfigError) as caught:
        load_settings(env=_env(tmp_path, **{key: value}))
    assert says in caught.value.message
    assert caught.value.message.rstrip().endswith(".")


def test_unknown_runtime_lists_the_known_ones(tmp_path):
    s = load_settings(env=_env(tmp_path))
    with pytest.raises(ConfigError, match="choose one of apache, nginx, node, python"):
        s.runtime("cobol")


def test_sizes():
    assert parse_size("64m", "k") == 64 * 1024**2
    assert parse_size("1g", "k") == 1024**3
    assert parse_size("512", "k") == 512

"""The roles' argument specs are true: every default of defaults/main.yml is in the spec, with
the same value, and a required option has no default anywhere (else the check never fires)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROLES = (
    Path(__file__).resolve().parents[2] / "collections/ansible_collections/containerpoker/lab/roles"
)


def role_names() -> list[str]:
    return sorted(p.name for p in ROLES.iterdir() if (p / "meta/argument_specs.yml").exists())


@pytest.mark.parametrize("role", role_names())
def test_every_default_is_in_the_spec_and_required_means_required(role):
    spec = yaml.safe_load((ROLES / role / "meta/argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"].get("options") or {}
    defaults_file = ROLES / role / "defaults/main.yml"
    defaults = (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.exists() else {}
    for name, value in defaults.items():
        assert name in options, f"{role}: {name} has a default but is not in the argument spec"
        assert options[name].get("default") == value, (
            f"{role}: {name}'s default differs in the spec"
        )
    for name, option in options.items():
        if option.get("required"):
            assert "default" not in option and name not in defaults, (
                f"{role}: {name} is required but has a default, so the check never fires"
            )
        else:
            assert name in defaults, (
                f"{role}: {name} is optional but has no default in defaults/main.yml"
            )

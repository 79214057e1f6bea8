"""The architecture's rules that imports alone cannot show (``lint-imports`` checks those).

- Only the engine package talks to Docker: no ``.api.`` call on a Docker client and no private
  name of the engine outside ``engine/`` (``lessons/`` excepted: lessons teach the SDK).
- A module of the core is one idea: none is over about 450 lines (lessons excepted: they teach).
- The Ansible modules reach the core through ``module_utils/platform.py`` only, and it imports
  nothing below the platform.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "app" / "containerpoker"
COLLECTION = ROOT / "collections" / "ansible_collections" / "containerpoker" / "lab"
MAX_LINES = 450


def core_files(*excluded: str) -> list[Path]:
    return [
        path
        for path in CORE.rglob("*.py")
        if not any(part in excluded for part in path.relative_to(CORE).parts[:-1])
    ]


def docker_offences(source: str) -> list[str]:
    """Calls on a Docker client's low-level API and private names of the engine or its sockets."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        parent = node.value.attr if isinstance(node.value, ast.Attribute) else None
        if parent == "api":
            found.append(f"{node.lineno}: .api.{node.attr}")
        elif node.attr in ("_api", "_sock", "_get", "_url"):
            found.append(f"{node.lineno}: .{node.attr}")
        elif parent == "engine" and node.attr.startswith("_") and not node.attr.startswith("__"):
            found.append(f"{node.lineno}: engine.{node.attr}")
    return found


def test_only_the_engine_package_calls_the_docker_api():
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in core_files("engine", "lessons")
        if (found := docker_offences(path.read_text()))
    }
    assert offenders == {}


def test_the_rule_above_sees_each_kind_of_offence():
    sample = (
        "def f(pool, attached):\n"
        "    pool.engine.api.containers()\n"
        "    pool.engine._instance_filter()\n"
        "    return attached._sock\n"
    )
    assert sorted(docker_offences(sample)) == [
        "2: .api.containers",
        "3: engine._instance_filter",
        "4: ._sock",
    ]


def test_no_core_module_is_over_about_450_lines():
    long = {
        str(path.relative_to(ROOT)): n
        for path in core_files("lessons")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_ansible_modules_reach_the_core_through_the_platform_only():
    imported = {}
    for path in (COLLECTION / "plugins").rglob("*.py"):
        names = set(re.findall(r"^\s*from (containerpoker[\w.]*) import", path.read_text(), re.M))
        names |= set(re.findall(r"^\s*import (containerpoker[\w.]*)", path.read_text(), re.M))
        if names:
            imported[path.name] = names
    assert imported == {
        "platform.py": {"containerpoker.config", "containerpoker.errors", "containerpoker.platform"}
    }

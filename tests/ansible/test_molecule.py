"""Molecule, one scenario per role (molecule/<role>/): the full sequence, idempotence and the
testinfra checks included, on systemd instances built from infrastructure/images/platform-host.
`make molecule` runs these; `make test` runs them last (docs/development.md: Tests), all but the swarm
scenario: three hosts made one platform by site.yml take 15 to 40 minutes, so it has a target
of its own, `make molecule-swarm` (marker swarm_molecule), which CI does not run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_collection import ROOT

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.molecule]

SCENARIOS = sorted(
    p.parent.name
    for p in (ROOT / "molecule").glob("*/molecule.yml")
    if not p.parent.name.startswith("_")
)


def test_every_role_with_tasks_has_a_scenario():
    # The platform role holds only variables (the install layout): every other scenario uses it.
    roles = sorted(
        p.name
        for p in (ROOT / "collections/ansible_collections/containerpoker/lab/roles").iterdir()
        if (p / "tasks" / "main.yml").exists()
    )
    assert roles == SCENARIOS


@pytest.mark.parametrize(
    "scenario",
    [pytest.param(s, marks=pytest.mark.swarm_molecule) if s == "swarm" else s for s in SCENARIOS],
)
@pytest.mark.timeout(3700)  # the subprocess's own timeout below comes first
def test_molecule_scenario(scenario, platform_host_image):
    bin_dir = str(Path(sys.executable).parent)
    done = subprocess.run(
        [f"{bin_dir}/molecule", "test", "-s", scenario],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ANSIBLE_NOCOLOR": "1"},
        capture_output=True,
        text=True,
        timeout=3600 if scenario == "swarm" else 1800,
    )
    output = done.stdout + done.stderr
    # Molecule stops at the first failing action (idempotence included) with a non-zero exit.
    assert done.returncode == 0, output[-15000:]
    assert re.search(r"\b\d+ passed\b", output), "testinfra did not report: " + output[-3000:]

"""The fault suite's platform: one served platform per module (``served.ServedPlatform``),
labelled with this test session's label and on its own host ports (the session's port base
plus 400, past the four pools of the other suites)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..conftest import TEST_PORT_BASE, TEST_SELECTOR
from .served import ServedPlatform


@pytest.fixture(scope="module")
def served(docker_client) -> Iterator[ServedPlatform]:
    platform = ServedPlatform(labels=TEST_SELECTOR, ports=TEST_PORT_BASE + 400)
    try:
        platform.init()
        platform.start()
        yield platform
    finally:
        platform.cleanup()

"""A challenge in headless Chromium, on a portal served for real with learner engines on: the
learner types the task into the page's terminal (their own Docker engine), and the page's
checks turn from pending, with hints, to passed, as they change; the learner's progress and
the admin's class view show it; leaving the page's engine removes it."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator

import pytest

from containerpoker.config import load_settings
from containerpoker.platform import Platform

from ..conftest import TEST_SELECTOR, make_env, remove_instance
from ..integration.helpers import wait_gone
from ..lessons.test_challenges import learner_image  # noqa: F401 - a fixture
from .conftest import ServedPortal, free_port, running_portal
from .test_browser import PASSWORD, login, new_page, register

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.challenges]


@pytest.fixture(scope="module")
def classroom_portal(docker_client, tmp_path_factory, learner_image) -> Iterator[ServedPortal]:  # noqa: F811
    instance = "t" + secrets.token_hex(4)
    tmp = tmp_path_factory.mktemp("classroom-portal")
    port = free_port()
    env = os.environ | make_env(
        tmp,
        instance,
        CONTAINERPOKER_PORTAL_HOST="localhost",
        CONTAINERPOKER_PORTAL_PORT=str(port),
        CONTAINERPOKER_RUNTIMES="nginx",
        CONTAINERPOKER_NGINX_WARM="0",
        CONTAINERPOKER_SANDBOX_ENABLED="1",
    )
    url = f"http://localhost:{port}"
    log = tmp / "portal.log"
    try:
        with running_portal(["--bind", f"127.0.0.1:{port}"], env, log, url):
            yield ServedPortal(url=url, env=env, settings=load_settings(env=env), log=log)
    finally:
        remove_instance(docker_client, instance)
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_challenge_in_the_page_checks_live(classroom_portal, browser, screenshots, docker_client):
    page = new_page(browser)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    register(page, classroom_portal, "learner")
    page.goto(classroom_portal.url + "/lessons/7/challenge")
    page.wait_for_selector("#terminal-state:has-text('Connected')", timeout=60_000)
    # Every check pending, each with its hint shown.
    page.wait_for_selector("#challenge-state:has-text('0 of 3 checks pass')")
    assert page.locator("#checks .check.pending").count() == 3
    assert page.locator("#checks .check.pending .check-hint:visible").count() == 3

    # The learner's own engine answers in the page's terminal.
    page.click("#terminal")
    page.keyboard.type("docker network create shop\n")
    # The first check turns green by itself; the others stay pending.
    page.wait_for_selector("#checks [data-check='0'].passed", timeout=30_000)
    assert page.locator("#checks [data-check='2'].pending").count() == 1
    page.screenshot(path=screenshots / "challenge-half.png", full_page=True)
    page.keyboard.type(
        "docker run -d --name web --network shop busybox sh -c "
        "'mkdir -p /www && echo hello > /www/index.html && httpd -f -p 80 -h /www'\n"
    )
    page.keyboard.type("docker run -d --name client --network shop busybox sleep 3600\n")
    page.wait_for_selector("#challenge-state:has-text('challenge passed')", timeout=60_000)
    assert page.locator("#checks .check.passed").count() == 3
    page.screenshot(path=screenshots / "challenge-passed.png", full_page=True)

    # The lessons page shows the learner's progress.
    page.goto(classroom_portal.url + "/lessons")
    assert "Challenge passed" in page.inner_text("[data-progress='7']")

    # The engine is the learner's own: a container of the instance, removed on "leave".
    mine = {"label": [TEST_SELECTOR, "containerpoker.sandbox=learner-engine"]}
    engines = [c.name for c in docker_client.containers.list(filters=mine)]
    assert len(engines) == 1
    page.goto(classroom_portal.url + "/lessons/7/challenge")
    page.wait_for_selector("#terminal-state:has-text('Connected')", timeout=60_000)
    page.click("#leave-engine")
    page.wait_for_selector("#terminal-state:has-text('removed')")
    wait_gone(docker_client, engines[0])
    assert errors == []
    page.context.close()


def test_class_view_in_the_page(classroom_portal, browser, screenshots):
    """After the test above: the teacher sees the learner's passed challenge."""
    with Platform(classroom_portal.settings) as platform:
        platform.accounts.create("teacher", "t@example.org", PASSWORD, admin=True)
    page = new_page(browser)
    login(page, classroom_portal, "teacher")
    page.goto(classroom_portal.url + "/admin/lessons")
    row = page.inner_text("#class-learners tr[data-learner='learner']")
    assert "7" in row
    assert "Networking" in page.inner_text("#class-lessons")
    page.screenshot(path=screenshots / "class-view.png", full_page=True)
    page.context.close()

"""End to end in headless Chromium: what a student and an admin do, with screenshots
of every page saved under test-artifacts/screenshots/."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError

from ..conftest import TEST_SELECTOR
from ..integration.helpers import wait_gone

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PASSWORD = "a long enough passphrase"
LAPTOP = {"width": 1366, "height": 900}
TABLET = {"width": 768, "height": 1024}


def new_page(browser, viewport=LAPTOP):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20_000)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.dialogs = dialogs
    return page


def register(page, portal, name):
    page.goto(portal.url + "/register")
    page.fill("input[name=username]", name)
    page.fill("input[name=email]", f"{name}@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard$"))


def login(page, portal, name):
    page.goto(portal.url + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard$"))


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_student_launches_uploads_sees_the_page_and_releases(
    served_portal, browser, screenshots, docker_client
):
    page = new_page(browser)
    page.goto(served_portal.url + "/login")
    page.screenshot(path=screenshots / "login.png", full_page=True)
    page.goto(served_portal.url + "/register")
    page.screenshot(path=screenshots / "register.png", full_page=True)
    # A bad password is explained on the form, nothing is created.
    page.fill("input[name=username]", "student")
    page.fill("input[name=email]", "student@example.org")
    page.fill("input[name=password]", "short")
    page.evaluate("document.querySelector('input[name=password]').removeAttribute('minlength')")
    page.click("button[type=submit]")
    page.wait_for_selector(".form-error:has-text('characters')")  # the answer takes a moment
    register(page, served_portal, "student")

    page.click("button.launch[data-runtime=nginx]")
    row = page.wait_for_selector("#my-containers tbody tr[data-name]")
    name = row.get_attribute("data-name")
    url = page.get_attribute("#my-containers a", "href")
    assert url.startswith("http://127.0.0.1:")
    page.screenshot(path=screenshots / "dashboard.png", full_page=True)

    page.select_option("#upload-target", name)
    page.set_input_files(
        "#upload-form input[type=file]",
        files=[
            {
                "name": "index.html",
                "mimeType": "text/html",
                "buffer": b"<h1 id=hello>Hello from the browser test</h1>",
            }
        ],
    )
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#flash.ok >> text=Uploaded 1 file")

    site = page.context.new_page()
    site.goto(url)
    assert site.inner_text("#hello") == "Hello from the browser test"
    site.close()

    page.goto(served_portal.url + "/containers")
    page.wait_for_selector(f"tr[data-name='{name}'] td.cpu:not(:text('…'))")
    page.click(f"button.show-logs[data-name='{name}']")
    page.wait_for_selector("#log-lines:has-text('GET /')")
    page.screenshot(path=screenshots / "containers.png", full_page=True)

    page.goto(served_portal.url + "/dashboard")
    page.click(f"button.release[data-name='{name}']")
    page.wait_for_selector("#flash.ok >> text=Released")
    wait_gone(docker_client, name)
    page.context.close()


def test_admin_promotes_a_user_and_resizes_a_pool(served_portal, browser, screenshots):
    env = served_portal.env | {"ADMIN_PASSWORD": PASSWORD}
    made = served_portal.cli(
        "user",
        "create",
        "chief",
        "--email",
        "chief@example.org",
        "--admin",
        "--password-env",
        "ADMIN_PASSWORD",
        env=env,
    )
    assert made.returncode == 0, made.stderr
    student = new_page(browser)
    register(student, served_portal, "pupil")
    student.context.close()

    page = new_page(browser)
    login(page, served_portal, "chief")
    page.goto(served_portal.url + "/admin")
    page.click("button[data-user-action=promote][data-user=pupil]")
    page.wait_for_selector("#flash.ok >> text=promote: done for pupil")
    assert page.inner_text("tr[data-user=pupil] td:nth-child(3)") == "admin"

    form = "form.pool-form[data-runtime=nginx]"
    page.fill(f"{form} input[name=count]", "4")
    page.click(f"{form} button[value=resize]")
    page.wait_for_selector("#flash.ok >> text=nginx: resize done")
    assert page.inner_text("tr[data-runtime=nginx] td.target") == "4"
    page.screenshot(path=screenshots / "admin.png", full_page=True)
    page.context.close()


def test_pages_fit_a_tablet_and_a_laptop(served_portal, browser, screenshots):
    for label, viewport in (("tablet", TABLET), ("laptop", LAPTOP)):
        page = new_page(browser, viewport)
        register(page, served_portal, f"fit{label}")
        for path in ("/dashboard", "/containers"):
            page.goto(served_portal.url + path)
            assert no_horizontal_scroll(page), (label, path)
            page.screenshot(path=screenshots / f"{path.strip('/')}-{label}.png", full_page=True)
        page.context.close()


def test_markup_in_log_lines_is_shown_as_text(served_portal, browser):
    page = new_page(browser)
    register(page, served_portal, "escaper")
    page.click("button.launch[data-runtime=nginx]")
    page.wait_for_selector("#my-containers tbody tr[data-name]")
    url = page.get_attribute("#my-containers a", "href")
    name = page.get_attribute("#my-containers tbody tr[data-name]", "data-name")
    probe = page.context.new_page()
    probe.goto(url + "%3Cimg%20src=x%20onerror=alert(1)%3E")  # logged by nginx, then 404
    probe.close()
    page.goto(served_portal.url + "/containers")
    page.click(f"button.show-logs[data-name='{name}']")
    page.wait_for_selector("#log-lines:has-text('onerror')")
    assert page.query_selector("#log-lines img") is None
    assert page.dialogs == []
    page.context.close()


def test_pages_served_by_a_users_container_never_see_the_portals_cookies(served_portal, browser):
    page = new_page(browser)
    register(page, served_portal, "cookiejar")
    assert {c["name"] for c in page.context.cookies()} >= {"access_token_cookie"}
    page.click("button.launch[data-runtime=python]")
    page.wait_for_selector("#my-containers tbody tr[data-name]")
    name = page.get_attribute("#my-containers tbody tr[data-name]", "data-name")
    url = page.get_attribute("#my-containers a", "href")
    # The user's own server: it shows every cookie header the browser sends it.
    app = (
        b"import http.server\n"
        b"class H(http.server.BaseHTTPRequestHandler):\n"
        b"    def do_GET(self):\n"
        b"        body = ('cookies=[' + str(self.headers.get('Cookie')) + ']').encode()\n"
        b"        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
        b"http.server.HTTPServer(('0.0.0.0', 8080), H).serve_forever()\n"
    )
    page.select_option("#upload-target", name)
    page.set_input_files(
        "#upload-form input[type=file]",
        files=[{"name": "app.py", "mimeType": "text/x-python", "buffer": app}],
    )
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#flash.ok >> text=Uploaded 1 file")
    site = page.context.new_page()
    for attempt in range(60):
        try:  # not the default page from the cache; resets while the app restarts
            site.goto(f"{url}?attempt={attempt}")
            if "cookies=[" in site.content():
                break
        except PlaywrightError:
            pass
        site.wait_for_timeout(500)
    text = site.inner_text("body")
    assert "cookies=[None]" in text, text
    assert "access_token_cookie" not in text and "csrf_access_token" not in text
    page.context.close()


def test_a_lesson_runs_from_the_page_with_its_steps_live(served_portal, browser, screenshots):
    page = new_page(browser)
    register(page, served_portal, "learner")
    page.goto(served_portal.url + "/lessons")
    form = "form.lesson-form[data-lesson='1']"
    page.fill(f"{form} input[name=message]", "Hello from the lessons page")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("[data-steps='1'] li:has-text('Clean up')")
    results = page.locator("[data-steps='1'] pre.result").all_inner_texts()
    assert "Hello from the lessons page" in results
    assert page.locator("[data-steps='1'] code").first.inner_text().startswith("$ docker")
    page.wait_for_selector("#flash.ok >> text=Lesson 1 finished")
    page.screenshot(path=screenshots / "lessons.png", full_page=True)
    page.context.close()


def test_the_lesson_terminal_in_the_page(served_portal, browser, screenshots, docker_client):
    page = new_page(browser)
    register(page, served_portal, "typist")
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served_portal.url + "/lessons/terminal")
    page.wait_for_selector("#terminal-state:has-text('Connected')")
    page.wait_for_selector(".xterm-rows:has-text('LAB-SHELL>')")
    page.click("#terminal")
    page.keyboard.type("echo answer=$((6*7))\n")
    page.wait_for_selector(".xterm-rows:has-text('answer=42')")
    page.screenshot(path=screenshots / "terminal.png", full_page=True)
    mine = {"label": ["containerpoker.lesson=2", TEST_SELECTOR]}
    shells = [c.name for c in docker_client.containers.list(filters=mine)]
    assert shells, "a lesson container runs while the terminal is open"
    page.context.close()  # closing the page ends the session: the container goes
    for name in shells:
        wait_gone(docker_client, name)
    assert errors == []


def test_the_dashboard_counts_down_and_says_when_a_container_expired(
    served_portal, browser, screenshots
):
    """The portal's own monitor releases a node container when its 20 s lifetime ends (the
    served portal's configuration); the owner, dashboard open, is told why."""
    page = new_page(browser)
    register(page, served_portal, "latecomer")
    page.click("button.launch[data-runtime='node']")
    row = page.wait_for_selector("#my-containers tr[data-name]", timeout=30_000)
    name = row.get_attribute("data-name")
    countdown = page.text_content(f"#my-containers tr[data-name='{name}'] .expires")
    assert countdown.startswith("in ") and "s" in countdown, countdown
    page.screenshot(path=str(screenshots / "dashboard-expires.png"), full_page=True)
    notice = page.wait_for_selector("#flash:has-text('expired')", timeout=60_000).text_content()
    assert name in notice and "its lifetime of 20 s ended" in notice and "released" in notice
    page.wait_for_selector(f"#my-containers tr[data-name='{name}']", state="detached")


#: Each header cell whose text breaks inside a word ("Upti / me"): the words of its text nodes
#: whose boxes lie on more than one line.
HEADERS_BROKEN_INSIDE_A_WORD = """(selector) => {
  const broken = [];
  for (const th of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const word of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(th.textContent.trim());
      }
    }
  }
  return broken;
}"""

#: Rows of running containers whose CPU or memory cell shows no figure yet.
ROWS_WITHOUT_FIGURES = """() => [...document.querySelectorAll("#container-table tr[data-status=running]")]
  .filter((row) => !/^\\d+(\\.\\d+)? %$/.test(row.querySelector("td.cpu").textContent.trim())
               || !/ MB$/.test(row.querySelector("td.mem").textContent.trim()))
  .map((row) => row.dataset.name)"""


def test_the_containers_page_reads_well_on_a_laptop_and_a_tablet(
    served_portal, browser, screenshots
):
    """Every header whole, every running container's CPU and memory shown, at 1280 and 800 px
    (the admin's view: every pool container, the widest table)."""
    env = served_portal.env | {"ADMIN_PASSWORD": PASSWORD}
    made = served_portal.cli(
        "user", "create", "wide", "--email", "wide@example.org", "--admin",
        "--password-env", "ADMIN_PASSWORD", env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    launched = False
    for width, height in ((1280, 800), (800, 1000)):
        page = new_page(browser, {"width": width, "height": height})
        login(page, served_portal, "wide")
        if not launched:  # rows of the widest kind: an owner, every action button
            csrf = next(
                c["value"] for c in page.context.cookies() if c["name"] == "csrf_access_token"
            )
            for runtime in ("nginx", "python"):
                answer = page.request.post(
                    served_portal.url + "/api/containers/spawn",
                    data={"runtime": runtime},
                    headers={"X-CSRF-TOKEN": csrf},
                )
                assert answer.status in (200, 201), answer.text()
            launched = True
        page.goto(served_portal.url + "/containers")
        running = page.locator("#container-table tr[data-status=running]")
        assert running.count() >= 3, page.content()
        waiting = page.evaluate(ROWS_WITHOUT_FIGURES)
        deadline = time.monotonic() + 60  # the page asks every 5 s; Docker may be slow
        while waiting and time.monotonic() < deadline:
            page.wait_for_timeout(500)
            waiting = page.evaluate(ROWS_WITHOUT_FIGURES)
        assert waiting == [], f"no CPU or memory figure for {waiting} at {width} px"
        page.screenshot(path=screenshots / f"containers-{width}.png", full_page=True)
        broken = page.evaluate(HEADERS_BROKEN_INSIDE_A_WORD, "#container-table th")
        assert broken == [], (width, broken)
        assert no_horizontal_scroll(page), width
        # The table fits its card: no column is hidden behind a sideways scroll.
        wrap = ".table-wrap"
        assert (
            page.evaluate(f"document.querySelector('{wrap}').scrollWidth")
            <= page.evaluate(f"document.querySelector('{wrap}').clientWidth") + 1
        ), width
        page.context.close()


def test_the_api_documentation_renders_in_swagger_ui(served_portal, browser, screenshots):
    page = new_page(browser)
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(served_portal.url + "/api/docs")
    page.locator(".opblock-summary-path", has_text="/api/containers/spawn").first.wait_for()
    document = page.evaluate("fetch('/api/openapi.json').then((r) => r.json())")
    operations = sum(len(methods) for methods in document["paths"].values())
    assert page.locator(".opblock").count() == operations
    page.screenshot(path=screenshots / "api-docs.png", full_page=True)
    assert problems == []  # nothing refused by the Content-Security-Policy, no script error
    page.context.close()


def test_the_login_page_says_how_long_a_guesser_must_wait(served_portal, browser, screenshots):
    page = new_page(browser)
    # Names no other test of the session registers (the portal is shared).
    for name in ("guessed", "neighbour"):
        register(page, served_portal, name)
        page.context.clear_cookies()
    page.goto(served_portal.url + "/login")
    statuses = []
    # Five free failures; then the delays (1 s, 2 s, 4 s ...) soon outgrow a try, however
    # slow a hash is on a loaded machine.
    while 429 not in statuses and len(statuses) < 12:
        page.fill("input[name=username]", "guessed")
        page.fill("input[name=password]", f"not the password {len(statuses)}")
        with page.expect_response(re.compile(r".*/api/auth/login$")) as answer:
            page.click("button[type=submit]")
        statuses.append(answer.value.status)
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    error = page.locator("#login-form .form-error")
    page.wait_for_function(
        "el => !el.hidden && /wait \\d+ s/.test(el.textContent)", arg=error.element_handle()
    )
    assert "admin can set a new one" in error.text_content()
    page.screenshot(path=screenshots / "login-throttled.png", full_page=True)
    # A classmate behind the same address is not slowed down.
    login(page, served_portal, "neighbour")

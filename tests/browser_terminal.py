"""Lesson 2's terminal on a deployed portal, in Chromium: log in, open the terminal page, type
a command, read its answer. The converge test (tests/ansible/test_roles.py) and `make test-vm`
(scripts/test-vm.sh) both check a provisioned host this way: the page works only when the
browser libraries (xterm.js from npm, carried in the wheel) reached the host.

As a script:  CONTAINERPOKER_CHECK_USER=u CONTAINERPOKER_CHECK_PASSWORD=p \\
              .venv/bin/python tests/browser_terminal.py http://192.168.56.10:5000 [screenshot.png]
"""

from __future__ import annotations

import os
import re
import shutil
import sys

COMMAND = "echo answer=$((6*7))"
ANSWER = "answer=42"


def type_in_lesson_terminal(
    base_url: str, username: str, password: str, screenshot: str | None = None
) -> str:
    """The terminal's text after typing COMMAND (it contains ANSWER); raises when a step fails."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        raise RuntimeError("Chromium is missing: run `make test-deps` (Debian package chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(90_000)  # a VM under software emulation is slow
            page.goto(base_url + "/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/dashboard$"))
            page.goto(base_url + "/lessons/terminal")
            page.wait_for_selector("#terminal-state:has-text('Connected')")
            page.wait_for_selector(".xterm-rows:has-text('LAB-SHELL>')")
            page.click("#terminal")
            page.keyboard.type(COMMAND + "\n")
            page.wait_for_selector(f".xterm-rows:has-text('{ANSWER}')")
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)
            return page.inner_text(".xterm-rows")
        finally:
            browser.close()


if __name__ == "__main__":
    type_in_lesson_terminal(
        sys.argv[1],
        os.environ["CONTAINERPOKER_CHECK_USER"],
        os.environ["CONTAINERPOKER_CHECK_PASSWORD"],
        sys.argv[2] if len(sys.argv) > 2 else None,
    )
    print(f"typed `{COMMAND}` into lesson 2's terminal; it answered {ANSWER}")

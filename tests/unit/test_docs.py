"""The manual tells the truth about the code it describes.

README.md stays a front page; every relative link and anchor in it and in docs/ leads somewhere;
the MkDocs site builds with --strict (offline); and what the pages name is real: every `make X`
a target of the Makefile, every CONTAINERPOKER_* setting one the code reads, every setting of
config.py documented in the operator guide, every API route and metric the portal serves.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from containerpoker.config import RuntimeConfig, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 210

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_SPAN = re.compile(r"`([^`]+)`")
MAKE = re.compile(r"(?:^|[\s;(&|])make\s+([a-z][a-z0-9_-]*)")
SETTING = re.compile(r"CONTAINERPOKER_[A-Z0-9_<>]*")
SHORT = re.compile(r"`_([A-Z][A-Z0-9_]*)`")
#: Where a setting the docs name may be read, besides config.py (the VM's, the tests' ...).
CODE_PLACES = (
    "app",
    "scripts",
    "tests",
    "bench",
    "playbooks",
    "collections",
    "inventories",
    "molecule",
    "infrastructure",
    ".ci",
    "Vagrantfile",
    "Makefile",
    "compose.yaml",
    "lessons.yml",
)


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def prose(text: str) -> str:
    """The page without its fenced code blocks."""
    return FENCE.sub("", text)


def fenced(text: str) -> list[str]:
    return [block.group(0) for block in FENCE.finditer(text)]


def anchors(page: Path) -> set[str]:
    """The heading anchors of a page, as MkDocs (Python-Markdown's toc) makes them."""
    found = set()
    for line in prose(page.read_text()).splitlines():
        heading = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            text = re.sub(r"[`*_]", "", heading.group(1))
            found.add(slugify(text, "-"))
    return found


def code_text(page: Path) -> list[str]:
    """What the page shows as code: inline spans and fenced blocks."""
    text = page.read_text()
    return CODE_SPAN.findall(prose(text)) + fenced(text)


def test_the_readme_is_a_front_page():
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines: it is the front page (at most {README_MAX_LINES}); "
        "move the detail into docs/."
    )
    assert "docs/img/dashboard.png" in README.read_text(), "the README's one picture"
    assert (DOCS / "img/dashboard.png").is_file()


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_leads_to_a_file_and_its_anchor(page):
    broken = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: {rel(file)} has no heading with that anchor")
    assert not broken, f"{rel(page)}: " + "; ".join(broken)


def test_the_manual_builds_offline_with_strict(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for page in DOCS.glob("*.md"):
        assert (tmp_path / page.with_suffix(".html").name).is_file(), page.name
    # Nothing loaded from elsewhere when the site is read: no script or style from a CDN.
    built = "".join(p.read_text() for p in tmp_path.glob("*.html"))
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", built)


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):", text, re.M))


def test_every_make_target_named_exists():
    targets = makefile_targets()
    unknown = {
        f"make {name} ({rel(page)})"
        for page in PAGES
        for code in code_text(page)
        for name in MAKE.findall(code)
        if name not in targets
    }
    assert not unknown, f"not targets of the Makefile: {sorted(unknown)}"


def test_every_documented_target_is_phony_and_listed_by_make_help():
    text = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY:(.*)$", text, re.M).group(1).split())
    helped = set(re.findall(r"^([a-zA-Z][a-zA-Z0-9_-]*):.*## ", text, re.M))
    assert helped - phony == set(), "targets missing from .PHONY"
    assert "docs" in helped


def platform_keys() -> set[str]:
    return {f.name.upper() for f in fields(Settings) if f.name != "runtimes"} | {
        "ENV_FILE",
        "CONFIG",
    }


def runtime_keys() -> set[str]:
    return {f.metadata.get("key", f.name).upper() for f in fields(RuntimeConfig) if f.metadata}


def repository_text() -> str:
    chunks = []
    for place in CODE_PLACES:
        path = ROOT / place
        files = [path] if path.is_file() else path.rglob("*")
        for file in files:
            if file.is_file() and file.suffix not in {".png", ".tar", ".gz", ".pyc"}:
                if file.resolve() == Path(__file__).resolve():
                    continue
                try:
                    chunks.append(file.read_text())
                except (UnicodeDecodeError, OSError):
                    continue
    return "\n".join(chunks)


def is_real(name: str, code: str) -> bool:
    key = name.removeprefix("CONTAINERPOKER_")
    if key in platform_keys():
        return True
    runtime = re.fullmatch(r"(<RUNTIME>|NGINX|APACHE|PYTHON|NODE)_([A-Z_]+)", key)
    if runtime and runtime.group(2) in runtime_keys():
        return True
    return re.search(rf"\b{re.escape(name)}\b", code) is not None


def named_settings() -> list[tuple[str, str, bool]]:
    """(name, page, on a runtime's line) for every CONTAINERPOKER_* name and every `_SHORT`
    form ("`CONTAINERPOKER_PORTAL_HOST` / `_PORTAL_PORT`") in README.md and docs/."""
    named = []
    for page in PAGES:
        for line in page.read_text().splitlines():
            full = [n for n in SETTING.findall(line) if not n.endswith("_")]
            named += [(n, rel(page), False) for n in full]
            if "CONTAINERPOKER_" in line:
                on_runtime = "CONTAINERPOKER_<RUNTIME>_" in line
                named += [(f"_{s}", rel(page), on_runtime) for s in SHORT.findall(line)]
    return named


def test_every_setting_named_is_one_the_code_reads():
    code = repository_text()
    unknown = set()
    for name, page, on_runtime in named_settings():
        if name.startswith("_"):
            key = name[1:]
            ok = key in (runtime_keys() if on_runtime else platform_keys())
        else:
            ok = is_real(name, code)
        if not ok:
            unknown.add(f"{name} ({page})")
    assert not unknown, f"settings the code does not have: {sorted(unknown)}"


def test_every_setting_of_config_py_is_in_the_operator_guide():
    platform, runtime = set(), set()
    for name, page, on_runtime in named_settings():
        if page != "docs/operator.md":
            continue
        key = name[1:] if name.startswith("_") else name.removeprefix("CONTAINERPOKER_")
        if on_runtime or key.startswith("<RUNTIME>_"):
            runtime.add(key.removeprefix("<RUNTIME>_"))
        else:
            platform.add(key)
    assert platform_keys() - platform == set(), "settings missing from docs/operator.md"
    assert runtime_keys() - runtime == set(), "runtime settings missing from docs/operator.md"


def served_routes() -> set[str]:
    """Every /api and /metrics route the portal's blueprints declare, with {} for a variable."""
    routes = set()
    for module in (ROOT / "app/containerpoker/portal").glob("*.py"):
        text = module.read_text()
        prefix = re.search(r"Blueprint\([^)]*url_prefix=\"([^\"]+)\"", text)
        for path in re.findall(r"@bp\.(?:get|post|put|delete|route)\(\s*\"([^\"]+)\"", text):
            full = (prefix.group(1) if prefix else "") + path
            if full.startswith(("/api/", "/metrics")):
                routes.add(re.sub(r"<[^>]+>", "{}", full))
    return routes


def test_every_route_the_portal_serves_is_in_the_api_page():
    text = (DOCS / "api.md").read_text()
    documented = {
        re.sub(r"\{[^}]+\}", "{}", p) for p in re.findall(r"/(?:api|metrics)[\w/{}.-]*", text)
    }
    routes = served_routes()
    assert len(routes) > 30, "the route scan found too little: has the portal's layout changed?"
    assert routes - documented == set(), "routes missing from docs/api.md"
    assert documented - routes == set(), "docs/api.md names routes the portal does not serve"


def test_every_metric_in_the_api_page_is_exported():
    source = (ROOT / "app/containerpoker/portal/metrics_registry.py").read_text()
    names = set(re.findall(r"containerpoker_[a-z_]+", (DOCS / "api.md").read_text()))
    assert names
    missing = {n for n in names if f'"{n.removesuffix("_total")}"' not in source}
    assert not missing, f"docs/api.md names metrics /metrics does not export: {sorted(missing)}"

"""Wheel build hook: the browser libraries from npm go into the wheel.

The portal serves xterm.js (the lesson terminals), Swagger UI (``/api/docs``) and CodeMirror
(lesson editing) from ``containerpoker/portal/static/vendor/`` when it is installed from a
wheel (the roles install one on every platform host), and from the checkout's
``node_modules/`` otherwise (portal/vendor.py, whose ``FILES`` this list must cover:
tests/unit/test_licence.py checks it). The files come from npm
(``make assets``: scripts/assets.sh with package-lock.json) at build time and are never
committed. An editable install (``uv sync``) needs none of them: it serves node_modules/.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# node_modules path -> name in the package's static/vendor/ folder
VENDOR = {
    "@xterm/xterm/lib/xterm.js": "xterm.js",
    "@xterm/xterm/css/xterm.css": "xterm.css",
    "@xterm/xterm/LICENSE": "xterm.LICENSE",
    "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "swagger-ui-dist/swagger-ui.css": "swagger-ui.css",
    "swagger-ui-dist/LICENSE": "swagger-ui.LICENSE",
    "codemirror/lib/codemirror.js": "codemirror.js",
    "codemirror/lib/codemirror.css": "codemirror.css",
    "codemirror/mode/python/python.js": "python.js",
    "codemirror/LICENSE": "codemirror.LICENSE",
}


class VendorAssetsHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version != "standard":  # editable: the portal reads node_modules/ in the checkout
            return
        modules = Path(self.root) / "node_modules"
        missing = [name for name in VENDOR if not (modules / name).is_file()]
        if missing:
            raise RuntimeError(
                f"The browser libraries are not installed ({modules}/{missing[0]} is missing), "
                "and the wheel must carry them: run `make assets` (npm ci), then build again."
            )
        for source, name in VENDOR.items():
            build_data["force_include"][str(modules / source)] = (
                f"containerpoker/portal/static/vendor/{name}"
            )

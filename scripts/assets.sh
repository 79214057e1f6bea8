#!/usr/bin/env bash
# The browser libraries the portal serves (xterm.js for the lesson terminals, Swagger UI for
# /api/docs, CodeMirror 5 for editing a lesson in development mode), installed from npm into
# node_modules/ with the committed package-lock.json.
# Nothing from npm is ever copied into the repository.
set -euo pipefail
say() { printf '[assets] %s\n' "$*"; }
cd "$(dirname "$0")/.."

if [ -f node_modules/@xterm/xterm/lib/xterm.js ] && [ -f node_modules/swagger-ui-dist/swagger-ui-bundle.js ] \
   && [ -f node_modules/codemirror/lib/codemirror.js ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    say "Browser libraries are installed."
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing npm (Debian package) ..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq npm >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
    else
        printf '[assets] ERROR: npm is missing. Install it (Debian/Ubuntu: sudo apt-get install npm), then run make assets again.\n' >&2
        exit 1
    fi
fi
say "Installing browser libraries from npm (package-lock.json) ..."
# --ignore-scripts: no package needs to run code to install (swagger-ui-dist pulls in a
# telemetry package whose install script would phone home).
npm ci --no-audit --no-fund --silent --ignore-scripts
version() { node -p "require('./node_modules/$1/package.json').version" 2>/dev/null; }
say "Installed xterm.js $(version @xterm/xterm), swagger-ui-dist $(version swagger-ui-dist), CodeMirror $(version codemirror)."

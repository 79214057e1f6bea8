#!/usr/bin/env bash
# What `make test` needs beyond the engine and the Python environment:
# - PostgreSQL's server binaries, so the store is tested on PostgreSQL as well as
#   SQLite (the tests start a throwaway server of their own; nothing is configured);
# - Chromium, for the end-to-end browser tests (Playwright drives Debian's
#   chromium: Playwright's own browser download needs a network we may not have);
# - Debian's docker-compose (1.29), for the test of the portal's compose path
#   (compose.yaml).
set -euo pipefail
say() { printf '[test-deps] %s\n' "$*"; }
fail() { printf '[test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

missing=()
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
    say "PostgreSQL server binaries are present."
else
    missing+=(postgresql)
fi
if command -v chromium >/dev/null 2>&1; then
    say "Chromium is present ($(chromium --version 2>/dev/null | head -n1))."
else
    missing+=(chromium)
fi
if command -v docker-compose >/dev/null 2>&1; then
    say "docker-compose is present ($(docker-compose version --short 2>/dev/null))."
else
    missing+=(docker-compose)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Installing ${missing[*]} (Debian packages) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
        || fail "could not install ${missing[*]} with apt-get; install them by hand, then run make test again."
    exit 0
fi
fail "missing: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}), then run make test again."

#!/usr/bin/env bash
# What `make test` needs beyond the engine and the Python environment:
# PostgreSQL's server binaries, so the store is tested on PostgreSQL as well as
# SQLite (the tests start a throwaway server of their own; nothing is configured).
set -euo pipefail
say() { printf '[test-deps] %s\n' "$*"; }

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null 2>&1; then
    say "PostgreSQL server binaries are present."
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "Installing PostgreSQL's server binaries (Debian package postgresql) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq postgresql >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
    # The tests run their own server; the distribution's default cluster is not needed.
    exit 0
fi
printf '[test-deps] ERROR: PostgreSQL server binaries (initdb) are missing. Install them (Debian/Ubuntu: sudo apt-get install postgresql), then run make test again.\n' >&2
exit 1

#!/usr/bin/env bash
# Run uv, installing it first when it is missing (into .tools/, a private venv).
# usage: scripts/uv.sh ARGS...   e.g. scripts/uv.sh sync --frozen
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools"

find_uv() {
    if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
    for candidate in "$tools/bin/uv" "$HOME/.local/bin/uv" "$HOME/.cargo/bin/uv"; do
        [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    return 1
}

if ! uv=$(find_uv); then
    echo "[uv] uv is not installed: installing it from PyPI into $tools ..." >&2
    py=$(command -v python3 || true)
    [ -n "$py" ] || { echo "[uv] ERROR: python3 is missing. Install it (apt-get install python3) and retry." >&2; exit 1; }
    if ! "$py" -m venv "$tools" >/dev/null 2>&1; then
        rm -rf "$tools"
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "[uv] python3 cannot make a virtual environment: installing python3-venv ..." >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null 2>&1 \
                || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }
            "$py" -m venv "$tools"
        else
            echo "[uv] ERROR: python3 cannot make a virtual environment. Run 'sudo apt-get install python3-venv' (or install uv: 'pipx install uv') and retry." >&2
            exit 1
        fi
    fi
    "$tools/bin/python" -m pip install -q uv
    uv="$tools/bin/uv"
fi
exec "$uv" "$@"

#!/usr/bin/env bash
# Run `ansible-test sanity` and `ansible-test units` on the containerpoker.lab collection,
# offline: without ci-files.testing.ansible.com and without PyPI once prepared.
#
# usage: scripts/ansible-test.sh [all|sanity|units|prepare] [ansible-test arguments]
#   e.g.  scripts/ansible-test.sh                      everything (what CI runs)
#         scripts/ansible-test.sh sanity --test pylint one sanity test
#         scripts/ansible-test.sh units -v             the unit tests, verbose
# The arguments go to each ansible-test command the action runs.
#
# Why a script: ansible-test builds an empty virtual environment per sanity test (and one for
# `units --venv`), bootstraps pip in it with get-pip downloaded from ci-files.testing.ansible.com
# (unreachable here), then pip-installs its pinned requirements with an environment stripped down
# to PATH/HOME/LC_ALL, so the machine's PIP_* settings and certificate bundle never reach that
# pip. scripts/ansible_test_offline.py explains the mechanism; this script
#   1. fills a wheelhouse, ~/.ansible/test/cache/containerpoker-wheels/py<X.Y>/, with the wheels of
#      every requirement file ansible-test will install (and pip itself), from PyPI with pip run
#      by uv (the machine's pip configuration and certificates apply). Once: a stamp records the
#      requirement files it was filled for, so later runs need no network;
#   2. writes ~/.ansible/test/cache/get_pip_<pip version>.py, the cache file ansible-test runs
#      instead of downloading get-pip: our own script that installs pip from the wheelhouse and
#      gives the new environment a pip.conf (no-index, find-links = the wheelhouse);
#   3. runs the tests from the collection directory.
#
# Sanity tests: ansible-test's whole default set (24 tests in ansible-core 2.19), on the .venv's
# Python version only (--python: the modules run on Debian bookworm's Python 3.11, and a CI
# machine may have no other Python; without it compile/import would also try every other
# Python found on PATH). Nothing is skipped by this script; ansible-test itself reports these as
# skipped because the collection has nothing for them (they run once it has):
#   - changelog: no changelogs/config.yaml nor changelogs/fragments/ (antsibull-changelog layout);
#   - empty-init: no __init__.py files;
#   - pslint: no PowerShell files (it would also need pwsh, which Debian does not package);
#   - shellcheck: no shell scripts (it needs the shellcheck binary, Debian package `shellcheck`;
#     ansible-test skips it with a warning when that is missing).
# Units: `ansible-test units --venv`: a virtual environment with ansible's and pytest's
# requirements (pytest-xdist, pytest-mock, mock), built from the wheelhouse, since the project's
# .venv does not carry them.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv="$here/.venv"
collection="$here/collections/ansible_collections/containerpoker/lab"
helper="$here/scripts/ansible_test_offline.py"

say() { echo "[ansible-test] $*" >&2; }
die() { echo "[ansible-test] ERROR: $*" >&2; exit 1; }

what="${1:-all}"
case "$what" in
    all | sanity | units | prepare) if [ $# -gt 0 ]; then shift; fi ;;
    -*) what=all ;;
    *) die "unknown action '$what': use all, sanity, units or prepare (then ansible-test arguments)." ;;
esac

[ -x "$venv/bin/ansible-test" ] || die "$venv/bin/ansible-test is missing: run 'make sync' (the dev group's 'ansible' package provides it) and retry."
[ -d "$collection" ] || die "the collection is not at $collection."

started=$SECONDS

# --- 1. What ansible-test will install, asked of ansible-test itself ----------------------------
plan=$("$venv/bin/python" "$helper" plan --collection "$collection") \
    || die "could not read ansible-test's requirements (scripts/ansible_test_offline.py plan failed above)."
eval "$plan"  # PY_VERSION PIP_VERSION GET_PIP WHEELHOUSE STAMP REQUIREMENT_SETS
core=$("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')
say "ansible-core $core, Python $PY_VERSION, ansible-test bootstraps pip $PIP_VERSION"
# ansible-test reads only tests/sanity/ignore-<its own X.Y>.txt: after an ansible upgrade in
# uv.lock the justified entries would silently stop applying.
ignore_file="tests/sanity/ignore-${core%.*}.txt"
if [ ! -f "$collection/$ignore_file" ] && compgen -G "$collection/tests/sanity/ignore-*.txt" >/dev/null; then
    die "ansible-core is now $core but $ignore_file does not exist: copy the newest tests/sanity/ignore-*.txt to it (and its README entries), run this script, and drop the entries ansible-test reports as unnecessary."
fi

# --- 2. The wheelhouse, from PyPI, once per set of requirement files ----------------------------
fill_wheelhouse() {
    local line name args
    tmp=$(mktemp -d "$(dirname "$WHEELHOUSE")/.fill.XXXXXX")
    # The machine's pip configuration applies here (index, find-links, PIP_CERT). A network that
    # re-signs PyPI's certificate needs the system bundle, which pip would not use by default.
    if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
        export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
    fi
    local pip=("$here/scripts/uv.sh" tool run --quiet --python "$venv/bin/python" --from "pip==$PIP_VERSION" pip)
    say "  pip $PIP_VERSION itself"
    "${pip[@]}" download -qq --disable-pip-version-check --no-deps --dest "$tmp" "pip==$PIP_VERSION" \
        || die "could not download pip $PIP_VERSION from PyPI (see pip's message above). The first run needs PyPI; check the network or the pip configuration, then retry."
    while IFS= read -r line; do
        eval "args=($line)"
        name=${args[0]}
        say "  $name"
        # pip wheel: wheels as published, or built from an sdist where there is no wheel.
        "${pip[@]}" wheel -qq --disable-pip-version-check --wheel-dir "$tmp" "${args[@]:1}" \
            || die "could not fetch the wheels for $name (see pip's message above). The first run needs PyPI; check the network or the pip configuration, then retry."
    done <<<"$REQUIREMENT_SETS"
    mv -f "$tmp"/*.whl "$WHEELHOUSE"/
    touch "$WHEELHOUSE/.complete-$STAMP"
}
tmp=""
trap 'rm -rf "$tmp"' EXIT  # a half-filled download never reaches the wheelhouse

mkdir -p "$WHEELHOUSE"
if [ -f "$WHEELHOUSE/.complete-$STAMP" ]; then
    say "wheelhouse ready: $WHEELHOUSE (no network needed)"
else
    say "filling the wheelhouse $WHEELHOUSE from PyPI (once for ansible-core $core) ..."
    t0=$SECONDS
    fill_wheelhouse
    say "wheelhouse filled in $((SECONDS - t0)) s: $(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels"
fi

# --- 3. The get-pip stand-in ansible-test looks for ---------------------------------------------
result=$("$venv/bin/python" "$helper" get-pip) || die "could not write $GET_PIP."
say "pip bootstrap: $GET_PIP ($result)"

[ "$what" = prepare ] && { say "prepared in $((SECONDS - started)) s"; exit 0; }

# --- 4. The tests, from the collection directory (ansible-test requires it) ---------------------
cd "$collection"
export PATH="$venv/bin:$PATH"
status=0
if [ "$what" = all ] || [ "$what" = sanity ]; then
    say "ansible-test sanity --python $PY_VERSION $*"
    t0=$SECONDS
    ansible-test sanity --python "$PY_VERSION" "$@" || status=$?
    say "sanity: $([ $status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
fi
if [ "$what" = all ] || [ "$what" = units ]; then
    say "ansible-test units --venv --python $PY_VERSION $*"
    t0=$SECONDS
    unit_status=0
    ansible-test units --venv --python "$PY_VERSION" "$@" || unit_status=$?
    say "units: $([ $unit_status -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - t0)) s"
    [ $unit_status -eq 0 ] || status=$unit_status
fi
say "done in $((SECONDS - started)) s"
if [ $status -ne 0 ]; then
    die "ansible-test failed (its messages above; reports in $collection/tests/output/). Fix the finding, or, for a finding that cannot be fixed, add it to tests/sanity/ignore-<ansible-core X.Y>.txt with a '# reason'."
fi

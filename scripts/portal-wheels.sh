#!/usr/bin/env bash
# The portal image's Python packages (infrastructure/portal/Dockerfile), as wheels in
# infrastructure/portal/wheels/ (never committed): the runtime dependencies of uv.lock, exported
# with their hashes and downloaded here, on the host, where pip's configuration (index,
# certificates) applies. The image then installs them offline: a docker build needs no PyPI.
# For the image's Python (Debian bookworm's 3.11) on this machine's architecture; redone when
# uv.lock changes.
set -euo pipefail
say() { printf '[portal-wheels] %s\n' "$*"; }
die() { printf '[portal-wheels] ERROR: %s\n' "$*" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=infrastructure/portal/wheels
stamp="$out/uv.lock.sha256"
want=$(sha256sum uv.lock | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "Wheels are up to date with uv.lock ($out)."
    exit 0
fi
rm -rf "$out" && mkdir -p "$out"
scripts/uv.sh export --frozen --no-dev --no-emit-project --no-header --quiet \
    --output-file "$out/requirements.txt"
# A network that re-signs PyPI's certificate needs the system bundle, which pip would not use
# by default.
if [ -z "${PIP_CERT:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
scripts/uv.sh export --frozen --no-dev --no-emit-project --no-header --no-hashes --quiet \
    --output-file "$out/requirements-image.txt"
say "Fetching the portal's dependencies as wheels for Python 3.11 ..."
# pip wheel: the wheels as published (hashes checked against uv.lock), or built here from the
# source of a package that publishes none (dockerpty).
scripts/uv.sh tool run --quiet --python 3.11 --from pip pip wheel --disable-pip-version-check -q \
    --require-hashes -r "$out/requirements.txt" --wheel-dir "$out" \
    || die "could not fetch the wheels (pip's message is above). The first build needs PyPI; check the network or pip's configuration, then retry."
echo "$want" >"$stamp"
say "$(find "$out" -name '*.whl' | wc -l) wheels in $out."

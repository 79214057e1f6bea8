#!/usr/bin/env bash
# Provide the base image debian:bookworm-slim that every runtime image builds on.
#
# 1. Already present: nothing to do.
# 2. A registry answers: pull it.
# 3. Otherwise (air-gapped classrooms, this project's own machines): build it
#    from Debian packages with debootstrap and `docker import` it under the
#    same name, so the Dockerfiles do not care which path was taken.
set -euo pipefail

IMAGE=${CONTAINERPOKER_BASE_IMAGE:-debian:bookworm-slim}
SUITE=${CONTAINERPOKER_BASE_SUITE:-bookworm}
MIRROR=${CONTAINERPOKER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PULL_TIMEOUT=${CONTAINERPOKER_PULL_TIMEOUT:-20}

say() { printf '[base] %s\n' "$*"; }
die() { printf '[base] ERROR: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "Docker is not reachable. Run 'make engine' first."

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    say "$IMAGE is present."
    exit 0
fi

if [ "${CONTAINERPOKER_OFFLINE:-0}" != "1" ]; then
    say "Trying to pull $IMAGE (${PULL_TIMEOUT}s at most) ..."
    if timeout "$PULL_TIMEOUT" docker pull -q "$IMAGE" >/dev/null 2>&1; then
        say "Pulled $IMAGE."
        exit 0
    fi
    say "No registry answered: building $IMAGE from Debian packages with debootstrap."
fi

[ "$(id -u)" -eq 0 ] || die "Building the base with debootstrap needs root. Run 'sudo make images', or pull $IMAGE on a machine with registry access and 'docker load' it here."
if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and this is not a Debian/Ubuntu host. Install debootstrap, then run 'make images' again."
    say "Installing debootstrap ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null 2>&1 \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi

root=$(mktemp -d /var/tmp/containerpoker-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
keyopt=()
[ -f "$keyring" ] && keyopt=(--keyring="$keyring")

say "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes) ..."
debootstrap --variant=minbase "${keyopt[@]}" "$SUITE" "$root" "$MIRROR" >"$root.log" 2>&1 \
    || { tail -n 30 "$root.log" >&2; die "debootstrap failed (log above). Is $MIRROR reachable? Set CONTAINERPOKER_DEBIAN_MIRROR to a mirror you can reach."; }
rm -f "$root.log"

# Trim what a slim image does not carry, and point apt at the same mirror.
printf 'deb %s %s main\ndeb %s %s-updates main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log

say "Importing as $IMAGE ..."
tar -C "$root" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "containerpoker: debootstrap $SUITE minbase" - "$IMAGE" >/dev/null
say "Built $IMAGE from Debian packages."

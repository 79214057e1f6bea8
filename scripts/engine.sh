#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
#
# - Engine already up: do nothing.
# - Debian/Ubuntu as root: install the distribution's docker.io package when
#   dockerd is missing, then start it (systemd where PID 1 is systemd,
#   otherwise dockerd in the background with a log file) and wait for the API.
# - Anything else: say exactly what to do, exit non-zero.
set -euo pipefail

LOG=${CONTAINERPOKER_DOCKERD_LOG:-/var/log/containerpoker-dockerd.log}
WAIT=${CONTAINERPOKER_ENGINE_WAIT:-60}

say() { printf '[engine] %s\n' "$*"; }
die() { printf '[engine] ERROR: %s\n' "$*" >&2; exit 1; }

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_up; then
    say "Docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null))."
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer. Start that engine, or unset DOCKER_HOST to use a local one."
fi

. "${CONTAINERPOKER_OS_RELEASE:-/etc/os-release}" 2>/dev/null || true
case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "*|*" ubuntu "*) ;;
    *) die "No Docker engine answers and this is not Debian/Ubuntu (${PRETTY_NAME:-unknown OS}).
Install Docker Engine with your distribution's packages (Fedora/RHEL: 'dnf install moby-engine' or docker-ce; Arch: 'pacman -S docker'), start it ('systemctl enable --now docker'), then run 'make engine' again." ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    if command -v dockerd >/dev/null 2>&1; then
        die "dockerd is installed but not reachable. Start it with 'sudo systemctl start docker' (or 'sudo make engine'), and add yourself to the docker group: 'sudo usermod -aG docker $USER' then log in again."
    fi
    die "No Docker engine is installed. Run 'sudo make engine' (it installs Debian's docker.io package and starts it), or: sudo apt-get install -y docker.io && sudo systemctl enable --now docker"
fi

if ! command -v dockerd >/dev/null 2>&1; then
    say "Installing the Docker engine from the distribution's packages (docker.io) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq docker.io >/dev/null
fi

if [ "$(cat /proc/1/comm 2>/dev/null)" = "systemd" ]; then
    say "Starting docker with systemd ..."
    systemctl enable --now docker
else
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd is already running; waiting for its socket ..."
    else
        say "No systemd as PID 1: starting dockerd in the background (log: $LOG) ..."
        mkdir -p "$(dirname "$LOG")"
        nohup dockerd >>"$LOG" 2>&1 </dev/null &
        disown || true
    fi
fi

for _ in $(seq "$WAIT"); do
    if engine_up; then
        say "Docker engine is up ($(docker version --format '{{.Server.Version}}'))."
        exit 0
    fi
    sleep 1
done
tail -n 20 "$LOG" 2>/dev/null >&2 || true
die "The Docker engine did not answer within ${WAIT}s. See $LOG (or 'journalctl -u docker') for why."

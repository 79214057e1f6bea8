#!/usr/bin/env bash
# make test-vm: `vagrant up` for real, then the platform checked from this host, then destroyed.
#   1. the box (make box when CONTAINERPOKER_BOX is the offline one and it is missing)
#   2. vagrant up (libvirt; site.yml with inventories/vagrant), under a timeout: vagrant-libvirt's
#      wait for an address ignores boot_timeout and can hang
#   3. from the host: the portal answers; a user registers, claims an nginx container over the
#      API and fetches its URL; Chromium opens lesson 2's terminal page as that user and types a
#      command into it (tests/browser_terminal.py: xterm.js reached the VM in the wheel);
#      `vagrant ssh -c` runs lesson 1
#   4. vagrant destroy -f, whatever happened
# CP_NODES=3 make test-vm: the same with a manager and two workers (the Vagrantfile's cluster,
# `vagrant up --no-parallel`); the claimed container must be on a worker, and every node Ready.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=$ROOT/.venv/bin:$PATH  # the ansible-playbook of the project's environment
export CONTAINERPOKER_BOX=${CONTAINERPOKER_BOX:-containerpoker/bookworm}
PORTAL_IP=${CONTAINERPOKER_VM_IP:-192.168.56.10}
UP_TIMEOUT=${CONTAINERPOKER_VM_UP_TIMEOUT:-3600}
NODES=${CP_NODES:-1}  # 3: a manager and two workers, one platform on a Swarm (the Vagrantfile)
say() { printf '[test-vm] %s\n' "$*"; }
fail() { printf '[test-vm] FAILED: %s\n' "$*" >&2; exit 1; }

scripts/host.sh daemons
if ! vagrant box list 2>/dev/null | grep -q "^$CONTAINERPOKER_BOX "; then
    [[ $CONTAINERPOKER_BOX == containerpoker/bookworm ]] || fail "box $CONTAINERPOKER_BOX is not added"
    scripts/box.sh
fi
# Light enough for software emulation: the nginx pool only, one warm container, and only the
# images that needs (make test-vm's images-archive saved them all; this one is smaller).
export CONTAINERPOKER_VM_RUNTIMES=${CONTAINERPOKER_VM_RUNTIMES:-nginx}
export CONTAINERPOKER_VM_WARM=${CONTAINERPOKER_VM_WARM:-1}
if [[ -z ${CONTAINERPOKER_VM_IMAGES:-} ]]; then
    export CONTAINERPOKER_VM_IMAGES=var/images-vm.tar
    images=(debian:bookworm-slim)
    IFS=, read -ra wanted <<<"$CONTAINERPOKER_VM_RUNTIMES"
    for runtime in "${wanted[@]}"; do images+=("containerpoker/$runtime"); done
    docker save -o "$CONTAINERPOKER_VM_IMAGES" "${images[@]}"
fi
destroy() { say "vagrant destroy -f"; timeout 600 vagrant destroy -f >/dev/null 2>&1 || true; }
trap destroy EXIT
# Stopped by a signal (Ctrl-C, CI's timeout, kill): stop vagrant up too, then the EXIT trap
# destroys the VM. `timeout` puts vagrant in a process group of its own, so a signal to this
# script's group never reached it; and bash runs a trap only once its foreground command
# ends, so vagrant up runs in the background and this script waits for it (a wait a signal
# interrupts).
up_pid=""
stopped() {
    say "stopped by SIG$1: stopping vagrant up, then destroying the VM"
    if [[ -n $up_pid ]]; then kill -TERM "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
    exit 130
}
trap 'stopped INT' INT
trap 'stopped TERM' TERM

started=$(date +%s)
say "vagrant up (box $CONTAINERPOKER_BOX, timeout ${UP_TIMEOUT}s) ..."
# Vagrant redraws its upload progress thousands of times (carriage returns): one line is enough.
up_status=0
up_args=(--provider libvirt)
(( NODES == 1 )) || up_args+=(--no-parallel)  # the last machine provisions the whole cluster
timeout "$UP_TIMEOUT" vagrant up "${up_args[@]}" \
    > >(stdbuf -oL tr '\r' '\n' | grep --line-buffered -v '^.\{0,4\}Progress: [0-9]') 2>&1 &
up_pid=$!
wait "$up_pid" || up_status=$?
up_pid=""
(( up_status == 0 )) || fail "vagrant up did not finish (exit $up_status)"
say "vagrant up took $(( $(date +%s) - started )) s"

# The user the checks register, then log in as in Chromium.
CONTAINERPOKER_CHECK_USER=vm$(python3 -c 'import secrets; print(secrets.token_hex(3))')
CONTAINERPOKER_CHECK_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(16))')
export CONTAINERPOKER_CHECK_USER CONTAINERPOKER_CHECK_PASSWORD
python3 - "$PORTAL_IP" "$NODES" <<'EOF'
import json, os, sys, time, urllib.parse, urllib.request
base = f"http://{sys.argv[1]}:5000"
def call(path, body=None, token=None):
    request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()
status, page = call("/login")
assert status == 200 and b"Log in" in page, "the portal's login page"
name, password = os.environ["CONTAINERPOKER_CHECK_USER"], os.environ["CONTAINERPOKER_CHECK_PASSWORD"]
call("/api/auth/register", {"username": name, "email": f"{name}@example.org", "password": password})
token = json.loads(call("/api/auth/login", {"username": name, "password": password})[1])["access_token"]
started = time.perf_counter()
box = json.loads(call("/api/containers/spawn", {"runtime": "nginx"}, token)[1])["container"]
claimed = time.perf_counter() - started
with urllib.request.urlopen(box["url"], timeout=30) as response:
    assert response.status == 200 and b"nginx" in response.read()
print(f"[test-vm] portal answers; {name} claimed {box['name']} in {claimed * 1000:.0f} ms; {box['url']} serves")
head, last = sys.argv[1].rsplit(".", 1)
if int(sys.argv[2]) > 1:  # a cluster: the manager (its two addresses) runs no pool container
    assert urllib.parse.urlsplit(box["url"]).hostname not in (sys.argv[1], f"{head}.{int(last) + 1}"), box["url"]
EOF
if (( NODES > 1 )); then
    say "the Swarm's nodes, seen from the manager ..."
    vagrant ssh manager -c "sudo docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}}'" \
        | tee var/test-vm-nodes.log
    [[ $(grep -c ' Ready Active' var/test-vm-nodes.log) == "$NODES" ]] || fail "not all $NODES nodes are Ready"
fi
say "lesson 2's terminal in Chromium ..."
python3 tests/browser_terminal.py "http://$PORTAL_IP:5000" var/test-vm-terminal.png \
    || fail "lesson 2's terminal page did not run a typed command (see the error above)"
say "the recovery timer and the watcher inside the VM ..."
vagrant ssh -c "systemctl list-timers containerpoker-recovery.timer --no-pager; systemctl is-active containerpoker-watch containerpoker-portal" \
    | tee var/test-vm-units.log
grep -q "containerpoker-recovery.timer" var/test-vm-units.log || fail "the recovery timer is not scheduled"
[[ $(grep -c '^active' var/test-vm-units.log) == 2 ]] || fail "the watcher or the portal is not active"
say "lesson 1 inside the VM (vagrant ssh -c) ..."
vagrant ssh -c "sudo -u containerpoker CONTAINERPOKER_ENV_FILE=/etc/containerpoker/containerpoker.env /opt/containerpoker/venv/bin/containerpoker lesson run 1" \
    | tee var/test-vm-lesson1.log
grep -q "Clean up" var/test-vm-lesson1.log || fail "lesson 1 did not run to its end"
say "all checks passed in $(( $(date +%s) - started )) s"

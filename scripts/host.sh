#!/usr/bin/env bash
# The VM host's side: `make host-deps` installs Vagrant with libvirt and QEMU; `make host-check`
# verifies what `vagrant up` needs, each line saying what to do when it fails.
#
#   scripts/host.sh deps | check
set -uo pipefail

say() { printf '[host] %s\n' "$*"; }
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n        -> %s\n' "$1" "$2"; FAILED=1; }

DEBIAN_PACKAGES=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-clients qemu-system-x86
    qemu-utils dnsmasq-base ebtables debootstrap extlinux syslinux-common parted rsync)

deps() {
    . /etc/os-release 2>/dev/null || true
    case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "* | *" ubuntu "*)
        if [[ $(id -u) != 0 ]]; then
            say "Run as root: sudo make host-deps"
            exit 1
        fi
        say "Installing ${DEBIAN_PACKAGES[*]} ..."
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${DEBIAN_PACKAGES[@]}" \
            || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${DEBIAN_PACKAGES[@]}"; } \
            || exit 1
        start_daemons
        say "Done. Check with: make host-check"
        ;;
    *" arch "*)
        say "On Arch: sudo pacman -S vagrant libvirt qemu-full dnsmasq debootstrap syslinux parted && vagrant plugin install vagrant-libvirt && sudo systemctl enable --now libvirtd"
        exit 1 ;;
    *" rhel "* | *" fedora "* | *" centos "*)
        say "On RedHat-based hosts: sudo dnf install vagrant vagrant-libvirt libvirt qemu-kvm debootstrap syslinux-extlinux parted && sudo systemctl enable --now libvirtd"
        exit 1 ;;
    *)
        say "Unknown system (${PRETTY_NAME:-?}): install Vagrant, vagrant-libvirt, libvirt and QEMU, then run make host-check."
        exit 1 ;;
    esac
}

# Without systemd as PID 1 (containers, CI sandboxes) libvirt's daemons are started by hand.
start_daemons() {
    if [[ $(cat /proc/1/comm 2>/dev/null) == systemd ]]; then
        systemctl enable --now libvirtd >/dev/null 2>&1 || true
        return
    fi
    pgrep -x virtlogd >/dev/null || virtlogd -d
    pgrep -x libvirtd >/dev/null || libvirtd -d
    for _ in $(seq 50); do
        virsh -c qemu:///system version >/dev/null 2>&1 && break
        sleep 0.2
    done
    virsh -c qemu:///system net-info default >/dev/null 2>&1 \
        && { virsh -c qemu:///system net-start default >/dev/null 2>&1 || true; }
}

check() {
    FAILED=0
    say "What \`vagrant up\` needs on this host:"
    for tool in vagrant virsh qemu-system-x86_64 qemu-img; do
        if command -v "$tool" >/dev/null; then ok "$tool"; else bad "$tool missing" "make host-deps"; fi
    done
    # Vagrant's ansible provisioner runs the ansible-playbook in PATH: the project's (make sync),
    # whose ansible is recent enough for the collection (Debian's ansible-core 2.14 is not).
    if command -v ansible-playbook >/dev/null && ansible-playbook --version | head -n1 | grep -qE 'core 2\.(1[5-9]|[2-9][0-9])'; then
        ok "ansible-playbook $(command -v ansible-playbook)"
    else bad "no ansible-playbook >= 2.15 in PATH" "make sync, then: PATH=\$PWD/.venv/bin:\$PATH vagrant up"; fi
    if vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt; then ok "vagrant-libvirt plugin"
    else bad "vagrant-libvirt plugin missing" "make host-deps (Debian: package vagrant-libvirt)"; fi
    if [[ $(id -u) == 0 ]] || id -nG | grep -qw libvirt; then ok "may use libvirt (root or group libvirt)"
    else bad "$(id -un) is not in the libvirt group" "sudo usermod -aG libvirt $(id -un), then log in again"; fi
    if virsh -c qemu:///system version >/dev/null 2>&1; then ok "libvirtd answers"
    else bad "libvirtd does not answer" "systemctl start libvirtd (no systemd: virtlogd -d && libvirtd -d, or make host-deps)"; fi
    if grep -qE '^flags\s*:.*\b(vmx|svm)\b' /proc/cpuinfo && [[ -w /dev/kvm ]]; then
        ok "KVM: hardware virtualisation, VMs run at full speed (driver kvm)"
    else
        printf '  note  no usable KVM (no vmx/svm, or /dev/kvm not writable): VMs run under software\n'
        printf '        emulation (driver qemu, CPU qemu64), about 1.5 min to boot. Works, slowly.\n'
    fi
    if [[ $FAILED == 0 ]]; then say "All set: vagrant up (or make test-vm)."; else say "Fix the lines marked FAIL."; fi
    return "$FAILED"
}

case ${1:-} in
deps) deps ;;
check) check ;;
daemons) start_daemons ;;
*) echo "usage: $0 deps|check|daemons" >&2; exit 2 ;;
esac

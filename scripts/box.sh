#!/usr/bin/env bash
# make box: a Debian bookworm Vagrant box (libvirt, qcow2) built from Debian's packages only,
# for machines that cannot reach Vagrant Cloud. Adds it as containerpoker/bookworm.
#
#   scripts/box.sh [--force]      (root; debootstrap, qemu-img, extlinux, parted, vagrant)
#
# The box: a kernel booted by extlinux, systemd, openssh-server, python3, sudo, dbus,
# ifupdown (Vagrant writes the private network there); a `vagrant` user with Vagrant's
# well-known insecure key (from the installed vagrant package) and passwordless sudo; SSH host
# keys removed from the image and regenerated at first boot, so no two VMs share them.
set -euo pipefail

NAME=${CONTAINERPOKER_BOX_NAME:-containerpoker/bookworm}
MIRROR=${CONTAINERPOKER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SIZE_GB=${CONTAINERPOKER_BOX_SIZE_GB:-16}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${CONTAINERPOKER_BOX_WORK:-$ROOT/var/box}
BOX_FILE=$WORK/bookworm.box

say() { printf '[box] %s\n' "$*"; }
fail() { printf '[box] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ ${1:-} != --force ]] && vagrant box list 2>/dev/null | grep -q "^$NAME "; then
    say "$NAME is already added (vagrant box list); --force rebuilds it."
    exit 0
fi
[[ $(id -u) == 0 ]] || fail "run as root (debootstrap, loop devices, mount): sudo make box"
for tool in debootstrap qemu-img extlinux parted losetup mkfs.ext4 vagrant; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run \`make host-deps\` first."
done
KEY=$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub \
    /usr/share/vagrant/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub \
    2>/dev/null | head -n1 || true)
[[ -n $KEY ]] || fail "Vagrant's insecure public key (keys/vagrant.pub) was not found in the installed vagrant."
MBR=$(ls /usr/lib/syslinux/mbr/mbr.bin /usr/lib/EXTLINUX/mbr.bin 2>/dev/null | head -n1 || true)
[[ -n $MBR ]] || fail "syslinux's mbr.bin is missing: apt-get install syslinux-common"

mkdir -p "$WORK"
DISK=$WORK/box.img
MNT=$WORK/mnt
LOOP=""
cleanup() {
    set +e
    for sub in dev/pts dev proc sys; do mountpoint -q "$MNT/$sub" && umount "$MNT/$sub"; done
    mountpoint -q "$MNT" && umount "$MNT"
    [[ -n $LOOP ]] && losetup -d "$LOOP"
}
trap cleanup EXIT

say "Disk: $SIZE_GB GB (sparse), one ext4 partition."
rm -f "$DISK"
truncate -s "${SIZE_GB}G" "$DISK"
parted -s "$DISK" mklabel msdos mkpart primary ext4 1MiB 100% set 1 boot on
# The partition through a loop device at its offset: needs no partition scanning (udev),
# which containers and CI sandboxes often lack.
LOOP=$(losetup --find --show --offset $((1024 * 1024)) --sizelimit $(((SIZE_GB * 1024 - 1) * 1024 * 1024)) "$DISK")
PART=$LOOP
mkfs.ext4 -q -L root "$PART"
mkdir -p "$MNT"
mount "$PART" "$MNT"

say "debootstrap bookworm from $MIRROR (a few minutes) ..."
debootstrap --variant=minbase \
    --include=linux-image-amd64,systemd,systemd-sysv,dbus,openssh-server,python3,python3-apt,sudo,ifupdown,isc-dhcp-client,iproute2,ca-certificates,extlinux,locales,netbase,procps \
    bookworm "$MNT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -n 20 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log: $WORK/debootstrap.log)"; }

say "Configuring: boot loader, network, vagrant user, first-boot SSH keys."
UUID=$(blkid -s UUID -o value "$PART")
echo "UUID=$UUID / ext4 errors=remount-ro 0 1" >"$MNT/etc/fstab"
echo containerpoker-box >"$MNT/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 containerpoker-box\n' >"$MNT/etc/hosts"
cat >"$MNT/etc/network/interfaces" <<'EOF'
auto lo
iface lo inet loopback

# The first NIC is Vagrant's management network; Vagrant adds the private ones below.
auto eth0
iface eth0 inet dhcp
EOF
for sub in dev dev/pts proc sys; do mount --bind "/$sub" "$MNT/$sub"; done
chroot "$MNT" /bin/bash -euo pipefail <<'EOF'
useradd --create-home --shell /bin/bash vagrant
echo 'vagrant ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
echo 'UseDNS no' >/etc/ssh/sshd_config.d/vagrant.conf
rm -f /etc/ssh/ssh_host_*
cat >/etc/systemd/system/ssh-host-keys.service <<'UNIT'
[Unit]
Description=Generate this machine's own SSH host keys
Before=ssh.service
ConditionPathExistsGlob=!/etc/ssh/ssh_host_*_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable ssh-host-keys.service ssh.service >/dev/null 2>&1
: >/etc/machine-id
apt-get clean
EOF
install -m 0600 -o 1000 -g 1000 "$KEY" "$MNT/home/vagrant/.ssh/authorized_keys"
mkdir -p "$MNT/boot/extlinux"
KERNEL=$(cd "$MNT/boot" && ls vmlinuz-* | sort -V | tail -n1)
INITRD=$(cd "$MNT/boot" && ls initrd.img-* | sort -V | tail -n1)
cat >"$MNT/boot/extlinux/extlinux.conf" <<EOF
DEFAULT debian
TIMEOUT 1
LABEL debian
  LINUX /boot/$KERNEL
  INITRD /boot/$INITRD
  APPEND root=UUID=$UUID ro console=tty0 console=ttyS0,115200 net.ifnames=0 biosdevname=0
EOF
extlinux --install "$MNT/boot/extlinux" >/dev/null
cleanup
trap - EXIT
LOOP=""
dd if="$MBR" of="$DISK" bs=440 count=1 conv=notrunc status=none

say "Converting to qcow2 and packing the box ..."
qemu-img convert -O qcow2 "$DISK" "$WORK/box.qcow2"
rm -f "$DISK"
mv "$WORK/box.qcow2" "$WORK/box.img"
cat >"$WORK/metadata.json" <<EOF
{"provider": "libvirt", "format": "qcow2", "virtual_size": $SIZE_GB}
EOF
cat >"$WORK/Vagrantfile" <<'EOF'
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.disk_bus = "virtio"
  end
end
EOF
tar -C "$WORK" -czf "$BOX_FILE" metadata.json Vagrantfile box.img
rm -f "$WORK/box.img"
vagrant box add --force --name "$NAME" "$BOX_FILE"
say "Added $NAME ($(du -h "$BOX_FILE" | cut -f1)). Use it: CONTAINERPOKER_BOX=$NAME vagrant up"

#!/bin/sh
# image.sh SUITE OUT.cpio — build the base guest for one Debian suite.
#
# A minbase debootstrap with systemd, customized from the host (no
# chroot, no mounts, no loop devices) and packed as an uncompressed newc
# cpio. The driver boots it as the initramfs with rdinit=systemd, so the
# whole root file system lives in RAM and needs no block or 9p drivers.
# The output is cached by the caller, keyed by this file's hash.
set -eu

suite=$1
out=$2
mirror=${VMTEST_MIRROR:-http://deb.debian.org/debian}
# Everything the scenarios call: systemd-analyze and journalctl ship in
# systemd; setpriv, runuser in util-linux; useradd in passwd (all of
# them priority required, so minbase has them). libnss-systemd puts
# nss-systemd after files on the passwd line, as a Debian install with it
# has: the NSS-only user of guest/nss_test.go lives in its drop-ins.
packages=systemd,systemd-sysv,udev,dbus,kmod,libnss-systemd

root=$out.root
rm -rf "$root"
mkdir -p "$root"
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$out.debootstrap.log" 2>&1 || {
	tail -n 30 "$out.debootstrap.log" >&2
	echo "image.sh: debootstrap $suite failed; full log in $out.debootstrap.log" >&2
	exit 1
}

# Units that would wait for a person, a network or a clock: off.
systemctl --root="$root" mask \
	serial-getty@ttyS0.service serial-getty@ttyS1.service \
	getty@tty1.service getty-static.service console-getty.service \
	systemd-firstboot.service systemd-timesyncd.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	fstrim.timer man-db.timer dpkg-db-backup.timer \
	systemd-networkd-wait-online.service >/dev/null 2>&1 || true

echo aimx-vmtest >"$root/etc/hostname"
: >"$root/etc/fstab"
# An empty machine-id: systemd makes a transient one at boot.
: >"$root/etc/machine-id"
# dpkg in the guest need not keep docs; keeps the cpio (and RAM) small.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-vmtest-nodoc" <<'CFG'
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/info/*
CFG
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/locale" \
	"$root/usr/share/info" "$root/var/cache/apt" "$root/var/lib/apt/lists"
mkdir -p "$root/var/cache/apt" "$root/var/lib/apt/lists"
# The journal is volatile in RAM anyway; say so, so journald does not
# look for /var/log/journal.
mkdir -p "$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"$root/etc/systemd/journald.conf.d/vmtest.conf"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
rm -rf "$root"

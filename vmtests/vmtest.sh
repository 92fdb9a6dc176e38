#!/bin/sh
# vmtest.sh SUITE GUEST_TEST DEB_DIR OUTDIR — boot one Debian guest under
# qemu with systemd as PID 1, run the scenario binary in it, and exit 0
# only if the guest reports that every scenario passed.
#
# The guest is the cached base cpio (image.sh) with a per-run payload
# cpio appended: the runner unit and script, the scenario binary and the
# .debs in DEB_DIR. The guest writes its log and a verdict line to a
# second serial port (OUTDIR/SUITE.result.log); the kernel and systemd
# console goes to OUTDIR/SUITE.console.log. No verdict line means the
# guest crashed or timed out: then the tail of the console is printed.
#
# make vmbench reuses this driver with two knobs: VMTEST_RUNNER (a
# script installed as the runner instead of guestfs/run.sh) and
# VMTEST_PAYLOAD (a folder whose files go beside it); GUEST_TEST may
# then be "-" (no scenario binary).
set -eu

suite=$1
guest_test=$2
deb_dir=$3
outdir=$4
here=$(cd "$(dirname "$0")" && pwd)
cache=${VMTEST_CACHE:-$here/.cache}
# A hang guard only: every wait inside the guest ends on its condition or
# on a bound derived from the guest's own measured speed. The scenario
# binary gets two minutes less, so a hang ends with its goroutine dump.
timeout_s=${VMTEST_TIMEOUT:-2700}
mkdir -p "$cache" "$outdir"

say() { echo "vmtest[$suite]: $*" >&2; }

# Kernel: Debian's stock one, keyed by package name.
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1)
[ -n "$kpkg" ] || { say "apt-cache knows no linux-image-amd64; run apt-get update"; exit 1; }
kdir=$cache/kernel-$kpkg
# (Under a lock: `make -j vmtest` boots both suites at once.)
exec 9>"$cache/.kernel.lock"
flock 9
if [ ! -s "$kdir/kernel" ]; then
	say "fetching $kpkg"
	sh "$here/kernel.sh" "$kdir"
fi
flock -u 9

# Base image: keyed by suite and the hash of the script that builds it
# (which holds the package list).
key=$(sha256sum "$here/image.sh" | cut -c1-12)
base=$cache/base-$suite-$key.cpio
if [ ! -s "$base" ]; then
	say "building base image $base (debootstrap, about a minute)"
	sh "$here/image.sh" "$suite" "$base"
fi

# Payload.
run=$outdir/$suite.payload
rm -rf "$run"
lib=$run/usr/lib/aimx-vmtest
mkdir -p "$lib/debs" "$run/etc/systemd/system/multi-user.target.wants"
cp "$here/guestfs/aimx-vmtest.service" "$run/etc/systemd/system/"
ln -s ../aimx-vmtest.service "$run/etc/systemd/system/multi-user.target.wants/aimx-vmtest.service"
install -m 0755 "${VMTEST_RUNNER:-$here/guestfs/run.sh}" "$lib/run.sh"
[ "$guest_test" = - ] || install -m 0755 "$guest_test" "$lib/guest.test"
# The sandbox probe, when built beside the scenario binary (make vmtest-guest).
probe=$(dirname "$guest_test")/probe
[ "$guest_test" = - ] || [ ! -f "$probe" ] || install -m 0755 "$probe" "$lib/probe"
[ -z "${VMTEST_PAYLOAD:-}" ] || cp -R "$VMTEST_PAYLOAD"/. "$lib/"
cp "$deb_dir"/*.deb "$lib/debs/" 2>/dev/null || true
{
	echo "VMTEST_SUITE=$suite"
	printf "VMTEST_ARGS='%s'\n" "${VMTEST_ARGS:-}"
	echo "VMTEST_GO_TIMEOUT=$((timeout_s - 120))s"
	echo "export VMTEST_SUITE"
	# Variables the scenario binary reads (versions of the .debs, the
	# deliberate breakage under test), passed through as is.
	env | grep '^AIMX_VMTEST_' | sed 's/^\([^=]*\)=\(.*\)$/\1='"'"'\2'"'"'; export \1/' || true
} >"$lib/env"
chmod -R go-w "$run"
(cd "$run" && find . -mindepth 1 -print0 | cpio --null -o -H newc --quiet -R 0:0) >"$run.cpio"
cat "$base" "$run.cpio" >"$outdir/$suite.initrd"
rm -rf "$run" "$run.cpio"

console=$outdir/$suite.console.log
result=$outdir/$suite.result.log
rm -f "$console" "$result"
say "booting (log: $result, console: $console, timeout ${timeout_s}s)"
start=$(date +%s)
status=0
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
	-accel tcg -cpu max -smp "${VMTEST_SMP:-2}" -m 2048 \
	-nodefaults -no-reboot -display none -monitor none \
	-kernel "$kdir/kernel" -initrd "$outdir/$suite.initrd" \
	-append "console=ttyS0 rdinit=/lib/systemd/systemd panic=-1 quiet systemd.show_status=error" \
	-serial "file:$console" -serial "file:$result" \
	-device virtio-rng-pci \
	-net none || status=$?
rm -f "$outdir/$suite.initrd"
say "guest stopped after $(($(date +%s) - start))s (qemu exit $status)"

if grep -q '^AIMX-VMTEST-RESULT: rc=0' "$result" 2>/dev/null; then
	grep -E '^(AIMX-VMTEST|PASS|FAIL)|^ *--- |KNOWN LIMITATION' "$result" >&2 || true
	say "PASS"
	exit 0
fi
if grep -q '^AIMX-VMTEST-RESULT:' "$result" 2>/dev/null; then
	say "scenarios failed; the guest's log:"
	grep -v '^=== RUN' "$result" | tail -n 150 >&2
	say "FAIL (full log: $result)"
	exit 1
fi
[ "$status" = 124 ] && say "timed out after ${timeout_s}s"
say "no verdict from the guest (crash or timeout); last lines of its log:"
tail -n 40 "$result" >&2 2>/dev/null || true
say "last lines of the console:"
tail -n 60 "$console" >&2 2>/dev/null || true
say "FAIL (console: $console)"
exit 1

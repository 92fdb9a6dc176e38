#!/bin/sh
# kernel.sh OUTDIR — fetch Debian's stock kernel and unpack a bootable
# image into OUTDIR/kernel, without installing anything on the host.
#
# The package is the one linux-image-amd64 points at in the host's apt
# sources. The uncompressed vmlinux is preferred (qemu boots its PVH
# entry directly and skips a few seconds of decompression under TCG);
# the vmlinuz is the fallback when no decompressor matches.
set -eu

out=$1
mkdir -p "$out"
cd "$out"
pkg=$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || { echo "kernel.sh: apt-cache knows no linux-image-amd64; run apt-get update" >&2; exit 1; }
rm -rf deb x && mkdir deb x
(cd deb && apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null)
dpkg-deb -x deb/*.deb x
vmlinuz=$(ls x/boot/vmlinuz-*)

# extract-vmlinux: try each compression magic found in the image.
try() { # magic-as-printf-string decompressor
	for pos in $(LC_ALL=C grep -aboF "$(printf "$1")" "$vmlinuz" | cut -d: -f1); do
		tail -c +"$((pos + 1))" "$vmlinuz" | $2 >vmlinux.try 2>/dev/null || true
		if [ "$(head -c 4 vmlinux.try | od -An -c | tr -d ' ')" = '177ELF' ]; then
			mv vmlinux.try kernel
			return 0
		fi
	done
	return 1
}
try '\3757zXZ\000' 'xz -dc' || try '\037\213\010' 'gzip -dc' || try '\050\265\057\375' 'zstd -dc' || cp "$vmlinuz" kernel
rm -f vmlinux.try
echo "$pkg" >kernel.name
rm -rf deb x

#!/bin/sh
# aimx.sh VERSION MACHINE_CACHE OUT — put the AIMX mail daemon's binary (crate
# aimx, VERSION) at OUT for the VM lane, building it at most once per machine
# and version.
#
# The binary lives in a machine-wide cache, MACHINE_CACHE/aimx-VERSION/bin/aimx,
# keyed by version only: CI runs from a fresh clone in another folder, so a
# cache inside the repository would be cold on every run, and nothing of ours
# goes into it, so a change to our code never rebuilds it. In order:
#   1. the machine cache holds a working binary: use it;
#   2. OUT already holds one (e.g. a build made into vmtests/.cache): seed the
#      machine cache from it;
#   3. cargo (PATH or ~/.cargo/bin) builds it: `cargo install --locked`;
#   4. no cargo: say so in one line and exit 0; the lane's AIMX steps skip,
#      saying why.
# OUT is then a hard link to (or a copy of) the cached binary.
set -eu

v=$1
machine=$2
out=$3
cached=$machine/aimx-$v/bin/aimx

works() { [ -x "$1" ] && "$1" --version >/dev/null 2>&1; }
place() { # place SRC DST: atomically, as a hard link when possible
	mkdir -p "$(dirname "$2")"
	rm -f "$2.tmp"
	ln "$1" "$2.tmp" 2>/dev/null || cp -p "$1" "$2.tmp"
	mv -f "$2.tmp" "$2"
}

mkdir -p "$machine"
# One builder per machine and version (two CI clones, make -j).
exec 9>"$machine/.aimx-$v.lock"
flock 9

if works "$cached"; then
	:
elif works "$out"; then
	echo "aimx $v: seeding the machine cache $cached from $out" >&2
	place "$out" "$cached"
else
	cargo=$(command -v cargo 2>/dev/null || :)
	[ -n "$cargo" ] || [ ! -x "$HOME/.cargo/bin/cargo" ] || cargo=$HOME/.cargo/bin/cargo
	if [ -z "$cargo" ]; then
		echo "make aimx: skipped: aimx $v is not in $cached and there is no cargo (PATH or ~/.cargo/bin); install Rust >= 1.85 (rustup) and run 'make aimx' (about 10 min, once per machine). Until then the VM lane's AIMX steps skip." >&2
		exit 0
	fi
	tmp=$(mktemp -d "$machine/.build-aimx-$v.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "aimx $v: building with $cargo into $cached (once per machine; 5 to 15 min)" >&2
	start=$(date +%s)
	if ! CARGO_TARGET_DIR=$tmp/target "$cargo" install --quiet --locked aimx --version "$v" --root "$tmp/root" >"$tmp/build.log" 2>&1; then
		tail -n 30 "$tmp/build.log" >&2
		echo "make aimx: cargo install --locked aimx --version $v failed (log above)" >&2
		exit 1
	fi
	works "$tmp/root/bin/aimx" || { echo "make aimx: the built $tmp/root/bin/aimx does not run" >&2; exit 1; }
	place "$tmp/root/bin/aimx" "$cached"
	echo "aimx $v: built in $(($(date +%s) - start)) s" >&2
fi

cmp -s "$cached" "$out" 2>/dev/null || place "$cached" "$out"
echo "aimx $v: $out ($("$out" --version | head -n 1))" >&2

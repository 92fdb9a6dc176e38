#!/bin/sh
# packaging/licenses.sh OUT BINARY...
#
# Copies into OUT (emptied first) the licence texts of everything linked
# into the BINARYs, for the rpm's %license files: this project's LICENSE,
# the Go standard library's, and each Go module's that `go version -m`
# lists (LICENSE, COPYING, NOTICE from the module cache), named
# MODULE-PATH-WITH-DASHES.FILE. Fails when a module has no licence file, or
# is not named in packaging/copyright (the .deb's DEP-5 file), so the two
# lists cannot drift from what is linked. Prints nfpm contents entries
# that ship each file as the rpm's %license.
set -eu
out=$1
shift
go=${GO:-go}
rm -rf "$out"
mkdir -p "$out"
cp LICENSE "$out/LICENSE"
cp "$("$go" env GOROOT)/LICENSE" "$out/go.LICENSE"
for mod in $("$go" version -m "$@" | awk '$1 == "dep" { print $2 }' | sort -u); do
	grep '^Files:' packaging/copyright | tr ' ' '\n' | grep -qxF "$mod/*" ||
		{ echo "licenses.sh: $mod is linked in but has no 'Files: $mod/*' stanza in packaging/copyright" >&2; exit 1; }
	dir=$("$go" list -m -f '{{.Dir}}' "$mod")
	found=0
	for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING* "$dir"/NOTICE*; do
		[ -f "$f" ] || continue
		cp "$f" "$out/$(printf '%s' "$mod" | tr / -).$(basename "$f")"
		found=1
	done
	[ "$found" = 1 ] || { echo "licenses.sh: no licence file in $dir ($mod)" >&2; exit 1; }
done
chmod 0644 "$out"/*
# The rpm's %license entries for nfpm, one per file.
for f in "$out"/*; do
	printf '  - src: %s\n    dst: /usr/share/licenses/aimx-mailboxd/%s\n    type: license\n    file_info: {mode: 0644}\n    packager: rpm\n' \
		"$f" "$(basename "$f")"
done

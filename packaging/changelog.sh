#!/bin/sh
# packaging/changelog.sh VERSION HASH < packaging/changelog.yml > staged.yml
#
# Renders the maintained changelog for one build, as nfpm reads it: every
# entry's version gets the package release "-1" and Debian's distribution
# and urgency. VERSION is the package version (packaging/pkg-version.sh):
#   the top entry's version          -> the changelog as written
#   before it (X.Y.Z~gitN.HASH)      -> the top entry relabelled VERSION and
#                                       dated SOURCE_DATE_EPOCH, with a first
#                                       note naming the commit
#   after it (X.Y.Z+gitN.HASH)       -> a snapshot entry on top, dated
#                                       SOURCE_DATE_EPOCH
# No clock is read: the same commit renders the same bytes.
set -eu
version=$1 hash=$2
: "${SOURCE_DATE_EPOCH:?SOURCE_DATE_EPOCH must be set (the commit time)}"
date=$(TZ=UTC0 date -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
src=$(cat)
top=$(printf '%s\n' "$src" | sed -n 's/^- semver: *//p' | head -n 1)
packager=$(printf '%s\n' "$src" | sed -n 's/^  packager: *//p' | head -n 1)
[ -n "$top" ] && [ -n "$packager" ] || { echo "changelog.sh: no entry in the changelog" >&2; exit 1; }
if [ "$version" = "$top" ]; then
	mode=as-is
elif dpkg --compare-versions "$version" lt "$top"; then
	mode=relabel
else
	mode=prepend
	printf -- '- semver: "%s-1"\n  date: %s\n  packager: %s\n  deb: {urgency: medium, distributions: [unstable]}\n  changes:\n    - note: "Snapshot of commit %s, after the %s release."\n' \
		"$version" "$date" "$packager" "$hash" "$top"
fi
printf '%s\n' "$src" | awk -v mode="$mode" -v version="$version" -v date="$date" -v hash="$hash" -v top="$top" '
/^#/ { next }
/^- semver: / {
	n++
	v = $3
	if (n == 1 && mode == "relabel") v = version
	printf "- semver: \"%s-1\"\n", v
	next
}
/^  date: / && n == 1 && mode == "relabel" { printf "  date: %s\n", date; next }
/^  changes:/ {
	print "  deb: {urgency: medium, distributions: [unstable]}"
	print
	if (n == 1 && mode == "relabel")
		printf "    - note: \"Snapshot of commit %s, before the %s release.\"\n", hash, top
	next
}
{ print }'

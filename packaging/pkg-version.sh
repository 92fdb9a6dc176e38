#!/bin/sh
# Prints the package version (deb and rpm "upstream version") for this tree:
# the one version everything derives from (the Makefile stamps the binaries
# with v<this>, and the man pages' footer and the packages carry it).
#   on a tag vX.Y.Z            -> X.Y.Z
#   N commits after vX.Y.Z     -> X.Y.Z+gitN.HASH    (sorts after X.Y.Z)
#   no tag yet                 -> X.Y.Z~gitN.HASH    (sorts before X.Y.Z),
#                                 X.Y.Z the top entry of packaging/changelog.yml
# N is the commit count, so later commits sort higher. A "-" in a tag
# (v1.0.0-rc1) becomes "~" (1.0.0~rc1 sorts before 1.0.0 in dpkg and rpm).
# Override with `make package PKG_VERSION=...`.
set -eu
if desc=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
	hash=${desc##*-g}
	rest=${desc%-g*}
	count=${rest##*-}
	base=$(printf '%s' "${rest%-*}" | sed 's/^v//; s/-/~/g')
	if [ "$count" = 0 ]; then
		echo "$base"
	else
		echo "$base+git$count.$hash"
	fi
else
	next=$(sed -n 's/^- semver: *//p' "$(dirname "$0")/changelog.yml" | head -n 1)
	count=$(git rev-list --count HEAD 2>/dev/null || echo 0)
	hash=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	echo "${next:-0.1.0}~git$count.$hash"
fi

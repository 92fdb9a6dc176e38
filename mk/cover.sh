#!/usr/bin/env bash
# mk/cover.sh USER GO -- GO-TEST-ARGS... — run `go test GO-TEST-ARGS` as
# USER (root only), as an ordinary user would, and write its -json stream
# on stdout (make pipes it into mk/gotest, which prints the coverage lines).
#
# The checkout may sit where USER cannot read it (under /root), and root's
# module and build caches are root's. So the tracked files are copied to
# a fresh folder under $TMPDIR (make test's own; else /tmp), the modules
# go.mod needs are copied there from root's module cache
# (GOPROXY=file://..., then the usual proxy for any it lacks), and USER
# gets a GOCACHE and HOME of its own in it. The folder is removed at the
# end (the tests run as a child, not by exec, so that the trap runs). The
# tests themselves get no TMPDIR and use /tmp as a user's would (a longer
# one would lengthen their socket paths); whatever USER owns in /tmp after
# the run that it did not own before fails the run.
set -euo pipefail
user=$1 go=$2
shift 3
[ "$(id -u)" = 0 ] || { echo "mk/cover.sh: needs root (runs go test as $user)" >&2; exit 1; }
command -v setpriv >/dev/null || { echo "mk/cover.sh: needs setpriv (util-linux)" >&2; exit 1; }
top=$(mktemp -d "${TMPDIR:-/tmp}/aimx-cover-XXXXXX")
trap 'rm -rf "$top"' EXIT
chmod 0755 "$top"
mkdir "$top/src" "$top/home" "$top/gocache"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -C "$top/src" -xf -
else
	tar --exclude=./.cache --exclude=./bin --exclude=./dist --exclude=./run -cf - . | tar -C "$top/src" -xf -
fi
mods=$("$go" env GOMODCACHE)
(cd "$top/src" && GOFLAGS=-modcacherw GOMODCACHE="$top/mod" GOPROXY="file://$mods/cache/download,$("$go" env GOPROXY)" \
	"$go" mod download) >&2
# The Go that runs the tests is the toolchain go.mod selects: with an older
# go on PATH that is one Go downloaded into root's module cache, which USER
# cannot reach, so it is copied beside the tree.
goroot=$(cd "$top/src" && "$go" env GOROOT)
if ! setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups test -x "$goroot/bin/go"; then
	cp -a "$goroot" "$top/goroot"
	goroot=$top/goroot
fi
go=$goroot/bin/go
chown -R "$user:" "$top/src" "$top/home" "$top/gocache"
chmod -R a+rX "$top/mod"
uid=$(id -u "$user") gid=$(id -g "$user")
cd "$top/src"
owned() { find /tmp -mindepth 1 -maxdepth 1 -user "$user" | sort; }
before=$(owned)
rc=0
setpriv --reuid="$uid" --regid="$gid" --clear-groups \
	env -i PATH="$goroot/bin:/usr/bin:/bin" HOME="$top/home" USER="$user" LOGNAME="$user" \
	GOCACHE="$top/gocache" GOMODCACHE="$top/mod" GOPROXY=off GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
	"$go" test "$@" || rc=$?
left=$(comm -13 <(printf '%s\n' "$before") <(owned) | sed '/^$/d')
if [ -n "$left" ]; then
	echo "FAIL mk/cover.sh: the tests as $user left in /tmp:" >&2
	printf '%s\n' "$left" | sed 's/^/  /' >&2
	[ "$rc" != 0 ] || rc=1
fi
exit "$rc"

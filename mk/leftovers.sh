#!/usr/bin/env bash
# mk/leftovers.sh COMMAND... — run COMMAND (make test's steps) with a fresh
# /tmp of its own, then fail when it left anything behind: in that /tmp,
# in /run (our names there), or as an untracked file in the checkout (ignored files, .cache/
# and the like, are fine). Whatever was there before COMMAND started is
# not counted.
#
# As root, COMMAND runs in a private mount namespace where a fresh folder
# is bind-mounted on /tmp: paths stay as short as the real /tmp's (socket
# paths have a 108-byte limit), everything that writes to /tmp is seen,
# and other runs on the machine are not. Anyone else (or a root that may
# not unshare, or a checkout that is itself under /tmp, which the mount
# would hide) gets TMPDIR set to that folder instead, and /tmp itself is
# checked for new entries under our prefix (aimx-*).
set -uo pipefail
untracked() { git status --porcelain --untracked-files=all 2>/dev/null | sed -n 's/^?? //p' | sort; }
ours() { ls -A /tmp | grep '^aimx-' | sort; }
before_tmp=$(ours)
# In /run only our names count (aimx*): the system's own tools make
# /run/mount, /run/systemd and the like the first time they run on a
# fresh machine, and those are not ours to remove.
runs() { ls -A /run | grep -i aimx | sort; }
before_run=$(runs)
before_git=$(untracked)

tmp=$(mktemp -d /tmp/aimx-XXXXXX) || exit 1
chmod 1777 "$tmp" # as /tmp: the tests' users make their own folders in it
private=
here=$(pwd -P)
if [ "$(id -u)" = 0 ] && [ "${here#/tmp/}" = "$here" ] && unshare --mount --propagation private true 2>/dev/null; then
	private=y
	unshare --mount --propagation private -- bash -c 'mount --bind "$1" /tmp && shift && exec "$@"' bash "$tmp" "$@"
else
	TMPDIR=$tmp "$@"
fi
rc=$?

left=$(cd "$tmp" && find . -mindepth 1 -maxdepth 2 | sed 's|^\./||' | sort)
rm -rf "$tmp"
new() { comm -13 <(printf '%s\n' "$1") <(printf '%s\n' "$2") | sed '/^$/d'; }
fail=0
report() { # WHERE LIST
	[ -n "$2" ] || return 0
	echo "FAIL make test left in $1:" >&2
	printf '%s\n' "$2" | sed 's/^/  /' >&2
	fail=1
}
if [ -n "$private" ]; then
	report "/tmp (its own)" "$left"
else
	report "its TMPDIR" "$left"
	report /tmp "$(new "$before_tmp" "$(ours | grep -vx "${tmp#/tmp/}")")"
fi
report /run "$(new "$before_run" "$(runs)")"
report "the checkout (untracked)" "$(new "$before_git" "$(untracked)")"
[ "$fail" = 0 ] || { [ "$rc" != 0 ] || rc=1; }
[ "$rc" != 0 ] || echo "ok   nothing left behind (/tmp, /run, untracked files)"
exit "$rc"

#!/usr/bin/env bash
# mk/leftovers.sh COMMAND... — run COMMAND (make test's steps) with TMPDIR a
# fresh folder of its own, then fail when it left anything behind: in that
# folder, in /tmp under our prefix (aimx-*), in /run, or as an untracked
# file in the checkout (ignored files, .cache/ and the like, are fine).
# Whatever was there before COMMAND started is not counted.
set -uo pipefail
untracked() { git status --porcelain --untracked-files=all 2>/dev/null | sed -n 's/^?? //p' | sort; }
before_tmp=$(ls -A /tmp | grep '^aimx-' | sort)
before_run=$(ls -A /run | sort)
before_git=$(untracked)

tmp=$(mktemp -d /tmp/aimx-XXXXXX) || exit 1 # short: sockets live under it
chmod 1777 "$tmp" # as /tmp: the tests' users make their own folders in it
TMPDIR=$tmp "$@"
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
report "its TMPDIR" "$left"
report /tmp "$(new "$before_tmp" "$(ls -A /tmp | grep '^aimx-' | grep -vx "${tmp#/tmp/}" | sort)")"
report /run "$(new "$before_run" "$(ls -A /run | sort)")"
report "the checkout (untracked)" "$(new "$before_git" "$(untracked)")"
[ "$fail" = 0 ] || { [ "$rc" != 0 ] || rc=1; }
[ "$rc" != 0 ] || echo "ok   nothing left behind (TMPDIR, /tmp/aimx-*, /run, untracked files)"
exit "$rc"

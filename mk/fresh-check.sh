#!/bin/bash
# mk/fresh-check.sh — `make fresh-check`: the README's two commands on a
# freshly bootstrapped Debian 12, as root and as an ordinary user.
#
# The machine: `debootstrap --variant=minbase --include=git,make,sudo,
# systemd,ca-certificates bookworm` (cached under .cache/fresh/, keyed by
# suite, mirror and package list), the Go that runs make copied to
# /usr/local/go, nothing else. It runs in a chroot, in a private mount
# namespace (/proc, /sys, /dev and a fresh /run mounted there, gone when
# it ends), on this machine's network (apt and the Go module proxy).
# Steps, each from a clean clone of this checkout's HEAD, stopping at the
# first that fails:
#
#   1. freshdev: make run; paste each printed line as the user it names
#   2. freshdev: make test must stop at once, naming gcc and the exact
#      `sudo apt-get install` line (nothing is installed yet)
#   3. root:     make run; paste the lines (root's and any user's)
#   4. root:     make test (installs what it needs)
#   5. freshdev: make test (everything without root runs; the rest skips)
#
# It prints each step's result and wall time, and on a failure the step,
# the command, the first failing line of its output and the log's path.
# Needs root; the Makefile checks that and installs debootstrap.
set -euo pipefail

GO=${GO:-go}
top=$(pwd)
suite=${FRESH_SUITE:-bookworm}
mirror=${FRESH_MIRROR:-${VMTEST_MIRROR:-http://deb.debian.org/debian}}
include=git,make,sudo,systemd,ca-certificates
user=freshdev
cache=$top/.cache/fresh
R=$cache/root
logs=$cache/logs
# Generous bounds: they only turn a hang into a failure.
run_timeout=${FRESH_RUN_TIMEOUT:-1200}
test_timeout=${FRESH_TEST_TIMEOUT:-3600}

steps=$cache/steps.tsv # STEP WHO WHAT SECONDS, one line per step done
say() { echo "fresh-check: $*"; }
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

if [ "${1:-}" != --inner ]; then
	# --- outside: the base image, the tree, then the steps in a private
	# mount namespace (so no mount outlives the run, and rm -rf below never
	# meets a bind mount of /dev).
	mkdir -p "$cache"
	t0=$SECONDS
	: >"$steps"
	if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
		say "note: uncommitted changes are not checked (the clones hold HEAD, $(git rev-parse --short HEAD))"
	fi
	key=$(printf '%s\n' "$suite" "$mirror" "$include" | sha256sum | cut -c1-12)
	base=$cache/base-$suite-$key.tar
	if [ ! -s "$base" ]; then
		say "debootstrap $suite (minbase + $include) from $mirror"
		rm -rf --one-file-system "$cache/base.tmp"
		mkdir -p "$cache/base.tmp"
		start=$SECONDS
		if ! debootstrap --variant=minbase --include="$include" "$suite" "$cache/base.tmp" "$mirror" >"$cache/debootstrap.log" 2>&1; then
			tail -n 20 "$cache/debootstrap.log" >&2
			say "FAIL: debootstrap $suite failed; full log in $cache/debootstrap.log"
			exit 1
		fi
		tar -C "$cache/base.tmp" -cf "$base.tmp" . && mv "$base.tmp" "$base"
		rm -rf --one-file-system "$cache/base.tmp"
		say "base image built in $((SECONDS - start)) s: $base"
		printf '0\troot\tdebootstrap, packed as %s\t%d\n' "${base#"$top"/}" $((SECONDS - start)) >>"$steps"
	else
		printf '0\troot\tdebootstrap: cached (%s)\t0\n' "${base#"$top"/}" >>"$steps"
	fi
	rm -rf --one-file-system "$R" "$logs"
	mkdir -p "$R" "$logs"
	tar -C "$R" -xf "$base"
	goroot=$("$GO" env GOROOT)
	cp -a "$goroot/." "$R/usr/local/go/"
	# The Go module proxy and checksum database this machine uses, where
	# an admin would set them for everyone.
	for v in GOPROXY GOSUMDB; do
		want=$("$GO" env "$v")
		[ "$(GOENV=off "$R/usr/local/go/bin/go" env "$v" 2>/dev/null)" = "$want" ] || echo "$v=$want" >>"$R/usr/local/go/go.env"
	done
	# This machine's network, as its admin set it up: the resolver, and
	# any local certificate authority (a TLS-inspecting proxy in front of
	# the Go module proxy, say).
	cp -L /etc/resolv.conf "$R/etc/resolv.conf"
	if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
		cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
		chroot "$R" update-ca-certificates >"$cache/update-ca-certificates.log" 2>&1 ||
			{ cat "$cache/update-ca-certificates.log" >&2; exit 1; }
	fi
	git clone -q --bare "$top" "$R/srv/aimx.git"
	head=$(git -C "$R/srv/aimx.git" rev-parse --short HEAD) # what the steps check, whatever HEAD becomes meanwhile
	chroot "$R" useradd -m -s /bin/bash "$user"
	chroot "$R" git clone -q /srv/aimx.git /root/aimx
	# Cloned by root, then given away: git refuses to clone a repository
	# that another user owns.
	chroot "$R" git clone -q /srv/aimx.git "/home/$user/aimx"
	chroot "$R" chown -R "$user:$user" "/home/$user/aimx"
	say "machine: $suite minbase + $include, $("$GO" env GOVERSION) in /usr/local/go, clones of $head in /root/aimx and /home/$user/aimx"
	rc=0
	unshare -m --propagation private "$0" --inner || rc=$?
	if [ $rc = 0 ]; then
		rm -rf --one-file-system "$R"
		# The wall times, for docs/DEVELOPING.md (mk/fresh.mk splices them in).
		{
			printf 'Last run: %s, %s CPUs (load average %s at the end), %s, HEAD %s: **PASS** in %s.\n\n' \
				"$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
				"$("$GO" env GOVERSION)" "$head" "$(mmss $((SECONDS - t0)))"
			printf '| # | As | Step | Wall time |\n|---|---|---|---|\n'
			while IFS=$'\t' read -r n who what secs; do
				printf '| %s | %s | %s | %s |\n' "$n" "$who" "$what" "$(mmss "$secs")"
			done <"$steps"
			# shellcheck disable=SC2016 # backquotes for markdown
			printf '| | | the whole `make fresh-check` (with unpacking, copying Go and cloning) | %s |\n' "$(mmss $((SECONDS - t0)))"
		} >"$cache/fresh-check.md"
		say "PASS in $(mmss $((SECONDS - t0))); wall times in $cache/fresh-check.md"
	else
		say "the tree is kept for a look: $R (chroot into it; mount /proc first)"
	fi
	exit $rc
fi

# --- inside the private mount namespace ------------------------------------
# The tree is bound onto itself so that its / is a mount point, as a real
# machine's is: unshare -m (package-smoke) needs that.
mount --bind "$R" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs -o mode=0755 tmpfs "$R/run"

# as WHO COMMAND: a login shell of WHO in the chroot; PATH is the login
# default, so no /usr/local/go/bin.
as() {
	if [ "$1" = root ]; then
		chroot "$R" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -lc "$2"
	else
		chroot "$R" /usr/sbin/runuser -l "$1" -c "$2"
	fi
}
export -f as
export R
home() { if [ "$1" = root ]; then echo /root; else echo "/home/$1"; fi; }

results=()
step=0
fail() { # LOG WHAT
	local first
	first=$(grep -m1 -E '^(--- FAIL|FAIL)|(^|[^[:alnum:]_])error:|\*\*\*|^panic:' "$1" || true)
	say "FAIL step $step: $2"
	[ -z "$first" ] || say "first failure: $first"
	echo "----- last lines of $1:"
	tail -n 25 "$1"
	echo "-----"
	summary
	exit 1
}
summary() {
	[ ${#results[@]} = 0 ] && return
	say "summary:"
	printf '  %s\n' "${results[@]}"
}
record() { # WHO WHAT SECONDS
	results+=("$(printf '%-8s %-44s %s' "$1" "$2" "$(mmss "$3")")")
	printf '%s\t%s\t%s\t%d\n' "$step" "$1" "$2" "$3" >>"$steps"
	say "ok   step $step: $1: $2 ($(mmss "$3"))"
}

# make_run WHO: make run in WHO's clone until it prints its lines, paste
# each as the user its block names, then stop it.
make_run() {
	local who=$1 log addressed line pid start to n=0
	step=$((step + 1))
	log=$logs/$step-$who-make-run.log
	say "step $step: $who: make run, then paste its lines"
	start=$SECONDS
	: >"$log"
	# shellcheck disable=SC2016 # $0 and $1 belong to the inner bash
	setsid bash -c 'as "$0" "$1"' "$who" "cd $(home "$who")/aimx && exec make run" </dev/null >"$log" 2>&1 &
	pid=$!
	to=$((SECONDS + run_timeout))
	until grep -q '^Ctrl-C stops it' "$log"; do
		if ! kill -0 $pid 2>/dev/null; then
			fail "$log" "$who: make run exited before it served (log $log)"
		fi
		if [ $SECONDS -ge $to ]; then
			kill -TERM -- -$pid 2>/dev/null || true
			fail "$log" "$who: make run printed no lines within $run_timeout s (log $log)"
		fi
		sleep 1
	done
	# What it printed up to there (the helper keeps logging to $log).
	sed -n '1,/^Ctrl-C stops it/p' "$log" >"$log.lines"
	addressed=
	while IFS= read -r line; do
		case $line in
		"In another shell, as "*)
			addressed=${line#In another shell, as }
			addressed=${addressed%:}
			addressed=${addressed%% (*}
			case $addressed in
			"any user but root") addressed=$user ;;
			root | "$user") ;;
			*) kill -TERM -- -$pid 2>/dev/null; fail "$log" "$who: make run addressed lines to '$addressed', not a user here" ;;
			esac
			;;
		"  "*)
			[ -n "$addressed" ] || { kill -TERM -- -$pid 2>/dev/null; fail "$log" "$who: make run printed a line to paste before saying who pastes it: $line"; }
			n=$((n + 1))
			echo "\$ ($addressed) ${line#  }" >>"$log.paste"
			if ! as "$addressed" "${line#  }" </dev/null >>"$log.paste" 2>&1; then
				kill -TERM -- -$pid 2>/dev/null
				cat "$log.paste" >>"$log"
				fail "$log" "$who: make run's line fails when $addressed pastes it: ${line#  }"
			fi
			;;
		esac
	done <"$log.lines"
	kill -TERM -- -$pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	cat "$log.paste"
	[ $n -ge 3 ] || fail "$log" "$who: make run printed $n lines to paste, want at least 3"
	record "$who" "\`make run\`, its $n lines pasted" $((SECONDS - start))
}

# make_test WHO [expect-fail PATTERN]
make_test() {
	local who=$1 log start rc=0
	step=$((step + 1))
	log=$logs/$step-$who-make-test.log
	say "step $step: $who: make test${2:+ (must stop, naming: $3)}"
	start=$SECONDS
	as "$who" "cd $(home "$who")/aimx && timeout $test_timeout make test" </dev/null >"$log" 2>&1 || rc=$?
	if [ -z "${2:-}" ]; then
		[ $rc = 0 ] || fail "$log" "$who: make test exited $rc (log $log)"
		grep -E '^(ok|FAIL|skip)' "$log" | sed 's/^/  /'
		record "$who" "\`make test\`" $((SECONDS - start))
	else
		[ $rc != 0 ] || fail "$log" "$who: make test passed, but it cannot without $3 (log $log)"
		grep -qF -- "$3" "$log" || fail "$log" "$who: make test failed without naming '$3' (log $log)"
		grep -F -- "$3" "$log" | sed 's/^/  /'
		record "$who" "\`make test\` stops, naming gcc libc6-dev" $((SECONDS - start))
	fi
}

make_run "$user"
make_test "$user" expect-fail "run 'sudo apt-get install gcc libc6-dev'"
make_run root
make_test root
make_test "$user"
summary

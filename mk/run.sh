#!/bin/bash
# mk/run.sh TOP — `make run`: the real helper behind
# systemd-socket-activate --accept, in the foreground, on a sandbox config
# and data dir under TOP/run/ (/etc/aimx and /var/lib/aimx are never
# touched). It prints the CLI lines to try, each block addressed to the
# user who can paste it as it stands:
#
#   In another shell, as WHO[ (note)]:
#     COMMAND
#
# WHO is "any user but root", "root" or a user name (make fresh-check
# pastes the lines by that rule). Ctrl-C stops it.
set -euo pipefail

top=$1
sandbox=$top/run
cfg=$sandbox/config.toml
data=$sandbox/data
me=$(id -un)

mkdir -p "$data/inbox" "$data/sent"
[ -f "$cfg" ] || printf '# Sandbox config written by make run.\ndomain = "example.test"\n' >"$cfg"
chmod 0640 "$cfg"
chmod 0755 "$sandbox" "$data"
chmod 0711 "$data/inbox" "$data/sent"

# The socket (and, for root, a copy of the CLI) go where the users the
# lines are for can reach them: other users cannot reach a checkout under
# /root (0700). A user's own server is for that user alone, so its socket
# may stay in the checkout; $XDG_RUNTIME_DIR keeps the path short.
if [ "$(id -u)" = 0 ]; then
	rt=/run/aimx-mailboxd-dev
	cli=$rt/aimx-mailboxes
	mkdir -p "$rt"
	chmod 0755 "$rt"
	install -m 0755 "$top/bin/aimx-mailboxes" "$cli"
else
	rt=$sandbox
	if [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -d "$XDG_RUNTIME_DIR" ] && [ -O "$XDG_RUNTIME_DIR" ] && [ -w "$XDG_RUNTIME_DIR" ]; then
		rt=$XDG_RUNTIME_DIR/aimx-mailboxd-dev
		mkdir -p "$rt"
	fi
	cli=$top/bin/aimx-mailboxes
fi
sock=$rt/mailboxd.sock
if [ ${#sock} -gt 107 ]; then
	echo "error: the socket path $sock is longer than a UNIX socket allows (107 bytes): run make run from a shorter path" >&2
	exit 1
fi

rm -f "$sock"
# The helper's environment is its unit's (Environment= lines), as deployed.
# shellcheck disable=SC2046 # one -E K=V pair per variable
systemd-socket-activate --accept -l "$sock" \
	$(sed -n 's/^Environment=/-E /p' "$top/units/aimx-mailboxd@.service") \
	"$top/bin/aimx-mailboxd" --config "$cfg" --data-dir "$data" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -f "$sock"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Wait until the socket listens: its file appears at bind(), a moment
# before listen(), and a connect() in between is refused.
listening() { awk -v p="$sock" '$NF == p && $4 == "00010000" { f = 1 } END { exit !f }' /proc/net/unix; }
for _ in $(seq 100); do
	listening && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
if ! listening; then
	echo "error: systemd-socket-activate is not listening on $sock (see its message above)" >&2
	exit 1
fi
chmod 0666 "$sock"

try() { # NAME [create flags]
	echo "  $cli --socket $sock create $1${2:+ $2}"
	echo "  $cli --socket $sock list"
	echo "  $cli --socket $sock delete $1 --yes"
}
echo
if [ "$(id -u)" = 0 ]; then
	# Root names the owner of what it creates: a real user of this machine.
	owner=${SUDO_USER:-}
	if [ -z "$owner" ] || [ "$owner" = root ]; then
		owner=$(getent passwd | awk -F: '$3 >= 1000 && $3 < 60000 { print $1; exit }')
	fi
	owner=${owner:-nobody}
	echo "aimx-mailboxd is serving $sock as root, for every user."
	echo "Sandbox: config $cfg, data dir $data."
	echo "In another shell, as any user but root:"
	try demo
	echo "In another shell, as root (root must name the owner):"
	try demo2 "--owner $owner"
else
	echo "aimx-mailboxd is serving $sock as $me: it can create and delete only $me's mailboxes (run make run as root to serve every user)."
	echo "Sandbox: config $cfg, data dir $data."
	echo "In another shell, as $me:"
	try demo
fi
echo "Ctrl-C stops it."
echo
wait $pid

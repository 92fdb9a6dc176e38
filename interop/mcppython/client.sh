#!/usr/bin/env bash
# make mcp-python (interop/mcppython/mcppython.mk): the MCP Python SDK in a
# venv under .cache/ runs interop/mcppython/client.py, which spawns
# aimx-mailboxes mcp against a real helper on a temp socket. Needs bin/ built and systemd-socket-activate.
#
# Run as root, the agent runs as nobody: a root CREATE must name an owner,
# and mailbox_create has no owner argument (by design, as in AIMX).
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${MCP_PY_VERSION:?set by interop/mcppython/mcppython.mk}
venv=.cache/mcp-python
py=python3

if ! command -v "$py" >/dev/null || ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
	if [ "$(id -u)" != 0 ]; then
		echo "mcp-python: skipped: python3 -m venv does not work here: run 'sudo apt-get install python3-venv'"
		exit 0
	fi
	apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
	py=/usr/bin/python3
fi
if [ ! -f "$venv/.mcp-$version" ]; then
	rm -rf "$venv"
	"$py" -m venv "$venv"
	"$venv/bin/pip" install -q --disable-pip-version-check "mcp==$version"
	touch "$venv/.mcp-$version"
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/aimx-mcp-python.XXXXXX")
helper_pid=
cleanup() {
	[ -z "$helper_pid" ] || kill "$helper_pid" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
chmod 0755 "$dir"
mkdir -p "$dir/etc" "$dir/data/inbox" "$dir/data/sent"
printf '# written by interop/mcppython/client.sh\ndomain = "example.test"\n' > "$dir/etc/config.toml"
cp bin/aimx-mailboxes "$dir/aimx-mailboxes" # reachable by the agent's user
systemd-socket-activate --accept -l "$dir/mailboxd.sock" \
	"$PWD/bin/aimx-mailboxd" --config "$dir/etc/config.toml" --data-dir "$dir/data" 2> "$dir/helper.log" &
helper_pid=$!
for _ in $(seq 100); do
	[ -S "$dir/mailboxd.sock" ] && break
	kill -0 "$helper_pid" 2>/dev/null || { cat "$dir/helper.log"; exit 1; }
	sleep 0.05
done
[ -S "$dir/mailboxd.sock" ] || { echo "mcp-python: the helper's socket did not appear"; cat "$dir/helper.log"; exit 1; }
chmod 0666 "$dir/mailboxd.sock"

as=()
if [ "$(id -u)" = 0 ]; then
	as=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups)
fi
if ! "$venv/bin/python" interop/mcppython/client.py "$dir/data" -- "${as[@]}" "$dir/aimx-mailboxes" mcp --socket "$dir/mailboxd.sock"; then
	echo "--- the helper's log:"
	cat "$dir/helper.log"
	exit 1
fi

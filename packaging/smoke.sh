#!/bin/bash
# packaging/smoke.sh DEB DEB_NEXT RPM RPM_NEXT TAG
#
# TAG is the binaries' version tag (v<package version>), which the installed
# `aimx-mailboxes --version` must print (DEB_NEXT and RPM_NEXT: TAG+smoke).
# Installs, upgrades, removes and purges the real packages with dpkg and rpm
# inside a throwaway copy-on-write view of this machine: a private mount
# namespace, an overlayfs whose upper layer is a tmpfs, and a chroot into it.
# Nothing reaches the real root. PID 1 there is not systemd, so this is the
# chroot / image-build path of the maintainer scripts: they must succeed,
# enable the socket offline as the preset policy says (an admin preset
# "disable aimx-mailboxd.socket" keeps both packages from enabling it),
# create /var/lib/aimx, never mask anything, and never touch the config
# or mailboxes on removal.
#
# It also runs the installed helper behind `systemd-socket-activate --accept`
# the way aimx-mailboxd@.service does: as the package's system account
# aimx-mailboxd, with exactly the unit's capabilities as ambient (and
# inheritable and bounding) capabilities, and has an ordinary user create,
# list and force-delete a mailbox through the installed CLI. Then it drops
# each capability in turn and checks that the same scenario fails: the set is
# the smallest that works. AIMX_SMOKE_CAPS (default: the unit's set,
# "chown,dac_override,fowner") changes the set of the main run. (The full unit
# sandbox needs systemd as PID 1: the VM lane.)
#
# Needs root and permission to mount (unshare -m, overlayfs); otherwise it
# says why and exits 0 without running (a skip, never a silent pass).
set -euo pipefail

if [ "${1:-}" = --inner ]; then
	shift
	inner=1
else
	inner=0
fi

if [ "$inner" = 0 ]; then
	[ $# -eq 5 ] || { echo "usage: $0 DEB DEB_NEXT RPM RPM_NEXT TAG" >&2; exit 2; }
	if [ "$(id -u)" != 0 ]; then
		echo "skip package-smoke: needs root (mount namespace, overlayfs, chroot)"
		exit 0
	fi
	if ! unshare -m true 2>/dev/null; then
		echo "skip package-smoke: unshare -m is not permitted here"
		exit 0
	fi
	scratch=$(mktemp -d /tmp/aimx-smoke.XXXXXX)
	trap 'rmdir "$scratch"' EXIT
	unshare -m --propagation private "$0" --inner "$scratch" "$@"
	exit $?
fi

# --- inside the private mount namespace -------------------------------------
scratch=$1
shift
mount -t tmpfs -o size=512m tmpfs "$scratch"
mkdir -p "$scratch/upper" "$scratch/work" "$scratch/root" "$scratch/pkgs"
cp "$1" "$2" "$3" "$4" "$scratch/pkgs/"
if ! mount -t overlay overlay -o "lowerdir=/,upperdir=$scratch/upper,workdir=$scratch/work" "$scratch/root" 2>/dev/null; then
	echo "skip package-smoke: cannot mount overlayfs over / here"
	exit 0
fi
R=$scratch/root
mount -t proc proc "$R/proc"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mkdir -p "$R/pkgs"
mount --bind "$scratch/pkgs" "$R/pkgs"

deb=/pkgs/$(basename "$1")
deb_next=/pkgs/$(basename "$2")
rpm=/pkgs/$(basename "$3")
rpm_next=/pkgs/$(basename "$4")
tag=$5

caps=${AIMX_SMOKE_CAPS:-chown,dac_override,fowner}
chroot "$R" /bin/bash -s -- "$deb" "$deb_next" "$rpm" "$rpm_next" "$caps" "$tag" <<'CHROOT'
set -euo pipefail
deb=$1 deb_next=$2 rpm=$3 rpm_next=$4 caps=$5 tag=$6
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*" >&2; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
mode_is() { [ "$(stat -c '%U:%G %a' "$1")" = "$2" ]; }
wants=/etc/systemd/system/sockets.target.wants/aimx-mailboxd.socket
mask=/etc/systemd/system/aimx-mailboxd.socket
preset=/etc/systemd/system-preset/80-aimx-smoke.preset
not_masked() { [ ! -e "$mask" ] && [ ! -L "$mask" ]; }
# Where bash, zsh and fish look for a package's completions (zsh: Debian's
# vendor folder for the deb, site-functions for the rpm).
completions() {
	for f in /usr/share/bash-completion/completions/aimx-mailboxes "$1/_aimx-mailboxes" \
		/usr/share/fish/vendor_completions.d/aimx-mailboxes.fish; do
		[ -s "$f" ] || return 1
	done
}
version_is() { aimx-mailboxes --version | grep -q "^aimx-mailboxes $1 ("; }
no_template_links() { ! find /etc/systemd -name 'aimx-mailboxd@*' | grep -q .; }

export DEBIAN_FRONTEND=noninteractive
rm -f /etc/mailname
unset AIMX_DOMAIN || true
[ ! -d /run/systemd/system ] || { echo "FAIL /run/systemd/system exists in the chroot" >&2; exit 1; }

echo "--- deb: an admin preset disables the socket"
mkdir -p /etc/systemd/system-preset
echo 'disable aimx-mailboxd.socket' >"$preset"
check "dpkg -i $deb (preset: disable aimx-mailboxd.socket)" dpkg -i "$deb"
check "the admin preset keeps the socket disabled ($wants absent)" test ! -e "$wants" -a ! -L "$wants"
check "dpkg -P aimx-mailboxd" dpkg -P aimx-mailboxd
rm -f "$preset"

echo "--- deb: first install without a known domain"
check "dpkg -i $deb" sh -c "dpkg -i '$deb' >/tmp/dpkg-i.out 2>&1"
check "dpkg -i says in one line which file to write and how to check it" \
	sh -c "[ \"\$(grep -c '^aimx-mailboxd: ' /tmp/dpkg-i.out)\" = 1 ] && grep -qx 'aimx-mailboxd: /etc/aimx/config.toml not written: no mail domain is known (AIMX_DOMAIN is empty and /etc/mailname is missing); every request fails until you write it (domain = \"example.org\"), then check with: aimx-mailboxes doctor' /tmp/dpkg-i.out"
for f in /usr/libexec/aimx-mailboxd /usr/bin/aimx-mailboxes \
	/usr/lib/systemd/system/aimx-mailboxd.socket /usr/lib/systemd/system/aimx-mailboxd@.service \
	/usr/lib/tmpfiles.d/aimx-mailboxd.conf /usr/share/doc/aimx-mailboxd/copyright \
	/usr/share/man/man1/aimx-mailboxes.1.gz /usr/share/man/man8/aimx-mailboxd.8.gz; do
	check "installed $f" test -e "$f"
done
check "tmpfiles made /var/lib/aimx root:root 755" mode_is /var/lib/aimx "root:root 755"
for d in /var/lib/aimx/inbox /var/lib/aimx/sent; do
	check "tmpfiles made $d root:root 711" mode_is "$d" "root:root 711"
done
check "sysusers made the system account aimx-mailboxd" \
	sh -c 'getent passwd aimx-mailboxd | grep -Eq "^aimx-mailboxd:x:[0-9]+:[0-9]+:[^:]*:/:/(usr/)?sbin/nologin$"'
check "aimx-mailboxd is a system uid with its own group" \
	sh -c '[ "$(id -u aimx-mailboxd)" -lt 1000 ] && [ "$(id -gn aimx-mailboxd)" = aimx-mailboxd ]'
check "aimx-mailboxd has no password" sh -c 'getent shadow aimx-mailboxd | grep -q "^aimx-mailboxd:!"'
check "policy file /etc/aimx/mailboxd.toml root:root 644" mode_is /etc/aimx/mailboxd.toml "root:root 644"
check "policy file is a dpkg conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' aimx-mailboxd | grep -q '^ /etc/aimx/mailboxd.toml '"
for key in 'reserved_names = \[' 'max_mailboxes_per_user = 32' 'lock_timeout_seconds = 10'; do
	check "policy file sets $key" grep -q "^$key" /etc/aimx/mailboxd.toml
done
check "socket enabled offline under the default preset ($wants)" test -L "$wants"
check "completions for bash, zsh and fish installed" completions /usr/share/zsh/vendor-completions
check "aimx-mailboxes --version prints $tag" version_is "$tag"
check "the user's README (not the developers') in /usr/share/doc/aimx-mailboxd" \
	sh -c "grep -q '^## The policy file' /usr/share/doc/aimx-mailboxd/README.md && ! grep -q 'make vmtest' /usr/share/doc/aimx-mailboxd/README.md"
check "changelog.Debian.gz starts with this version's entry" \
	sh -c "zcat /usr/share/doc/aimx-mailboxd/changelog.Debian.gz | head -n 1 | grep -qF 'aimx-mailboxd (${tag#v}-1) unstable; urgency=medium'"
check "the man pages' footer names ${tag#v}" \
	sh -c "zcat /usr/share/man/man8/aimx-mailboxd.8.gz /usr/share/man/man1/aimx-mailboxes.1.gz | grep -c '^\.TH .* \"${tag#v}\" ' | grep -qx 2"
check "changelog.Debian.gz has the 0.1.0 release" \
	sh -c "zcat /usr/share/doc/aimx-mailboxd/changelog.Debian.gz | grep -qF 'aimx-mailboxd (0.1.0-1)'"
check "template and instances never enabled" no_template_links
check "no config written without a domain" test ! -e /etc/aimx/config.toml

echo "--- helper: a user creates, lists and deletes a mailbox"
id alice >/dev/null 2>&1 || useradd -m alice
mkdir -p /etc/aimx /run/aimx
printf '# operator comment\ndomain = "example.com"\n' >/etc/aimx/config.toml
chmod 0640 /etc/aimx/config.toml
as_alice() { setpriv --reuid=alice --regid=alice --init-groups env HOME=/home/alice "$@"; }
sa=
stop_helper() {
	[ -z "$sa" ] || { kill "$sa" 2>/dev/null || true; wait "$sa" 2>/dev/null || true; }
	sa=
}
trap stop_helper EXIT
# start_helper CAPS: serve /run/aimx/mailboxd.sock with the installed helper
# as aimx-mailboxd@.service runs it: its Environment=, User=aimx-mailboxd, its group only, and
# CAPS (comma-separated, e.g. chown,dac_override,fowner) as AmbientCapabilities= and
# CapabilityBoundingSet=.
start_helper() {
	local set=-all$(printf ',+%s' ${1//,/ })
	stop_helper
	rm -f /run/aimx/mailboxd.sock
	# shellcheck disable=SC2046 # the unit's Environment=, one -E K=V pair each
	systemd-socket-activate --accept -l /run/aimx/mailboxd.sock \
		$(sed -n 's/^Environment=/-E /p' /usr/lib/systemd/system/aimx-mailboxd@.service) -- \
		setpriv --reuid=aimx-mailboxd --regid=aimx-mailboxd --clear-groups \
		--inh-caps="$set" --ambient-caps="$set" --bounding-set="$set" \
		/usr/libexec/aimx-mailboxd >/dev/null 2>>/tmp/helper.log &
	sa=$!
	for _ in $(seq 50); do [ -S /run/aimx/mailboxd.sock ] && break; sleep 0.1; done
	chmod 0666 /run/aimx/mailboxd.sock
}
# leftover: a folder of alice's, world-readable, that CREATE takes over.
leftover() {
	mkdir -p /var/lib/aimx/sent/x && chown alice:alice /var/lib/aimx/sent/x && chmod 0755 /var/lib/aimx/sent/x
}
# scenario: alice creates x (folders hers, 0700, the leftover sent/x set
# back to 0700), fills it with an owner-only subfolder, lists it, and
# force-deletes it.
scenario() {
	leftover &&
	as_alice aimx-mailboxes create x &&
		mode_is /var/lib/aimx/inbox/x "alice:alice 700" &&
		mode_is /var/lib/aimx/sent/x "alice:alice 700" &&
		as_alice sh -c 'mkdir /var/lib/aimx/inbox/x/sub && echo hi >/var/lib/aimx/inbox/x/sub/m.md && echo hi >/var/lib/aimx/inbox/x/a.md && chmod 0700 /var/lib/aimx/inbox/x/sub' &&
		as_alice aimx-mailboxes list --json | grep -q '"name":"x".*"total":1' &&
		as_alice aimx-mailboxes delete x --force --yes &&
		[ ! -e /var/lib/aimx/inbox/x ]
}

start_helper "$caps"
leftover
check "alice: aimx-mailboxes create x (taking over her leftover sent/x, 0755)" as_alice aimx-mailboxes create x
check "inbox/x is alice:alice 700" mode_is /var/lib/aimx/inbox/x "alice:alice 700"
check "sent/x is alice:alice 700 (the leftover set back to 0700)" mode_is /var/lib/aimx/sent/x "alice:alice 700"
check "config gained [mailboxes.x] and kept the comment" \
	grep -qx '\[mailboxes.x\]' /etc/aimx/config.toml
check "config kept its comment" grep -qx '# operator comment' /etc/aimx/config.toml
check "config still root:root 640" mode_is /etc/aimx/config.toml "root:root 640"
check "inbox/ still root:root 711" mode_is /var/lib/aimx/inbox "root:root 711"
check "no file in /etc/aimx owned by aimx-mailboxd" \
	sh -c '! find /etc/aimx /var/lib/aimx -user aimx-mailboxd | grep -q .'
check "alice: files and an owner-only folder in her inbox" \
	as_alice sh -c 'mkdir /var/lib/aimx/inbox/x/sub && echo hi >/var/lib/aimx/inbox/x/sub/m.md && echo hi >/var/lib/aimx/inbox/x/a.md && chmod 0700 /var/lib/aimx/inbox/x/sub'
check "alice: list --json shows x with 1 message" \
	sh -c "setpriv --reuid=alice --regid=alice --init-groups aimx-mailboxes list --json | grep -q '\"name\":\"x\".*\"total\":1'"
check "alice: delete x --force --yes" as_alice aimx-mailboxes delete x --force --yes
check "inbox/x removed" test ! -e /var/lib/aimx/inbox/x
check "config lost [mailboxes.x]" sh -c "! grep -q 'mailboxes.x' /etc/aimx/config.toml"

# Each capability is needed: without it the same scenario fails.
for drop in ${caps//,/ }; do
	rest=$(echo ",$caps," | sed "s/,$drop,/,/; s/^,//; s/,$//")
	start_helper "${rest:-}"
	if why=$(scenario 2>&1); then
		bad "without cap_$drop the helper still serves create, list and force delete: the unit grants more than it needs"
	else
		ok "without cap_$drop the scenario fails, so it is needed: $(printf '%s\n' "$why" | grep -m 1 . || echo 'a check failed')"
	fi
	# Leave nothing behind for the next run (as root, by hand).
	sed -i '/^\[mailboxes\.x\]$/,/^owner = /d' /etc/aimx/config.toml
	rm -rf /var/lib/aimx/inbox/x /var/lib/aimx/sent/x /var/lib/aimx/inbox/.x.* /var/lib/aimx/sent/.x.*
done
stop_helper
if [ "$fails" -ne 0 ]; then echo "--- helper log"; cat /tmp/helper.log; fi
sum_before=$(sha256sum /etc/aimx/config.toml)
mkdir -p /var/lib/aimx/inbox/keep && echo mail >/var/lib/aimx/inbox/keep/1.md

# The operator edits the policy file; the upgrade ships a changed one.
sed -i 's/^max_mailboxes_per_user = 32$/max_mailboxes_per_user = 5/' /etc/aimx/mailboxd.toml
chmod 0755 /var/lib/aimx/inbox /var/lib/aimx/sent

echo "--- deb: upgrade"
# As from 0.1.0, which had no account: the preinst must make it before dpkg
# unpacks the unit that names it (the socket keeps accepting meanwhile).
userdel aimx-mailboxd && { groupdel aimx-mailboxd 2>/dev/null || true; }
check "dpkg --unpack $deb_next (upgrade; --force-confold as unattended upgrades run it)" \
	dpkg --force-confdef --force-confold --unpack "$deb_next" </dev/null
check "the account aimx-mailboxd exists once unpacked, before the postinst (preinst)" getent passwd aimx-mailboxd
check "dpkg --configure aimx-mailboxd" dpkg --force-confdef --force-confold --configure aimx-mailboxd </dev/null
check "socket still enabled after upgrade" test -L "$wants"
check "aimx-mailboxes --version prints $tag+smoke after the upgrade" version_is "$tag+smoke"
check "config untouched by upgrade" sh -c "[ \"\$(sha256sum /etc/aimx/config.toml)\" = '$sum_before' ]"
check "the operator's edit of mailboxd.toml survives the upgrade" \
	grep -qx 'max_mailboxes_per_user = 5' /etc/aimx/mailboxd.toml
check "the new version's mailboxd.toml is beside it as .dpkg-dist" \
	grep -q 'changed in the +smoke build' /etc/aimx/mailboxd.toml.dpkg-dist
for d in /var/lib/aimx/inbox /var/lib/aimx/sent; do
	check "upgrade sets $d (left 0755) to root:root 711" mode_is "$d" "root:root 711"
done

echo "--- deb: remove, then purge"
check "the helper made its lock and index beside the config" test -f /etc/aimx/.config.toml.lock -a -f /etc/aimx/.config.toml.index
check "a socket file is left behind by the stopped listener" test -S /run/aimx/mailboxd.sock
check "dpkg -r aimx-mailboxd" dpkg -r aimx-mailboxd
check "dpkg -r deletes the stale socket file and the emptied /run/aimx" test ! -e /run/aimx
check "helper removed" test ! -e /usr/libexec/aimx-mailboxd
check "dpkg -r masks nothing (no $mask)" not_masked
check "config kept on remove" sh -c "[ \"\$(sha256sum /etc/aimx/config.toml)\" = '$sum_before' ]"
check "dpkg -P aimx-mailboxd" dpkg -P aimx-mailboxd
check "enablement link gone after purge" test ! -e "$wants" -a ! -L "$wants"
check "no mask left after purge" test ! -L /etc/systemd/system/aimx-mailboxd.socket
check "config kept on purge" sh -c "[ \"\$(sha256sum /etc/aimx/config.toml)\" = '$sum_before' ]"
check "purge leaves only the config in /etc/aimx (no lock, index, policy or backup)" \
	sh -c '[ "$(ls -A /etc/aimx)" = config.toml ]'
check "policy conffile removed on purge" test ! -e /etc/aimx/mailboxd.toml
check "system account kept on purge (its uid is never reused)" getent passwd aimx-mailboxd
check "mail kept on purge" test -f /var/lib/aimx/inbox/keep/1.md

echo "--- deb: first install with AIMX_DOMAIN seeds a minimal config"
rm -rf /etc/aimx
check "AIMX_DOMAIN=example.org dpkg -i $deb" env AIMX_DOMAIN=example.org dpkg -i "$deb"
check "seeded config is root:root 640" mode_is /etc/aimx/config.toml "root:root 640"
check "seeded config names the domain" grep -qx 'domain = "example.org"' /etc/aimx/config.toml
check "no temporary file left in /etc/aimx" sh -c "! ls -A /etc/aimx | grep -q tmp"
check "dpkg -P aimx-mailboxd" dpkg -P aimx-mailboxd

echo "--- rpm: an admin preset disables the socket"
rm -rf /etc/aimx /var/lib/aimx
userdel aimx-mailboxd 2>/dev/null || true
groupdel aimx-mailboxd 2>/dev/null || true
echo 'disable aimx-mailboxd.socket' >"$preset"
check "rpm -i $rpm (preset: disable aimx-mailboxd.socket)" rpm -i --nodeps "$rpm"
check "rpm: the admin preset keeps the socket disabled ($wants absent)" test ! -e "$wants" -a ! -L "$wants"
check "rpm: %post enabled aimx-mailboxd-reload.path as the preset says" \
	test -L /etc/systemd/system/paths.target.wants/aimx-mailboxd-reload.path
check "rpm -e aimx-mailboxd" rpm -e --nodeps aimx-mailboxd
rm -f "$preset"

echo "--- rpm: install, upgrade, erase"
check "rpm -i $rpm" rpm -i --nodeps "$rpm"
check "rpm: helper installed" test -x /usr/libexec/aimx-mailboxd
check "rpm: tmpfiles made /var/lib/aimx/inbox root:root 711" mode_is /var/lib/aimx/inbox "root:root 711"
check "rpm: sysusers made the system account aimx-mailboxd" getent passwd aimx-mailboxd
check "rpm: policy file is %config(noreplace)" \
	sh -c "rpm -q --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' aimx-mailboxd | grep -qx 'cn /etc/aimx/mailboxd.toml'"
check "rpm: socket enabled offline under the default preset" test -L "$wants"
check "rpm: completions for bash, zsh and fish installed" completions /usr/share/zsh/site-functions
check "rpm: aimx-mailboxes --version prints $tag" version_is "$tag"
check "rpm: %changelog starts with this version's entry" \
	sh -c "rpm -q --changelog aimx-mailboxd | head -n 1 | grep -q -- ' - ${tag#v}-1\$'"
check "rpm: licence texts in /usr/share/licenses/aimx-mailboxd" \
	test -s /usr/share/licenses/aimx-mailboxd/LICENSE -a -s /usr/share/licenses/aimx-mailboxd/golang.org-x-sys.LICENSE
check "rpm: the user's README in /usr/share/doc/aimx-mailboxd" \
	grep -q '^# aimx-mailboxd' /usr/share/doc/aimx-mailboxd/README.md
check "rpm: template never enabled" no_template_links
sed -i 's/^lock_timeout_seconds = 10$/lock_timeout_seconds = 3/' /etc/aimx/mailboxd.toml
check "rpm -U $rpm_next" rpm -U --nodeps "$rpm_next"
check "rpm: the operator's edit of mailboxd.toml survives the upgrade" \
	grep -qx 'lock_timeout_seconds = 3' /etc/aimx/mailboxd.toml
check "rpm: the new version's mailboxd.toml is beside it as .rpmnew" \
	grep -q 'changed in the +smoke build' /etc/aimx/mailboxd.toml.rpmnew
check "rpm: socket still enabled after upgrade" test -L "$wants"
check "rpm -e aimx-mailboxd" rpm -e --nodeps aimx-mailboxd
check "rpm: socket disabled after erase" test ! -e "$wants" -a ! -L "$wants"
check "rpm: erase masks nothing (no $mask)" not_masked
for d in /usr/share/doc/aimx-mailboxd /usr/share/licenses/aimx-mailboxd; do
	check "rpm: erase leaves no $d" test ! -e "$d"
done
check "rpm: /var/lib/aimx kept after erase" test -d /var/lib/aimx/inbox

if [ "$fails" -ne 0 ]; then
	echo "FAIL package-smoke: $fails check(s) failed" >&2
	exit 1
fi
echo "ok   package-smoke: all checks passed"
CHROOT

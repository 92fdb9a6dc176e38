#!/bin/sh
# break.sh KIND DEB — rewrite a built .deb in place with one deliberate
# defect, to show that the VM lane fails and names the broken promise:
#
#   accept-no    aimx-mailboxd.socket with Accept=no    (promises 1-3)
#   socket-mode  the socket with SocketMode=0600         (promise 1)
#   sandbox-off  the instance unit without its hardening (promise 5)
#   no-stop      prerm that leaves the socket running    (promise 7)
#   no-preinst   no preinst: the account comes only with the postinst, after
#                the unit naming it is unpacked             (promise 7)
set -eu

kind=$1
deb=$2
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
dpkg-deb -R "$deb" "$tree"
units=$tree/usr/lib/systemd/system
case $kind in
accept-no)
	sed -i 's/^Accept=yes$/Accept=no/' "$units/aimx-mailboxd.socket"
	grep -q '^Accept=no$' "$units/aimx-mailboxd.socket" ;;
socket-mode)
	sed -i 's/^SocketMode=0666$/SocketMode=0600/' "$units/aimx-mailboxd.socket"
	grep -q '^SocketMode=0600$' "$units/aimx-mailboxd.socket" ;;
sandbox-off)
	# Keep [Unit], ExecStart= and User=; drop every other [Service] line.
	awk '/^\[Service\]/ { s = 1; print; next } /^\[/ { s = 0 }
		!s || /^(ExecStart|User|Type)=/ { print }' "$units/aimx-mailboxd@.service" >"$tree/svc"
	mv "$tree/svc" "$units/aimx-mailboxd@.service" ;;
no-stop)
	printf '#!/bin/sh\nexit 0\n' >"$tree/DEBIAN/prerm" ;;
no-preinst)
	rm "$tree/DEBIAN/preinst" ;;
*)
	echo "break.sh: unknown breakage '$kind' (accept-no, socket-mode, sandbox-off, no-stop, no-preinst)" >&2
	exit 2 ;;
esac
dpkg-deb -b "$tree" "$deb" >/dev/null
echo "break.sh: $deb now has the defect '$kind'"

#!/bin/sh
# In-guest runner of make vmbench (installed as run.sh in place of the
# scenario runner): wait for boot, install our .deb, start the floors'
# socket units, run bench/load against both activated sockets, and print
# its markdown between AIMX-VMBENCH markers, then the verdict line the
# harness looks for. Everything goes to the second serial port.
exec >/dev/ttyS1 2>&1
cd /usr/lib/aimx-vmtest
export SYSTEMD_COLORS=0
. ./env
echo "AIMX-VMTEST: guest $(. /etc/os-release; echo "$PRETTY_NAME"), $(systemctl --version | head -n 1)"
echo "AIMX-VMTEST: system $(systemctl is-system-running --wait)"
systemctl --failed --no-legend --plain

rc=0
mkdir -p /etc/aimx
(umask 0027 && printf '# make vmbench\ndomain = "bench.test"\n' >/etc/aimx/config.toml)
dpkg -i debs/*.deb >/dev/null || rc=1
# Floor (a): bench/floor as the instance of a second Accept=yes socket
# unit, for the bench only (not part of the package).
cp aimx-benchfloor.socket aimx-benchfloor@.service /etc/systemd/system/
# Floor (a'): the same program under a copy of the installed instance
# unit, its whole sandbox, only ExecStart= changed.
sed 's|/run/aimx-benchfloor.sock|/run/aimx-benchfloor-sandboxed.sock|; s|^Description=.*|Description=make vmbench floor (a-prime) socket|' \
	aimx-benchfloor.socket >/etc/systemd/system/aimx-benchfloor-sandboxed.socket
sed 's|^ExecStart=.*|ExecStart=/usr/lib/aimx-vmtest/floor|; s|^Description=.*|Description=make vmbench floor (a-prime), one connection|' \
	/usr/lib/systemd/system/aimx-mailboxd@.service >/etc/systemd/system/aimx-benchfloor-sandboxed@.service
systemctl daemon-reload
systemctl start aimx-benchfloor.socket aimx-benchfloor-sandboxed.socket || rc=1
for u in aimx-mailboxd.socket aimx-benchfloor.socket aimx-benchfloor-sandboxed.socket; do
	echo "AIMX-VMTEST: $u $(systemctl is-active $u), Accept=$(systemctl show -p Accept --value $u)"
done
if [ "$rc" = 0 ]; then
	./load -socket /run/aimx/mailboxd.sock -floor-socket /run/aimx-benchfloor.sock \
		-floor-sandboxed-socket /run/aimx-benchfloor-sandboxed.sock \
		-config /etc/aimx/config.toml -out /tmp/vmbench.md $VMTEST_ARGS
	rc=$?
fi
left=$(systemctl list-units --all --no-legend --plain 'aimx-mailboxd@*' 'aimx-benchfloor*@*' | wc -l)
echo "AIMX-VMTEST: instance units left after the run: $left"
if [ "$rc" = 0 ]; then
	echo "AIMX-VMBENCH-BEGIN"
	cat /tmp/vmbench.md
	echo "AIMX-VMBENCH-END"
else
	journalctl --no-pager -o short-monotonic -p warning -n 40
fi
echo "AIMX-VMTEST-RESULT: rc=$rc"
exit $rc

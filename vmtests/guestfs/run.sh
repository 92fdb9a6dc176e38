#!/bin/sh
# In-guest runner: wait for boot, run the scenario binary, print the
# verdict line the harness looks for. Everything goes to the second
# serial port (the harness's result log).
exec >/dev/ttyS1 2>&1
cd /usr/lib/aimx-vmtest
export SYSTEMD_COLORS=0
. ./env
echo "AIMX-VMTEST: guest $(. /etc/os-release; echo "$PRETTY_NAME"), $(systemctl --version | head -n 1)"
echo "AIMX-VMTEST: system $(systemctl is-system-running --wait)"
systemctl --failed --no-legend --plain
./guest.test -test.v -test.timeout "${VMTEST_GO_TIMEOUT:-40m}" $VMTEST_ARGS
rc=$?
if [ "$rc" != 0 ]; then
	echo "AIMX-VMTEST: journal of the socket and warnings, for the failure above:"
	journalctl --no-pager -o short-monotonic -u aimx-mailboxd.socket -n 40
	journalctl --no-pager -o short-monotonic -p warning -n 40
fi
echo "AIMX-VMTEST-RESULT: rc=$rc"
exit $rc

# aimx_remove_runtime and aimx_purge_state: spliced into the deb postrm and the
# rpm %postun at the #AIMX_CLEANUP# marker by packaging/package.mk. They remove
# what the package's units and the helper made that no package file lists, and
# nothing else: never /etc/aimx/config.toml (the operator's, shared with the
# AIMX daemon), never inbox/, sent/ or a mailbox under /var/lib/aimx (users'
# mail), never the account (its uid must not be reused). DPKG_ROOT (dpkg's
# install into another root) prefixes every path.

# aimx_remove_runtime: once the socket unit is stopped (remove, erase).
aimx_remove_runtime() {
	root=${DPKG_ROOT:-}
	# systemd leaves a listening socket's file behind when the unit stops;
	# /run/aimx goes too if that leaves it empty (aimx.service makes its own).
	rm -f "$root/run/aimx/mailboxd.sock"
	rmdir "$root/run/aimx" 2>/dev/null || :
	# aimx-mailboxd-reload@.service's stamp and lock (RuntimeDirectoryPreserve=yes).
	rm -f "$root/run/aimx-mailboxd-reload/stamp" "$root/run/aimx-mailboxd-reload/lock"
	rmdir "$root/run/aimx-mailboxd-reload" 2>/dev/null || :
}

# aimx_purge_state: the helper's files beside the config and in the data dir
# (purge, erase).
aimx_purge_state() {
	root=${DPKG_ROOT:-}
	# The lock, the checked index and the folders cache beside the config, and the temporary
	# file an interrupted edit (.config.toml.tmp- and 16 hex digits) or first
	# install (.config.toml.tmp-pkg-PID) left: the helper's names only, never
	# the AIMX daemon's own temporary files.
	rm -f "$root/etc/aimx/.config.toml.lock" "$root/etc/aimx/.config.toml.index" \
		"$root/etc/aimx/.config.toml.folders" \
		"$root"/etc/aimx/.config.toml.tmp-???????????????? "$root"/etc/aimx/.config.toml.tmp-pkg-*
	# The folders a forced DELETE sets mailboxes aside in, when empty (the
	# helper empties them after each answer; one that is not empty holds mail).
	rmdir "$root/var/lib/aimx/inbox/.trash" 2>/dev/null || :
	rmdir "$root/var/lib/aimx/sent/.trash" 2>/dev/null || :
}

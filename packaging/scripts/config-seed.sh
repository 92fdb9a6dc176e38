# aimx_seed_config: spliced into the deb postinst and the rpm %post at the
# #AIMX_SEED_CONFIG# marker by packaging/package.mk; called on a first install only.
# /etc/aimx/config.toml belongs to the operator and is rewritten by the helper,
# so it is never a packaged file. When it is missing and a mail domain is known
# (AIMX_DOMAIN in the environment, else /etc/mailname), write a minimal one so
# the socket works right away. Otherwise leave it absent, and say so in one line
# on stderr (every request fails until it exists): which file to write, why it
# was not written (an AIMX_DOMAIN or /etc/mailname that is not a domain name is
# named, never passed over), and the command that checks the result. A non-empty
# AIMX_DOMAIN is the admin's choice: when it is not a domain name, /etc/mailname
# is not used instead. DPKG_ROOT (dpkg's install into another root) prefixes
# every path; messages name the paths as the installed system sees them.
aimx_seed_config() {
	root=${DPKG_ROOT:-}
	cfg=/etc/aimx/config.toml
	[ -e "$root$cfg" ] && return 0
	if [ -n "${AIMX_DOMAIN:-}" ]; then
		domain=$AIMX_DOMAIN from="AIMX_DOMAIN"
	elif [ -r "$root/etc/mailname" ]; then
		domain=$(head -n 1 "$root/etc/mailname" | tr -d ' \t\r') from="/etc/mailname"
	else
		domain= from=
	fi
	case "$domain" in
	'' | .* | *. | *..* | -* | *- | *.-* | *-.* | *[!A-Za-z0-9.-]*)
		if [ -z "$from" ]; then
			why="no mail domain is known (AIMX_DOMAIN is empty and /etc/mailname is missing)"
		else
			# One line whatever the value holds.
			why="$from is '$(printf '%s' "$domain" | tr -c 'A-Za-z0-9.@_+:-' '?')', not a domain name"
		fi
		echo "aimx-mailboxd: $cfg not written: $why; every request fails until you write it (domain = \"example.org\"), then check with: aimx-mailboxes doctor" >&2
		return 1
		;;
	esac
	# mkdir, not install(1): rpmlint rightly flags install in %post.
	[ -d "$root/etc/aimx" ] || mkdir -m 0755 "$root/etc/aimx"
	# Root-owned, 0640 from the start (umask), beside the config so the
	# rename below is atomic.
	tmp=$root/etc/aimx/.config.toml.tmp-pkg-$$
	rm -f "$tmp"
	if ! (umask 0027 && printf '# Written by the aimx-mailboxd package on first install; edit freely.\ndomain = "%s"\n' "$domain" >"$tmp"); then
		rm -f "$tmp"
		echo "aimx-mailboxd: $cfg not written: cannot write in /etc/aimx; every request fails until you write it (domain = \"$domain\"), then check with: aimx-mailboxes doctor" >&2
		return 1
	fi
	# Never clobber a config that appeared meanwhile.
	if [ -e "$root$cfg" ]; then
		rm -f "$tmp"
	else
		mv "$tmp" "$root$cfg"
	fi
}

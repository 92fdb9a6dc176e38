# aimx_seed_config: spliced into the deb postinst and the rpm %post at the
# #AIMX_SEED_CONFIG# marker by packaging/package.mk; called on a first install only.
# /etc/aimx/config.toml belongs to the operator and is rewritten by the helper,
# so it is never a packaged file. When it is missing and a mail domain is known
# (AIMX_DOMAIN in the environment, else /etc/mailname), write a minimal one so
# the socket works right away. Otherwise leave it absent: the helper then
# answers every request with an IO error naming the missing file.
aimx_seed_config() {
	cfg=/etc/aimx/config.toml
	[ -e "$cfg" ] && return 0
	domain="${AIMX_DOMAIN:-}"
	if [ -z "$domain" ] && [ -r /etc/mailname ]; then
		domain=$(head -n 1 /etc/mailname | tr -d ' \t\r')
	fi
	case "$domain" in
	'' | .* | *. | *..* | *[!A-Za-z0-9.-]*)
		return 0 ;;
	esac
	# mkdir, not install(1): rpmlint rightly flags install in %post.
	[ -d /etc/aimx ] || mkdir -m 0755 /etc/aimx
	# Root-owned, 0640 from the start (umask), beside the config so the
	# rename below is atomic.
	tmp=/etc/aimx/.config.toml.tmp-pkg-$$
	rm -f "$tmp"
	(umask 0027 && printf '# Written by the aimx-mailboxd package on first install; edit freely.\ndomain = "%s"\n' "$domain" >"$tmp") || {
		rm -f "$tmp"
		return 0
	}
	# Never clobber a config that appeared meanwhile.
	if [ -e "$cfg" ]; then
		rm -f "$tmp"
	else
		mv "$tmp" "$cfg"
	fi
}

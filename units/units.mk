# units/units.mk — offline checks of the systemd units (no VM, no running
# systemd needed). Included by the top Makefile before `test:`.
#
#   make units-verify    systemd-analyze verify; any line on stderr fails
#   make units-security  systemd-analyze security --offline, fails above 1.2
#   make units-tmpfiles  applies the tmpfiles.d entry to a scratch root
#   make units-check     all three (they also run in `make test`)
#
# The checks run against a scratch root (.cache/units-root) that holds the
# host's own unit tree (for sysinit.target and friends), our units, and the
# real cgo helper at /usr/libexec/aimx-mailboxd, so that verify can check
# ExecStart= without installing anything on this machine.

UNITS_ROOT := .cache/units-root
UNITS_FILES := units/aimx-mailboxd.socket units/aimx-mailboxd@.service
# The reload path beside the AIMX daemon (its script must exist for verify's ExecStart= check).
UNITS_FILES += units/aimx-mailboxd-reload.path units/aimx-mailboxd-reload@.service units/aimx-mailboxd-reload.timer
# systemd-analyze security --threshold takes tenths: 12 means exposure 1.2.
UNITS_EXPOSURE_MAX := 12

.PHONY: units-root units-verify units-security units-tmpfiles units-check
TEST_TARGETS += units-verify units-security units-tmpfiles
# What each needs from apt (mk/common.mk); the real helper comes from
# pkg-binaries (packaging/package.mk).
STEP_TOOLS_units-verify = $(PKG_BIN_TOOLS) systemd-analyze:systemd man:man-db
STEP_TOOLS_units-security = $(PKG_BIN_TOOLS) systemd-analyze:systemd
STEP_TOOLS_units-tmpfiles = systemd-tmpfiles:systemd
ROOT_ONLY += units-tmpfiles
ROOT_WHY_units-tmpfiles := chown to root:root

units-check: units-verify units-security units-tmpfiles

units-root: pkg-binaries
	@$(call need-tool,systemd-analyze,systemd)
	@rm -rf $(UNITS_ROOT)
	@mkdir -p $(UNITS_ROOT)/usr/lib/systemd $(UNITS_ROOT)/usr/libexec $(UNITS_ROOT)/etc/aimx $(UNITS_ROOT)/var/lib/aimx
	@cp -a /usr/lib/systemd/system $(UNITS_ROOT)/usr/lib/systemd/
	@install -m 0644 $(UNITS_FILES) $(UNITS_ROOT)/usr/lib/systemd/system/
	@install -m 0755 $(PKG_STAGE)/bin/aimx-mailboxd $(UNITS_ROOT)/usr/libexec/aimx-mailboxd
	@install -m 0755 units/aimx-mailboxd-reload $(UNITS_ROOT)/usr/libexec/aimx-mailboxd-reload

# --man=yes (the default) checks Documentation=man: against our own pages.
units-verify: units-root man
	@$(call need-tool,man,man-db)
	@out=$$(MANPATH=$(CURDIR)/$(PKG_STAGE)/manpath systemd-analyze verify --root=$(UNITS_ROOT) \
		$(addprefix $(UNITS_ROOT)/usr/lib/systemd/system/,$(notdir $(UNITS_FILES))) 2>&1); rc=$$?; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then \
		printf '%s\n' "$$out" >&2; echo "FAIL units-verify: systemd-analyze verify printed the above (rc=$$rc)" >&2; exit 1; \
	fi; echo "ok   units-verify: $(notdir $(UNITS_FILES))"

units-security: units-root
	@out=$$(systemd-analyze security --offline=yes --root=$(UNITS_ROOT) \
		--threshold=$(UNITS_EXPOSURE_MAX) --no-pager aimx-mailboxd@x.service 2>&1); rc=$$?; \
	lim=$$(awk 'BEGIN { printf "%.1f", $(UNITS_EXPOSURE_MAX) / 10 }'); \
	score=$$(printf '%s\n' "$$out" | sed -n 's/.*Overall exposure level for aimx-mailboxd@x.service: \([0-9.]*\).*/\1/p'); \
	if [ $$rc -ne 0 ] || [ -z "$$score" ]; then \
		printf '%s\n' "$$out" | grep -v '^  *✓' >&2; \
		echo "FAIL units-security: exposure $${score:-unknown} is above $$lim (rc=$$rc)" >&2; exit 1; \
	fi; echo "ok   units-security: aimx-mailboxd@x.service exposure $$score (limit $$lim)"

# Install the tmpfiles.d entry into a scratch root under the name the
# maintainer scripts use, apply it there, and check owner and mode; then
# once more over folders an older version left 0755, which it must fix.
units-tmpfiles:
	@$(call root-only,units-tmpfiles) $(call need-tool,systemd-tmpfiles,systemd); \
	root=$$(mktemp -d); trap 'rm -rf "$$root"' EXIT; \
	install -D -m 0644 units/aimx-mailboxd.tmpfiles "$$root/usr/lib/tmpfiles.d/aimx-mailboxd.conf"; \
	check() { \
		for spec in "/var/lib/aimx 755" "/var/lib/aimx/inbox 711" "/var/lib/aimx/sent 711"; do \
			d=$${spec% *}; want="root:root $${spec#* } directory"; \
			got=$$(stat -c '%U:%G %a %F' "$$root$$d" 2>&1); \
			[ "$$got" = "$$want" ] || { echo "FAIL units-tmpfiles: $$d is '$$got' $$1, want '$$want'" >&2; return 1; }; \
		done; }; \
	systemd-tmpfiles --root="$$root" --create aimx-mailboxd.conf && check "on a fresh root" || exit 1; \
	chmod 0755 "$$root/var/lib/aimx/inbox" "$$root/var/lib/aimx/sent"; \
	systemd-tmpfiles --root="$$root" --create aimx-mailboxd.conf && check "over 0755 folders" || exit 1; \
	echo "ok   units-tmpfiles: /var/lib/aimx root:root 0755, inbox/ and sent/ root:root 0711 (fresh, and over 0755)"

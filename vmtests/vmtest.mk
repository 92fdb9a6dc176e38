# vmtests: `make vmtest` boots real Debian guests (systemd as PID 1) under
# qemu, installs our .deb with dpkg and runs the scenarios in
# vmtests/guest as real users through the activated socket. Separate from
# `make test`; see README.md, "The VM lane: `make vmtest`".
# This folder's other fragments: AIMX's daemon for the guests, make vmbench.
include vmtests/aimx.mk vmtests/vmbench.mk

VMTEST_SUITES ?= bookworm trixie
# The two package versions the upgrade scenario installs, N then N+1.
VMTEST_V1 ?= 0.0.1
VMTEST_V2 ?= 0.0.2
# The released version TestUpgradeRelease upgrades from, built from its own
# commit with that commit's Makefile. 0.1.0 has no tag, and the changelog
# (packaging/changelog.yml) first appeared with 0.2.0 already on top: its
# commit is the last one dated 2026-11-26, the date of its changelog entry,
# whose helper unit still ran as root and whose package made no account.
VMTEST_REL := 0.1.0
VMTEST_REL_COMMIT := 6a3119cfedbde80bd3b8bcf53757881de6ec5dde
# Built once, kept under vmtests/.cache (gitignored), keyed by the commit;
# named as that commit's Makefile names it (the guests are amd64).
VMTEST_REL_DEB := vmtests/.cache/release-$(VMTEST_REL_COMMIT)/aimx-mailboxd_$(VMTEST_REL)_amd64.deb
# Deliberate breakage, to show the lane fails with a named promise:
# accept-no, socket-mode, sandbox-off, no-stop, no-preinst (see vmtests/break.sh).
VMTEST_BREAK ?=
VMTEST_OUT := vmtests/.cache/run
VMTEST_TOOLS := qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap cpio:cpio

.PHONY: vmtest vmtest-deps vmtest-debs vmtest-guest $(addprefix vmtest-,$(VMTEST_SUITES))

vmtest: $(addprefix vmtest-,$(VMTEST_SUITES))

# The guest finds each version's .deb by the file name packaging/package.mk
# gives it (make print-deb), passed as AIMX_VMTEST_DEB1 and _DEB2.
vmtest-deb-path = $$($(MAKE) -s --no-print-directory print-deb PKG_VERSION=$(1))
vmtest-deb-name = $$(basename "$(call vmtest-deb-path,$(1))")
vmtest-rpm-path = $$($(MAKE) -s --no-print-directory print-rpm PKG_VERSION=$(1))

$(addprefix vmtest-,$(VMTEST_SUITES)): vmtest-%: vmtest-deps vmtest-debs vmtest-guest vmtest-aimx-payload
	AIMX_VMTEST_V1=$(VMTEST_V1) AIMX_VMTEST_V2=$(VMTEST_V2) AIMX_VMTEST_BREAK=$(VMTEST_BREAK) \
		AIMX_VMTEST_DEB1=$(call vmtest-deb-name,$(VMTEST_V1)) AIMX_VMTEST_DEB2=$(call vmtest-deb-name,$(VMTEST_V2)) \
		AIMX_VMTEST_REL=$(VMTEST_REL) AIMX_VMTEST_RELDEB=$(notdir $(VMTEST_REL_DEB)) \
		VMTEST_PAYLOAD=$(VMTEST_AIMX_PAYLOAD) \
		sh vmtests/vmtest.sh $* $(VMTEST_OUT)/guest.test $(VMTEST_OUT)/debs $(VMTEST_OUT)

# Installs the host tools when missing (mk/common.mk), and fetches the
# package lists kernel.sh reads when a fresh machine has none.
vmtest-deps:
	@$(call need-tools,$(VMTEST_TOOLS),make vmtest)
	@apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -q

# Versions N and N+1 of our package, the same source built twice with a
# different version, so the upgrade scenario can tell the binaries apart.
# They are moved out of dist/, which keeps only what `make package` made.
# The released version's package (as released: VMTEST_BREAK leaves it alone).
vmtest-debs: $(VMTEST_REL_DEB)
	rm -rf $(VMTEST_OUT)/debs && mkdir -p $(VMTEST_OUT)/debs
	for v in $(VMTEST_V1) $(VMTEST_V2); do \
		$(MAKE) --no-print-directory package PKG_VERSION=$$v && \
		mv $(call vmtest-deb-path,$$v) $(VMTEST_OUT)/debs/ && rm -f $(call vmtest-rpm-path,$$v) || exit 1; \
	done
	@if [ -n "$(VMTEST_BREAK)" ]; then for d in $(VMTEST_OUT)/debs/*.deb; do sh vmtests/break.sh $(VMTEST_BREAK) $$d || exit 1; done; fi
	cp $(VMTEST_REL_DEB) $(VMTEST_OUT)/debs/

# The released package: `make package PKG_VERSION=$(VMTEST_REL)` in a git
# worktree of its commit, with nothing of this make's settings passed down
# (its Makefile finds Go on PATH). About two and a half minutes, once.
$(VMTEST_REL_DEB):
	@git cat-file -e $(VMTEST_REL_COMMIT)^{commit} 2>/dev/null || \
		{ echo "error: commit $(VMTEST_REL_COMMIT) ($(VMTEST_REL)) is not in this repository: make vmtest needs a git clone with its history" >&2; exit 1; }
	@tree=$$(mktemp -d /tmp/aimx-release.XXXXXX); log=$(@D).log; \
	trap 'git worktree remove --force "$$tree" >/dev/null 2>&1; rm -rf "$$tree"; git worktree prune' EXIT; \
	echo "building $(VMTEST_REL) from $(VMTEST_REL_COMMIT) (log: $$log)"; \
	mkdir -p $(@D) && git worktree add --detach "$$tree" $(VMTEST_REL_COMMIT) >$$log 2>&1 && \
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u SOURCE_DATE_EPOCH \
		$(MAKE) -C "$$tree" --no-print-directory package PKG_VERSION=$(VMTEST_REL) >>$$log 2>&1 && \
	cp "$$tree/dist/$(notdir $@)" $@.tmp && mv $@.tmp $@ || \
		{ tail -n 30 $$log >&2; echo "error: building $(VMTEST_REL) from $(VMTEST_REL_COMMIT) failed (log: $$log)" >&2; exit 1; }

# The scenarios, and the sandbox probe (vmtests/probe) that one of them
# runs in place of the helper; vmtest.sh ships the probe beside guest.test.
vmtest-guest:
	mkdir -p $(VMTEST_OUT)
	CGO_ENABLED=0 $(GO) test -c -tags vmtest -o $(VMTEST_OUT)/guest.test ./vmtests/guest
	CGO_ENABLED=0 $(GO) build -trimpath -o $(VMTEST_OUT)/probe ./vmtests/probe

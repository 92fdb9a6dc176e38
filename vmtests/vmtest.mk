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
# Deliberate breakage, to show the lane fails with a named promise:
# accept-no, socket-mode, sandbox-off, no-stop (see vmtests/break.sh).
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
vmtest-debs:
	rm -rf $(VMTEST_OUT)/debs && mkdir -p $(VMTEST_OUT)/debs
	for v in $(VMTEST_V1) $(VMTEST_V2); do \
		$(MAKE) --no-print-directory package PKG_VERSION=$$v && \
		mv $(call vmtest-deb-path,$$v) $(VMTEST_OUT)/debs/ && rm -f $(call vmtest-rpm-path,$$v) || exit 1; \
	done
	@if [ -n "$(VMTEST_BREAK)" ]; then for d in $(VMTEST_OUT)/debs/*.deb; do sh vmtests/break.sh $(VMTEST_BREAK) $$d || exit 1; done; fi

# The scenarios, and the sandbox probe (vmtests/probe) that one of them
# runs in place of the helper; vmtest.sh ships the probe beside guest.test.
vmtest-guest:
	mkdir -p $(VMTEST_OUT)
	CGO_ENABLED=0 $(GO) test -c -tags vmtest -o $(VMTEST_OUT)/guest.test ./vmtests/guest
	CGO_ENABLED=0 $(GO) build -trimpath -o $(VMTEST_OUT)/probe ./vmtests/probe

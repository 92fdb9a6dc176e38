# vmtests: `make vmbench` boots the VM lane's guest (qemu TCG, systemd as
# PID 1) with our .deb installed and runs bench/load in it against the
# real activated /run/aimx/mailboxd.sock, with floor (a) behind a second
# Accept=yes socket unit (vmtests/guestfs/aimx-benchfloor.*), floor (a')
# behind a copy of the installed sandboxed instance unit, and floor (b)
# beside /etc/aimx/config.toml. Emulated times are meaningless in
# absolute terms; the ratio to the floors is the result. The results are
# spliced into docs/PERFORMANCE.md. Not part of `make test` or CI.

VMBENCH_SUITES ?= bookworm trixie
# Pairs per caller; each connection costs ~0.3-0.5 s under TCG.
VMBENCH_PAIRS ?= 100
VMBENCH_OUT := vmtests/.cache/vmbench

.PHONY: vmbench vmbench-deb vmbench-bin $(addprefix vmbench-,$(VMBENCH_SUITES))

vmbench: $(addprefix vmbench-,$(VMBENCH_SUITES))
	@{ for s in $(VMBENCH_SUITES); do \
	     echo; echo "### $$s"; echo; sed 's/^### /#### /' $(VMBENCH_OUT)/$$s.md || exit 1; \
	   done; } > $(VMBENCH_OUT)/vmbench.md
	@$(call splice,docs/PERFORMANCE.md,vmbench,$(VMBENCH_OUT)/vmbench.md) && echo "docs/PERFORMANCE.md: guest results updated"

# One suite: boot, bench, and cut the markdown out of the guest's log.
$(addprefix vmbench-,$(VMBENCH_SUITES)): vmbench-%: vmtest-deps vmbench-deb vmbench-bin
	VMTEST_RUNNER=vmtests/guestfs/bench.sh VMTEST_PAYLOAD=$(VMBENCH_OUT)/payload \
	VMTEST_ARGS='-pairs $(VMBENCH_PAIRS)' VMTEST_TIMEOUT=$${VMTEST_TIMEOUT:-1200} \
		sh vmtests/vmtest.sh $* - $(VMBENCH_OUT)/debs $(VMBENCH_OUT)
	sed -n '/^AIMX-VMBENCH-BEGIN/,/^AIMX-VMBENCH-END/p' $(VMBENCH_OUT)/$*.result.log | sed '1d;$$d' > $(VMBENCH_OUT)/$*.md
	@test -s $(VMBENCH_OUT)/$*.md && cat $(VMBENCH_OUT)/$*.md

# Version N of our package, as the VM lane builds it.
vmbench-deb:
	rm -rf $(VMBENCH_OUT)/debs && mkdir -p $(VMBENCH_OUT)/debs
	$(MAKE) --no-print-directory package PKG_VERSION=$(VMTEST_V1)
	mv $(call vmtest-deb-path,$(VMTEST_V1)) $(VMBENCH_OUT)/debs/ && rm -f $(call vmtest-rpm-path,$(VMTEST_V1))

# The load generator and floor (a), static for the guest.
vmbench-bin:
	rm -rf $(VMBENCH_OUT)/payload && mkdir -p $(VMBENCH_OUT)/payload
	CGO_ENABLED=0 $(GO) build -o $(VMBENCH_OUT)/payload/load ./bench/load
	CGO_ENABLED=0 $(GO) build -o $(VMBENCH_OUT)/payload/floor ./bench/floor
	cp vmtests/guestfs/aimx-benchfloor.socket vmtests/guestfs/aimx-benchfloor@.service $(VMBENCH_OUT)/payload/

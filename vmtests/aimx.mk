# vmtests/aimx.mk — the real AIMX mail daemon (crates.io crate aimx, one fixed
# version) for the VM lane's AIMX steps, and for anything else that runs
# beside it (a benchmark, say).
#
#   make aimx    vmtests/.cache/aimx-$(AIMX_VERSION)/bin/aimx
#
# Built with `cargo install --locked` at most once per machine and version,
# into $(AIMX_MACHINE_CACHE) (outside the repository, so CI's fresh clones
# reuse it; see vmtests/aimx.sh). Our code is no input: changing it never
# rebuilds aimx. Without cargo it says so and the AIMX steps skip.

AIMX_MACHINE_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/aimx-mailboxd
AIMX_BIN := vmtests/.cache/aimx-$(AIMX_VERSION)/bin/aimx

.PHONY: aimx
aimx:
	@sh vmtests/aimx.sh $(AIMX_VERSION) '$(AIMX_MACHINE_CACHE)' $(AIMX_BIN)

# The VM lane's AIMX payload (vmtest.sh VMTEST_PAYLOAD, lands in the guest's
# /usr/lib/aimx-vmtest/aimx/): the binary, stripped, and the stand-in
# aimx.service with its test drop-in. Empty of the binary when `make aimx`
# skipped; the guest's AIMX steps then skip, saying so.
VMTEST_AIMX_PAYLOAD := vmtests/.cache/run/aimx-payload

.PHONY: vmtest-aimx-payload
vmtest-aimx-payload: aimx
	@rm -rf $(VMTEST_AIMX_PAYLOAD) && mkdir -p $(VMTEST_AIMX_PAYLOAD)/aimx
	@cp vmtests/guestfs/aimx.service vmtests/guestfs/aimx-vmtest.conf $(VMTEST_AIMX_PAYLOAD)/aimx/
	@if [ -x $(AIMX_BIN) ]; then strip -o $(VMTEST_AIMX_PAYLOAD)/aimx/aimx $(AIMX_BIN); fi

# aimx-mailboxd — every target does its own set-up on a fresh Debian
# machine; `make help` lists them. mk/common.mk holds what every fragment
# uses (Go, the version stamp, installing or skipping what a step needs);
# each fragment adds its targets, and puts those that join `make test`
# after the Go checks in TEST_TARGETS.
.DEFAULT_GOAL := build
TEST_TARGETS :=
include mk/common.mk
include mk/go.mk mk/fresh.mk bench/bench.mk faults/faults.mk interop/mcppython/mcppython.mk \
	cmd/aimx-mailboxes/completions.mk packaging/package.mk units/units.mk vmtests/vmtest.mk

.PHONY: build test test-steps deps-test run clean help
# The helper is static (CGO_ENABLED=0): every connection starts it, and
# cgo's dynamic loading costs each start more than its own work; users
# still resolve through NSS (passwd/: /etc/passwd, else getent).
build:
	CGO_ENABLED=0 $(GOBUILD) -o bin/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GOBUILD) -o bin/aimx-mailboxes ./cmd/aimx-mailboxes

# Every step, with a /tmp of its own; then mk/leftovers.sh fails the
# run if one left anything in /tmp, in /run, or untracked in the checkout.
# As root, deps-test first installs what every step needs, in one apt-get
# run. Anyone else: each step that needs root or a missing tool is skipped with
# one line (mk/common.mk); the unit tests cannot be, so a missing gcc
# stops make test at once with the sudo line.
test:
	@mk/leftovers.sh $(MAKE) --no-print-directory test-steps
test-steps: deps-test lint unit $(call test-steps,cover-nobody integration $(TEST_TARGETS))
deps-test:
	@$(if $(IS_ROOT),$(call need-tools,$(sort $(foreach s,unit shells integration $(TEST_TARGETS),$(STEP_TOOLS_$s))),make test),$(call need-tools,$(STEP_TOOLS_unit),go test -race (cgo)))

# The real helper behind systemd-socket-activate --accept, in the
# foreground, on a sandbox config and data dir under ./run/; it prints
# the CLI lines to paste, each block addressed to who can paste it.
run: build deps-run
	@mk/run.sh $(CURDIR)

clean:
	rm -rf bin dist run

help:
	@echo 'make [build]     bin/aimx-mailboxd and bin/aimx-mailboxes'
	@echo 'make run         the helper on a sandbox socket, with CLI lines to paste'
	@echo 'make test        everything below marked *, then nothing may be left behind'
	@echo '  lint* unit* cover-nobody* integration*   gofmt, vet, staticcheck, deadcode; go test'
	@echo '  faults-quick* mcp-python* units-check*   crash points; the MCP Python SDK; systemd units'
	@echo '  package-lint* package-smoke* package-repro*   lintian/rpmlint; install in an overlay; bytes'
	@echo 'make package     dist/*.deb and dist/*.rpm (PKG_VERSION=X.Y.Z to set the version)'
	@echo 'make man         man pages; make completions: bash, zsh and fish scripts'
	@echo 'make vmtest      the .deb in real Debian guests under qemu (VMTEST_SUITES, VMTEST_BREAK)'
	@echo 'make faults      every kill point and error injection -> docs/RELIABILITY.md'
	@echo 'make fuzz        each fuzz target for FUZZTIME (2m) -> docs/RELIABILITY.md'
	@echo 'make bench       load, floors and the config editor -> docs/PERFORMANCE.md'
	@echo 'make bench-aimx  against AIMX'"'"'s own daemon (root); bench-flood: 20 000 stanzas; bench-list-profile: LIST under perf'
	@echo 'make vmbench     bench/load in the guests; make aimx: build AIMX'"'"'s daemon'
	@echo 'make fresh-check the README'"'"'s commands on a fresh Debian, as root and a user'
	@echo 'make clean       remove bin/ dist/ run/ (caches stay in .cache/)'

# faults/faults.mk — evidence targets: crash and fault injection (faults/), fuzzing. Their
# results are spliced into docs/RELIABILITY.md between marker lines.
.PHONY: faults faults-quick fuzz

TEST_TARGETS += faults-quick
ROOT_ONLY += faults-quick
ROOT_WHY_faults-quick := the helper chowns folders and the config
STEP_TOOLS_faults-quick := strace:strace
FUZZTIME ?= 2m

# Every kill point and every error injection, for CREATE, DELETE and
# DELETE with force, on a first request (the lock file is made) and after
# a crash (set-aside folders to empty): a few minutes on 2 cores, more
# when the machine is busy.
faults: deps-strace
	@mkdir -p $(EVIDENCE); rm -f $(EVIDENCE)/faults.md
	$(GO) test -tags faults -count=1 -timeout 40m -run TestCrashSafety ./faults -args -report $(EVIDENCE)/faults.md
	@test -f $(EVIDENCE)/faults.md && $(call splice,docs/RELIABILITY.md,faults,$(EVIDENCE)/faults.md) && echo "docs/RELIABILITY.md: fault injection results updated"

# The kill and EIO points of the lock file and of the set-aside, and a
# few others per operation (faults/engine_test.go); part of make test.
faults-quick: deps-strace $(GOTEST_REPORT)
	@$(call gotest,-tags faults -count=1 -timeout 5m -run TestCrashSafety ./faults -args -quick)

# Each fuzz target for FUZZTIME (default 2m); total executions and time
# go to docs/RELIABILITY.md. A crasher lands in <pkg>/testdata/fuzz/<Fn>/:
# commit it as a regression seed.
FUZZ_TARGETS := wire:FuzzReadRequest wire:FuzzReadResponse wire:FuzzListBody mailbox:FuzzEdit mailbox:FuzzEditGenerated mailbox:FuzzFoldersCache mailbox:FuzzIndexRows
fuzz:
	@mkdir -p $(EVIDENCE); out=$(EVIDENCE)/fuzz.md; fail=0; \
	printf 'Run: `make fuzz FUZZTIME=%s`, %s, %s CPUs (%s), %s, %s.\n\n' '$(FUZZTIME)' "$$(date -u '+%Y-%m-%d %H:%M UTC')" "$$(nproc)" \
	  "$$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$$(uname -sr)" "$$($(GO) version | cut -d' ' -f3)" > $$out; \
	printf '| Target | Time run | Executions | New interesting inputs | Result |\n|---|---|---|---|---|\n' >> $$out; \
	for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; fn=$${t#*:}; log=$(EVIDENCE)/fuzz-$$fn.log; \
	  echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s > $$log 2>&1; st=$$?; \
	  last=$$(grep 'execs:' $$log | tail -1); \
	  el=$$(echo "$$last" | sed -n 's/.*elapsed: \([^,]*\),.*/\1/p'); \
	  ex=$$(echo "$$last" | sed -n 's/.*execs: \([0-9]*\).*/\1/p'); \
	  ni=$$(echo "$$last" | sed -n 's/.*new interesting: \([0-9]*\).*/\1/p'); \
	  res=PASS; if [ $$st != 0 ]; then res="FAIL (see $$pkg/testdata/fuzz/$$fn)"; fail=1; tail -20 $$log; fi; \
	  echo "  $$res: $$ex execs in $$el"; \
	  printf '| `%s.%s` | %s | %s | %s | %s |\n' $$pkg $$fn "$$el" "$$ex" "$$ni" "$$res" >> $$out; \
	done; \
	$(call splice,docs/RELIABILITY.md,fuzz,$(EVIDENCE)/fuzz.md) && echo "docs/RELIABILITY.md: fuzz results updated"; \
	exit $$fail

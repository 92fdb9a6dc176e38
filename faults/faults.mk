# Evidence targets: crash and fault injection (faults/), fuzzing. Their
# results are spliced into docs/RELIABILITY.md between marker lines.
.PHONY: faults faults-quick fuzz deps-strace lint-evidence

TEST_TARGETS += faults-quick
EVIDENCE := $(CURDIR)/.cache/evidence
FUZZTIME ?= 2m

# splice DOC TAG FILE: replace the lines between <!-- TAG:begin --> and
# <!-- TAG:end --> in DOC with the contents of FILE.
splice = awk -v frag='$(3)' -v tag='$(2)' \
  '$$0 == "<!-- " tag ":begin -->" { print; while ((getline l < frag) > 0) print l; skip = 1; next } \
   $$0 == "<!-- " tag ":end -->" { skip = 0 } !skip' $(1) > $(1).new && mv $(1).new $(1)

deps-strace:
	@command -v strace >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq strace; \
	  else echo "strace is missing: run 'sudo apt-get install strace'"; exit 1; fi; }

# Every kill point and every error injection, for CREATE, DELETE and
# DELETE with force (about a minute on 2 cores).
faults: deps-strace
	@mkdir -p $(EVIDENCE); rm -f $(EVIDENCE)/faults.md
	$(GO) test -tags faults -count=1 -timeout 15m -run TestCrashSafety ./faults -args -report $(EVIDENCE)/faults.md
	@test -f $(EVIDENCE)/faults.md && $(call splice,docs/RELIABILITY.md,faults,$(EVIDENCE)/faults.md) && echo "docs/RELIABILITY.md: fault injection results updated"

# A few kill points and EIO injections per operation; part of make test.
faults-quick: deps-strace
	$(GO) test -tags faults -count=1 -timeout 5m -run TestCrashSafety ./faults -args -quick

lint: lint-evidence
lint-evidence:
	$(GO) vet -tags faults ./faults

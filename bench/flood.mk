# make bench-flood: the helper's peak memory against a flooded config (issue
# #8, item 4): 20 000 stanzas with 64-byte names, each request in a memory
# cgroup limited like the unit (MemoryMax=128M), with the unit's
# Environment= and once more with GOMEMLIMIT=off (what the limit buys).
# Results go to docs/PERFORMANCE.md ("20 000 stanzas"). Needs root; about
# a minute. Not part of make test: it asserts nothing about time or RSS.
.PHONY: bench-flood
FLOOD_N ?= 20000

bench-flood: deps-run
	@mkdir -p $(BENCH_BIN) $(EVIDENCE)
	$(GOBUILD) -o $(BENCH_BIN)/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GO) build -o $(BENCH_BIN)/rsswrap ./bench/rsswrap
	$(GO) build -o $(BENCH_BIN)/flood ./bench/flood
	@out=$(EVIDENCE)/flood.md; \
	printf 'Run: `make bench-flood`, %s, %s CPUs, %s.\n\n#### With the unit'"'"'s environment\n\n' "$$(date -u '+%Y-%m-%d %H:%M UTC')" "$$(nproc)" "$$(uname -sr)" > $$out; \
	$(BENCH_BIN)/flood -helper $(BENCH_BIN)/aimx-mailboxd -wrap $(BENCH_BIN)/rsswrap -unit units/aimx-mailboxd@.service -n $(FLOOD_N) -out $$out.with && \
	$(BENCH_BIN)/flood -helper $(BENCH_BIN)/aimx-mailboxd -wrap $(BENCH_BIN)/rsswrap -unit units/aimx-mailboxd@.service -env GOMEMLIMIT=off -n $(FLOOD_N) -out $$out.without && \
	{ cat $$out.with; printf '\n#### Without the memory limit (GOMEMLIMIT=off), same build\n\n'; cat $$out.without; } >> $$out && \
	rm -f $$out.with $$out.without && \
	$(call splice,docs/PERFORMANCE.md,flood,$(EVIDENCE)/flood.md) && echo "docs/PERFORMANCE.md: 20 000 stanzas updated"

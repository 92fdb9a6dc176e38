# make bench: the Go load generator (bench/load) against the real helper
# under systemd-socket-activate --accept, with the floors measured in the
# same run; results are spliced into docs/PERFORMANCE.md. About 2 minutes.
.PHONY: bench
BENCH_BIN := $(CURDIR)/.cache/bench
BENCH_PAIRS ?= 500
BENCH_TIME ?= 10s

bench: deps-run deps-strace
	@mkdir -p $(BENCH_BIN) $(EVIDENCE)
	$(GOBUILD) -o $(BENCH_BIN)/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GO) build -o $(BENCH_BIN)/floor ./bench/floor
	$(GO) build -o $(BENCH_BIN)/rsswrap ./bench/rsswrap
	$(GO) build -o $(BENCH_BIN)/load ./bench/load
	$(GO) test ./mailbox -run '^$$' -bench 'BenchmarkEdit' -benchtime 20x | grep -E '^Benchmark' > $(EVIDENCE)/edit-bench.txt
	$(BENCH_BIN)/load -helper $(BENCH_BIN)/aimx-mailboxd -floor $(BENCH_BIN)/floor -wrap $(BENCH_BIN)/rsswrap \
	  -pairs $(BENCH_PAIRS) -throughput-time $(BENCH_TIME) -out $(EVIDENCE)/bench.md
	@{ echo; echo '### The config editor alone (`go test ./mailbox -bench BenchmarkEdit`, same run)'; echo; \
	   echo '```'; cat $(EVIDENCE)/edit-bench.txt; echo '```'; } >> $(EVIDENCE)/bench.md
	@$(call splice,docs/PERFORMANCE.md,bench,$(EVIDENCE)/bench.md) && echo "docs/PERFORMANCE.md: results updated"

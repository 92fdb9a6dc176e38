# bench/bench.mk — make bench: the Go load generator (bench/load) against the real helper
# under systemd-socket-activate --accept, with the floors measured in the
# same run; results are spliced into docs/PERFORMANCE.md. About 2 minutes.
.PHONY: bench bench-aimx bench-flood bench-list-profile
BENCH_BIN := $(CURDIR)/.cache/bench
BENCH_PAIRS ?= 500
BENCH_TIME ?= 10s

bench: deps-run deps-strace
	@mkdir -p $(BENCH_BIN) $(EVIDENCE)
	CGO_ENABLED=0 $(GOBUILD) -o $(BENCH_BIN)/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GO) build -o $(BENCH_BIN)/floor ./bench/floor
	$(GO) build -o $(BENCH_BIN)/rsswrap ./bench/rsswrap
	$(GO) build -o $(BENCH_BIN)/load ./bench/load
	$(BENCH_BIN)/load -helper $(BENCH_BIN)/aimx-mailboxd -floor $(BENCH_BIN)/floor -wrap $(BENCH_BIN)/rsswrap -policy policy/mailboxd.toml \
	  -pairs $(BENCH_PAIRS) -throughput-time $(BENCH_TIME) -out $(EVIDENCE)/bench.md
	# The editor's benchmark after the load: the files it writes and
	# deletes would otherwise slow the sequential pairs' inode
	# allocations on a file system without a journal (docs/PERFORMANCE.md).
	$(GO) test ./mailbox -run '^$$' -bench 'BenchmarkEdit' -benchtime 20x | grep -E '^Benchmark' > $(EVIDENCE)/edit-bench.txt
	@{ echo; echo '### The config editor alone (`go test ./mailbox -bench BenchmarkEdit`, same run)'; echo; \
	   echo '```'; cat $(EVIDENCE)/edit-bench.txt; echo '```'; } >> $(EVIDENCE)/bench.md
	@$(call splice,docs/PERFORMANCE.md,bench,$(EVIDENCE)/bench.md) && echo "docs/PERFORMANCE.md: results updated"

# make bench-aimx: the comparison of issue #14. The same requests,
# alternating, against AIMX's own daemon (aimx serve, crate aimx
# $(AIMX_VERSION), served with its test switch on a scratch config), our
# helper and the floor program, at 10, 1 000 and 10 000 mailboxes; the
# table goes to docs/PERFORMANCE.md. Needs root (the user aimxbench owns
# the mailboxes; run it under flock /tmp/aimx-users.lock on a shared
# machine). The aimx binary comes from the machine-wide cache that
# vmtests/aimx.sh fills; when it is missing, cargo builds it there
# (cargo install --locked, 5 to 15 minutes, once per machine).
BENCH_AIMX_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/aimx-mailboxd/aimx-$(AIMX_VERSION)
BENCH_AIMX ?= $(BENCH_AIMX_CACHE)/bin/aimx
BENCH_AIMX_ROUNDS ?= 200
BENCH_AIMX_TIME ?= 15s
bench-aimx: deps-run
	@if [ "$$(id -u)" != 0 ]; then echo "make bench-aimx needs root: it creates the user aimxbench and serves mailboxes owned by it (sudo make bench-aimx)"; exit 1; fi
	@if ! $(BENCH_AIMX) --version >/dev/null 2>&1; then \
	  cargo=$$(command -v cargo || echo $$HOME/.cargo/bin/cargo); \
	  if [ ! -x "$$cargo" ]; then echo "make bench-aimx: $(BENCH_AIMX) is missing and there is no cargo to build it: install Rust (rustup, >= 1.85) and run make bench-aimx again"; exit 1; fi; \
	  echo "aimx $(AIMX_VERSION): building into $(BENCH_AIMX_CACHE) (once per machine)"; \
	  mkdir -p $(BENCH_AIMX_CACHE) && flock $(BENCH_AIMX_CACHE)/.lock \
	    "$$cargo" install --quiet --locked aimx --version $(AIMX_VERSION) --root $(BENCH_AIMX_CACHE) || exit 1; \
	fi
	@mkdir -p $(BENCH_BIN) $(EVIDENCE)
	CGO_ENABLED=0 $(GOBUILD) -o $(BENCH_BIN)/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GO) build -o $(BENCH_BIN)/floor ./bench/floor
	$(GO) build -tags floorab -o $(BENCH_BIN)/floorab ./bench/floor
	$(GO) build -tags floorlist -o $(BENCH_BIN)/floorlist ./bench/floor
	$(GO) build -o $(BENCH_BIN)/rsswrap ./bench/rsswrap
	$(GO) build -o $(BENCH_BIN)/load ./bench/load
	$(BENCH_BIN)/load -aimx $(BENCH_AIMX) -helper $(BENCH_BIN)/aimx-mailboxd -floor $(BENCH_BIN)/floor -floorab $(BENCH_BIN)/floorab -floorlist $(BENCH_BIN)/floorlist -wrap $(BENCH_BIN)/rsswrap -policy policy/mailboxd.toml \
	  -rounds $(BENCH_AIMX_ROUNDS) -throughput-time $(BENCH_AIMX_TIME) -out $(EVIDENCE)/bench-aimx.md
	@cat $(EVIDENCE)/bench-aimx.md
	@$(call splice,docs/PERFORMANCE.md,bench-aimx,$(EVIDENCE)/bench-aimx.md) && echo "docs/PERFORMANCE.md: AIMX comparison updated"

# make bench-list-profile: where a LIST at 10 000 mailboxes spends the
# helper's CPU, the build of commit BENCH_PROFILE_BASE beside this tree's,
# under perf (bench/load/profile.go); the tables go to docs/PERFORMANCE.md
# ("LIST at 10 000 mailboxes"). The default base is the last commit before
# the LIST work of the scale issue. Needs root (the user aimxbench) and
# perf; about a minute.
BENCH_PROFILE_BASE ?= 9f298b5^
bench-list-profile: deps-run deps-perf
	@if [ "$$(id -u)" != 0 ]; then echo "make bench-list-profile needs root: it creates the user aimxbench and runs perf system-wide (sudo make bench-list-profile)"; exit 1; fi
	@mkdir -p $(BENCH_BIN) $(EVIDENCE)
	CGO_ENABLED=0 $(GOBUILD) -o $(BENCH_BIN)/aimx-mailboxd ./cmd/aimx-mailboxd
	rm -rf $(BENCH_BIN)/base && mkdir -p $(BENCH_BIN)/base && git archive $(BENCH_PROFILE_BASE) | tar -x -C $(BENCH_BIN)/base
	cd $(BENCH_BIN)/base && CGO_ENABLED=0 $(GO) build -trimpath -o $(BENCH_BIN)/aimx-mailboxd-base ./cmd/aimx-mailboxd
	rm -rf $(BENCH_BIN)/base
	$(GO) build -o $(BENCH_BIN)/load ./bench/load
	$(BENCH_BIN)/load -profile-base $(BENCH_BIN)/aimx-mailboxd-base -helper $(BENCH_BIN)/aimx-mailboxd -policy policy/mailboxd.toml \
	  -base-name "$(BENCH_PROFILE_BASE) ($$(git rev-parse --short $(BENCH_PROFILE_BASE)))" -helper-name "$$(git log -1 --format='%h' HEAD)$$(git diff --quiet HEAD -- . ':!docs' || echo ' with changes')" \
	  -list-root 10 -list-user 101 -out $(EVIDENCE)/list-profile.md
	@cat $(EVIDENCE)/list-profile.md
	@$(call splice,docs/PERFORMANCE.md,list-profile,$(EVIDENCE)/list-profile.md) && echo "docs/PERFORMANCE.md: LIST profile updated"

# make bench-flood: the helper's peak memory against a flooded config (issue
# #8, item 4): 20 000 stanzas with 64-byte names, each request in a memory
# cgroup limited like the unit (MemoryMax=128M), with the unit's
# Environment= and once more with GOMEMLIMIT=off (what the limit buys).
# Results go to docs/PERFORMANCE.md ("20 000 stanzas"). Needs root; about
# a minute. Not part of make test: it asserts nothing about time or RSS.
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

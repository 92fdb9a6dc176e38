# aimx-mailboxd — every target does its own set-up on a fresh Debian machine.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
GIT_HASH ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%d)
PKG := github.com/aimx/aimx-mailboxd
LDFLAGS := -X $(PKG)/version.Tag=$(VERSION) -X $(PKG)/version.GitHash=$(GIT_HASH) -X $(PKG)/version.BuildDate=$(BUILD_DATE)
GOBUILD := $(GO) build -trimpath -ldflags '$(LDFLAGS)'
TOOLS := $(CURDIR)/.cache/bin
STATICCHECK_VERSION := v0.8.2

# Fragments add their own targets and append to TEST_TARGETS (checks that
# join `make test` after the Go tests).
TEST_TARGETS :=
include $(sort $(wildcard */*.mk))

.PHONY: build test lint unit integration run deps-run clean
# The helper is static (CGO_ENABLED=0): every connection starts it, and
# cgo's dynamic loading costs each start more than its own work; users
# still resolve through NSS (passwd/: /etc/passwd, else getent).
build:
	CGO_ENABLED=0 $(GOBUILD) -o bin/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GOBUILD) -o bin/aimx-mailboxes ./cmd/aimx-mailboxes

test: lint unit integration $(TEST_TARGETS)

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(TOOLS)/staticcheck
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(GO) vet -tags integration ./integration
	$(TOOLS)/staticcheck ./...

unit:
	$(GO) test -race ./...

# The integration suite: real binaries under systemd-socket-activate,
# real users (created when run as root). Not under -race: it re-executes
# its own binary as each user for every raw frame, and the race runtime's
# start-up would dominate.
integration: deps-run
	$(GO) test -tags integration -count=1 ./integration

deps-run:
	@command -v systemd-socket-activate >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq systemd; \
	  else echo "systemd-socket-activate is missing: run 'sudo apt-get install systemd'"; exit 1; fi; }

# make run: serve ./run/mailboxd.sock in the foreground with the real
# helper, on a sandbox config and data dir under ./run/.
RUN_DIR := $(CURDIR)/run
run: build deps-run
	@mkdir -p $(RUN_DIR)/data/inbox $(RUN_DIR)/data/sent
	@test -f $(RUN_DIR)/config.toml || printf '# Sandbox config written by make run.\ndomain = "example.test"\n' > $(RUN_DIR)/config.toml
	@chmod 0640 $(RUN_DIR)/config.toml; chmod 0755 $(RUN_DIR) $(RUN_DIR)/data $(RUN_DIR)/data/inbox $(RUN_DIR)/data/sent
	@rm -f $(RUN_DIR)/mailboxd.sock
	@systemd-socket-activate --accept -l $(RUN_DIR)/mailboxd.sock \
	    $(CURDIR)/bin/aimx-mailboxd --config $(RUN_DIR)/config.toml --data-dir $(RUN_DIR)/data & pid=$$!; \
	  trap 'kill $$pid 2>/dev/null' INT TERM EXIT; \
	  for i in $$(seq 50); do [ -S $(RUN_DIR)/mailboxd.sock ] && break; sleep 0.1; done; \
	  chmod 0666 $(RUN_DIR)/mailboxd.sock; \
	  echo; echo "aimx-mailboxd is serving $(RUN_DIR)/mailboxd.sock (config $(RUN_DIR)/config.toml). In another shell, as any user, try:"; \
	  echo "  $(CURDIR)/bin/aimx-mailboxes --socket $(RUN_DIR)/mailboxd.sock create demo"; \
	  echo "  $(CURDIR)/bin/aimx-mailboxes --socket $(RUN_DIR)/mailboxd.sock list"; \
	  echo "  $(CURDIR)/bin/aimx-mailboxes --socket $(RUN_DIR)/mailboxd.sock delete demo --yes"; \
	  echo "Ctrl-C stops it."; echo; \
	  wait $$pid

clean:
	rm -rf bin dist run

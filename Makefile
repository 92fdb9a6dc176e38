# aimx-mailboxd — every target does its own set-up on a fresh Debian machine.
SHELL := /bin/bash

# Go: the first Go 1.21 or later found on PATH, then in /usr/local/go/bin
# (where the official tarball goes; sudo's PATH lacks it). Its folder is
# put on PATH for every recipe and script. Go 1.21 and later fetch the
# toolchain that go.mod names by themselves.
GO_MOD_VERSION := $(shell sed -n 's/^go //p' go.mod)
go-if-new = $(shell cd / && v=$$(GOTOOLCHAIN=local $(1) env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p') && \
	[ "$$v" -ge 21 ] 2>/dev/null && echo $(1))
GO ?= $(firstword $(foreach g,$(shell command -v go 2>/dev/null) $(wildcard /usr/local/go/bin/go),$(call go-if-new,$g)))
ifeq ($(strip $(GO)),)
GO_SEEN := $(firstword $(shell command -v go 2>/dev/null) $(wildcard /usr/local/go/bin/go))
$(error $(if $(GO_SEEN),$(GO_SEEN) is older than Go 1.21,Go is not on PATH or in /usr/local/go/bin): install Go 1.21 or later from https://go.dev/dl/ into /usr/local (it fetches the go $(GO_MOD_VERSION) toolchain that go.mod names))
endif
ifneq ($(filter /%,$(GO)),)
export PATH := $(PATH):$(patsubst %/,%,$(dir $(GO)))
endif

# One version everywhere: packaging/pkg-version.sh (from `git describe`, or
# PKG_VERSION=X.Y.Z on the command line) gives the package version; the
# binaries' tag (the CLI's --version, VERSION on the wire) is v$(PKG_VERSION),
# and the man pages' footer names it too. VERSION is derived, never set
# (one in the environment is ignored).
ifeq ($(origin VERSION),command line)
$(error VERSION is derived from PKG_VERSION (the binaries' tag is v$$PKG_VERSION): set PKG_VERSION=X.Y.Z instead)
endif
ifeq ($(origin PKG_VERSION),undefined)
PKG_VERSION := $(shell packaging/pkg-version.sh)
endif
VERSION := v$(PKG_VERSION)
GIT_HASH ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Reproducible builds: every time stamp (the binaries' build date, the
# packages' file times, the rpm build time, the man pages' date) is the last
# commit's time, never the clock.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
export SOURCE_DATE_EPOCH
BUILD_DATE := $(shell TZ=UTC0 date -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%d)
PKG := github.com/aimx/aimx-mailboxd
LDFLAGS := -X $(PKG)/version.Tag=$(VERSION) -X $(PKG)/version.GitHash=$(GIT_HASH) -X $(PKG)/version.BuildDate=$(BUILD_DATE)
GOBUILD := $(GO) build -trimpath -ldflags '$(LDFLAGS)'
TOOLS := $(CURDIR)/.cache/bin
STATICCHECK_VERSION := v0.8.2

# Fragments add their own targets and append to TEST_TARGETS (checks that
# join `make test` after the Go tests); mk/tools.mk (installing what a
# step needs, or skipping it) comes first.
# (Fragments define targets first: `make` alone must still just build.)
.DEFAULT_GOAL := build
TEST_TARGETS :=
include mk/tools.mk
include $(sort $(filter-out mk/tools.mk,$(wildcard */*.mk)))

.PHONY: build test deps-test lint unit cover-nobody deps-race integration run deps-run clean
# The helper is static (CGO_ENABLED=0): every connection starts it, and
# cgo's dynamic loading costs each start more than its own work; users
# still resolve through NSS (passwd/: /etc/passwd, else getent).
build:
	CGO_ENABLED=0 $(GOBUILD) -o bin/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GOBUILD) -o bin/aimx-mailboxes ./cmd/aimx-mailboxes

# What the unit tests and the integration suite need from apt.
STEP_TOOLS_unit := gcc:gcc+libc6-dev /usr/include/stdio.h:libc6-dev
STEP_TOOLS_integration := systemd-socket-activate:systemd

# As root, deps-test first installs what every step needs, in one apt-get
# run. Anyone else: each step that needs root or a missing tool is skipped
# with one line (mk/tools.mk); the unit tests cannot be, so a missing gcc
# stops make test at once with the sudo line.
.SECONDEXPANSION:
test: deps-test lint unit $$(call test-steps,cover-nobody integration $$(TEST_TARGETS))
deps-test:
	@$(if $(IS_ROOT),$(call need-tools,$(sort $(foreach s,unit integration $(TEST_TARGETS),$(STEP_TOOLS_$s))),make test),$(call need-tools,$(STEP_TOOLS_unit),go test -race (cgo)))

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(TOOLS)/staticcheck
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	$(GO) vet -tags integration ./integration
	$(TOOLS)/staticcheck ./...

# -race needs cgo, so gcc and the libc headers.
deps-race:
	@$(call need-tools,$(STEP_TOOLS_unit),go test -race (cgo))

# The coverage an ordinary user's run reaches, which make test prints and
# enforces (issue #9): root-only tests add to it, so it is measured
# without them. Anyone but root gets it from the unit run itself; root
# runs the unit layer once more as nobody (cover-nobody).
COVER_MIN := server=85 cmd/aimx-mailboxes=80 authz=90 wire=90
cover-report = $(GOTEST_REPORT) -cover-min '$(COVER_MIN)' -cover-as $(1)

unit: deps-race $(GOTEST_REPORT)
	@$(if $(IS_ROOT),$(call gotest,-race ./...),$(call gotest,-race -cover ./...,$(call cover-report,$$(id -un))))

# The unit layer as nobody, as an ordinary user would run it (mk/cover.sh
# copies the tree and the modules where nobody can read them), without
# -race: this run is for the coverage lines and the skips nobody sees.
cover-nobody: $(GOTEST_REPORT)
	@$(call root-only,cover-nobody)echo "go test -cover ./... (as nobody)"; set -o pipefail; \
	  mk/cover.sh nobody $(shell command -v $(GO)) -- -json -cover ./... | $(call cover-report,nobody)
ROOT_ONLY += cover-nobody
ROOT_WHY_cover-nobody := runs the tests as nobody; anyone else's make unit prints its own coverage

# The integration suite: real binaries under systemd-socket-activate,
# real users (created when run as root). Not under -race: it re-executes
# its own binary as each user for every raw frame, and the race runtime's
# start-up would dominate.
integration: deps-run $(GOTEST_REPORT)
	@$(call gotest,-tags integration -count=1 ./integration)

deps-run:
	@$(call need-tool,systemd-socket-activate,systemd,make run and the integration suite)

# make run: the real helper behind systemd-socket-activate --accept, in
# the foreground, on a sandbox config and data dir under ./run/; it prints
# the CLI lines to paste, each block addressed to who can paste it.
run: build deps-run
	@mk/run.sh $(CURDIR)

clean:
	rm -rf bin dist run

# mk/common.mk — the one file every fragment relies on, included by the
# top Makefile before any fragment: which Go, the version stamp, where
# tools and results go, and the helpers that install what a step needs or
# skip it. A fragment uses what is defined here and its own definitions,
# never another fragment's.
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

# Shared places: the staged binaries and man pages (packaging builds them,
# the unit checks read them), and the results that evidence targets splice
# into the docs.
PKG_STAGE := .cache/pkg
PKG_BIN_TOOLS := gcc:gcc+libc6-dev strip:binutils readelf:binutils
EVIDENCE := $(CURDIR)/.cache/evidence
# The AIMX mail daemon (crate aimx) the benchmarks and the VM lane run.
AIMX_VERSION ?= 0.2.0

# $(call splice,DOC,TAG,FILE): replace the lines between <!-- TAG:begin -->
# and <!-- TAG:end --> in DOC with the contents of FILE.
splice = awk -v frag='$(3)' -v tag='$(2)' \
  '$$0 == "<!-- " tag ":begin -->" { print; while ((getline l < frag) > 0) print l; skip = 1; next } \
   $$0 == "<!-- " tag ":end -->" { skip = 0 } !skip' $(1) > $(1).new && mv $(1).new $(1)

# Installing what a target needs, or saying what to install, and skipping
# the steps of `make test` that cannot run. Root installs from apt (CI runs as root, with no sudo). Anyone else
# cannot, and is given the exact `sudo apt-get install ...` line: a
# target's own check (need-tool) fails with it, and `make test` skips the
# steps that need root or a missing tool, one line each (see below).

IS_ROOT := $(filter 0,$(shell id -u))

# $(call apt-install,PACKAGES[,WHAT]): as root, apt-get update, then
# install PACKAGES; anyone else fails with the sudo line. WHAT names what
# needs them (default: make TARGET).
apt-install = { if [ "$$(id -u)" = 0 ]; then \
	echo "installing $(strip $(1)) from apt" >&2; \
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(1) >/dev/null; } || \
	{ echo "error: could not install $(strip $(1)) from apt; install it and re-run" >&2; exit 1; }; \
	else echo "error: $(or $(strip $(2)),make $@) needs $(strip $(1)), which only root can install: run 'sudo apt-get install $(strip $(1))' and re-run" >&2; exit 1; fi; }

# $(call root-only,STEP): first in a one-shell recipe, ends it with the
# skip line when not root (ROOT_WHY_STEP says why root is needed).
root-only = if [ "$$(id -u)" != 0 ]; then echo "skip $(1): needs root ($(ROOT_WHY_$(1)))"; exit 0; fi;

# A probe is a command name, or an absolute path that must exist.
probe = $(if $(filter /%,$(1)),test -e $(1),command -v $(1) >/dev/null 2>&1)

# $(call need-tool,PROBE,PACKAGES[,WHAT]): apt-install PACKAGES unless
# PROBE is there.
need-tool = $(call probe,$(1)) || $(call apt-install,$(2),$(3))

# $(call need-tools,PROBE:PKG ...,WHAT): the same for a list, in one
# apt-get run. PKG may name several packages joined by "+"
# (gcc:gcc+libc6-dev).
need-tools = missing=; for t in $(1); do p=$${t%%:*}; \
	case $$p in /*) test -e "$$p" ;; *) command -v "$$p" >/dev/null 2>&1 ;; esac || missing="$$missing $${t/*:/}"; \
	done; missing=$$(printf '%s\n' $${missing//+/ } | sort -u | xargs); \
	[ -z "$$missing" ] || $(call apt-install,$$missing,$(2))

# Steps of `make test`. A fragment adds its step to TEST_TARGETS and may
# declare, for it:
#   ROOT_ONLY += STEP          and  ROOT_WHY_STEP := why root is needed
#   STEP_TOOLS_STEP := PROBE:PKG ...   what the step needs from apt
# As root, `make test` first installs every step's tools in one apt-get
# run (deps-test). Anyone else runs each step that can run, and replaces
# the others by one line:
#   skip STEP: needs root (why)
#   skip STEP: needs PKG ...: run 'sudo apt-get install PKG ...'
# Decided when make starts: without root nothing gets installed meanwhile.
ROOT_ONLY :=
tools-missing = $(strip $(sort $(foreach t,$(STEP_TOOLS_$(1)),\
	$(if $(shell $(call probe,$(firstword $(subst :, ,$t))) && echo y),,$(subst +, ,$(word 2,$(subst :, ,$t)))))))
step-skip = $(if $(IS_ROOT),,$(if $(filter $(1),$(ROOT_ONLY)),needs root ($(ROOT_WHY_$(1))),$(if $(call tools-missing,$(1)),needs $(call tools-missing,$(1)): run 'sudo apt-get install $(call tools-missing,$(1))')))
# $(call test-steps,STEP ...): each STEP, or skip/STEP when it cannot run.
test-steps = $(foreach s,$(1),$(if $(call step-skip,$s),skip/$s,$s))

skip/%:
	@echo "skip $*: $(call step-skip,$*)"

# $(call gotest,ARGS[,REPORT]): go test ARGS, with its usual output plus
# one line per skip reason after each package (mk/gotest), so that a suite
# skipped for want of root or a tool says so without -v. REPORT replaces
# the plain mk/gotest (with -cover-min, for the coverage lines).
GOTEST_REPORT := $(TOOLS)/gotest
$(GOTEST_REPORT): mk/gotest/main.go
	$(GO) build -o $@ ./mk/gotest
gotest = echo "go test $(1)"; set -o pipefail; $(GO) test -json $(1) | $(or $(2),$(GOTEST_REPORT))

# What several targets need from apt.
.PHONY: deps-run deps-strace deps-perf
deps-run:
	@$(call need-tool,systemd-socket-activate,systemd,make run and the integration suite)
deps-strace:
	@$(call need-tool,strace,strace,fault injection)
deps-perf:
	@$(call need-tool,perf,linux-perf,make bench-list-profile)

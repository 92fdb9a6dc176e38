# aimx-mailboxd — every target does its own set-up on a fresh Debian machine.
SHELL := /bin/bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-dev)
GIT_HASH ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_DATE ?= $(shell date -u +%Y-%m-%d)
PKG := github.com/aimx/aimx-mailboxd
LDFLAGS := -X $(PKG)/version.Tag=$(VERSION) -X $(PKG)/version.GitHash=$(GIT_HASH) -X $(PKG)/version.BuildDate=$(BUILD_DATE)
GOBUILD := $(GO) build -trimpath -ldflags '$(LDFLAGS)'

# Fragments add their own targets and append to TEST_TARGETS (checks that
# join `make test`).
TEST_TARGETS :=
include units/units.mk packaging/package.mk vmtests/vmtest.mk

.PHONY: build test
build:
	$(GOBUILD) -o bin/aimx-mailboxd ./cmd/aimx-mailboxd
	$(GOBUILD) -o bin/aimx-mailboxes ./cmd/aimx-mailboxes

test: $(TEST_TARGETS)

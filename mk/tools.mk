# mk/tools.mk — the one place that installs what a target needs, or says
# what to install, and that skips steps of `make test` that cannot run.
# Included by the top Makefile before every other fragment.
#
# Root installs from apt (CI runs as root, with no sudo). Anyone else
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

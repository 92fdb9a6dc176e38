# mk/go.mk — the Go checks of `make test`: lint, the unit tests, their
# coverage as an ordinary user, and the integration suite.
.PHONY: lint unit deps-race cover-nobody integration

STATICCHECK_VERSION := v0.8.2
# deadcode (golang.org/x/tools/cmd/deadcode), at the x/tools release it ships in.
DEADCODE_VERSION := v0.53.0

# What the unit tests and the integration suite need from apt; zsh and fish
# let the completion tests (cmd/aimx-mailboxes) ask the shells themselves.
STEP_TOOLS_unit := gcc:gcc+libc6-dev /usr/include/stdio.h:libc6-dev
STEP_TOOLS_shells := zsh:zsh fish:fish
STEP_TOOLS_integration := systemd-socket-activate:systemd

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/deadcode:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)

# Every build tag the tree uses (//go:build lines, less the GOOS and GOARCH
# names): go vet, on Linux and on darwin, and staticcheck run once without
# tags and once with each, so that no tagged file goes unchecked.
GO_FILES_CMD := { git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'; }
LINT_TAGS := $(sort $(filter-out $(shell $(GO) tool dist list | tr / ' ') unix cgo ignore,\
	$(shell $(GO_FILES_CMD) | xargs grep -h '^//go:build' | sed 's|^//go:build||; s/[^A-Za-z0-9_]/ /g')))

# deadcode from the two commands' main functions: a function of a production
# package that nothing in them reaches (only a test, say) fails lint; move
# it into a _test.go file or a test helper package.
lint: $(TOOLS)/staticcheck $(TOOLS)/deadcode
	@bad=$$(gofmt -l $$($(GO_FILES_CMD))); \
	  if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	@for t in '' $(LINT_TAGS); do for os in linux darwin; do \
	  echo "go vet$${t:+ -tags $$t} ./... (GOOS=$$os)"; GOOS=$$os $(GO) vet -tags "$$t" ./... || exit 1; done; done
	@echo "staticcheck ./... (tags: none $(LINT_TAGS))"; \
	  { echo 'default:'; for t in $(LINT_TAGS); do echo "$$t: -tags=$$t"; done; } | $(TOOLS)/staticcheck -matrix ./...
	@echo "deadcode ./cmd/..."; out=$$($(TOOLS)/deadcode ./cmd/...) || exit 1; \
	  if [ -n "$$out" ]; then printf '%s\n' "$$out"; echo "FAIL deadcode: production code that no command reaches (tests only?): move it to a _test.go file"; exit 1; fi

# -race needs cgo, so gcc and the libc headers; root also installs the
# shells, anyone else's completion tests skip without them, saying so.
deps-race:
	@$(call need-tools,$(STEP_TOOLS_unit) $(if $(IS_ROOT),$(STEP_TOOLS_shells)),go test -race (cgo))

# The coverage an ordinary user's run reaches, which make test prints and
# enforces (issue #9): root-only tests add to it, so it is measured
# without them. Anyone but root gets it from the unit run itself; root
# runs the unit layer once more as nobody (cover-nobody).
COVER_MIN := server=85 cmd/aimx-mailboxes=80 authz=90 wire=90 mailbox=85
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

# make completions: the shell completion scripts of aimx-mailboxes, for the
# packages to install. "aimx-mailboxes completion SHELL" prints them from
# the command model that parses the command line, so they cannot drift
# from the binary built from the same tree. Built for this machine (GOOS=
# GOARCH= empty), so a cross-built package still gets them.
# COMPLETIONS names the three files, for packaging to depend on.
COMPLETIONS_DIR := $(CURDIR)/.cache/pkg/completions
COMPLETIONS := $(COMPLETIONS_DIR)/aimx-mailboxes $(COMPLETIONS_DIR)/_aimx-mailboxes $(COMPLETIONS_DIR)/aimx-mailboxes.fish

.PHONY: completions
completions:
	@mkdir -p $(COMPLETIONS_DIR) $(CURDIR)/.cache/bin
	GOOS= GOARCH= $(GO) build -trimpath -o $(CURDIR)/.cache/bin/aimx-mailboxes-host ./cmd/aimx-mailboxes
	$(CURDIR)/.cache/bin/aimx-mailboxes-host completion bash > $(COMPLETIONS_DIR)/aimx-mailboxes
	$(CURDIR)/.cache/bin/aimx-mailboxes-host completion zsh > $(COMPLETIONS_DIR)/_aimx-mailboxes
	$(CURDIR)/.cache/bin/aimx-mailboxes-host completion fish > $(COMPLETIONS_DIR)/aimx-mailboxes.fish

# cmd/aimx-mailboxes/completions.mk — make completions: the shell
# completion scripts of aimx-mailboxes, for the packages to install.
# "aimx-mailboxes completion SHELL" prints them from the command model that
# parses the command line, so they cannot drift from the binary built from
# the same tree. Built for this machine (GOOS= GOARCH= empty), so a
# cross-built package still gets them.
COMPLETIONS_DIR := $(CURDIR)/$(PKG_STAGE)/completions

.PHONY: completions
completions:
	@mkdir -p $(COMPLETIONS_DIR) $(TOOLS)
	GOOS= GOARCH= $(GO) build -trimpath -o $(TOOLS)/aimx-mailboxes-host ./cmd/aimx-mailboxes
	$(TOOLS)/aimx-mailboxes-host completion bash > $(COMPLETIONS_DIR)/aimx-mailboxes
	$(TOOLS)/aimx-mailboxes-host completion zsh > $(COMPLETIONS_DIR)/_aimx-mailboxes
	$(TOOLS)/aimx-mailboxes-host completion fish > $(COMPLETIONS_DIR)/aimx-mailboxes.fish

# interop/mcppython/mcppython.mk — make mcp-python: a client that no one
# here wrote, the official MCP Python SDK (`mcp` on PyPI, pinned below), drives
# bin/aimx-mailboxes mcp over stdio against the real helper under
# systemd-socket-activate --accept, lists the tools and calls each one.
# Part of `make test`. Installs python3-venv from apt (root) and the SDK
# into .cache/mcp-python (a venv, reused while the pin stays); about 40 s
# cold, 5 s warm.
MCP_PY_VERSION := 2.3.0

.PHONY: mcp-python
TEST_TARGETS += mcp-python

mcp-python: build deps-run
	MCP_PY_VERSION=$(MCP_PY_VERSION) bash interop/mcppython/client.sh

//go:build vmtest

package guest

import (
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest/mcptest"
)

// mcpAs starts the installed "aimx-mailboxes mcp" as the named user, on
// the default socket (as an agent host would, with no flags), and
// connects the MCP Go SDK's client to it over stdio.
func mcpAs(t *testing.T, name string) *mcp.ClientSession {
	t.Helper()
	return mcptest.Connect(t, asUser(t, name, cli, "mcp"), "promise 16 (an agent's MCP server starts and ends cleanly): as "+name+": ")
}

// callTool returns a tool's text, "ERROR: " first for a tool error.
func callTool(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	return mcptest.Text(t, cs, tool, args)
}

// Promise 9: alice's agent manages her mailboxes through the installed
// aimx-mailboxes mcp and the activated socket; bob's agent cannot see or
// delete them, and gets the answer for a missing mailbox.
func testMCP(t *testing.T) {
	a, b := mcpAs(t, "alice"), mcpAs(t, "bob")
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("promise 16 (%s): got %q, want %q", what, got, want)
		}
	}
	check("alice's agent creates", callTool(t, a, "mailbox_create", map[string]any{"name": "mcp-alice"}), "mcp-alice@example.test")
	noInstances(t, "mcp create")
	check("the stanza is alice's", stanzaOwner(t, "mcp-alice"), "alice")
	checkDirs(t, "mcp-alice", lookup(t, "alice"))
	list := callTool(t, a, "mailbox_list", nil)
	if !strings.Contains(list, `{"name":"mcp-alice","address":"mcp-alice@example.test",`) {
		t.Errorf("promise 16 (alice's agent lists her mailbox): %s", list)
	}
	if got := callTool(t, b, "mailbox_list", nil); strings.Contains(got, "mcp-alice") {
		t.Errorf("promise 16 (bob's agent does not see alice's mailbox): %s", got)
	}
	check("bob's agent deletes alice's", callTool(t, b, "mailbox_delete", map[string]any{"name": "mcp-alice", "force": true}),
		"ERROR: [MAILBOX] mailbox 'mcp-alice' does not exist")
	check("bob's agent deletes a missing one", callTool(t, b, "mailbox_delete", map[string]any{"name": "mcp-none"}),
		"ERROR: [MAILBOX] mailbox 'mcp-none' does not exist")
	check("no owner argument", callTool(t, b, "mailbox_create", map[string]any{"name": "x", "owner": "alice"}),
		"ERROR: [VALIDATION] mailbox_create has no argument \"owner\"\n"+
			"hint: a mailbox is always owned by the user this server runs as; mailbox_create takes name")
	check("alice's agent deletes", callTool(t, a, "mailbox_delete", map[string]any{"name": "mcp-alice"}), "Mailbox 'mcp-alice' deleted.")
	check("the stanza is gone", stanzaOwner(t, "mcp-alice"), "")
	noInstances(t, "mcp delete")
}

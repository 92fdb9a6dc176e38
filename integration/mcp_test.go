//go:build integration

package integration

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/internal/aimxtest/mcptest"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpAs starts the real "aimx-mailboxes mcp" as u against this env's
// socket and connects the SDK's client to it over stdio.
func (e *env) mcpAs(u *user) *mcp.ClientSession {
	e.t.Helper()
	cmd := exec.Command(cliBin, "mcp", "--socket", e.Sock)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = u.Credential()
	return mcptest.Connect(e.t, cmd, "aimx-mailboxes mcp as "+u.Name+": ")
}

// tool calls a tool and returns its text, prefixed "ERROR: " for a tool
// error.
func tool(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any) string {
	t.Helper()
	return mcptest.Text(t, cs, name, args)
}

// TestMCPTwoUsers: alice's agent and bob's agent, each its own uid through
// the socket: bob's cannot see or delete alice's mailbox, and the answer
// to his delete is the one for a mailbox that does not exist.
func TestMCPTwoUsers(t *testing.T) {
	e := newEnv(t, baseConfig)
	a, b := e.mcpAs(&alice), e.mcpAs(&bob)
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}

	check("alice creates", tool(t, a, "mailbox_create", map[string]any{"name": "mcp-a"}), "mcp-a@example.test")
	check("bob creates", tool(t, b, "mailbox_create", map[string]any{"name": "mcp-b"}), "mcp-b@example.test")
	check("config", e.readConfig(), baseConfig+aimxtest.Stanza("mcp-a", alice.Name)+aimxtest.Stanza("mcp-b", bob.Name))
	assertDir(t, e.Path("inbox", "mcp-a"), alice.UID, alice.GID, 0o700)
	assertDir(t, e.Path("sent", "mcp-b"), bob.UID, bob.GID, 0o700)
	if !e.logged(fmt.Sprintf("verb=MAILBOX-CREATE caller_uid=%d ", alice.UID), "caller_user="+alice.Name+" mailbox=mcp-a decision=accept") {
		t.Errorf("no accept record for alice's create; log:\n%s", e.logs)
	}

	listOf := func(name string) string {
		return fmt.Sprintf(`[{"name":"%s","address":"%[1]s@example.test","inbox_path":"%s","sent_path":"%s","total":0,"unread":0,"sent_count":0,"registered":true}]`,
			name, e.Path("inbox", name), e.Path("sent", name))
	}
	check("alice lists", tool(t, a, "mailbox_list", nil), listOf("mcp-a"))
	check("bob lists", tool(t, b, "mailbox_list", nil), listOf("mcp-b"))

	// No leak: byte for byte the answer for a mailbox that does not exist.
	missing := tool(t, b, "mailbox_delete", map[string]any{"name": "mcp-none"})
	check("bob deletes a missing mailbox", missing, "ERROR: [MAILBOX] mailbox 'mcp-none' does not exist")
	check("bob deletes alice's", tool(t, b, "mailbox_delete", map[string]any{"name": "mcp-a"}), "ERROR: [MAILBOX] mailbox 'mcp-a' does not exist")
	check("bob force-deletes alice's", tool(t, b, "mailbox_delete", map[string]any{"name": "mcp-a", "force": true}), "ERROR: [MAILBOX] mailbox 'mcp-a' does not exist")
	if !e.logged(fmt.Sprintf("verb=MAILBOX-DELETE caller_uid=%d ", bob.UID), "mailbox=mcp-a decision=reject") {
		t.Errorf("no reject record for bob's delete; log:\n%s", e.logs)
	}
	check("config after bob's deletes", e.readConfig(), baseConfig+aimxtest.Stanza("mcp-a", alice.Name)+aimxtest.Stanza("mcp-b", bob.Name))
	assertDir(t, e.Path("inbox", "mcp-a"), alice.UID, alice.GID, 0o700)

	check("alice deletes hers", tool(t, a, "mailbox_delete", map[string]any{"name": "mcp-a"}), "Mailbox 'mcp-a' deleted.")
	check("bob deletes his", tool(t, b, "mailbox_delete", map[string]any{"name": "mcp-b"}), "Mailbox 'mcp-b' deleted.")
	check("alice lists", tool(t, a, "mailbox_list", nil), "[]")
	check("config at the end", e.readConfig(), baseConfig)
	assertGone(t, e.Path("inbox", "mcp-a"))
}

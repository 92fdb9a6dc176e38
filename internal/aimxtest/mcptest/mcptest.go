// Package mcptest is the agent's side of the MCP tests: it starts an
// "aimx-mailboxes mcp" and connects the official Go SDK's client to it
// over stdio, as an agent host does, and calls its tools. The CLI's
// tests, the integration suite and the VM guest share it. (It is apart
// from internal/aimxtest so that bench/load does not link the SDK.)
package mcptest

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// Timeout bounds the start and each tool call.
const Timeout = time.Minute

// Connect starts cmd (an "aimx-mailboxes mcp", with its user and
// environment set) and connects the SDK's client to it. When the test
// ends the session is closed, which must end the server with exit 0 and
// nothing on stderr. Failures start with prefix (the VM lane's promise).
func Connect(t testing.TB, cmd *exec.Cmd, prefix string) *mcp.ClientSession {
	t.Helper()
	stderr := &aimxtest.Buffer{}
	cmd.Stderr = stderr
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "aimxtest", Version: "0"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("%sstart %v: %v; stderr %q", prefix, cmd.Args, err, stderr)
	}
	t.Cleanup(func() {
		if err := cs.Close(); err != nil || stderr.String() != "" {
			t.Errorf("%sthe MCP server did not end cleanly with its stdin: %v; stderr %q", prefix, err, stderr)
		}
	})
	return cs
}

// Call calls tool with args and returns the result, failing the test on
// a protocol error (a tool error is a result).
func Call(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s %v: protocol error %v", tool, args, err)
	}
	return res
}

// Text is what Call returned as text, "ERROR: " first for a tool error.
func Text(t testing.TB, cs *mcp.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	res := Call(t, cs, tool, args)
	var texts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			texts = append(texts, tc.Text)
		}
	}
	text := strings.Join(texts, "\n")
	if res.IsError {
		return "ERROR: " + text
	}
	return text
}

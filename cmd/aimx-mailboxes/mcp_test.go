package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/internal/aimxtest/mcptest"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/server"
	"github.com/aimx/aimx-mailboxd/wire"
	"github.com/aimx/aimx-mailboxd/wire/client"
)

// mainEnv makes this test binary run the CLI's main instead of the tests:
// the tests spawn it as "aimx-mailboxes mcp" and talk to it over its stdin
// and stdout, as an agent host does.
const mainEnv = "AIMX_MAILBOXES_TEST_MAIN"

// agentBin is a world-executable copy of this test binary, so that, run
// as root, the tests can start the MCP server as an ordinary user.
var agentBin string

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
		os.Exit(c.main(os.Args[1:]))
	}
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "aimx-mcp-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if agentBin, err = aimxtest.CopySelf(dir); err != nil {
			fmt.Fprintln(os.Stderr, "copy the test binary:", err)
			return 1
		}
		return m.Run()
	}())
}

// The agent's user. Run as an ordinary user, that user; run as root,
// nobody: a root CREATE needs Owner:, which mailbox_create never sends, so
// root's own agent can only list and delete (TestMCPRootAgent).
func theAgent(t *testing.T) aimxtest.User {
	t.Helper()
	u, err := aimxtest.Ordinary()
	if err != nil {
		t.Fatalf("look up the agent's user: %v", err)
	}
	return u
}

const baseConfig = "# written by mcp_test.go\ndomain = \"example.test\"\n"

// helper is the real server code answering on a real socket in a temp
// dir: each accepted connection goes to server.Server.Serve with the
// connection's SO_PEERCRED, as the activated helper does. As an ordinary
// user it can create mailboxes only for that user, which is all these
// tests need.
type helper struct {
	sock, config, data string
	sh                 *scriptHelper
}

func startHelper(t *testing.T, config string) *helper {
	t.Helper()
	return serveAt(t, tempDir(t), "", config)
}

// serveAt makes a sandbox in dir holding config and serves it on sock
// (its own mailboxd.sock when "") until the test ends, with the stories'
// helper (scriptHelper).
func serveAt(t *testing.T, dir, sock, config string) *helper {
	t.Helper()
	sb, err := aimxtest.NewSandbox(dir, config)
	if err != nil {
		t.Fatal(err)
	}
	if sock == "" {
		sock = sb.Sock
	}
	sh := &scriptHelper{sock: sock, srv: &server.Server{Store: mailbox.FromEnv(sb.Config, sb.Data), Log: server.LogfmtLogger{W: io.Discard}}}
	h := &helper{sock: sock, config: sb.Config, data: sb.Data, sh: sh}
	if err := sh.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.close)
	return h
}

// raw is what the socket itself answers to req, for comparing with what
// a tool passed on.
func (h *helper) raw(t *testing.T, req wire.Request) *wire.Error {
	t.Helper()
	resp, err := client.Call(context.Background(), h.sock, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Err
}

func (h *helper) readConfig(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(h.config)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tempDir is t.TempDir that any user can reach.
func tempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// coverEnv is the GOCOVERDIR entry for a CLI run by u under go test
// -cover ("" otherwise). go test's own folder is root's when root runs
// the tests, and u cannot write there: u then gets a folder of its own,
// whose figures root's coverage does not count (the coverage that make
// test checks is an ordinary user's run, where u is that user).
func coverEnv(t *testing.T, u aimxtest.User) string {
	t.Helper()
	dir := os.Getenv("GOCOVERDIR")
	if dir == "" || os.Geteuid() != 0 || u.UID == 0 {
		return "GOCOVERDIR=" + dir
	}
	own := filepath.Join(tempDir(t), "gocoverdir")
	if err := os.Mkdir(own, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(own, int(u.UID), int(u.GID)); err != nil {
		t.Fatal(err)
	}
	return "GOCOVERDIR=" + own
}

// connect starts "aimx-mailboxes mcp --socket socket" as the agent's
// user (root: as root when asRoot) and connects the SDK's client to it
// over the process's stdin and stdout.
func connect(t *testing.T, socket string, asRoot bool, env ...string) *mcp.ClientSession {
	t.Helper()
	args := []string{"mcp"}
	if socket != "" {
		args = append(args, "--socket", socket)
	}
	cmd := exec.Command(agentBin, args...)
	cmd.Env = append([]string{mainEnv + "=1", "PATH=/usr/bin:/bin"}, env...)
	if a := theAgent(t); os.Geteuid() == 0 && !asRoot {
		cmd.SysProcAttr = a.Credential()
		cmd.Env = append(cmd.Env, coverEnv(t, a))
	} else {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+os.Getenv("GOCOVERDIR"))
	}
	return mcptest.Connect(t, cmd, "")
}

// call calls tool and returns its one text and whether it is a tool error.
func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) (string, bool) {
	t.Helper()
	res := mcptest.Call(t, cs, tool, args)
	if len(res.Content) != 1 {
		t.Fatalf("%s %v: %d content blocks, want 1", tool, args, len(res.Content))
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("%s %v: content is %T, want text", tool, args, res.Content[0])
	}
	if res.StructuredContent != nil {
		t.Errorf("%s %v: structured content %v; AIMX's tools answer with text only", tool, args, res.StructuredContent)
	}
	return tc.Text, res.IsError
}

// ok calls tool and fails the test unless it succeeds with want.
func ok(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, want string) {
	t.Helper()
	got, isErr := call(t, cs, tool, args)
	if isErr || got != want {
		t.Errorf("%s %v = %q (isError %v), want %q", tool, args, got, isErr, want)
	}
}

// fails calls tool and fails the test unless it is a tool error saying want.
func fails(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any, want string) {
	t.Helper()
	got, isErr := call(t, cs, tool, args)
	if !isErr || got != want {
		t.Errorf("%s %v = %q (isError %v), want the tool error %q", tool, args, got, isErr, want)
	}
}

func TestMCPToolsAndSchemas(t *testing.T) {
	cs := connect(t, filepath.Join(t.TempDir(), "unused.sock"), false)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]map[string]any{}
	for _, tool := range res.Tools {
		b, _ := json.Marshal(tool.InputSchema)
		var m map[string]any
		json.Unmarshal(b, &m)
		schemas[tool.Name] = m
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range schemas {
			if !yield(n) {
				return
			}
		}
	})
	if want := []string{"mailbox_create", "mailbox_delete", "mailbox_list"}; !slices.Equal(names, want) {
		t.Fatalf("tools %v, want %v", names, want)
	}
	props := func(tool string) []string {
		var p []string
		for k := range schemas[tool]["properties"].(map[string]any) {
			p = append(p, k)
		}
		slices.Sort(p)
		return p
	}
	for tool, want := range map[string][]string{"mailbox_list": nil, "mailbox_create": {"name"}, "mailbox_delete": {"force", "name"}} {
		s := schemas[tool]
		if s["type"] != "object" || s["additionalProperties"] != false {
			t.Errorf("%s: schema %v is not a strict object", tool, s)
		}
		if got := props(tool); !slices.Equal(got, want) {
			t.Errorf("%s: properties %v, want %v", tool, got, want)
		}
		if len(want) > 0 {
			if req := fmt.Sprint(s["required"]); req != "[name]" {
				t.Errorf("%s: required %s, want [name]", tool, req)
			}
			name := s["properties"].(map[string]any)["name"].(map[string]any)
			if name["pattern"] != `^[a-z0-9_-]+(\.[a-z0-9_-]+)*$` || name["maxLength"] != 64.0 || name["minLength"] != 1.0 ||
				!strings.Contains(name["description"].(string), "not starting or ending with '.', without '..'") {
				t.Errorf("%s: name schema %v does not state the name rules", tool, name)
			}
		}
	}
}

// TestMCPLifecycle: list, create, list shows it, delete, list without it;
// the config and the folders change as the spec says.
func TestMCPLifecycle(t *testing.T) {
	h := startHelper(t, baseConfig)
	cs := connect(t, h.sock, false)
	a := theAgent(t)

	ok(t, cs, "mailbox_list", nil, "[]")
	ok(t, cs, "mailbox_create", map[string]any{"name": "agent-1"}, "agent-1@example.test")

	if got, want := h.readConfig(t), baseConfig+fmt.Sprintf("\n[mailboxes.agent-1]\naddress = \"agent-1@example.test\"\nowner = \"%s\"\n", a.Name); got != want {
		t.Errorf("config after create:\n%s\nwant:\n%s", got, want)
	}
	for _, folder := range []string{"inbox", "sent"} {
		if err := aimxtest.CheckDir(filepath.Join(h.data, folder, "agent-1"), a.UID, a.GID, 0o700); err != nil {
			t.Error(err)
		}
	}
	os.WriteFile(filepath.Join(h.data, "inbox", "agent-1", "2026-01-01-hello.md"), []byte("+++\nsubject = \"hi\"\n+++\nhello\n"), 0o600)

	want, _ := json.Marshal([]map[string]any{{
		"name": "agent-1", "address": "agent-1@example.test",
		"inbox_path": filepath.Join(h.data, "inbox", "agent-1"), "sent_path": filepath.Join(h.data, "sent", "agent-1"),
		"total": 1, "unread": 1, "sent_count": 0, "registered": true,
	}})
	got, isErr := call(t, cs, "mailbox_list", map[string]any{})
	var gotV, wantV any
	json.Unmarshal([]byte(got), &gotV)
	json.Unmarshal(want, &wantV)
	if isErr || fmt.Sprint(gotV) != fmt.Sprint(wantV) {
		t.Errorf("mailbox_list = %s (isError %v), want %s", got, isErr, want)
	}
	// The text is the socket's LIST body for the agent, byte for byte:
	// what "aimx-mailboxes list --json" prints, run as the agent (root's
	// own body would also name the owners).
	list := exec.Command(agentBin, "--socket", h.sock, "list", "--json")
	list.Env = []string{mainEnv + "=1", coverEnv(t, a)}
	if os.Geteuid() == 0 {
		list.SysProcAttr = a.Credential()
	}
	if body, err := list.Output(); err != nil || string(body) != got+"\n" {
		t.Errorf("mailbox_list = %q, the socket's body for the agent is %q (%v)", got, body, err)
	}

	ok(t, cs, "mailbox_delete", map[string]any{"name": "agent-1", "force": true}, "Mailbox 'agent-1' deleted.")
	ok(t, cs, "mailbox_list", nil, "[]")
	if got := h.readConfig(t); got != baseConfig {
		t.Errorf("config after delete:\n%s\nwant:\n%s", got, baseConfig)
	}
}

// TestMCPErrors: every error code an ordinary user can reach arrives as a
// tool error with the server's code and reason, and the CLI's hint.
func TestMCPErrors(t *testing.T) {
	h := startHelper(t, baseConfig)
	cs := connect(t, h.sock, false)

	ok(t, cs, "mailbox_create", map[string]any{"name": "dup"}, "dup@example.test")
	fails(t, cs, "mailbox_create", map[string]any{"name": "dup"}, "[MAILBOX] mailbox 'dup' already exists")
	fails(t, cs, "mailbox_delete", map[string]any{"name": "nope"}, "[MAILBOX] mailbox 'nope' does not exist")
	fails(t, cs, "mailbox_create", map[string]any{"name": "catchall"},
		"[VALIDATION] invalid mailbox name 'catchall': it is reserved for the catch-all mailbox\nhint: "+nameRules)

	// NONEMPTY, with the hint in the words of the tool; force then works.
	if err := os.WriteFile(filepath.Join(h.data, "inbox", "dup", "1.md"), []byte("hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fails(t, cs, "mailbox_delete", map[string]any{"name": "dup"},
		"[NONEMPTY] mailbox 'dup' has 1 file (1 in inbox, 0 in sent); archive or remove them first\n"+
			"hint: call mailbox_delete again with force: true to delete the messages together with the mailbox")
	fails(t, cs, "mailbox_delete", map[string]any{"name": "dup", "force": false},
		"[NONEMPTY] mailbox 'dup' has 1 file (1 in inbox, 0 in sent); archive or remove them first\n"+
			"hint: call mailbox_delete again with force: true to delete the messages together with the mailbox")
	ok(t, cs, "mailbox_delete", map[string]any{"name": "dup", "force": true}, "Mailbox 'dup' deleted.")

	// ECONFLICT: inbox/<name> is there and is not a folder.
	if err := os.WriteFile(filepath.Join(h.data, "inbox", "clash"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The agent is not root: its answer names no path owner (no leak).
	fails(t, cs, "mailbox_create", map[string]any{"name": "clash"},
		"[ECONFLICT] mailbox name 'clash' is taken on disk by a folder that is not yours: ask the operator to move it")

	// IO: a config that does not parse.
	broken := startHelper(t, "domain = \n")
	bcs := connect(t, broken.sock, false)
	e := broken.raw(t, wire.Request{Verb: wire.VerbList})
	if e == nil || e.Code != wire.IO || !strings.Contains(e.Reason, broken.config) {
		t.Fatalf("the socket answered %+v, want IO naming %s", e, broken.config)
	}
	fails(t, bcs, "mailbox_list", nil, "[IO] "+e.Reason)
	fails(t, bcs, "mailbox_create", map[string]any{"name": "x"}, "[IO] "+e.Reason)
	if got := broken.readConfig(t); got != "domain = \n" {
		t.Errorf("broken config changed: %q", got)
	}

	if got := h.readConfig(t); got != baseConfig {
		t.Errorf("config after the errors:\n%s\nwant:\n%s", got, baseConfig)
	}
}

// TestMCPBadArguments: an argument the tool does not take, a missing or
// mistyped one, or a name the rules refuse is a tool error in the words
// of every other refusal, [VALIDATION] and a hint, and nothing reaches
// the socket. A refused name has the reason the server gives for it.
func TestMCPBadArguments(t *testing.T) {
	h := startHelper(t, baseConfig)
	cs := connect(t, h.sock, false)
	badName := func(name, rule string) string {
		return fmt.Sprintf("[VALIDATION] invalid mailbox name '%s': %s\nhint: %s", name, rule, nameRules)
	}
	chars := "only lower-case letters, digits, '.', '_' and '-' are allowed"
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"mailbox_create", map[string]any{"name": "x", "owner": "root"}, "[VALIDATION] mailbox_create has no argument \"owner\"\n" +
			"hint: a mailbox is always owned by the user this server runs as; mailbox_create takes name"},
		{"mailbox_delete", map[string]any{"name": "x", "forc": true}, "[VALIDATION] mailbox_delete has no argument \"forc\"\n" +
			"hint: mailbox_delete takes force and name"},
		{"mailbox_list", map[string]any{"all": true}, "[VALIDATION] mailbox_list has no argument \"all\"\nhint: mailbox_list takes no arguments"},
		{"mailbox_create", map[string]any{}, "[VALIDATION] mailbox_create needs the argument \"name\"\n" +
			`hint: call mailbox_create with {"name": "<mailbox name>"}`},
		{"mailbox_delete", nil, "[VALIDATION] mailbox_delete needs the argument \"name\"\n" +
			`hint: call mailbox_delete with {"name": "<mailbox name>"}`},
		{"mailbox_create", map[string]any{"name": 5}, "[VALIDATION] argument \"name\" of mailbox_create must be a string, not 5"},
		{"mailbox_create", map[string]any{"name": nil}, "[VALIDATION] argument \"name\" of mailbox_create must be a string, not null"},
		{"mailbox_delete", map[string]any{"name": "x", "force": "yes"}, "[VALIDATION] argument \"force\" of mailbox_delete must be true or false, not \"yes\""},
		{"mailbox_create", map[string]any{"name": "Bad"}, badName("Bad", chars)},
		{"mailbox_delete", map[string]any{"name": "Bad"}, badName("Bad", chars)},
		{"mailbox_create", map[string]any{"name": ""}, badName("", "it must not be empty")},
		{"mailbox_create", map[string]any{"name": "a..b"}, badName("a..b", "it must not contain '..'")},
		{"mailbox_create", map[string]any{"name": ".a"}, badName(".a", "it must not start with '.'")},
		{"mailbox_create", map[string]any{"name": "a."}, badName("a.", "it must not end with '.'")},
		{"mailbox_create", map[string]any{"name": "aimx-catchall"}, badName("aimx-catchall", "it is reserved for the catch-all mailbox")},
		{"mailbox_create", map[string]any{"name": "a\nOwner: root"}, badName(`a\x0aOwner: root`, chars)},
		{"mailbox_create", map[string]any{"name": strings.Repeat("a", 65)}, badName(strings.Repeat("a", 65), "it must be at most 64 bytes long (it is 65)")},
	} {
		fails(t, cs, tc.tool, tc.args, tc.want)
	}
	h.sh.mu.Lock()
	n := h.sh.n
	h.sh.mu.Unlock()
	if n != 0 {
		t.Errorf("%d connection(s) reached the socket, want none", n)
	}
	// The reason is the server's own for every name a frame can carry (an
	// empty Name: is a malformed frame).
	for _, name := range []string{"Bad", "a..b", ".a", "a.", "aimx-catchall", strings.Repeat("a", 65)} {
		e := h.raw(t, wire.Request{Verb: wire.VerbCreate, Name: name, Owner: theAgent(t).Name})
		want := "[VALIDATION] " + e.Reason + "\nhint: " + nameRules
		if got, _ := call(t, cs, "mailbox_create", map[string]any{"name": name}); e.Code != wire.Validation || got != want {
			t.Errorf("name %q: the tool says %q; from the server's [%s] %s, want %q", name, got, e.Code, e.Reason, want)
		}
	}
	ok(t, cs, "mailbox_create", map[string]any{"name": strings.Repeat("a", 64)}, strings.Repeat("a", 64)+"@example.test")
	if got, want := h.readConfig(t), baseConfig+fmt.Sprintf("\n[mailboxes.%s]\naddress = \"%[1]s@example.test\"\n", strings.Repeat("a", 64)); !strings.HasPrefix(got, want) {
		t.Errorf("config: only the 64-byte name may have been created:\n%s", got)
	}
}

// TestMCPUnreachable: a missing or refusing socket is a tool error with
// the CLI's hint, and the server keeps serving: once the helper is there,
// the same session works.
func TestMCPUnreachable(t *testing.T) {
	dir := tempDir(t)
	missing := filepath.Join(dir, "missing.sock")
	// The agent is an ordinary user: the fix is the administrator's.
	cs := connect(t, missing, false)
	fails(t, cs, "mailbox_list", nil, "cannot reach aimx-mailboxd at "+missing+": no such file or directory\n"+
		"hint: is the socket enabled? ask your administrator to run: systemctl enable --now aimx-mailboxd.socket")
	fails(t, cs, "mailbox_create", map[string]any{"name": "x"}, "cannot reach aimx-mailboxd at "+missing+": no such file or directory\n"+
		"hint: is the socket enabled? ask your administrator to run: systemctl enable --now aimx-mailboxd.socket")

	// A socket file with nobody listening: connection refused.
	refusing := filepath.Join(dir, "refusing.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: refusing, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	os.Chmod(refusing, 0o666)
	fails(t, connect(t, refusing, false), "mailbox_delete", map[string]any{"name": "x"}, "cannot reach aimx-mailboxd at "+refusing+": connection refused\n"+
		"hint: is the socket enabled? ask your administrator to run: systemctl enable --now aimx-mailboxd.socket")

	// Root's agent gets the same, with the command to run: mcp has no
	// in-process fallback. (Run by an ordinary user, "root's" agent is
	// that user.)
	hint := "hint: is the socket enabled? ask your administrator to run: systemctl enable --now aimx-mailboxd.socket"
	if os.Geteuid() == 0 {
		hint = "hint: is the socket enabled? sudo systemctl enable --now aimx-mailboxd.socket"
	}
	fails(t, connect(t, missing, true), "mailbox_list", nil, "cannot reach aimx-mailboxd at "+missing+": no such file or directory\n"+hint)

	// Once a helper answers there, the same session is served.
	serveAt(t, dir, missing, baseConfig)
	ok(t, cs, "mailbox_list", nil, "[]")
}

// TestMCPSocketFromEnv: AIMX_MAILBOXD_SOCKET applies to mcp as to the
// other commands.
func TestMCPSocketFromEnv(t *testing.T) {
	h := startHelper(t, baseConfig)
	cs := connect(t, "", false, "AIMX_MAILBOXD_SOCKET="+h.sock)
	if info := cs.InitializeResult().ServerInfo; info.Name != "aimx-mailboxes" {
		t.Errorf("server name %q, want aimx-mailboxes", info.Name)
	}
	ok(t, cs, "mailbox_create", map[string]any{"name": "env"}, "env@example.test")
	ok(t, cs, "mailbox_delete", map[string]any{"name": "env"}, "Mailbox 'env' deleted.")
}

// TestMCPRootAgent: an agent running as root goes through the socket like
// any other (no in-process fallback). It sees and may delete every
// mailbox, but cannot create one: mailbox_create has no owner argument
// and a root CREATE must name the owner.
func TestMCPRootAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs the agent as root and another as nobody")
	}
	h := startHelper(t, baseConfig)
	ok(t, connect(t, h.sock, false), "mailbox_create", map[string]any{"name": "theirs"}, "theirs@example.test")
	root := connect(t, h.sock, true)
	fails(t, root, "mailbox_create", map[string]any{"name": "mine"},
		"[VALIDATION] root must name the owner of mailbox 'mine': aimx-mailboxes create mine --owner USER")
	got, isErr := call(t, root, "mailbox_list", nil)
	if isErr || !strings.HasPrefix(got, `[{"name":"theirs","address":"theirs@example.test",`) {
		t.Errorf("root's mailbox_list = %q (isError %v), want nobody's mailbox in it", got, isErr)
	}
	ok(t, root, "mailbox_delete", map[string]any{"name": "theirs"}, "Mailbox 'theirs' deleted.")
	if got := h.readConfig(t); got != baseConfig {
		t.Errorf("config:\n%s\nwant:\n%s", got, baseConfig)
	}
}

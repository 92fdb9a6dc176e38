//go:build integration

package integration

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

func TestCLI(t *testing.T) {
	e := newEnv(t, baseConfig)
	check := func(name string, got result, code int, stdout, stderr string) {
		t.Helper()
		if got.Code != code || got.Stdout != stdout || got.Stderr != stderr {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q\nwant exit %d\nstdout %q\nstderr %q", name, got.Code, got.Stdout, got.Stderr, code, stdout, stderr)
		}
	}
	check("create", e.cli(&alice, "create", "cli1"), 0, "created mailbox 'cli1'\n", "")
	check("create with another's --owner", e.cli(&alice, "create", "cli2", "--owner", bob.Name), 0, "created mailbox 'cli2'\n",
		fmt.Sprintf("aimx-mailboxes: warning: --owner %s is ignored for non-root callers; mailbox 'cli2' will be owned by %s\n", bob.Name, alice.Name))
	assertDir(t, e.Path("inbox", "cli2"), alice.UID, alice.GID, 0o700)
	check("create with own --owner", e.cli(&alice, "create", "cli3", "--owner", alice.Name), 0, "created mailbox 'cli3'\n", "")
	check("duplicate", e.cli(&alice, "create", "cli1"), 1, "", "aimx-mailboxes: mailbox 'cli1' already exists\n")
	check("root create", e.cli(nil, "create", "bobs", "--owner", bob.Name), 0, "created mailbox 'bobs'\n", "")

	writeAs(t, alice, e.Path("inbox", "cli1", "m.md"), "+++\nread = true\n+++\n")
	writeAs(t, alice, e.Path("inbox", "cli1", "n.md"), "new\n")
	table := "NAME  ADDRESS            TOTAL  UNREAD  SENT\n" +
		"cli1  cli1@example.test  2      1       0\n" +
		"cli2  cli2@example.test  0      0       0\n" +
		"cli3  cli3@example.test  0      0       0\n"
	check("list", e.cli(&alice, "list"), 0, table, "")
	body := e.raw(&alice, "AIMX/1 MAILBOX-LIST\n\n")
	_, body, _ = strings.Cut(body, "\n\n")
	check("list --json", e.cli(&alice, "list", "--json"), 0, body+"\n", "")

	check("delete without --yes off a terminal", e.cli(&alice, "delete", "cli3"), 2, "",
		"aimx-mailboxes: not deleting mailbox 'cli3' without confirmation: standard input is not a terminal\nhint: pass --yes to delete without asking\n")
	check("delete --yes", e.cli(&alice, "delete", "cli3", "--yes"), 0, "deleted mailbox 'cli3'\n", "")
	check("delete non-empty", e.cli(&alice, "delete", "cli1", "--yes"), 1, "",
		"aimx-mailboxes: mailbox 'cli1' has 2 files (2 in inbox, 0 in sent); archive or remove them first\nhint: pass --force to delete the messages together with the mailbox\n")
	check("delete --force", e.cli(&alice, "delete", "cli1", "--force", "-y"), 0, "deleted mailbox 'cli1'\n", "")
	check("delete another's", e.cli(&alice, "delete", "bobs", "--yes"), 1, "", "aimx-mailboxes: mailbox 'bobs' does not exist\n")
	check("bad name", e.cli(&alice, "create", "Bad"), 1, "",
		"aimx-mailboxes: invalid mailbox name 'Bad': only lower-case letters, digits, '.', '_' and '-' are allowed\n")

	v := e.cli(&alice, "version")
	if v.Code != 0 || !strings.HasPrefix(v.Stdout, "client: v0.0.0-it (") || !strings.Contains(v.Stdout, "\nserver: v0.0.0-it (") {
		t.Errorf("version: %+v", v)
	}
	u := e.cli(&alice, "frob")
	if u.Code != 2 || !strings.Contains(u.Stderr, "unexpected argument frob") {
		t.Errorf("usage error: %+v", u)
	}
}

func TestCLIWithoutSocket(t *testing.T) {
	e := newEnv(t, baseConfig)
	e.stop()
	missing := filepath.Join(e.Dir, "no-such.sock")
	got := runCLI(t, &alice, "", "--socket", missing, "create", "x")
	if got.Code != 3 || got.Stdout != "" || got.Stderr != fmt.Sprintf(
		"aimx-mailboxes: cannot reach aimx-mailboxd at %s: no such file or directory\nhint: is the socket enabled? ask your administrator to run: systemctl enable --now aimx-mailboxd.socket\n", missing) {
		t.Errorf("non-root without a socket: %+v", got)
	}
	// Root falls back to doing the request in-process, with the same code
	// and lock, on the config and data dir it is told. Its record goes to
	// the journal, as the helper's do; with none here, to stderr.
	got = runCLI(t, nil, "", "--socket", missing, "--config", e.Config, "--data-dir", e.Data, "create", "direct", "--owner", bob.Name)
	record := regexp.MustCompile(`^verb=MAILBOX-CREATE caller_uid=0 caller_pid=\d+ caller_user=root mailbox=direct decision=root_bypass outcome=accepted priority=info\n$`)
	first, rest, _ := strings.Cut(got.Stderr, "\n")
	if got.Code != 0 || got.Stdout != "created mailbox 'direct'\n" ||
		first != fmt.Sprintf("aimx-mailboxes: %s is not answering (no such file or directory); running the request in-process as root", missing) || !record.MatchString(rest) {
		t.Errorf("root direct mode: %+v", got)
	}
	if want := baseConfig + aimxtest.Stanza("direct", bob.Name); e.readConfig() != want {
		t.Errorf("config:\n%s", e.readConfig())
	}
	assertDir(t, e.Path("inbox", "direct"), bob.UID, bob.GID, 0o700)
	// A socket file that nobody listens on refuses: the same fallback,
	// with the config and data dir from the environment this time.
	refusing := filepath.Join(e.Dir, "refusing.sock")
	l, err := net.Listen("unix", refusing)
	must(t, err)
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	cmd := runCLIEnv(t, []string{"AIMX_CONFIG_DIR=" + filepath.Dir(e.Config), "AIMX_DATA_DIR=" + e.Data}, "--socket", refusing, "delete", "direct", "--yes")
	if cmd.Code != 0 || cmd.Stdout != "deleted mailbox 'direct'\n" || !strings.Contains(cmd.Stderr, "(connection refused); running the request in-process as root") {
		t.Errorf("root direct delete via env: %+v", cmd)
	}
	if e.readConfig() != baseConfig {
		t.Errorf("config after direct delete:\n%s", e.readConfig())
	}
}

// TestCLIDeletePrompt runs delete on a real terminal (script(1) gives it
// a pty) and answers the [y/N] question.
func TestCLIDeletePrompt(t *testing.T) {
	e := newEnv(t, baseConfig)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("needs script(1) from util-linux for a pty")
	}
	if got := e.raw(&alice, aimxtest.Create("asked", "")); got != aimxtest.OK {
		t.Fatal(got)
	}
	line := cliBin + " --socket " + e.Sock + " delete asked"
	no := runAs(t, &alice, "n\n", "script", "-qec", line, "/dev/null")
	if no.Code != 4 || !strings.Contains(no.Stdout, "Delete mailbox 'asked'? [y/N] ") || !strings.Contains(no.Stdout, "aimx-mailboxes: not deleted") {
		t.Errorf("answered n: %+v", no)
	}
	assertDir(t, e.Path("inbox", "asked"), alice.UID, alice.GID, 0o700)
	yes := runAs(t, &alice, "y\n", "script", "-qec", line, "/dev/null")
	if yes.Code != 0 || !strings.Contains(yes.Stdout, "deleted mailbox 'asked'") {
		t.Errorf("answered y: %+v", yes)
	}
	assertGone(t, e.Path("inbox", "asked"))
}

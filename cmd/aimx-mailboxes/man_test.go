package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/server"
)

// manExamples returns the code blocks of the EXAMPLES section of the man
// page at path, one string per block (lines without their indent).
func manExamples(t *testing.T, path string) []string {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(text), "\n# EXAMPLES\n")
	if !ok {
		t.Fatalf("%s has no EXAMPLES section", path)
	}
	section, _, _ = strings.Cut(section, "\n# ")
	var blocks []string
	var block []string
	for _, line := range strings.Split(section, "\n") {
		if code, ok := strings.CutPrefix(line, "    "); ok {
			block = append(block, code)
			continue
		}
		if len(block) > 0 {
			blocks = append(blocks, strings.Join(block, "\n"))
			block = nil
		}
	}
	return blocks
}

// TestManExamples runs each example of aimx-mailboxes(1), as it stands in
// the page: "$ " lines as the story's user, "# " lines as root (alice is
// played by the story's user), and the script as the story's user,
// against the real server code on a socket. A changed example fails here
// until the test runs it.
func TestManExamples(t *testing.T) {
	blocks := manExamples(t, "../../docs/man/aimx-mailboxes.1.md")
	want := []string{
		"$ aimx-mailboxes create my-agent\n$ aimx-mailboxes list",
		"# aimx-mailboxes create reports --owner alice\n# aimx-mailboxes delete reports --force --yes",
		"# aimx-mailboxes doctor",
		"aimx-mailboxes create reports\n" +
			`case $? in 0) ;; 1) echo refused ;; 3) echo "no helper: run aimx-mailboxes doctor" ;; esac`,
	}
	if strings.Join(blocks, "\n\n") != strings.Join(want, "\n\n") {
		t.Fatalf("the man page's examples are\n%s\nthis test runs\n%s", strings.Join(blocks, "\n\n"), strings.Join(want, "\n\n"))
	}

	x := newExamples(t, baseConfig)
	h, story, sh, line := x.h, x.story, x.sh, x.line
	t.Run("create and list", func(t *testing.T) {
		lines := strings.Split(blocks[0], "\n")
		line(t, lines[0], "created mailbox 'my-agent'\n")
		line(t, lines[1], "NAME      ADDRESS                TOTAL  UNREAD  SENT\n"+
			"my-agent  my-agent@example.test  0      0       0\n")
	})
	t.Run("root creates and deletes with mail", func(t *testing.T) {
		lines := strings.Split(blocks[1], "\n")
		line(t, lines[0], "created mailbox 'reports'\n")
		if err := aimxtest.CheckDir(filepath.Join(h.data, "inbox", "reports"), story.UID, story.GID, 0o700); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(filepath.Join(h.data, "inbox", "reports", "1.md"), []byte("hello\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		line(t, lines[1], "deleted mailbox 'reports'\n")
		if _, err := os.Lstat(filepath.Join(h.data, "inbox", "reports")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("inbox/reports after the delete: %v", err)
		}
	})
	t.Run("doctor", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root: # aimx-mailboxes doctor (the data dir must be root's)")
		}
		code, out := sh(t, true, blocks[2][2:])
		if code != 0 || !strings.Contains(out, "\nok    helper       aimx-mailboxd ") || !strings.Contains(out, "\nok    config       "+h.config+" parses: 1 mailbox\n") {
			t.Errorf("%s: exit %d, output\n%s\nwant exit 0, the helper and the config ok", blocks[2], code, out)
		}
	})
	t.Run("script", func(t *testing.T) {
		for _, want := range []string{"created mailbox 'reports'\n", "aimx-mailboxes: mailbox 'reports' already exists\nrefused\n"} {
			if code, out := sh(t, false, blocks[3]); code != 0 || out != want {
				t.Errorf("exit %d, output %q; want 0 and %q", code, out, want)
			}
		}
		x.socket = filepath.Join(tempDir(t), "missing.sock")
		if code, out := sh(t, false, blocks[3]); code != 0 || !strings.HasSuffix(out, "\nno helper: run aimx-mailboxes doctor\n") {
			t.Errorf("no helper: exit %d, output %q; want 0, ending \"no helper: run aimx-mailboxes doctor\\n\"", code, out)
		}
	})
}

// TestManHelperLogging: the outcomes, priorities and MESSAGE_IDs that
// aimx-mailboxd(8) lists under LOGGING, and the one its journalctl
// example filters on, are the helper's own. (Running the examples needs
// systemd: the VM lane's business.)
func TestManHelperLogging(t *testing.T) {
	text, err := os.ReadFile("../../docs/man/aimx-mailboxd.8.md")
	if err != nil {
		t.Fatal(err)
	}
	syslog := map[server.Priority]string{server.PriErr: "err", server.PriWarning: "warning", server.PriNotice: "notice", server.PriInfo: "info"}
	rows := regexp.MustCompile(`(?m)^\*\*([a-z]+)\*\* \(([a-z]+), MESSAGE_ID ([0-9a-f]{32})\)$`).FindAllStringSubmatch(string(text), -1)
	seen := map[server.Outcome]bool{}
	for _, r := range rows {
		o := server.Outcome(r[1])
		id, ok := server.MessageIDs[o]
		if !ok || r[3] != id || r[2] != syslog[o.Priority()] {
			t.Errorf("the page says %s is %s, MESSAGE_ID %s; the helper: %s, %q", o, r[2], r[3], syslog[o.Priority()], id)
		}
		seen[o] = true
	}
	if len(seen) != len(server.MessageIDs) {
		t.Errorf("the page lists %d outcomes, the helper has %d", len(seen), len(server.MessageIDs))
	}
	if want := "journalctl MESSAGE_ID=" + server.MessageIDs[server.Failed] + "\n"; !strings.Contains(string(text), want) {
		t.Errorf("the journalctl example does not filter on the failed outcome's MESSAGE_ID: want %q", want)
	}
}

// examples runs documented command lines against the real server code on
// a socket: as the story's user, or as root, with the CLI on PATH.
type examples struct {
	h      *helper
	story  aimxtest.User
	bin    string
	socket string
}

func newExamples(t *testing.T, config string) *examples {
	t.Helper()
	h := startHelper(t, config)
	for _, d := range []string{"inbox", "sent"} { // as the package makes them
		if err := os.Chmod(filepath.Join(h.data, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	x := &examples{h: h, story: theAgent(t), bin: tempDir(t), socket: h.sock}
	if err := os.WriteFile(filepath.Join(x.bin, "aimx-mailboxes"), []byte("#!/bin/sh\n"+mainEnv+"=1 exec "+shQuote(agentBin)+" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// No systemd to ask here: doctor's unit checks are warnings.
	if err := os.WriteFile(filepath.Join(x.bin, "systemctl"), []byte("#!/bin/sh\necho offline\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return x
}

// sh runs script as the story's user, or as root when asRoot, and
// returns its exit code and output.
func (x *examples) sh(t *testing.T, asRoot bool, script string) (int, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"PATH=" + x.bin + ":/usr/bin:/bin", "AIMX_MAILBOXD_SOCKET=" + x.socket,
		"AIMX_CONFIG_DIR=" + filepath.Dir(x.h.config), "AIMX_DATA_DIR=" + x.h.data}
	if os.Geteuid() == 0 && !asRoot {
		cmd.SysProcAttr = x.story.Credential()
		cmd.Env = append(cmd.Env, coverEnv(t, x.story))
	} else {
		cmd.Env = append(cmd.Env, "GOCOVERDIR="+os.Getenv("GOCOVERDIR"))
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("%s: %v", script, err)
	}
	return 0, string(out)
}

// line runs one "$ " or "# " line (alice played by the story's user) and
// checks its exit code and output.
func (x *examples) line(t *testing.T, example, wantOut string) {
	t.Helper()
	asRoot := strings.HasPrefix(example, "# ")
	if asRoot && os.Geteuid() != 0 {
		t.Skipf("needs root: %s", example)
	}
	cmd := strings.ReplaceAll(example[2:], "alice", x.story.Name)
	if code, out := x.sh(t, asRoot, cmd); code != 0 || out != wantOut {
		t.Errorf("%s: exit %d, output\n%s\nwant exit 0, output\n%s", example, code, out, wantOut)
	}
}

// TestReadmeExamples runs README.md's sessions as they stand, on a config
// for the page's domain, example.com: the user's (each "$ " line and the
// output the page shows under it) and root's (each sudo line, as root).
func TestReadmeExamples(t *testing.T) {
	text, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, user, ok := strings.Cut(string(text), "## Use it as a user\n")
	if !ok {
		t.Fatal("README.md has no section \"Use it as a user\"")
	}
	_, user, _ = strings.Cut(user, "```console\n")
	user, _, _ = strings.Cut(user, "```")
	_, root, ok := strings.Cut(string(text), "## Use it as root\n")
	if !ok {
		t.Fatal("README.md has no section \"Use it as root\"")
	}
	_, root, _ = strings.Cut(root, "```sh\n")
	root, _, _ = strings.Cut(root, "```")

	x := newExamples(t, "domain = \"example.com\"\n")
	t.Run("user", func(t *testing.T) {
		var cmd, out string
		flush := func() {
			if cmd != "" {
				x.line(t, cmd, out)
			}
		}
		n := 0
		for _, l := range strings.SplitAfter(user, "\n") {
			if strings.HasPrefix(l, "$ ") {
				flush()
				cmd, out, n = strings.TrimSuffix(l, "\n"), "", n+1
				continue
			}
			out += l
		}
		flush()
		if n < 3 {
			t.Errorf("ran %d of the user's lines, want create, list and delete", n)
		}
	})
	t.Run("root", func(t *testing.T) {
		n := 0
		for _, l := range strings.Split(strings.TrimSpace(root), "\n") {
			l, _, _ = strings.Cut(l, "  #") // the page's comment
			c, ok := strings.CutPrefix(strings.TrimSpace(l), "sudo ")
			if !ok {
				t.Fatalf("root's line %q does not start with sudo", l)
			}
			if os.Geteuid() != 0 {
				t.Skipf("needs root: %s", l)
			}
			c = strings.ReplaceAll(c, "alice", x.story.Name)
			if code, out := x.sh(t, true, c); code != 0 {
				t.Errorf("%s: exit %d, output\n%s", l, code, out)
			}
			n++
		}
		if _, err := os.Lstat(filepath.Join(x.h.data, "inbox", "postmaster")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("inbox/postmaster after root's lines: %v", err)
		}
		if n != 3 {
			t.Errorf("ran %d of root's lines, want 3", n)
		}
	})
}

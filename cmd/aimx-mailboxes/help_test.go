package main

import (
	"bufio"
	"bytes"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// recorder is a socket that answers every connection with a bare OK and
// counts them, so a test can tell whether the CLI sent a request at all.
// It counts a connection before it answers, and the CLI waits for the
// answer, so the count is complete once the CLI has returned.
type recorder struct {
	sock string
	mu   sync.Mutex
	n    int
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{sock: filepath.Join(t.TempDir(), "mailboxd.sock")}
	ln, err := net.Listen("unix", r.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.n++
			r.mu.Unlock()
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte("AIMX/1 OK\n"))
			c.Close()
		}
	}()
	return r
}

func (r *recorder) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// run runs the CLI in-process with args and no terminal on stdin.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}
	code = c.main(args)
	return code, out.String(), errb.String()
}

// TestHelpSendsNoRequest: --help or -h anywhere, or help before the
// command, prints help on stdout, exits 0 and sends nothing (once, "delete hb --yes --help" printed the
// help and then deleted the mailbox).
func TestHelpSendsNoRequest(t *testing.T) {
	for _, tc := range []struct {
		args  string
		usage string // the first line of the help
	}{
		{"--help", "Usage: aimx-mailboxes <command> [flags]"},
		{"-h", "Usage: aimx-mailboxes <command> [flags]"},
		{"list --help", "Usage: aimx-mailboxes list [flags]"},
		{"list --json -h", "Usage: aimx-mailboxes list [flags]"},
		{"version --help", "Usage: aimx-mailboxes version [flags]"},
		{"create demo --help", "Usage: aimx-mailboxes create <name> [flags]"},
		{"create demo --owner bob -h", "Usage: aimx-mailboxes create <name> [flags]"},
		{"delete hb --yes --help", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"delete hb --force --yes -h", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"--help delete hb --yes", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"delete --help", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"mcp --help", "Usage: aimx-mailboxes mcp [flags]"},
		{"mcp -h", "Usage: aimx-mailboxes mcp [flags]"},
		{"help", "Usage: aimx-mailboxes <command> [flags]"},
		{"help delete", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"help delete hb --yes", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"help delete x -y --help", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"help create demo --owner bob", "Usage: aimx-mailboxes create <name> [flags]"},
		{"help help", "Usage: aimx-mailboxes help [<command> ...] [flags]"},
		{"help --help", "Usage: aimx-mailboxes help [<command> ...] [flags]"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			r := newRecorder(t)
			code, stdout, stderr := run(append([]string{"--socket", r.sock}, strings.Fields(tc.args)...)...)
			if code != exitOK {
				t.Errorf("exit %d, want 0; stderr:\n%s", code, stderr)
			}
			if first, _, _ := strings.Cut(stdout, "\n"); first != tc.usage {
				t.Errorf("first line of stdout = %q, want %q", first, tc.usage)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing", stderr)
			}
			if n := r.requests(); n != 0 {
				t.Errorf("%d connection(s) reached the socket, want none", n)
			}
		})
	}
}

// TestUsageErrors: a wrong flag or a missing argument prints one line
// naming the problem and then the usage on stderr, exits 2 and sends
// nothing.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args  string
		first string // the first line of stderr
		usage string // the usage line that follows it
	}{
		{"", `aimx-mailboxes: expected one of "create", "delete", "list", "doctor", "version", ...`, "Usage: aimx-mailboxes <command> [flags]"},
		{"--frob", "aimx-mailboxes: unknown flag --frob", "Usage: aimx-mailboxes <command> [flags]"},
		{"delete", `aimx-mailboxes: expected "<name>"`, "Usage: aimx-mailboxes delete <name> [flags]"},
		{"delete hb --yes --frob", "aimx-mailboxes: unknown flag --frob", "Usage: aimx-mailboxes delete <name> [flags]"},
		{"create", `aimx-mailboxes: expected "<name>"`, "Usage: aimx-mailboxes create <name> [flags]"},
		{"list extra", `aimx-mailboxes: unexpected argument extra`, "Usage: aimx-mailboxes list [flags]"},
		{"frob", `aimx-mailboxes: unexpected argument frob`, "Usage: aimx-mailboxes <command> [flags]"},
		{"help frob", `aimx-mailboxes: unexpected argument frob`, "Usage: aimx-mailboxes <command> [flags]"},
		{"help delete hb --frob", "aimx-mailboxes: unknown flag --frob", "Usage: aimx-mailboxes delete <name> [flags]"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			r := newRecorder(t)
			code, stdout, stderr := run(append([]string{"--socket", r.sock}, strings.Fields(tc.args)...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want 2", code)
			}
			lines := strings.Split(stderr, "\n")
			if len(lines) < 3 || lines[0] != tc.first || lines[1] != "" || lines[2] != tc.usage {
				t.Errorf("stderr starts %q, want %q, a blank line, then %q", strings.Join(lines[:min(3, len(lines))], `\n`), tc.first, tc.usage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if n := r.requests(); n != 0 {
				t.Errorf("%d connection(s) reached the socket, want none", n)
			}
		})
	}
}

package aimxtest

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFrames: the builders write docs/PROTOCOL.md's frames byte for byte.
func TestFrames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Create("a", ""), "AIMX/1 MAILBOX-CREATE\nName: a\n\n"},
		{Create("a", "bob"), "AIMX/1 MAILBOX-CREATE\nName: a\nOwner: bob\n\n"},
		{Delete("a", false), "AIMX/1 MAILBOX-DELETE\nName: a\n\n"},
		{Delete("a", true), "AIMX/1 MAILBOX-DELETE\nName: a\nForce: true\n\n"},
		{Err("IO", "no config"), "AIMX/1 ERR IO no config\nCode: IO\n\n"},
		{Stanza("a", "bob"), "\n[mailboxes.a]\naddress = \"a@example.test\"\nowner = \"bob\"\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// serveOnce answers one connection on a fresh socket: it reads the
// request up to the client's half-close and writes answer.
func serveOnce(t *testing.T, answer string) (sock string, got chan string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got = make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- string(b)
		io.WriteString(c, answer)
	}()
	return sock, got
}

// TestExchange: the frame goes out as it is, half-closed, and the whole
// answer comes back; a missing socket is a DialError.
func TestExchange(t *testing.T) {
	sock, got := serveOnce(t, OK)
	if !Listening(sock) {
		t.Errorf("Listening(%s) = false for a listening socket", sock)
	}
	resp, err := Exchange(sock, "\x00not a frame", time.Minute)
	if resp != OK || err != nil {
		t.Errorf("Exchange = %q, %v", resp, err)
	}
	if req := <-got; req != "\x00not a frame" {
		t.Errorf("server read %q", req)
	}
	_, err = Exchange(filepath.Join(t.TempDir(), "none.sock"), List, time.Second)
	var de *DialError
	if !errors.As(err, &de) {
		t.Errorf("missing socket: %v, want a *DialError", err)
	}
	if err := WaitListening(filepath.Join(t.TempDir(), "none.sock"), 30*time.Millisecond); err == nil {
		t.Errorf("WaitListening on nothing: no error")
	}
}

// TestRun: exit status and output come back; only a command that cannot
// run is an error.
func TestRun(t *testing.T) {
	r, err := Run(exec.Command("sh", "-c", "cat; echo err >&2; exit 3"), "in")
	if err != nil || r.Code != 3 || r.Stdout != "in" || r.Stderr != "err\n" {
		t.Errorf("Run = %s, %v", r, err)
	}
	if _, err := Run(exec.Command(filepath.Join(t.TempDir(), "none")), ""); err == nil {
		t.Errorf("Run of a missing program: no error")
	}
}

// TestSandbox: every folder any user's helper must reach is 0755, the
// config is written, and CheckDir says what differs.
func TestSandbox(t *testing.T) {
	sb, err := NewSandbox(filepath.Join(t.TempDir(), "sb"), BaseConfig)
	if err != nil {
		t.Fatal(err)
	}
	if text, err := sb.ReadConfig(); text != BaseConfig || err != nil {
		t.Errorf("config %q, %v", text, err)
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	for _, d := range []string{sb.Dir, filepath.Dir(sb.Config), sb.Data, sb.Path("inbox"), sb.Path("sent")} {
		if err := CheckDir(d, uid, gid, 0o755); err != nil {
			t.Error(err)
		}
	}
	if err := CheckDir(sb.Path("inbox"), uid, gid, 0o700); err == nil || !strings.Contains(err.Error(), "want a dir") {
		t.Errorf("CheckDir with the wrong mode: %v", err)
	}
}

// TestActivate: the helper's flags reach each instance, which gets the
// connection (here a shell that answers with its arguments).
func TestActivate(t *testing.T) {
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		t.Skip("needs systemd-socket-activate: sudo apt-get install systemd")
	}
	sb, err := NewSandbox(t.TempDir(), BaseConfig)
	if err != nil {
		t.Fatal(err)
	}
	// --inetd gives the instance the connection on stdin and stdout.
	a, err := sb.Serve("--inetd", "sh", "-c", `cat >/dev/null; echo "$@"; echo done >&2`, "sh")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	resp, err := Exchange(sb.Sock, Version, time.Minute)
	if want := "--config " + sb.Config + " --data-dir " + sb.Data + "\n"; resp != want || err != nil {
		t.Errorf("Exchange = %q, %v; want %q", resp, err, want)
	}
	if !a.Logged(5*time.Second, "done") {
		t.Errorf("the instance's stderr is not in the logs: %q", a.Logs)
	}
}

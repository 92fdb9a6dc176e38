//go:build integration

// Package integration drives the real helper under
// systemd-socket-activate --accept with the real CLI and raw frames, as
// root and as two real users that it creates (and removes) when it runs
// as root.
package integration

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binDir   string // helper, CLI and a copy of this test binary, all world-executable
	helper   string
	cliBin   string
	rawBin   string // this test binary, for raw frames as another user
	setupErr error
	alice    user
	bob      user
)

// ghostUID has no passwd entry.
const ghostUID = 54321

type user struct {
	name     string
	uid, gid uint32
}

const rawEnv = "AIMX_IT_RAW_SOCKET"

func TestMain(m *testing.M) {
	if sock := os.Getenv(rawEnv); sock != "" {
		os.Exit(rawClient(sock))
	}
	code := func() int {
		var cleanup func()
		cleanup, setupErr = setup()
		if cleanup != nil {
			defer cleanup()
		}
		return m.Run()
	}()
	os.Exit(code)
}

// rawClient sends its stdin as one frame (then half-closes) and copies
// the response to stdout. It runs as a child, under another uid.
func rawClient(sock string) int {
	frame, _ := io.ReadAll(os.Stdin)
	c, err := net.Dial("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	c.Write(frame)
	c.(*net.UnixConn).CloseWrite()
	io.Copy(os.Stdout, c)
	return 0
}

func setup() (func(), error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if _, err := exec.LookPath("systemd-socket-activate"); err != nil {
		return nil, fmt.Errorf("systemd-socket-activate not installed (make test installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "aimx-it-bin-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	binDir = dir
	os.Chmod(dir, 0o755)
	helper = filepath.Join(dir, "aimx-mailboxd")
	cliBin = filepath.Join(dir, "aimx-mailboxes")
	for bin, pkg := range map[string]string{helper: "../cmd/aimx-mailboxd", cliBin: "../cmd/aimx-mailboxes"} {
		out, err := exec.Command("go", "build", "-o", bin, "-ldflags", "-X github.com/aimx/aimx-mailboxd/version.Tag=v0.0.0-it", pkg).CombinedOutput()
		if err != nil {
			return cleanup, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return cleanup, err
	}
	rawBin = filepath.Join(dir, "rawclient")
	if err := copyFile(self, rawBin); err != nil {
		return cleanup, err
	}
	var users []string
	for _, u := range []*user{&alice, &bob} {
		name := "aimxit-" + map[*user]string{&alice: "alice", &bob: "bob"}[u]
		exec.Command("userdel", name).Run() // a crashed earlier run
		if out, err := exec.Command("useradd", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
			return cleanup, fmt.Errorf("useradd %s: %v: %s", name, err, out)
		}
		users = append(users, name)
		if *u, err = lookup(name); err != nil {
			return cleanup, err
		}
	}
	return func() {
		for _, n := range users {
			exec.Command("userdel", n).Run()
		}
		cleanup()
	}, nil
}

func lookup(name string) (user, error) {
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		return user{}, fmt.Errorf("id -u %s: %w", name, err)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, err = exec.Command("id", "-g", name).Output()
	if err != nil {
		return user{}, fmt.Errorf("id -g %s: %w", name, err)
	}
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return user{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// needRoot skips a test that creates users; it never passes silently.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates users and runs the helper for them")
	}
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

// env is one running helper: a config, a data dir and a socket served by
// systemd-socket-activate --accept.
type env struct {
	t       *testing.T
	dir     string
	config  string
	data    string
	sock    string
	logs    *syncBuffer
	stopped bool
	cmd     *exec.Cmd
}

const baseConfig = "domain = \"example.test\"\n"

// newEnv starts the helper on a fresh config with text (root:root 0640).
func newEnv(t *testing.T, text string) *env {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir makes its parent 0700
	os.Chmod(dir, 0o755)
	e := &env{t: t, dir: dir, config: filepath.Join(dir, "etc", "config.toml"), data: filepath.Join(dir, "data"),
		sock: filepath.Join(dir, "mailboxd.sock"), logs: &syncBuffer{}}
	for _, d := range []string{filepath.Dir(e.config), e.data, filepath.Join(e.data, "inbox"), filepath.Join(e.data, "sent")} {
		must(t, os.MkdirAll(d, 0o755))
		must(t, os.Chmod(d, 0o755))
	}
	if text != "" {
		must(t, os.WriteFile(e.config, []byte(text), 0o640))
		must(t, os.Chmod(e.config, 0o640))
	}
	e.cmd = exec.Command("systemd-socket-activate", "--accept", "-l", e.sock, helper, "--config", e.config, "--data-dir", e.data)
	e.cmd.Stderr = e.logs
	e.cmd.Stdout = e.logs
	must(t, e.cmd.Start())
	t.Cleanup(e.stop)
	e.waitListening()
	must(t, os.Chmod(e.sock, 0o666))
	return e
}

// waitListening waits until the activator listens on the env's socket.
// Its file appears at bind(), a moment before listen(); a connect() in
// between is refused, so the file alone is not enough.
func (e *env) waitListening() {
	e.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !listening(e.sock); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			e.t.Fatalf("nothing listens on %s after 10 s; activator said:\n%s", e.sock, e.logs)
		}
	}
}

// listening reports whether a UNIX socket bound at path is listening
// (flag __SO_ACCEPTCON in /proc/net/unix).
func listening(path string) bool {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && f[7] == path && f[3] == "00010000" {
			return true
		}
	}
	return false
}

// logged waits briefly for the helper's log line with every one of parts
// (stderr reaches the test through a pipe and a goroutine).
func (e *env) logged(parts ...string) bool {
	for i := 0; i < 100; i++ {
		for _, line := range strings.Split(e.logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (e *env) stop() {
	if !e.stopped {
		e.stopped = true
		e.cmd.Process.Signal(syscall.SIGTERM)
		e.cmd.Wait()
	}
}

// raw sends frame as u (nil: root, in-process) and returns the response.
func (e *env) raw(u *user, frame string) string {
	e.t.Helper()
	if u == nil {
		c, err := net.Dial("unix", e.sock)
		must(e.t, err)
		defer c.Close()
		c.SetDeadline(time.Now().Add(40 * time.Second))
		_, err = io.WriteString(c, frame)
		must(e.t, err)
		c.(*net.UnixConn).CloseWrite()
		out, err := io.ReadAll(c)
		must(e.t, err)
		return string(out)
	}
	cmd := exec.Command(rawBin)
	cmd.Env = []string{rawEnv + "=" + e.sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}}
	cmd.Stdin = strings.NewReader(frame)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("raw client as %s: %v: %s", u.name, err, errb.String())
	}
	return out.String()
}

// ghost is a caller uid with no passwd entry.
var ghost = &user{name: "ghost", uid: ghostUID, gid: ghostUID}

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the real CLI as u (nil: root) against this env's socket.
func (e *env) cli(u *user, args ...string) result {
	e.t.Helper()
	return runCLI(e.t, u, "", append([]string{"--socket", e.sock}, args...)...)
}

func runCLI(t *testing.T, u *user, stdin string, args ...string) result {
	t.Helper()
	return runCLIAs(t, u, nil, stdin, args...)
}

// runCLIEnv runs the CLI as root with extra environment.
func runCLIEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runCLIAs(t, nil, env, "", args...)
}

func runCLIAs(t *testing.T, u *user, env []string, stdin string, args ...string) result {
	t.Helper()
	return run(t, u, env, stdin, cliBin, args...)
}

// runAs runs any program as u (nil: root).
func runAs(t *testing.T, u *user, stdin, prog string, args ...string) result {
	t.Helper()
	return run(t, u, nil, stdin, prog, args...)
}

func run(t *testing.T, u *user, env []string, stdin, prog string, args ...string) result {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	if u != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}}
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", prog, err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func (e *env) readConfig() string {
	e.t.Helper()
	b, err := os.ReadFile(e.config)
	must(e.t, err)
	return string(b)
}

func (e *env) path(rel ...string) string { return filepath.Join(append([]string{e.data}, rel...)...) }

// assertDir checks owner and mode of a mailbox folder.
func assertDir(t *testing.T, path string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != mode {
		t.Errorf("%s: dir=%v %d:%d %o, want dir %d:%d %o", path, fi.IsDir(), st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, mode)
	}
}

func assertGone(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("%s still exists (err %v)", path, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func errFrame(code, reason string) string {
	return fmt.Sprintf("AIMX/1 ERR %s %s\nCode: %s\n\n", code, reason, code)
}

const okFrame = "AIMX/1 OK\n"

func create(name, owner string) string {
	if owner != "" {
		return fmt.Sprintf("AIMX/1 MAILBOX-CREATE\nName: %s\nOwner: %s\n\n", name, owner)
	}
	return fmt.Sprintf("AIMX/1 MAILBOX-CREATE\nName: %s\n\n", name)
}

func del(name string, force bool) string {
	if force {
		return fmt.Sprintf("AIMX/1 MAILBOX-DELETE\nName: %s\nForce: true\n\n", name)
	}
	return fmt.Sprintf("AIMX/1 MAILBOX-DELETE\nName: %s\n\n", name)
}

func stanza(name, owner string) string {
	return fmt.Sprintf("\n[mailboxes.%s]\naddress = \"%s@example.test\"\nowner = \"%s\"\n", name, name, owner)
}

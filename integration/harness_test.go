//go:build integration

// Package integration drives the real helper under
// systemd-socket-activate --accept with the real CLI and raw frames, as
// root and as two real users that it creates (and removes) when it runs
// as root. The harness (activator, users, raw frames as another uid) is
// internal/aimxtest's.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

type (
	user   = aimxtest.User
	result = aimxtest.Result
)

var (
	binDir   string // helper, CLI and a copy of this test binary, all world-executable
	helper   string
	cliBin   string
	rawBin   string // this test binary, for raw frames as another user
	setupErr error
	alice    user
	bob      user
	ghost    = &aimxtest.Ghost
)

// rawTimeout bounds one raw exchange: past the helper's 30 s read deadline.
const rawTimeout = 40 * time.Second

func TestMain(m *testing.M) {
	if code, ok := aimxtest.Child(nil); ok {
		os.Exit(code)
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
	helper = filepath.Join(dir, "aimx-mailboxd")
	cliBin = filepath.Join(dir, "aimx-mailboxes")
	const mod = "github.com/aimx/aimx-mailboxd/"
	for bin, pkg := range map[string]string{helper: mod + "cmd/aimx-mailboxd", cliBin: mod + "cmd/aimx-mailboxes"} {
		if err := aimxtest.Build(bin, pkg, "-ldflags", "-X "+mod+"version.Tag=v0.0.0-it"); err != nil {
			return cleanup, err
		}
	}
	if rawBin, err = aimxtest.CopySelf(dir); err != nil {
		return cleanup, err
	}
	var users []string
	for _, u := range []*user{&alice, &bob} {
		name := "aimxit-" + map[*user]string{&alice: "alice", &bob: "bob"}[u]
		if *u, err = aimxtest.AddUser(name); err != nil {
			return cleanup, err
		}
		users = append(users, name)
	}
	return func() {
		for _, n := range users {
			aimxtest.RemoveUser(n)
		}
		cleanup()
	}, nil
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
	t *testing.T
	*aimxtest.Sandbox
	act  *aimxtest.Activator
	logs *aimxtest.Buffer // the helper's log records, and the activator's
}

const baseConfig = aimxtest.BaseConfig

// newEnv starts the helper on a fresh config with text (root:root 0640).
func newEnv(t *testing.T, text string) *env {
	t.Helper()
	needRoot(t)
	dir := t.TempDir()
	must(t, os.Chmod(filepath.Dir(dir), 0o755)) // t.TempDir makes its parent 0700
	sb, err := aimxtest.NewSandbox(dir, text)
	must(t, err)
	e := &env{t: t, Sandbox: sb}
	e.serve(helper)
	return e
}

// serve (re)starts the activator on the env's socket running argv and the
// helper's flags, in the helper unit's environment.
func (e *env) serve(argv ...string) {
	e.t.Helper()
	e.stop()
	os.Remove(e.Sock)
	act, err := e.ServeHelper(argv...)
	must(e.t, err)
	e.act, e.logs = act, act.Logs
	e.t.Cleanup(act.Stop)
}

func (e *env) stop() {
	if e.act != nil {
		e.act.Stop()
	}
}

// logged waits briefly for the helper's log line with every one of parts.
func (e *env) logged(parts ...string) bool { return e.act.Logged(2*time.Second, parts...) }

// raw sends frame as u (nil: root, in-process) and returns the response.
func (e *env) raw(u *user, frame string) string {
	e.t.Helper()
	var out string
	var err error
	if u == nil {
		out, err = aimxtest.Exchange(e.Sock, frame, rawTimeout)
	} else {
		out, err = aimxtest.RawAs(rawBin, u, nil, e.Sock, frame, rawTimeout)
	}
	if err != nil {
		who := "root"
		if u != nil {
			who = u.Name
		}
		e.t.Fatalf("raw frame as %s: %v", who, err)
	}
	return out
}

// cli runs the real CLI as u (nil: root) against this env's socket.
func (e *env) cli(u *user, args ...string) result {
	e.t.Helper()
	return runCLI(e.t, u, "", append([]string{"--socket", e.Sock}, args...)...)
}

func runCLI(t *testing.T, u *user, stdin string, args ...string) result {
	t.Helper()
	return run(t, u, nil, stdin, cliBin, args...)
}

// runCLIEnv runs the CLI as root with extra environment.
func runCLIEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return run(t, nil, env, "", cliBin, args...)
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
	cmd.SysProcAttr = u.Credential()
	r, err := aimxtest.Run(cmd, stdin)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) readConfig() string {
	e.t.Helper()
	text, err := e.ReadConfig()
	must(e.t, err)
	return text
}

// assertDir checks owner and mode of a mailbox folder.
func assertDir(t *testing.T, path string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	if err := aimxtest.CheckDir(path, uid, gid, mode); err != nil {
		t.Error(err)
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

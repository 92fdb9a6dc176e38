package aimxtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// childEnv names the step a re-executed copy of the binary runs instead
// of its tests (or its main).
const childEnv = "AIMX_TEST_CHILD"

// A Step is what a re-executed copy runs, as another uid: its arguments,
// and the exit status it returns.
type Step func(args []string) int

// Child runs the step the environment names, when this process is a copy
// that ChildCmd started: call it first in TestMain (or main) and exit
// with its code when ok. Besides steps, "raw" is always known: RawAs's
// client.
func Child(steps map[string]Step) (code int, ok bool) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		return 0, false
	}
	if mode == "raw" {
		return rawStep(os.Args[1:]), true
	}
	step := steps[mode]
	if step == nil {
		fmt.Fprintf(os.Stderr, "aimxtest: unknown child step %q\n", mode)
		return 2, true
	}
	return step(os.Args[1:]), true
}

// ChildCmd is a command that runs step with args in bin (a copy of this
// binary that u can execute, see CopySelf) as u (nil: as the caller),
// with env as its whole environment besides the step's name.
func ChildCmd(bin string, u *User, env []string, step string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append([]string{}, env...), childEnv+"="+step)
	cmd.SysProcAttr = u.Credential()
	return cmd
}

// RawAs sends frame to sock as u (through the "raw" step of a copy of
// this binary, so that SO_PEERCRED is u's) and returns the bytes that
// came back within timeout. The error is the dial's or the child's own
// failure; a write refused or a connection closed early is not one (a
// capped or hostile client's test asserts on what was read).
func RawAs(bin string, u *User, env []string, sock, frame string, timeout time.Duration) (string, error) {
	cmd := ChildCmd(bin, u, env, "raw", sock, timeout.String())
	cmd.Stdin = strings.NewReader(frame)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("raw client: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// rawStep is RawAs's child: stdin as one frame to args[0], the answer on
// stdout; exit 3 when the socket cannot be reached.
func rawStep(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "raw: want SOCKET TIMEOUT")
		return 2
	}
	timeout, err := time.ParseDuration(args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "raw:", err)
		return 2
	}
	frame, _ := io.ReadAll(os.Stdin)
	resp, err := Exchange(args[0], string(frame), timeout)
	os.Stdout.WriteString(resp)
	if _, dial := err.(*DialError); dial {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	return 0
}

// CopySelf copies this binary into dir (made 0755) as a world-executable
// file and returns its path: a test binary lives in a folder only its
// builder may enter, and a step run as another uid must exec it.
func CopySelf(dir string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	b, err := os.ReadFile(self)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, filepath.Base(self))
	return bin, os.WriteFile(bin, b, 0o755)
}

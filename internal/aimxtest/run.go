package aimxtest

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Result is what a finished command did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
}

// Run runs cmd with stdin and returns its exit status and output. The
// error is only for a command that could not run or did not exit (a
// signal): a non-zero exit is a Result.
func Run(cmd *exec.Cmd, stdin string) (Result, error) {
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		r.Code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("run %s: %w", strings.Join(cmd.Args, " "), err)
	}
	return r, nil
}

// Build builds the package pkg (an import path) into out with go build
// and extra flags (-ldflags ..., -trimpath).
func Build(out, pkg string, flags ...string) error {
	args := append(append([]string{"build", "-o", out}, flags...), pkg)
	if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

//go:build faults

package faults

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

var (
	quick  = flag.Bool("quick", false, "a few kill points and EIO injections per operation (make faults-quick)")
	report = flag.String("report", "", "write the markdown summary to this file")
)

var (
	helper   string // the real helper, built once
	setupErr error
	owner    aimxtest.User // the owner of the sandbox's mailboxes: nobody
)

// configGID is the group of the sandbox config: not root's, so that the
// durable write must chown its temporary file to keep the owner.
const configGID = 4242

func TestMain(m *testing.M) {
	flag.Parse()
	var cleanup func()
	cleanup, setupErr = setup()
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

func setup() (func(), error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if _, err := exec.LookPath("strace"); err != nil {
		return nil, fmt.Errorf("strace not installed (make faults installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "aimx-faults-bin-")
	if err != nil {
		return nil, err
	}
	helper = filepath.Join(dir, "aimx-mailboxd")
	if err := aimxtest.Build(helper, "github.com/aimx/aimx-mailboxd/cmd/aimx-mailboxd", "-trimpath"); err != nil {
		return func() { os.RemoveAll(dir) }, err
	}
	if owner, err = aimxtest.LookupUser("nobody"); err != nil {
		return func() { os.RemoveAll(dir) }, err
	}
	return func() { os.RemoveAll(dir) }, nil
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the helper chowns folders and the config")
	}
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

func numCPU() int {
	out, _ := exec.Command("nproc").Output()
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func kernel() string {
	out, _ := exec.Command("uname", "-sr").Output()
	return strings.TrimSpace(string(out))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

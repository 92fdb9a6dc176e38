//go:build faults

package faults

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// run serves one connection with the real helper, under strace with
// straceArgs when they are not nil, and returns the raw response.
func run(t *testing.T, sb *sandbox, frame string, straceArgs []string) (string, string) {
	t.Helper()
	sock := filepath.Join(sb.root, "s.sock")
	os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	must(t, err)
	defer l.Close()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	must(t, err)
	defer c.Close()
	srv, err := l.AcceptUnix()
	must(t, err)
	f, err := srv.File()
	must(t, err)
	srv.Close()
	// systemd's contract: fd 3, LISTEN_FDS=1, LISTEN_PID = the helper's
	// pid. strace forks, so a shell sets LISTEN_PID to its own pid and
	// execs the helper in place.
	args := []string{"sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, helper, "--config", sb.config, "--data-dir", sb.data}
	if straceArgs != nil {
		args = append(append([]string{"strace"}, straceArgs...), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = []string{"LISTEN_FDS=1", "PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	must(t, cmd.Start())
	f.Close()
	resp, _ := aimxtest.Send(c, frame, 20*time.Second)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("helper did not exit within 20 s")
	}
	return string(resp), stderr.String()
}

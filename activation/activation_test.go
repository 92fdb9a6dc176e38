//go:build linux

package activation

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func socketFile(t *testing.T, domain, typ int) *os.File {
	t.Helper()
	fd, err := syscall.Socket(domain, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return os.NewFile(uintptr(fd), "sock")
}

func TestConnectedUnixStream(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	peerEnd := os.NewFile(uintptr(fds[1]), "peer")
	defer peerEnd.Close()
	conn, peer, err := FromFiles([]*os.File{os.NewFile(uintptr(fds[0]), "conn")})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if peer.UID != uint32(os.Getuid()) || peer.GID != uint32(os.Getgid()) || peer.PID != int32(os.Getpid()) {
		t.Errorf("peer %+v, want uid %d gid %d pid %d", peer, os.Getuid(), os.Getgid(), os.Getpid())
	}
	if _, err := conn.Write([]byte("x")); err != nil {
		t.Errorf("write on the connection: %v", err)
	}
	buf := make([]byte, 1)
	if n, err := peerEnd.Read(buf); n != 1 || err != nil || buf[0] != 'x' {
		t.Errorf("the connection is not the one passed: %q %v", buf[:n], err)
	}
}

func TestRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "l.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	lf, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	pair := func() *os.File {
		fds, _ := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		syscall.Close(fds[1])
		return os.NewFile(uintptr(fds[0]), "x")
	}
	for _, tc := range []struct {
		name  string
		files []*os.File
		want  string
	}{
		{"no fds", nil, "no socket passed"},
		{"two fds", []*os.File{pair(), pair()}, "got 2 sockets, want exactly 1"},
		{"listening (Accept=no)", []*os.File{lf}, "is a listening socket, not a connection: the socket unit must say Accept=yes"},
		{"datagram", []*os.File{socketFile(t, syscall.AF_UNIX, syscall.SOCK_DGRAM)}, "is not an AF_UNIX SOCK_STREAM socket"},
		{"TCP", []*os.File{socketFile(t, syscall.AF_INET, syscall.SOCK_STREAM)}, "is not an AF_UNIX SOCK_STREAM socket"},
		{"not a socket", []*os.File{reg}, "is not a socket"},
	} {
		_, _, err := FromFiles(tc.files)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if tc.files == nil && !errors.Is(err, ErrNotActivated) {
			t.Errorf("no fds: %v is not ErrNotActivated", err)
		}
	}
}

// TestFiles: the descriptors of sd_listen_fds(3), only for the process
// LISTEN_PID names; the variables are gone afterwards. The positive case
// runs in a child (this test binary again), started the way systemd
// starts the helper: the socket as descriptor 3, LISTEN_PID its own pid.
func TestFiles(t *testing.T) {
	if os.Getenv("AIMX_ACTIVATION_CHILD") != "" {
		files := Files()
		_, peer, err := FromFiles(files)
		for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			if v, ok := os.LookupEnv(k); ok {
				t.Errorf("%s=%s left set", k, v)
			}
		}
		if len(files) != 1 || err != nil || peer.PID != int32(os.Getppid()) {
			// The parent connected; sh exec'd this binary in its place.
			t.Errorf("%d files, %v, peer %+v", len(files), err, peer)
		}
		return
	}
	for _, tc := range []struct{ pid, n string }{
		{strconv.Itoa(os.Getpid() + 1), "1"}, // another process's
		{strconv.Itoa(os.Getpid()), ""},
		{strconv.Itoa(os.Getpid()), "0"},
		{"x", "1"},
	} {
		t.Setenv("LISTEN_PID", tc.pid)
		t.Setenv("LISTEN_FDS", tc.n)
		if files := Files(); len(files) != 0 {
			t.Errorf("LISTEN_PID=%s LISTEN_FDS=%s: %d files, want none", tc.pid, tc.n, len(files))
		}
		if _, ok := os.LookupEnv("LISTEN_FDS"); ok {
			t.Errorf("LISTEN_FDS left set")
		}
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	mine := os.NewFile(uintptr(fds[0]), "mine")
	defer mine.Close()
	theirs := os.NewFile(uintptr(fds[1]), "theirs")
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0], "-test.run=^TestFiles$", "-test.v")
	cmd.Env = append(os.Environ(), "AIMX_ACTIVATION_CHILD=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=conn")
	cmd.ExtraFiles = []*os.File{theirs}
	out, err := cmd.CombinedOutput()
	theirs.Close()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFiles") {
		t.Errorf("child: %v\n%s", err, out)
	}
}

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

	"golang.org/x/sys/unix"
)

func socketFD(t *testing.T, domain, typ int) int {
	t.Helper()
	fd, err := syscall.Socket(domain, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func TestConnectedUnixStream(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	peerEnd := os.NewFile(uintptr(fds[1]), "peer")
	defer peerEnd.Close()
	conn, peer, err := FromFDs(fds[:1])
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
	pair := func() int {
		fds, _ := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		syscall.Close(fds[1])
		return fds[0]
	}
	dup := func(f *os.File) int {
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	for _, tc := range []struct {
		name string
		fds  []int
		want string
	}{
		{"no fds", nil, "no socket passed"},
		{"two fds", []int{pair(), pair()}, "got 2 sockets, want exactly 1"},
		{"listening (Accept=no)", []int{dup(lf)}, "is a listening socket, not a connection: the socket unit must say Accept=yes"},
		{"datagram", []int{socketFD(t, syscall.AF_UNIX, syscall.SOCK_DGRAM)}, "is not an AF_UNIX SOCK_STREAM socket"},
		{"TCP", []int{socketFD(t, syscall.AF_INET, syscall.SOCK_STREAM)}, "is not an AF_UNIX SOCK_STREAM socket"},
		{"not a socket", []int{dup(reg)}, "is not a socket"},
	} {
		_, _, err := FromFDs(tc.fds)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		for _, fd := range tc.fds { // refused descriptors are closed
			if _, ferr := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); ferr != unix.EBADF {
				t.Errorf("%s: fd %d left open after the refusal", tc.name, fd)
			}
		}
		if tc.fds == nil && !errors.Is(err, ErrNotActivated) {
			t.Errorf("no fds: %v is not ErrNotActivated", err)
		}
	}
}

// TestFDs: the descriptors of sd_listen_fds(3), only for the process
// LISTEN_PID names; the variables are gone afterwards. The positive case
// runs in a child (this test binary again), started the way systemd
// starts the helper: the socket as descriptor 3, LISTEN_PID its own pid.
func TestFDs(t *testing.T) {
	if os.Getenv("AIMX_ACTIVATION_CHILD") != "" {
		fds := FDs()
		_, peer, err := FromFDs(fds)
		for _, k := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			if v, ok := os.LookupEnv(k); ok {
				t.Errorf("%s=%s left set", k, v)
			}
		}
		if len(fds) != 1 || err != nil || peer.PID != int32(os.Getppid()) {
			// The parent connected; sh exec'd this binary in its place.
			t.Errorf("%d fds, %v, peer %+v", len(fds), err, peer)
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
		if fds := FDs(); len(fds) != 0 {
			t.Errorf("LISTEN_PID=%s LISTEN_FDS=%s: %d fds, want none", tc.pid, tc.n, len(fds))
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
	cmd := exec.Command("sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0], "-test.run=^TestFDs$", "-test.v")
	cmd.Env = append(os.Environ(), "AIMX_ACTIVATION_CHILD=1", "LISTEN_FDS=1", "LISTEN_FDNAMES=conn")
	cmd.ExtraFiles = []*os.File{theirs}
	out, err := cmd.CombinedOutput()
	theirs.Close()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFDs") {
		t.Errorf("child: %v\n%s", err, out)
	}
}

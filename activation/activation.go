// Package activation turns what systemd hands a per-connection service
// (Accept=yes, LISTEN_FDS=1) into exactly one connected UNIX stream
// connection and the kernel's word on who is at the other end.
//
// It promises to refuse anything else with an error that says what the
// unit got wrong: no socket, several, a listening socket (the unit says
// Accept=no), or a socket that is not AF_UNIX SOCK_STREAM.
package activation

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// Peer is the SO_PEERCRED of a connection: the process that connected.
type Peer struct {
	UID uint32
	GID uint32
	PID int32
}

// ErrNotActivated is wrapped when no file descriptor was passed at all.
var ErrNotActivated = errors.New("no socket passed: run me from aimx-mailboxd.socket (Accept=yes) or systemd-socket-activate --accept")

// Conn takes the sockets systemd passed to this process (unsetting
// LISTEN_FDS and friends) and returns the one connection with its peer.
func Conn() (*net.UnixConn, Peer, error) {
	return FromFiles(Files())
}

// listenFdsStart is the first descriptor systemd passes (sd_listen_fds(3)).
const listenFdsStart = 3

// Files returns the descriptors systemd passed to this process, as
// sd_listen_fds(3) defines them: LISTEN_FDS descriptors from 3 on, only
// when LISTEN_PID is this process. They are made close-on-exec, and
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are unset so that no child
// takes them for its own. (It is what go-systemd's activation.Files does;
// that package also pulls crypto/tls into the binary, whose package
// initialisation every request would pay for.)
func Files() []*os.File {
	defer func() {
		os.Unsetenv("LISTEN_PID")
		os.Unsetenv("LISTEN_FDS")
		os.Unsetenv("LISTEN_FDNAMES")
	}()
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	files := make([]*os.File, 0, n)
	for fd := listenFdsStart; fd < listenFdsStart+n; fd++ {
		syscall.CloseOnExec(fd)
		files = append(files, os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd)))
	}
	return files
}

// FromFiles returns the connection and peer of files, which must be
// exactly one connected AF_UNIX SOCK_STREAM socket. The files are closed
// either way; the returned connection holds its own descriptor.
func FromFiles(files []*os.File) (*net.UnixConn, Peer, error) {
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	switch len(files) {
	case 0:
		return nil, Peer{}, ErrNotActivated
	case 1:
	default:
		return nil, Peer{}, fmt.Errorf("got %d sockets, want exactly 1: the socket unit must have one ListenStream= and Accept=yes", len(files))
	}
	f := files[0]
	if err := checkSocket(f); err != nil {
		return nil, Peer{}, err
	}
	peer, err := peerCred(f)
	if err != nil {
		return nil, Peer{}, err
	}
	c, err := net.FileConn(f)
	if err != nil {
		return nil, Peer{}, fmt.Errorf("fd %d: %w", f.Fd(), err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, Peer{}, fmt.Errorf("fd %d is a %T, not a UNIX connection", f.Fd(), c)
	}
	return uc, peer, nil
}

// PeerOf returns the SO_PEERCRED of a UNIX connection.
func PeerOf(c *net.UnixConn) (Peer, error) {
	f, err := c.File()
	if err != nil {
		return Peer{}, err
	}
	defer f.Close()
	return peerCred(f)
}

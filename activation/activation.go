// Package activation turns what systemd hands a per-connection service
// (Accept=yes, LISTEN_FDS=1) into exactly one connected UNIX stream
// connection and the kernel's word on who is at the other end.
//
// It promises to refuse anything else with an error that says what the
// unit got wrong: no socket, several, a listening socket (the unit says
// Accept=no), or a socket that is not AF_UNIX SOCK_STREAM.
//
// The connection stays a raw descriptor in blocking mode, with its
// deadlines kept by the kernel (SO_RCVTIMEO, SO_SNDTIMEO): the helper
// serves one connection and exits, and the runtime's network poller
// (an epoll instance, its eventfd and a thread, set up at every start)
// would buy it nothing. The package does not import net.
package activation

import (
	"errors"
	"fmt"
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

// Accept takes the sockets systemd passed to this process (unsetting
// LISTEN_FDS and friends) and returns the one connection with its peer.
func Accept() (*Conn, Peer, error) {
	return FromFDs(FDs())
}

// listenFdsStart is the first descriptor systemd passes (sd_listen_fds(3)).
const listenFdsStart = 3

// FDs returns the descriptors systemd passed to this process, as
// sd_listen_fds(3) defines them: LISTEN_FDS descriptors from 3 on, only
// when LISTEN_PID is this process. They are made close-on-exec, and
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are unset so that no child
// takes them for its own. (It is what go-systemd's activation.Files does;
// that package also pulls crypto/tls into the binary, whose package
// initialisation every request would pay for. The descriptors stay
// plain numbers: os.NewFile would hand a non-blocking one to the
// runtime's poller.)
func FDs() []int {
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
	fds := make([]int, 0, n)
	for fd := listenFdsStart; fd < listenFdsStart+n; fd++ {
		syscall.CloseOnExec(fd)
		fds = append(fds, fd)
	}
	return fds
}

// FromFDs returns the connection and peer of fds, which must be exactly
// one connected AF_UNIX SOCK_STREAM socket. On success the connection
// owns that descriptor; on failure every descriptor is closed.
func FromFDs(fds []int) (*Conn, Peer, error) {
	closeAll := func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}
	switch len(fds) {
	case 0:
		return nil, Peer{}, ErrNotActivated
	case 1:
	default:
		closeAll()
		return nil, Peer{}, fmt.Errorf("got %d sockets, want exactly 1: the socket unit must have one ListenStream= and Accept=yes", len(fds))
	}
	fd := fds[0]
	if err := checkSocket(fd); err != nil {
		closeAll()
		return nil, Peer{}, err
	}
	peer, err := PeerOf(fd)
	if err != nil {
		closeAll()
		return nil, Peer{}, err
	}
	c, err := NewConn(fd)
	if err != nil {
		closeAll()
		return nil, Peer{}, err
	}
	return c, peer, nil
}

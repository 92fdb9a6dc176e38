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

	"github.com/coreos/go-systemd/v22/activation"
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
	return FromFiles(activation.Files(true))
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

package activation

import (
	"fmt"

	"golang.org/x/sys/unix"
)

func checkSocket(fd int) error {
	domain, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil {
		return fmt.Errorf("fd %d is not a socket: %w", fd, err)
	}
	typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return fmt.Errorf("getsockopt SO_TYPE on fd %d: %w", fd, err)
	}
	if domain != unix.AF_UNIX || typ != unix.SOCK_STREAM {
		return fmt.Errorf("fd %d is not an AF_UNIX SOCK_STREAM socket (domain %d, type %d): the socket unit must use ListenStream= on a path", fd, domain, typ)
	}
	listening, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	if err != nil {
		return fmt.Errorf("getsockopt SO_ACCEPTCONN on fd %d: %w", fd, err)
	}
	if listening != 0 {
		return fmt.Errorf("fd %d is a listening socket, not a connection: the socket unit must say Accept=yes", fd)
	}
	return nil
}

// PeerOf returns the SO_PEERCRED of the UNIX socket fd.
func PeerOf(fd int) (Peer, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Peer{}, fmt.Errorf("getsockopt SO_PEERCRED: %w", err)
	}
	return Peer{UID: cred.Uid, GID: cred.Gid, PID: cred.Pid}, nil
}

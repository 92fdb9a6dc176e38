//go:build !linux

package activation

import "errors"

var errLinuxOnly = errors.New("peer credentials (SO_PEERCRED) need Linux")

func checkSocket(int) error { return errLinuxOnly }

// PeerOf returns the SO_PEERCRED of the UNIX socket fd (Linux only).
func PeerOf(int) (Peer, error) { return Peer{}, errLinuxOnly }

//go:build !linux

package activation

import (
	"errors"
	"os"
)

var errLinuxOnly = errors.New("peer credentials (SO_PEERCRED) need Linux")

func checkSocket(*os.File) error { return errLinuxOnly }

func peerCred(*os.File) (Peer, error) { return Peer{}, errLinuxOnly }

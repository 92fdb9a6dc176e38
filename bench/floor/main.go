//go:build linux

// Command floor is the cheapest possible per-connection program, for
// make bench's floor (a): run by systemd-socket-activate --accept like the
// helper, it reads SO_PEERCRED of fd 3, reads what the client sent up to
// its half-close (closing with unread input would reset the connection),
// answers "AIMX/1 OK\n" and exits.
// What the helper costs beyond this is its own work.
//
// Two tags give it a step before the answer (before), for make
// bench-aimx: with -tags floorab it is floor (a+b), which makes floor
// (b)'s durable write (durable.go); with -tags floorlist it is floor
// (list), which does only what a user's LIST must (list.go). Without a
// tag the step is empty (plain.go).
package main

import (
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	if _, err := unix.GetsockoptUcred(3, unix.SOL_SOCKET, unix.SO_PEERCRED); err != nil {
		os.Exit(1)
	}
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(3, buf)
		if n <= 0 || err != nil {
			break
		}
	}
	if err := before(os.Args[1:]); err != nil {
		os.Stderr.WriteString("floor: " + err.Error() + "\n")
		os.Exit(1)
	}
	if _, err := unix.Write(3, []byte("AIMX/1 OK\n")); err != nil {
		os.Exit(1)
	}
	unix.Close(3)
}

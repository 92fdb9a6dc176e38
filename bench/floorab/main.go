//go:build linux

// Command floorab is floor (a+b) of make bench-aimx: bench/floor's
// program (floor (a): SO_PEERCRED, read to the half-close, answer
// "AIMX/1 OK\n") that makes floor (b)'s durable write in DIR before it
// answers, the way the helper writes its config: under an exclusive
// flock of DIR/.lock, a temporary file written and fsynced, renamed over
// DIR/config, then, after the lock, an fsync of DIR. It is the cheapest
// Go program per connection that answers only once a write is durable:
// its rate with 8 clients is what durability leaves of floor (a)'s.
//
//	floorab DIR SIZE
package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

func main() {
	size := -1
	if len(os.Args) == 3 {
		if n, err := strconv.Atoi(os.Args[2]); err == nil {
			size = n
		}
	}
	if size < 0 {
		fmt.Fprintln(os.Stderr, "usage: floorab DIR SIZE")
		os.Exit(2)
	}
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
	if err := durableWrite(os.Args[1], size); err != nil {
		fmt.Fprintf(os.Stderr, "floorab: %v\n", err)
		os.Exit(1)
	}
	if _, err := unix.Write(3, []byte("AIMX/1 OK\n")); err != nil {
		os.Exit(1)
	}
	unix.Close(3)
}

// durableWrite is floor (b) of size bytes under the helper's lock
// discipline.
func durableWrite(dir string, size int) error {
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(d)
	lock, err := unix.Openat(d, ".lock", unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if err := unix.Flock(lock, unix.LOCK_EX); err != nil {
		unix.Close(lock)
		return err
	}
	tmp := fmt.Sprintf(".config.tmp-%016x", rand.Uint64())
	f, err := unix.Openat(d, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err == nil {
		_, err = unix.Write(f, make([]byte, size))
		if err == nil {
			err = unix.Fsync(f)
		}
		unix.Close(f)
	}
	if err == nil {
		err = unix.Renameat(d, tmp, d, "config")
	}
	unix.Close(lock)
	if err == nil {
		err = unix.Fsync(d)
	}
	if err != nil {
		return fmt.Errorf("durable write in %s: %w", filepath.Clean(dir), err)
	}
	return nil
}

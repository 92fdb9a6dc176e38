//go:build linux && floorab

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"golang.org/x/sys/unix"
)

// durableWrite is floor (a+b)'s step before the answer, with args
// "DIR SIZE": floor (b)'s durable write of SIZE bytes in DIR, the way
// the helper writes its config. Under an exclusive flock of DIR/.lock a
// temporary file is written, fsynced and renamed over DIR/config; the
// lock is released, then DIR is fsynced. It makes floor (a+b) the
// cheapest Go program per connection that answers only once a write is
// durable: its rate with 8 clients is what durability leaves of floor
// (a)'s.
func durableWrite(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: floor DIR SIZE (built with -tags floorab)")
	}
	size, err := strconv.Atoi(args[1])
	if err != nil || size < 0 {
		return fmt.Errorf("SIZE %q: not a byte count", args[1])
	}
	dir := args[0]
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(d)
	lock, err := unix.Openat(d, ".lock", unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err == nil {
		err = replaceLocked(d, lock, size)
		unix.Close(lock) // releases the flock
	}
	if err == nil {
		err = unix.Fsync(d)
	}
	if err != nil {
		return fmt.Errorf("durable write in %s: %w", dir, err)
	}
	return nil
}

// replaceLocked takes the flock on lock, then writes size bytes to a new
// temporary file in folder d, fsyncs it and renames it over d's config.
func replaceLocked(d, lock, size int) error {
	if err := unix.Flock(lock, unix.LOCK_EX); err != nil {
		return err
	}
	tmp := fmt.Sprintf(".config.tmp-%016x", rand.Uint64())
	f, err := unix.Openat(d, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if _, err = unix.Write(f, make([]byte, size)); err == nil {
		err = unix.Fsync(f)
	}
	unix.Close(f)
	if err != nil {
		return err
	}
	return unix.Renameat(d, tmp, d, "config")
}

//go:build linux && floorab

package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// before is floor (a+b)'s step before the answer, with args "DIR SIZE":
// floor (b)'s durable write of SIZE bytes in DIR, the way the helper
// writes its config. Under an exclusive flock of DIR/.lock a temporary
// file is written, fsynced and renamed over DIR/config; the lock is
// released, then DIR is fsynced. It makes floor (a+b) the cheapest Go
// program per connection that answers only once a write is durable: its
// rate with 8 clients is what durability leaves of floor (a)'s.
//
// SIZE "+N" grows the file instead: under the lock DIR/config is read
// whole and written back N bytes longer, as a CREATE reads the config
// and writes it one stanza longer.
func before(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: floor DIR SIZE|+N (built with -tags floorab)")
	}
	n, grow := strings.CutPrefix(args[1], "+")
	size, err := strconv.Atoi(n)
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
		err = replaceLocked(d, lock, size, grow)
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

// replaceLocked takes the flock on lock, then writes a new temporary
// file in folder d, fsyncs it and renames it over d's config: size bytes,
// or when grow the config's bytes and size more.
func replaceLocked(d, lock, size int, grow bool) error {
	if err := unix.Flock(lock, unix.LOCK_EX); err != nil {
		return err
	}
	var text []byte
	if grow {
		old, err := readConfig(d)
		if err != nil {
			return err
		}
		text = old
	}
	text = append(text, make([]byte, size)...)
	tmp := fmt.Sprintf(".config.tmp-%016x", rand.Uint64())
	f, err := unix.Openat(d, tmp, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	for len(text) > 0 && err == nil {
		var n int
		n, err = unix.Write(f, text)
		text = text[max(n, 0):]
	}
	if err == nil {
		err = unix.Fsync(f)
	}
	unix.Close(f)
	if err != nil {
		return err
	}
	return unix.Renameat(d, tmp, d, "config")
}

// readConfig reads d's config whole; none is empty.
func readConfig(d int) ([]byte, error) {
	f, err := unix.Openat(d, "config", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(f)
	var st unix.Stat_t
	if err := unix.Fstat(f, &st); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, st.Size+1)
	for {
		n, err := unix.Read(f, buf[len(buf):cap(buf)])
		if err != nil || n == 0 {
			return buf, err
		}
		if buf = buf[:len(buf)+n]; len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

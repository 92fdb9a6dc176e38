//go:build linux

package rawio

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// ReadDir returns the entries of the open folder fd, without "." and
// "..", in the order the file system gives them.
func ReadDir(fd int) ([]Entry, error) {
	var out []Entry
	err := batches(fd, make([]byte, 8192), func(batch []Entry) bool {
		out = append(out, batch...)
		return true
	})
	return out, err
}

// IsEmptyDir reports whether the open folder fd has no entry but "." and
// "..", reading only until it finds one.
func IsEmptyDir(fd int) (bool, error) {
	empty := true
	err := batches(fd, make([]byte, 1024), func(batch []Entry) bool {
		empty = len(batch) == 0
		return empty
	})
	return empty && err == nil, err
}

// ReadBatch reads the next batch of entries of the open folder fd from
// where its offset stands (one getdents64 into buf, again while a batch
// holds only "." and ".."): none at the end.
func ReadBatch(fd int, buf []byte) ([]Entry, error) {
	var out []Entry
	err := batches(fd, buf, func(batch []Entry) bool {
		out = batch
		return len(batch) == 0
	})
	return out, err
}

// Batches reads the open folder fd from where its offset stands, one
// getdents64 of at most 32 KiB at a time, and gives each batch of entries
// (without "." and "..") to f until the end, an error, or f returning
// false: memory stays bounded however many entries the folder holds.
func Batches(fd int, f func([]Entry) bool) error {
	return batches(fd, make([]byte, 32<<10), f)
}

// batches reads folder fd with getdents64 into buf and gives each batch
// of entries to f until the end, an error, or f returning false.
func batches(fd int, buf []byte, f func([]Entry) bool) error {
	for {
		n, err := unix.Getdents(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n <= 0:
			return nil
		}
		if !f(parseDirents(buf[:n], nil)) {
			return nil
		}
	}
}

// parseDirents appends the entries of linux_dirent64 records in b:
// d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), d_name (NUL
// terminated).
func parseDirents(b []byte, out []Entry) []Entry {
	const nameOff = 19
	for len(b) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < nameOff || reclen > len(b) {
			break
		}
		typ, name := b[18], b[nameOff:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if s := string(name); s != "." && s != ".." {
			out = append(out, Entry{Name: s, Type: typ})
		}
		b = b[reclen:]
	}
	return out
}

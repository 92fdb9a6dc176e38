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
	buf := make([]byte, 8192)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		out = parseDirents(buf[:n], out)
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

// IsEmptyDir reports whether the open folder fd has no entry but "." and
// "..", reading only until it finds one.
func IsEmptyDir(fd int) (bool, error) {
	var buf [1024]byte
	for {
		n, err := unix.Getdents(fd, buf[:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		if n <= 0 {
			return true, nil
		}
		if len(parseDirents(buf[:n], nil)) > 0 {
			return false, nil
		}
	}
}

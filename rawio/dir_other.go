//go:build !linux

package rawio

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ReadDir returns the entries of the open folder fd, without "." and
// "..". Elsewhere than Linux (where the helper never runs) it goes
// through the os package on a copy of fd.
func ReadDir(fd int) ([]Entry, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), "")
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		typ := uint8(unix.DT_UNKNOWN)
		switch de.Type() {
		case 0:
			typ = unix.DT_REG
		case fs.ModeDir:
			typ = unix.DT_DIR
		case fs.ModeSymlink:
			typ = unix.DT_LNK
		}
		out = append(out, Entry{Name: de.Name(), Type: typ})
	}
	return out, nil
}

// IsEmptyDir reports whether the open folder fd has no entry but "." and
// "..".
func IsEmptyDir(fd int) (bool, error) {
	entries, err := ReadDir(fd)
	return len(entries) == 0, err
}

// Batches gives the entries of the open folder fd to f, all in one batch
// elsewhere than Linux, unless there are none.
func Batches(fd int, f func([]Entry) bool) error {
	entries, err := ReadDir(fd)
	if err == nil && len(entries) > 0 {
		f(entries)
	}
	return err
}

// ReadBatch returns every entry of the open folder fd elsewhere than
// Linux, then none: the offset is the os package's.
func ReadBatch(fd int, buf []byte) ([]Entry, error) {
	off, _ := unix.Seek(fd, 0, 1)
	if off != 0 {
		return nil, nil
	}
	entries, err := ReadDir(fd)
	unix.Seek(fd, 1, 0)
	return entries, err
}

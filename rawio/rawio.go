// Package rawio reads files and folders with plain system calls, for the
// helper's request path.
//
// The helper is a process per connection, so what it does once per
// request is what it costs. An *os.File tries to register every
// descriptor with the runtime's poller; the first one makes the runtime
// create its epoll instance and eventfd, and from then on the scheduler
// polls them. None of that serves a regular file or a folder. Here a
// descriptor is just an int: open, read, close.
package rawio

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"golang.org/x/sys/unix"
)

// ErrNotRegular is ReadFile's error for a folder, FIFO, device or
// socket.
var ErrNotRegular = errors.New("not a regular file")

// MaxRead bounds what ReadFile reads: no config, index, policy or passwd
// file is near it.
const MaxRead = 1 << 30

// ReadFile reads file name (relative to folder descriptor dir, or a path
// with unix.AT_FDCWD) whole, opened read-only with flags added, and
// returns it with its fstat. A file that is not a regular file is not
// read (a FIFO would block): that is ErrNotRegular.
func ReadFile(dir int, name string, flags int) ([]byte, unix.Stat_t, error) {
	data, st, fd, err := ReadOpen(dir, name, flags)
	if fd >= 0 {
		unix.Close(fd)
	}
	return data, st, err
}

// ReadOpen is ReadFile that leaves the file open: it also returns the
// descriptor (-1 when the open failed), which the caller closes, even
// after an error.
func ReadOpen(dir int, name string, flags int) ([]byte, unix.Stat_t, int, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, st, -1, err
	}
	data, err := readAll(fd, &st)
	return data, st, fd, err
}

// readable fills st with fd's fstat and says whether ReadFile and
// ReadPieces read it: a regular file of at most MaxRead bytes.
func readable(fd int, st *unix.Stat_t) error {
	if err := unix.Fstat(fd, st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ErrNotRegular
	}
	if st.Size > MaxRead {
		return fmt.Errorf("%d bytes, more than %d", st.Size, MaxRead)
	}
	return nil
}

// ReadPieces is ReadFile for a reader that needs each byte once and
// keeps none: it reads file name from its start to its end through buf,
// one read at a time, and hands each piece to f (valid only during the
// call). It opens and refuses files as ReadFile does. A file read whole
// lands in fresh memory, which the kernel faults in and zeroes page by
// page; buf is reused, so a config of 700 KiB costs its hashing and one
// buffer instead (docs/PERFORMANCE.md, "LIST at 10 000 mailboxes").
func ReadPieces(dir int, name string, flags int, buf []byte, f func([]byte)) error {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := readable(fd, &st); err != nil {
		return err
	}
	for read := int64(0); ; {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return nil
		}
		if read += int64(n); read > MaxRead {
			return fmt.Errorf("more than %d bytes", MaxRead)
		}
		f(buf[:n])
	}
}

// readAll reads file fd whole and fills st with its fstat.
func readAll(fd int, st *unix.Stat_t) ([]byte, error) {
	if err := readable(fd, st); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, st.Size+1) // one more, to see the end in one read
	for {
		want := cap(buf) - len(buf)
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+n]
		switch {
		case n == 0:
			return buf, nil
		case n < want && int64(len(buf)) >= st.Size:
			// Short, and all that fstat saw: the end, without a
			// second read to find it. (A file that grows meanwhile is
			// read to where it ended then; a caller that must know
			// compares its fstat later, as the config's writer does.)
			return buf, nil
		}
		if len(buf) == cap(buf) {
			if len(buf) > MaxRead {
				return nil, fmt.Errorf("more than %d bytes", MaxRead)
			}
			buf = append(buf, 0)[:len(buf)] // the file grew: make room
		}
	}
}

// WriteAll writes pieces one after the other at fd's offset, with as
// few writev(2) calls as the kernel allows (at most iovMax pieces each),
// and returns how many bytes it wrote.
func WriteAll(fd int, pieces ...[]byte) (int, error) {
	pieces = slices.Clone(pieces) // the first piece is cut as it is written
	total := 0
	for {
		for len(pieces) > 0 && len(pieces[0]) == 0 {
			pieces = pieces[1:]
		}
		if len(pieces) == 0 {
			return total, nil
		}
		n, err := unix.Writev(fd, pieces[:min(len(pieces), iovMax)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.ErrShortWrite
		}
		total += n
		for n > 0 {
			k := min(n, len(pieces[0]))
			pieces[0], n = pieces[0][k:], n-k
			if len(pieces[0]) == 0 {
				pieces = pieces[1:]
			}
		}
	}
}

// iovMax is Linux's IOV_MAX: the most pieces one writev takes.
const iovMax = 1024

// OpenDir opens folder name relative to dir (or a path with
// unix.AT_FDCWD) read-only. With nofollow a symlink in the last component
// fails (ELOOP or ENOTDIR) instead of being followed.
func OpenDir(dir int, name string, nofollow bool) (int, error) {
	flags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	if nofollow {
		flags |= unix.O_NOFOLLOW
	}
	for {
		fd, err := unix.Openat(dir, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// Entry is one name in a folder and its type as the folder records it
// (unix.DT_DIR, unix.DT_REG, ...; unix.DT_UNKNOWN on a file system that
// does not say, when the caller must fstatat).
type Entry struct {
	Name string
	Type uint8
}

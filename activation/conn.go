package activation

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is a connected stream socket on its raw descriptor, in blocking
// mode. Its deadlines are absolute, as a net.Conn's are, and kept by the
// socket's SO_RCVTIMEO and SO_SNDTIMEO, set to what is left before each
// call that could block past it. A Read or Write still blocked at its
// deadline fails with an error that wraps os.ErrDeadlineExceeded
// ("i/o timeout").
type Conn struct {
	fd int
	r  deadline
	w  deadline
}

// deadline is one direction's deadline and the socket option that keeps it.
type deadline struct {
	op  string // "read" or "write"
	opt int    // SO_RCVTIMEO or SO_SNDTIMEO
	at  time.Time
	// armed: the option holds what was left of at when it was set, and
	// no call has waited on it since.
	armed bool
}

// NewConn makes the socket fd blocking and returns it as a Conn, which
// owns fd from then on.
func NewConn(fd int) (*Conn, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, fmt.Errorf("fd %d: set blocking: %w", fd, err)
	}
	return &Conn{fd: fd, r: deadline{op: "read", opt: unix.SO_RCVTIMEO}, w: deadline{op: "write", opt: unix.SO_SNDTIMEO}}, nil
}

// Fd is the socket's descriptor.
func (c *Conn) Fd() int { return c.fd }

// SetReadDeadline bounds every Read from now on: it fails once t has
// passed. The zero time waits for ever.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.set(&c.r, t) }

// SetWriteDeadline bounds every Write from now on, as SetReadDeadline
// bounds reads.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.set(&c.w, t) }

func (c *Conn) set(d *deadline, t time.Time) error {
	d.at, d.armed = t, false
	if err := c.arm(d); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}

// arm sets the socket's option to what is left until d's deadline (no
// timeout for the zero time); a timeout error when nothing is left.
func (c *Conn) arm(d *deadline) error {
	var tv unix.Timeval
	if !d.at.IsZero() {
		left := time.Until(d.at)
		if left < time.Microsecond {
			return fmt.Errorf("%s: %w", d.op, os.ErrDeadlineExceeded)
		}
		tv = unix.NsecToTimeval(left.Nanoseconds())
	}
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, d.opt, &tv); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	d.armed = true
	return nil
}

// ready prepares one call that may block: the option armed by the last
// Set...Deadline serves the first call after it; any later one (after a
// signal, a partial write or another call) re-arms it with what is left.
func (c *Conn) ready(d *deadline) error {
	if d.at.IsZero() {
		return nil
	}
	if d.armed {
		d.armed = false
		if !time.Now().Before(d.at) {
			return fmt.Errorf("%s: %w", d.op, os.ErrDeadlineExceeded)
		}
		return nil
	}
	if err := c.arm(d); err != nil {
		return err
	}
	d.armed = false
	return nil
}

// failed is the error a call that failed with errno ends with; nil when
// it is to be made again (a signal interrupted it: a socket with a
// timeout is not restarted).
func failed(d *deadline, errno error) error {
	switch errno {
	case unix.EINTR:
		return nil
	case unix.EAGAIN: // the socket's timeout ran out
		return fmt.Errorf("%s: %w", d.op, os.ErrDeadlineExceeded)
	}
	return os.NewSyscallError(d.op, errno)
}

// Read reads into p; it returns io.EOF once the peer has shut down its
// side and everything it sent was read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if err := c.ready(&c.r); err != nil {
			return 0, err
		}
		n, err := unix.Read(c.fd, p)
		if err == nil {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if err := failed(&c.r, err); err != nil {
			return 0, err
		}
	}
}

// Write writes all of p, or fails with what it wrote so far.
func (c *Conn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		if err := c.ready(&c.w); err != nil {
			return written, err
		}
		n, err := unix.Write(c.fd, p[written:])
		if n > 0 {
			written += n
		}
		if err == nil {
			continue
		}
		if err := failed(&c.w, err); err != nil {
			return written, err
		}
	}
	return written, nil
}

// CloseWrite shuts down the writing side: the peer reads EOF after what
// was written.
func (c *Conn) CloseWrite() error {
	return os.NewSyscallError("shutdown", unix.Shutdown(c.fd, unix.SHUT_WR))
}

// Close closes the descriptor; closing again does nothing.
func (c *Conn) Close() error {
	if c.fd < 0 {
		return nil
	}
	fd := c.fd
	c.fd = -1
	return os.NewSyscallError("close", unix.Close(fd))
}

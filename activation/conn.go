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
// mode. Its deadlines are the socket's SO_RCVTIMEO and SO_SNDTIMEO: a
// Read or Write still blocked at its deadline fails with an error that
// wraps os.ErrDeadlineExceeded ("i/o timeout"), as a net.Conn's does.
type Conn struct {
	fd        int
	rDeadline time.Time
	wDeadline time.Time
}

// NewConn makes the socket fd blocking and returns it as a Conn, which
// owns fd from then on.
func NewConn(fd int) (*Conn, error) {
	if err := unix.SetNonblock(fd, false); err != nil {
		return nil, fmt.Errorf("fd %d: set blocking: %w", fd, err)
	}
	return &Conn{fd: fd}, nil
}

// Fd is the socket's descriptor.
func (c *Conn) Fd() int { return c.fd }

// SetReadDeadline bounds every Read from now on: it fails once t has
// passed. The zero time waits for ever.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.rDeadline = t
	return ignorePast(c.arm(unix.SO_RCVTIMEO, t))
}

// SetWriteDeadline bounds every Write from now on, as SetReadDeadline
// bounds reads.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.wDeadline = t
	return ignorePast(c.arm(unix.SO_SNDTIMEO, t))
}

// ignorePast: a deadline already passed is no error to set; the next
// call fails at once (passed).
func ignorePast(err error) error {
	if err == errPast {
		return nil
	}
	return err
}

// passed is the error for a call made after its deadline, nil before.
func passed(op string, deadline time.Time) error {
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return timeout(op)
	}
	return nil
}

func timeout(op string) error { return fmt.Errorf("%s: %w", op, os.ErrDeadlineExceeded) }

var errPast = errors.New("deadline passed")

// arm sets the socket's timeout opt to what is left until t (none for
// the zero time); errPast when nothing is left.
func (c *Conn) arm(opt int, t time.Time) error {
	var tv unix.Timeval
	if !t.IsZero() {
		left := time.Until(t)
		if left < time.Microsecond {
			return errPast
		}
		tv = unix.NsecToTimeval(left.Nanoseconds())
	}
	if err := unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, opt, &tv); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}

// again decides what a call that failed with err does next: retry
// (after a signal interrupted it, with the timeout re-armed to what is
// left), or fail with the error to return.
func (c *Conn) again(op string, opt int, deadline time.Time, err error) (bool, error) {
	switch {
	case err == unix.EINTR:
		if aerr := c.arm(opt, deadline); aerr == errPast {
			return false, timeout(op)
		} else if aerr != nil {
			return false, aerr
		}
		return true, nil
	case err == unix.EAGAIN:
		return false, timeout(op)
	}
	return false, os.NewSyscallError(op, err)
}

// Read reads into p; it returns io.EOF once the peer has shut down its
// side and everything it sent was read.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := passed("read", c.rDeadline); err != nil {
		return 0, err
	}
	for {
		n, err := unix.Read(c.fd, p)
		if err == nil {
			if n == 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if retry, err := c.again("read", unix.SO_RCVTIMEO, c.rDeadline, err); !retry {
			return 0, err
		}
	}
}

// Write writes all of p, or fails with what it wrote so far.
func (c *Conn) Write(p []byte) (int, error) {
	if err := passed("write", c.wDeadline); err != nil {
		return 0, err
	}
	written := 0
	for written < len(p) {
		n, err := unix.Write(c.fd, p[written:])
		if n > 0 {
			written += n
		}
		if err == nil {
			continue
		}
		if retry, err := c.again("write", unix.SO_SNDTIMEO, c.wDeadline, err); !retry {
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

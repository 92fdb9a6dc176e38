package aimxtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// DialError is what Exchange returns when it could not connect: nothing
// was sent.
type DialError struct{ Err error }

func (e *DialError) Error() string { return e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// dialRetries bounds Dial's retries on a full listen backlog (5 ms apart).
const dialRetries = 2000

// Dial connects to the UNIX socket sock, retrying while its listen
// backlog is full (the kernel answers EAGAIN to a UNIX connect then, where
// a TCP one would wait), and says how many times it retried. The error is
// a *DialError.
func Dial(sock string) (*net.UnixConn, int, error) {
	for retries := 0; ; retries++ {
		c, err := net.Dial("unix", sock)
		if err == nil {
			return c.(*net.UnixConn), retries, nil
		}
		if !errors.Is(err, syscall.EAGAIN) || retries == dialRetries {
			return nil, retries, &DialError{Err: err}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Exchange sends frame on a new connection to sock (Dial) and returns
// what Send read. Unlike client.Call it sends the bytes as they are, so a
// test can send frames that no client would.
func Exchange(sock, frame string, timeout time.Duration) (string, error) {
	c, _, err := Dial(sock)
	if err != nil {
		return "", err
	}
	return Send(c, frame, timeout)
}

// Send writes frame on c, half-closes, reads until the server closes and
// closes c, all within timeout. It returns what was read even with an
// error (a write refused, a reset): a hostile or capped client's test
// asserts on both.
func Send(c *net.UnixConn, frame string, timeout time.Duration) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	var werr error
	if _, err := io.WriteString(c, frame); err != nil {
		werr = fmt.Errorf("write: %w", err)
	} else if err := c.CloseWrite(); err != nil {
		werr = fmt.Errorf("half-close: %w", err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return string(b), fmt.Errorf("read: %w", err)
	}
	return string(b), werr
}

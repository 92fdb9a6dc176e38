// Package client is the client side of the mailbox socket: one AIMX/1
// exchange per connection, framed by wire. It is apart from wire so that
// the helper, which serves one connection on a raw socket, does not link
// the net package (and its poller) through it.
package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"github.com/aimx/aimx-mailboxd/wire"
)

// DefaultTimeout bounds a Call whose context has no deadline. The helper
// is stopped two minutes after it starts (RuntimeMaxSec= in its unit), so
// no answer comes later than that.
const DefaultTimeout = 2 * time.Minute

// DialError is what Call returns when it could not connect to the socket:
// no request was sent, so nothing changed on the server.
type DialError struct {
	Socket string
	Err    error
}

// Error says which socket and, where there is one, only the errno
// ("no such file or directory"): the path is already in the message.
func (e *DialError) Error() string {
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		return fmt.Sprintf("connect to %s: %v", e.Socket, errno)
	}
	return fmt.Sprintf("connect to %s: %v", e.Socket, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// Call is the client side of one exchange on the mailbox socket: it
// connects to socket, writes req as one frame, half-closes, and reads the
// one response. An AIMX/1 error is a wire.Response with Err set and a nil
// error. The returned error is a *DialError when the socket could not be
// reached, a framing error from wire.WriteRequest before connecting, and
// otherwise "talk to <socket>: " and what failed. The whole exchange ends at
// ctx's deadline, or after DefaultTimeout when ctx has none; cancelling ctx
// ends it at once.
func Call(ctx context.Context, socket string, req wire.Request) (wire.Response, error) {
	var frame bytes.Buffer
	if err := wire.WriteRequest(&frame, req); err != nil {
		return wire.Response{}, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return wire.Response{}, &DialError{Socket: socket, Err: err}
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(DefaultTimeout)
	}
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	fail := func(err error) (wire.Response, error) {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return wire.Response{}, fmt.Errorf("talk to %s: %w", socket, err)
	}
	if _, err := conn.Write(frame.Bytes()); err != nil {
		return fail(err)
	}
	if err := conn.(*net.UnixConn).CloseWrite(); err != nil {
		return fail(err)
	}
	resp, err := wire.ReadResponse(wire.NewReader(conn))
	if err != nil {
		return fail(err)
	}
	return resp, nil
}

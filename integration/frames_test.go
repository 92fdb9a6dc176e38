//go:build integration

package integration

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"

	"github.com/aimx/aimx-mailboxd/wire/wiretest"
)

// TestRejectedFrames sends every kind of frame docs/PROTOCOL.md rejects through
// the real socket and checks the exact bytes that come back.
func TestRejectedFrames(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, tc := range wiretest.Rejected() {
		if got := e.raw(nil, tc.Frame); got != tc.Response {
			t.Errorf("%s:\n got %q\nwant %q", tc.Name, got, tc.Response)
		}
	}
	// As an ordinary user too, for a few.
	for _, tc := range wiretest.Rejected()[:8] {
		if got := e.raw(&bob, tc.Frame); got != tc.Response {
			t.Errorf("%s as bob:\n got %q\nwant %q", tc.Name, got, tc.Response)
		}
	}
	if e.readConfig() != baseConfig {
		t.Errorf("a rejected frame changed the config")
	}
}

// TestTrailingJunk: a whole request followed by more bytes is answered,
// and the client reads the response, not a reset.
func TestTrailingJunk(t *testing.T) {
	e := newEnv(t, baseConfig)
	got := e.raw(&alice, aimxtest.Create("junk", "")+strings.Repeat("garbage\x00\xff", 10000))
	if got != aimxtest.OK {
		t.Errorf("got %q", got)
	}
}

// TestClientNeverSends: the helper gives up after its read deadline
// without answering; meanwhile another caller is served.
func TestClientNeverSends(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out the 30 s read deadline")
	}
	e := newEnv(t, baseConfig)
	c, err := net.Dial("unix", e.Sock)
	must(t, err)
	defer c.Close()
	if got := e.raw(&bob, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("another caller during a silent one: %q", got)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(45 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	// The helper closes its end at the read deadline: the client reads
	// EOF, with no byte of response before it.
	if n != 0 || !errors.Is(err, io.EOF) || time.Since(start) > 40*time.Second {
		t.Errorf("silent client: read %q, %v after %v; want EOF without a response", buf[:n], err, time.Since(start))
	}
}

//go:build linux

package activation

import (
	"errors"
	"io"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a Conn on one end of a socketpair and the other end's fd.
// The Conn's end starts non-blocking, as systemd may pass it.
func pair(t *testing.T) (*Conn, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); syscall.Close(fds[1]) })
	return c, fds[1]
}

func TestConnBlocking(t *testing.T) {
	c, _ := pair(t)
	fl, err := unix.FcntlInt(uintptr(c.Fd()), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("flags %#x %v: want the descriptor blocking", fl, err)
	}
}

// TestConnReadWrite: bytes both ways, EOF after the peer's half-close,
// and ours.
func TestConnReadWrite(t *testing.T) {
	c, peer := pair(t)
	unix.Write(peer, []byte("ping"))
	unix.Shutdown(peer, unix.SHUT_WR)
	got, err := io.ReadAll(c)
	if string(got) != "ping" || err != nil {
		t.Errorf("read %q %v, want ping and EOF", got, err)
	}
	if n, err := c.Write([]byte("pong")); n != 4 || err != nil {
		t.Errorf("write: %d %v", n, err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	n, _ := unix.Read(peer, buf)
	if m, _ := unix.Read(peer, buf[n:]); string(buf[:n]) != "pong" || m != 0 {
		t.Errorf("peer read %q then %d bytes, want pong then EOF", buf[:n], m)
	}
}

// TestConnReadDeadline: a peer that sends nothing fails the read at the
// deadline (not before, and not when the descriptor started
// non-blocking), with the error a net.Conn gives.
func TestConnReadDeadline(t *testing.T) {
	c, _ := pair(t)
	start := time.Now()
	c.SetReadDeadline(start.Add(200 * time.Millisecond))
	n, err := c.Read(make([]byte, 8))
	took := time.Since(start)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) || err.Error() != "read: i/o timeout" {
		t.Errorf("read %d, %v; want read: i/o timeout", n, err)
	}
	if took < 190*time.Millisecond || took > 2*time.Second {
		t.Errorf("timed out after %v, want 200ms", took)
	}
	// A deadline already passed fails at once; none waits for data.
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("past deadline: %v", err)
	}
}

// TestConnReadDeadlineSignals: signals that interrupt the blocked read
// (EINTR: a socket with SO_RCVTIMEO is not restarted) neither fail it
// nor push its deadline back.
func TestConnReadDeadlineSignals(t *testing.T) {
	c, _ := pair(t)
	tid := make(chan int)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := <-tid
		end := time.After(3 * time.Second) // a read whose deadline restarts at each signal ends then
		for {
			select {
			case <-stop:
				return
			case <-end:
				return
			case <-time.After(20 * time.Millisecond):
				unix.Tgkill(unix.Getpid(), t, unix.SIGURG) // the runtime's own preemption signal
			}
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid <- unix.Gettid()
	start := time.Now()
	c.SetReadDeadline(start.Add(300 * time.Millisecond))
	_, err := c.Read(make([]byte, 8))
	if took := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || took < 290*time.Millisecond || took > 2*time.Second {
		t.Errorf("read under signals: %v after %v, want i/o timeout after 300ms", err, took)
	}
}

// TestConnWriteDeadline: a peer that never reads fails a write larger
// than the socket buffer at the deadline, with what was written: the
// kernel's timeout ends the first write(2) with the part that fit, and
// the rest waits only for what is left of the deadline.
func TestConnWriteDeadline(t *testing.T) {
	c, _ := pair(t)
	start := time.Now()
	c.SetWriteDeadline(start.Add(400 * time.Millisecond))
	big := make([]byte, 16<<20)
	n, err := c.Write(big)
	if took := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || n >= len(big) || took < 390*time.Millisecond || took > 700*time.Millisecond {
		t.Errorf("write: %d bytes, %v after %v; want i/o timeout after 400ms", n, err, took)
	}
}

// TestConnReadDeadlineTrickle: the deadline is absolute: a peer that
// sends a byte now and then does not push it back (each read waits
// only for what is left).
func TestConnReadDeadlineTrickle(t *testing.T) {
	c, peer := pair(t)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < 60; i++ { // 3 s of a byte every 50ms
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				unix.Write(peer, []byte("x"))
			}
		}
	}()
	start := time.Now()
	c.SetReadDeadline(start.Add(400 * time.Millisecond))
	_, err := io.ReadAll(c)
	if took := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || took > 700*time.Millisecond {
		t.Errorf("trickled read: %v after %v, want i/o timeout after 400ms", err, took)
	}
}

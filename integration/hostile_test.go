//go:build integration

package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// rssBound is the peak resident set one helper instance may reach on any
// input (KiB): the wire codec bounds a request to 64 lines of 8 KiB.
const rssBound = 32 << 10

// newMeteredEnv is newEnv with every helper instance run under
// bench/rsswrap, which records its peak RSS (getrusage of the child) in
// e.rssLog. The helper itself runs unmodified, with LISTEN_PID its own.
func newMeteredEnv(t *testing.T, text string) (*env, string) {
	t.Helper()
	needRoot(t)
	wrap := filepath.Join(binDir, "rsswrap")
	if _, err := os.Stat(wrap); err != nil {
		out, err := exec.Command("go", "build", "-o", wrap, "../bench/rsswrap").CombinedOutput()
		if err != nil {
			t.Fatalf("go build rsswrap: %v\n%s", err, out)
		}
	}
	e := newEnv(t, text)
	e.stop() // the same config, data dir and socket, served through the wrapper
	os.Remove(e.sock)
	rssLog := filepath.Join(e.dir, "rss.log")
	e.stopped = false
	e.cmd = exec.Command("systemd-socket-activate", "--accept", "-l", e.sock, wrap, rssLog, helper, "--config", e.config, "--data-dir", e.data)
	e.cmd.Stderr, e.cmd.Stdout = e.logs, e.logs
	must(t, e.cmd.Start())
	e.waitListening()
	must(t, os.Chmod(e.sock, 0o666))
	return e, rssLog
}

// peakRSS reads the wrapper's log: instances seen, the largest peak RSS
// (KiB), and how many exited non-zero.
func peakRSS(t *testing.T, rssLog string) (n int, maxKiB int64, failed int) {
	t.Helper()
	f, err := os.Open(rssLog)
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rss, us int64
		var code int
		if _, err := fmt.Sscan(sc.Text(), &rss, &us, &code); err != nil {
			continue
		}
		n++
		if rss > maxKiB {
			maxKiB = rss
		}
		if code != 0 {
			failed++
		}
	}
	return n, maxKiB, failed
}

// children lists the helper instances the activator is running.
func (e *env) children() []string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", e.cmd.Process.Pid, e.cmd.Process.Pid))
	return strings.Fields(string(b))
}

func (e *env) waitNoChildren(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(e.children()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("helper instances still running after %v: %v", within, e.children())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial connects as root, retrying while the listen backlog is full (the
// kernel answers EAGAIN to a non-blocking connect then).
func dial(t *testing.T, sock string) (*net.UnixConn, int) {
	retries := 0
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			return c.(*net.UnixConn), retries
		}
		if !errors.Is(err, syscall.EAGAIN) || retries > 2000 {
			t.Errorf("dial: %v", err)
			return nil, retries
		}
		retries++
		time.Sleep(5 * time.Millisecond)
	}
}

func exchange(c *net.UnixConn, frame string) (string, error) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(c, frame); err != nil {
		return "", err
	}
	c.CloseWrite()
	b, err := io.ReadAll(c)
	return string(b), err
}

// TestSlowClient: a request sent one byte at a time is answered; so is a
// caller that comes while it trickles in.
func TestSlowClient(t *testing.T) {
	e := newEnv(t, baseConfig)
	c, _ := dial(t, e.sock)
	frame := create("slow", alice.name)
	for i := 0; i < len(frame); i++ {
		if _, err := c.Write([]byte{frame[i]}); err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if i == 10 {
			if got := e.raw(&bob, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
				t.Errorf("another caller during a slow one: %q", got)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, err := exchange(c, ""); got != okFrame || err != nil {
		t.Errorf("slow client: %q, %v", got, err)
	}
	if want := baseConfig + stanza("slow", alice.name); e.readConfig() != want {
		t.Errorf("config:\n%s", e.readConfig())
	}
}

// TestHalfCloseBeforeBlankLine: the client half-closes after its headers
// but before the blank line: it reads the malformed answer, and nothing
// is created.
func TestHalfCloseBeforeBlankLine(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, frame := range []string{"AIMX/1 MAILBOX-CREATE\nName: half\nOwner: " + alice.name + "\n", "AIMX/1 MAILBOX-CREATE\n", "AIMX/1 MAILBOX-CRE"} {
		c, _ := dial(t, e.sock)
		got, err := exchange(c, frame)
		want := errFrame("MALFORMED", "malformed request: connection closed before the blank line that ends the headers")
		if !strings.Contains(frame, "\n") {
			want = errFrame("MALFORMED", "malformed request: connection closed before a whole request line")
		}
		if got != want || err != nil {
			t.Errorf("%q:\n got %q, %v\nwant %q", frame, got, err, want)
		}
	}
	if e.readConfig() != baseConfig {
		t.Errorf("config changed:\n%s", e.readConfig())
	}
	assertGone(t, e.path("inbox", "half"))
}

// TestClientNeverReads: a client that sends a request and then neither
// reads nor closes does not keep the helper: a small answer fits the
// socket buffer and the helper exits after its bounded drain; an answer
// larger than the buffer is abandoned at the write deadline. Other
// callers are served meanwhile.
func TestClientNeverReads(t *testing.T) {
	t.Parallel()
	var big strings.Builder
	big.WriteString(baseConfig)
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&big, "\n[mailboxes.m%04d]\naddress = \"m%04d@example.test\"\nowner = \"%s\"\n", i, i, alice.name)
	}
	e := newEnv(t, big.String())
	e.writePolicy("max_mailboxes_per_user = 0 # alice owns 3000 here\n")
	small, _ := dial(t, e.sock)
	defer small.Close()
	io.WriteString(small, "AIMX/1 VERSION\n\n") // never read, never closed
	for i := 0; len(e.children()) == 0 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond) // until the activator has spawned it
	}
	e.waitNoChildren(t, 5*time.Second)

	stuck, _ := dial(t, e.sock)
	defer stuck.Close()
	io.WriteString(stuck, "AIMX/1 MAILBOX-LIST\n\n") // about 600 KB of answer, never read
	for deadline := time.Now().Add(10 * time.Second); len(e.children()) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d helper instances while the LIST answer is stuck, want 1", len(e.children()))
		}
	}
	if got := e.raw(&bob, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("another caller while one never reads: %q", got)
	}
	if got := e.raw(&alice, create("meanwhile", "")); got != okFrame {
		t.Errorf("create while one never reads: %q", got)
	}
	start := time.Now()
	e.waitNoChildren(t, 40*time.Second)
	t.Logf("the helper abandoned the unread LIST answer after %v", time.Since(start).Round(time.Second))
}

// TestThousandConnections: 1000 connections opened at once (990 VERSION,
// 10 CREATE of distinct names) through metered helpers: every one gets
// its answer, every create lands exactly once, no instance fails or goes
// over the memory bound. Hostile frames through the same helpers stay
// under it too.
func TestThousandConnections(t *testing.T) {
	t.Parallel()
	e, rssLog := newMeteredEnv(t, baseConfig)
	const n = 1000
	var (
		wg      sync.WaitGroup
		retries atomic.Int64
		bad     atomic.Int64
		mu      sync.Mutex
		answers = map[string]int{}
	)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, r := dial(t, e.sock)
			retries.Add(int64(r))
			if c == nil {
				bad.Add(1)
				return
			}
			frame, want := "AIMX/1 VERSION\n\n", "AIMX/1 OK\nContent-Length: "
			if i%100 == 0 {
				frame, want = create(fmt.Sprintf("burst%d", i), alice.name), okFrame
			}
			got, err := exchange(c, frame)
			if err != nil || !strings.HasPrefix(got, want) {
				bad.Add(1)
				mu.Lock()
				answers[fmt.Sprintf("%.60q %v", got, err)]++
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if bad.Load() > 0 {
		t.Errorf("%d of %d connections without their answer: %v", bad.Load(), n, answers)
	}
	cfg := e.readConfig()
	for i := 0; i < n; i += 100 {
		if c := strings.Count(cfg, fmt.Sprintf("[mailboxes.burst%d]\n", i)); c != 1 {
			t.Errorf("burst%d is in the config %d times", i, c)
		}
	}
	// Hostile frames through the same metered helpers.
	for _, frame := range []string{
		"AIMX/1 MAILBOX-DELETE\nName: a\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 8000)+"\n", 63) + "\n",
		"AIMX/1 MAILBOX-CREATE\nName: " + strings.Repeat("x", 8193) + "\n\n",
		strings.Repeat("\x00\xff garbage ", 200000),
		"AIMX/1 MAILBOX-CREATE\nName: a\n" + strings.Repeat("X-Pad: 1\n", 65) + "\n",
	} {
		c, _ := dial(t, e.sock)
		if got, _ := exchange(c, frame); !strings.HasPrefix(got, "AIMX/1 ERR ") && got != "" {
			t.Errorf("hostile frame %.40q: %q", frame, got)
		}
	}
	e.waitNoChildren(t, 10*time.Second)
	seen, maxKiB, failed := peakRSS(t, rssLog)
	t.Logf("%d connections at once: all answered in %v (%d connect retries on a full backlog); %d instances, peak RSS max %d KiB, %d exited non-zero",
		n, elapsed.Round(time.Millisecond), retries.Load(), seen, maxKiB, failed)
	if seen < n+4 {
		t.Errorf("rsswrap logged %d instances, want %d", seen, n+4)
	}
	if maxKiB > rssBound {
		t.Errorf("an instance peaked at %d KiB RSS, bound %d KiB", maxKiB, rssBound)
	}
	if failed > 0 {
		t.Errorf("%d instances exited non-zero:\n%s", failed, tail(e.logs.String(), 2000))
	}
	if strings.Contains(e.logs.String(), "panic") {
		t.Errorf("a helper panicked:\n%s", tail(e.logs.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

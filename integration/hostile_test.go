//go:build integration

package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
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
		must(t, aimxtest.Build(wrap, "github.com/aimx/aimx-mailboxd/bench/rsswrap"))
	}
	e := newEnv(t, text)
	// The same config, data dir and socket, served through the wrapper.
	rssLog := filepath.Join(e.Dir, "rss.log")
	e.serve(wrap, rssLog, helper)
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
func (e *env) children() []string { return e.act.Instances() }

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

// dial connects as root (aimxtest.Dial: it retries while the listen
// backlog is full) and says how many times it retried.
func dial(t *testing.T, sock string) (*net.UnixConn, int) {
	c, retries, err := aimxtest.Dial(sock)
	if err != nil {
		t.Errorf("dial: %v", err)
	}
	return c, retries
}

func exchange(c *net.UnixConn, frame string) (string, error) {
	return aimxtest.Send(c, frame, 60*time.Second)
}

// TestSlowClient: a request sent one byte at a time is answered; so is a
// caller that comes while it trickles in.
func TestSlowClient(t *testing.T) {
	e := newEnv(t, baseConfig)
	c, _ := dial(t, e.Sock)
	frame := aimxtest.Create("slow", alice.Name)
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
	if got, err := exchange(c, ""); got != aimxtest.OK || err != nil {
		t.Errorf("slow client: %q, %v", got, err)
	}
	if want := baseConfig + aimxtest.Stanza("slow", alice.Name); e.readConfig() != want {
		t.Errorf("config:\n%s", e.readConfig())
	}
}

// TestHalfCloseBeforeBlankLine: the client half-closes after its headers
// but before the blank line: it reads the malformed answer, and nothing
// is created.
func TestHalfCloseBeforeBlankLine(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, frame := range []string{"AIMX/1 MAILBOX-CREATE\nName: half\nOwner: " + alice.Name + "\n", "AIMX/1 MAILBOX-CREATE\n", "AIMX/1 MAILBOX-CRE"} {
		c, _ := dial(t, e.Sock)
		got, err := exchange(c, frame)
		want := aimxtest.Err("MALFORMED", "malformed request: connection closed before the blank line that ends the headers")
		if !strings.Contains(frame, "\n") {
			want = aimxtest.Err("MALFORMED", "malformed request: connection closed before a whole request line")
		}
		if got != want || err != nil {
			t.Errorf("%q:\n got %q, %v\nwant %q", frame, got, err, want)
		}
	}
	if e.readConfig() != baseConfig {
		t.Errorf("config changed:\n%s", e.readConfig())
	}
	assertGone(t, e.Path("inbox", "half"))
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
		fmt.Fprintf(&big, "\n[mailboxes.m%04d]\naddress = \"m%04d@example.test\"\nowner = \"%s\"\n", i, i, alice.Name)
	}
	e := newEnv(t, big.String())
	e.writePolicy("max_mailboxes_per_user = 0 # alice owns 3000 here\n")
	small, _ := dial(t, e.Sock)
	defer small.Close()
	io.WriteString(small, "AIMX/1 VERSION\n\n") // never read, never closed
	for i := 0; len(e.children()) == 0 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond) // until the activator has spawned it
	}
	e.waitNoChildren(t, 5*time.Second)

	stuck, _ := dial(t, e.Sock)
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
	if got := e.raw(&alice, aimxtest.Create("meanwhile", "")); got != aimxtest.OK {
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
			c, r := dial(t, e.Sock)
			retries.Add(int64(r))
			if c == nil {
				bad.Add(1)
				return
			}
			frame, want := "AIMX/1 VERSION\n\n", "AIMX/1 OK\nContent-Length: "
			if i%100 == 0 {
				frame, want = aimxtest.Create(fmt.Sprintf("burst%d", i), alice.Name), aimxtest.OK
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
		c, _ := dial(t, e.Sock)
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

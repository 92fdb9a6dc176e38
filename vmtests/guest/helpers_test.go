//go:build vmtest

package guest

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/wire"
)

const (
	socketPath = "/run/aimx/mailboxd.sock"
	configPath = "/etc/aimx/config.toml"
	dataDir    = "/var/lib/aimx"
	cli        = "/usr/bin/aimx-mailboxes"
	debDir     = "/usr/lib/aimx-vmtest/debs"
)

func TestMain(m *testing.M) {
	if code, ok := aimxtest.Child(map[string]aimxtest.Step{"hold": hold, "flood": flood, "deeptree": deepTree}); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// hold N BOUND, as another user (aimxtest.ChildCmd): N connections, each
// with a CREATE of hold-<i> whose helper blocks on the config lock the
// test holds; prints "held", waits for stdin to close, then prints how
// many were answered within BOUND (a duration, the caller's hang guard)
// and closes them.
func hold(args []string) int {
	n, _ := strconv.Atoi(args[0])
	bound, err := time.ParseDuration(args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "hold: bound %q: %v\n", args[1], err)
		return 2
	}
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, err := net.Dial("unix", socketPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dial %d: %v\n", i, err)
			return 3
		}
		fmt.Fprint(c, aimxtest.Create(fmt.Sprintf("hold-%d", i), ""))
		conns = append(conns, c)
	}
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin)
	answered := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(bound))
		if b, _ := io.ReadAll(c); len(b) > 0 {
			answered++
		}
		c.Close()
	}
	fmt.Printf("answered %d\n", answered)
	return 0
}

// flood N P, as another user: N connections from P workers, each closed
// at once without a byte sent; prints the number of failed dials.
func flood(args []string) int {
	n, _ := strconv.Atoi(args[0])
	p, _ := strconv.Atoi(args[1])
	var failed, next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next == n {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				c, err := net.Dial("unix", socketPath)
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	fmt.Println(failed)
	return 0
}

// result of one command.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// userEnv is the environment of a command run as name.
func userEnv(name string) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	if name != "" && name != "root" {
		env = append(env, "HOME=/", "USER="+name, "LOGNAME="+name)
	}
	return env
}

// as is the user name ("" or "root": nil, the test's own uid).
func as(t *testing.T, name string) *aimxtest.User {
	t.Helper()
	if name == "" || name == "root" {
		return nil
	}
	u, err := aimxtest.LookupUser(name)
	if err != nil {
		t.Fatalf("lookup user %s: %v", name, err)
	}
	return &u
}

// asUser builds a command that runs as the named user with its primary
// group and no supplementary groups ("" or "root": as root).
func asUser(t *testing.T, name string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = userEnv(name)
	cmd.SysProcAttr = as(t, name).Credential()
	return cmd
}

// asChild is a command that runs step of this binary as the named user.
func asChild(t *testing.T, name, step string, args ...string) *exec.Cmd {
	t.Helper()
	return aimxtest.ChildCmd("/proc/self/exe", as(t, name), userEnv(name), step, args...)
}

func run(t *testing.T, name string, stdin string, argv ...string) result {
	t.Helper()
	r, err := aimxtest.Run(asUser(t, name, argv...), stdin)
	if err != nil {
		t.Fatalf("run %v as %q: %v", argv, name, err)
	}
	return result{stdout: r.Stdout, stderr: r.Stderr, code: r.Code}
}

// mustRun runs a set-up command as root and fails the test if it fails.
func mustRun(t *testing.T, argv ...string) string {
	t.Helper()
	r := run(t, "", "", argv...)
	if r.code != 0 {
		t.Fatalf("%s: %s", strings.Join(argv, " "), r)
	}
	return r.stdout
}

// cliAs runs the CLI as a user.
func cliAs(t *testing.T, name string, args ...string) result {
	t.Helper()
	return run(t, name, "", append([]string{cli}, args...)...)
}

// raw sends one frame as the named user (through a re-exec of this
// binary with that uid, so SO_PEERCRED is the user's) and returns the
// response bytes. A connection that cannot be made fails the test.
func raw(t *testing.T, name, frame string) string {
	t.Helper()
	resp, err := tryRaw(t, name, frame)
	if err != "" {
		t.Fatalf("raw frame %q as %s: %s", frame, name, err)
	}
	return resp
}

// tryRaw is raw, returning the dial or exec error text instead of
// failing. Its bound is hangGuard: under a flood an answer may take
// minutes on TCG.
func tryRaw(t *testing.T, name, frame string) (resp, errText string) {
	t.Helper()
	resp, err := aimxtest.RawAs("/proc/self/exe", as(t, name), userEnv(name), socketPath, frame, hangGuard())
	if err != nil {
		return resp, err.Error()
	}
	return resp, ""
}

type account struct {
	uid, gid uint32
}

func lookup(t *testing.T, name string) account {
	t.Helper()
	u := as(t, name)
	if u == nil {
		return account{}
	}
	return account{u.UID, u.GID}
}

// listNames decodes a MAILBOX-LIST JSON array into its names.
func listNames(t *testing.T, body string) []string {
	t.Helper()
	entries, err := wire.DecodeList([]byte(body))
	if err != nil {
		t.Fatalf("decode list %q: %v", body, err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	return names
}

// body returns the JSON body of an OK response with Content-Length.
func body(t *testing.T, resp string) string {
	t.Helper()
	head, b, ok := strings.Cut(resp, "\n\n")
	if !strings.HasPrefix(head, "AIMX/1 OK\n") || !ok {
		t.Fatalf("want an OK response with a body, got %q", resp)
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// instances lists the aimx-mailboxd@ units systemd knows, in any state.
func instances(t *testing.T) []string {
	t.Helper()
	// PID 1 under a flood on TCG may drop a client now and then
	// ("Transport endpoint is not connected"): ask again until it answers.
	var r result
	waitFor(t, "systemctl list-units answers", 4, func() (bool, string) {
		r = run(t, "", "", "systemctl", "list-units", "--all", "--no-legend", "--plain", "--no-pager", "aimx-mailboxd@*")
		return r.code == 0, r.String()
	})
	if r.code != 0 {
		t.Fatalf("systemctl list-units: %s", r)
	}
	var units []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line != "" {
			units = append(units, line)
		}
	}
	return units
}

// noInstances is promise 3: after a request is answered, no helper
// instance stays (running or failed), and the socket counts no live
// connection. An instance may still be exiting when the client has its
// answer, and after a flood up to MaxConnections= of them share the
// guest's CPUs, so that none may end before all have run (128 sat
// unchanged for 15 s on bookworm): this waits as long as the set keeps
// changing, and allows a request's cost per live helper between
// changes. The check is about what remains, not how fast.
func noInstances(t *testing.T, after string) {
	t.Helper()
	var left []string
	var conns int
	if !waitStall(t, func() int { return 6 + max(len(left), conns) }, func() (bool, string) {
		left, conns = instances(t), connections(t)
		return len(left) == 0 && conns == 0, fmt.Sprint(conns, left)
	}) {
		t.Errorf("promise 3 (no helper instance outlives its request): after %s, NConnections=%d and these remain:\n%s",
			after, conns, strings.Join(left, "\n"))
	}
}

// cost is what one request through the activated socket costs in this
// guest (the median of a few round trips, each a sandboxed unit start
// under qemu TCG), as measureCost last found it. Every wait and hang
// guard of the lane derives its bound from it, so a slow or loaded host
// makes the bounds longer instead of failing the lane.
var cost time.Duration

// measureCost times five LISTs as alice, one after the other once the
// previous instance has gone, and sets cost to their median (at least
// 50 ms, so the bounds built from it are never near zero). It returns
// the samples.
func measureCost(t *testing.T) []time.Duration {
	t.Helper()
	if cost == 0 {
		// The first measurement's own waits need a figure: the slowest
		// start measured on this lane (0.5 s, README.md "Wall time"), tripled.
		cost = 1500 * time.Millisecond
	}
	var samples []time.Duration
	for i := 0; i < 5; i++ {
		start := time.Now()
		resp := raw(t, "alice", "AIMX/1 MAILBOX-LIST\n\n")
		took := time.Since(start)
		if !strings.HasPrefix(resp, "AIMX/1 OK\n") {
			t.Fatalf("measure a request: alice's LIST got %q", resp)
		}
		samples = append(samples, took)
		noInstances(t, "a timed LIST")
	}
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	cost = max(sorted[len(sorted)/2], 50*time.Millisecond)
	t.Logf("one request costs %v in this guest (median of %v); waits give up after %v without progress, a request after %v",
		cost.Round(time.Millisecond), samples, stallBound(1).Round(time.Millisecond), hangGuard().Round(time.Second))
	return samples
}

// stallBound is how long a wait whose every step of progress costs about
// units requests may see no progress before it gives up: ten times that
// cost (the host may get busier after cost was measured), plus 10 s.
func stallBound(units int) time.Duration {
	return 10*time.Duration(units)*cost + 10*time.Second
}

// hangGuard bounds one raw request: what 600 requests cost (a request
// may queue behind a whole flood: MaxConnections plus the backlog), and
// never under 5 minutes.
func hangGuard() time.Duration {
	return max(600*cost, 5*time.Minute)
}

// tryWaitFor polls cond until it is done, and reports whether it was.
// It gives up only when cond's state (any text that changes as the
// awaited thing progresses) has stayed the same for stallBound(units):
// the bound only fails a test, it never decides a pass.
func tryWaitFor(t *testing.T, units int, cond func() (done bool, state string)) bool {
	t.Helper()
	return waitStall(t, func() int { return units }, cond)
}

// waitStall is tryWaitFor whose units are asked again after every look
// (they may grow with what cond saw).
func waitStall(t *testing.T, units func() int, cond func() (done bool, state string)) bool {
	t.Helper()
	interval := min(max(cost/4, 50*time.Millisecond), time.Second)
	last, since := "", time.Now()
	for {
		done, state := cond()
		if done {
			return true
		}
		if state != last {
			last, since = state, time.Now()
		} else if time.Since(since) > stallBound(units()) {
			return false
		}
		time.Sleep(interval)
	}
}

// waitFor is tryWaitFor that fails the test, naming what it waited for
// and the last state seen.
func waitFor(t *testing.T, what string, units int, cond func() (done bool, state string)) {
	t.Helper()
	var last string
	if !tryWaitFor(t, units, func() (bool, string) {
		done, state := cond()
		last = state
		return done, state
	}) {
		t.Fatalf("waited for %s: no progress for %v; last state: %s", what, stallBound(units).Round(time.Millisecond), last)
	}
}

// exposure runs systemd-analyze security on unit and returns the overall
// exposure level and the full report.
func exposure(t *testing.T, unit string) (float64, string) {
	t.Helper()
	r := run(t, "", "", "systemd-analyze", "security", "--no-pager", unit)
	report := r.stdout + r.stderr
	i := strings.LastIndex(report, "Overall exposure level for ")
	if i < 0 {
		t.Fatalf("systemd-analyze security %s: no overall exposure in: %s", unit, report)
	}
	line := report[i:]
	line, _, _ = strings.Cut(line, "\n")
	_, v, _ := strings.Cut(line, ": ")
	v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("parse exposure from %q: %v", line, err)
	}
	return f, report
}

func systemdVersion(t *testing.T) int {
	t.Helper()
	out := mustRun(t, "systemctl", "--version")
	var v int
	fmt.Sscanf(out, "systemd %d", &v)
	return v
}

// timespan parses a systemd time span as systemctl show prints it
// ("5s", "2min", "1min 30s", "100ms").
func timespan(t *testing.T, s string) time.Duration {
	t.Helper()
	var total time.Duration
	for _, f := range strings.Fields(s) {
		f = strings.Replace(f, "min", "m", 1)
		d, err := time.ParseDuration(f)
		if err != nil {
			t.Fatalf("time span %q: %v", s, err)
		}
		total += d
	}
	if total == 0 {
		t.Fatalf("time span %q: empty or zero", s)
	}
	return total
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

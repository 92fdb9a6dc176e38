//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// requestTimeout bounds one exchange.
const requestTimeout = 60 * time.Second

// request sends one frame on a new connection and reads the whole
// answer; the duration runs from dial to the server's close. A failed
// exchange with nothing read answers the error's text, which no check
// mistakes for an OK.
func request(sock, frame string) (time.Duration, string) {
	start := time.Now()
	resp, err := aimxtest.Exchange(sock, frame, requestTimeout)
	if err != nil && resp == "" {
		return time.Since(start), err.Error()
	}
	return time.Since(start), resp
}

// expect sends frame to sock and fails unless the answer starts with
// want; what says who answers, for the error.
func expect(what, sock, frame, want string) (time.Duration, error) {
	d, resp := request(sock, frame)
	if !strings.HasPrefix(resp, want) {
		return d, fmt.Errorf("%s answered %q to %q", what, resp, frame)
	}
	return d, nil
}

// repeat sends frame n times to sock, each answered with want, and
// returns the latencies.
func repeat(what, sock, frame, want string, n int) ([]time.Duration, error) {
	var lat []time.Duration
	for i := 0; i < n; i++ {
		d, err := expect(what, sock, frame, want)
		if err != nil {
			return nil, err
		}
		lat = append(lat, d)
	}
	return lat, nil
}

// sequential runs n CREATE+DELETE pairs (mailboxes seq-<tag>-<i>, for
// owner: "" for a caller's own) and returns the latencies.
func sequential(sock string, n int, tag, owner string) (creates, deletes []time.Duration, err error) {
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("seq-%s-%d", tag, i)
		d, err := expect("CREATE "+name, sock, aimxtest.Create(name, owner), aimxtest.OK)
		if err != nil {
			return nil, nil, err
		}
		creates = append(creates, d)
		if d, err = expect("DELETE "+name, sock, aimxtest.Delete(name, false), aimxtest.OK); err != nil {
			return nil, nil, err
		}
		deletes = append(deletes, d)
	}
	return creates, deletes, nil
}

// clientStep is the name of the step a copy of this program runs as the
// bench user (aimxtest.Child).
const clientStep = "client"

// client is that step: sequential SOCKET N as the bench user (Owner:
// absent, the owner is the caller), one latency a line, C or D first.
func client(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "client: want SOCKET N")
		return 2
	}
	n, _ := strconv.Atoi(args[1])
	creates, deletes, err := sequential(args[0], n, "user", "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "as user: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i := range creates {
		fmt.Fprintf(w, "C %d\nD %d\n", creates[i].Nanoseconds(), deletes[i].Nanoseconds())
	}
	return 0
}

// sequentialAs runs sequential in a copy of this program as the bench
// user.
func sequentialAs(sock string, n int) (creates, deletes []time.Duration, err error) {
	u, err := aimxtest.LookupUser(benchUser)
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "aimx-bench-bin-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := aimxtest.CopySelf(dir)
	if err != nil {
		return nil, nil, err
	}
	cmd := aimxtest.ChildCmd(bin, &u, nil, clientStep, sock, strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("client as %s: %v", u.Name, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		verb, v, _ := strings.Cut(l, " ")
		ns, _ := strconv.ParseInt(v, 10, 64)
		if verb == "C" {
			creates = append(creates, time.Duration(ns))
		} else {
			deletes = append(deletes, time.Duration(ns))
		}
	}
	return creates, deletes, nil
}

// burst is what hammer measured.
type burst struct {
	acked   []string // the names whose CREATE was answered OK (and, in pairs, then deleted)
	lat     []time.Duration
	answers int64 // requests answered OK
	errs    int64
	elapsed time.Duration
	busy    time.Duration // CPU time the whole machine spent meanwhile (all CPUs, not idle)
}

// hammer runs n clients against sock for d: the one throughput loop of
// make bench and make bench-aimx. Each client sends CREATEs of distinct
// names (prefix and a number, for the bench user); with pairs it follows
// each CREATE with the DELETE of that name, so that the config stays as
// small as it was (at most n mailboxes more).
func hammer(sock string, n int, d time.Duration, prefix string, pairs bool) burst {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		b       burst
		errs    atomic.Int64
		answers atomic.Int64
		seq     atomic.Int64
	)
	ok := func(frame string) (time.Duration, bool) {
		dd, resp := request(sock, frame)
		if resp != aimxtest.OK {
			errs.Add(1)
			return dd, false
		}
		answers.Add(1)
		return dd, true
	}
	deadline := time.Now().Add(d)
	busy0 := busyCPU()
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				name := fmt.Sprintf("%s%d", prefix, seq.Add(1))
				dd, created := ok(aimxtest.Create(name, benchUser))
				if !created {
					continue
				}
				lat := []time.Duration{dd}
				if pairs {
					if dd, deleted := ok(aimxtest.Delete(name, false)); deleted {
						lat = append(lat, dd)
					}
				}
				mu.Lock()
				b.lat = append(b.lat, lat...)
				b.acked = append(b.acked, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.errs, b.answers, b.elapsed, b.busy = errs.Load(), answers.Load(), time.Since(start), busyCPU()-busy0
	return b
}

// durableWrites times floor (b): size bytes to a temporary file, fsync,
// rename over the target, fsync of the folder.
func durableWrites(dir string, size, n int) ([]time.Duration, error) {
	d := filepath.Join(dir, "floor-b")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(d)
	text := []byte(strings.Repeat("x", size))
	var out []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		f, err := os.CreateTemp(d, ".config.toml.tmp-*")
		if err != nil {
			return nil, err
		}
		f.Write(text)
		f.Sync()
		f.Close()
		os.Rename(f.Name(), filepath.Join(d, "config.toml"))
		df, _ := os.Open(d)
		df.Sync()
		df.Close()
		out = append(out, time.Since(start))
	}
	return out, nil
}

// sandbox is a fresh aimxtest.Sandbox holding text in a new temp folder.
func sandbox(text string) (*aimxtest.Sandbox, error) {
	dir, err := os.MkdirTemp("", "aimx-bench-")
	if err != nil {
		return nil, err
	}
	sb, err := aimxtest.NewSandbox(dir, text)
	if err != nil {
		os.RemoveAll(dir)
	}
	return sb, err
}

// helperPolicy is the policy file (-policy) that serve puts beside the
// config of each helper it starts; nil: none.
var helperPolicy []byte

// serve starts argv (plus the helper's flags for sb) on sb's socket;
// stop ends it and removes the sandbox. The helper (or a wrapper of it)
// runs as deployed: in its unit's environment, with helperPolicy beside
// its config; the floor in no environment.
func serve(sb *aimxtest.Sandbox, helper bool, argv ...string) (stop func(), err error) {
	start := sb.Serve
	if helper {
		start = sb.ServeHelper
		if err := placePolicy(sb); err != nil {
			os.RemoveAll(sb.Dir)
			return nil, err
		}
	}
	act, err := start(argv...)
	if err != nil {
		os.RemoveAll(sb.Dir)
		return nil, err
	}
	return func() {
		act.Stop()
		os.RemoveAll(sb.Dir)
	}, nil
}

// placePolicy puts helperPolicy, if any, beside sb's config.
func placePolicy(sb *aimxtest.Sandbox) error {
	if helperPolicy == nil {
		return nil
	}
	return os.WriteFile(filepath.Join(filepath.Dir(sb.Config), "mailboxd.toml"), helperPolicy, 0o644)
}

// serveNew is serve on a fresh sandbox holding text.
func serveNew(text string, helper bool, argv ...string) (*aimxtest.Sandbox, func(), error) {
	sb, err := sandbox(text)
	if err != nil {
		return nil, nil, err
	}
	stop, err := serve(sb, helper, argv...)
	return sb, stop, err
}

// rssLog is where rsswrap, serving sb, logs each instance's peak RSS.
func rssLog(sb *aimxtest.Sandbox) string { return filepath.Join(sb.Dir, "rss.log") }

// configText is a config with n mailboxes owned by the bench user.
func configText(n int) string {
	var b strings.Builder
	b.WriteString(baseConfig)
	for i := 0; i < n; i++ {
		b.WriteString(aimxtest.StanzaIn(benchDomain, fmt.Sprintf("pre%05d", i), benchUser))
	}
	return b.String()
}

const (
	benchDomain = "bench.test"
	baseConfig  = "# make bench sandbox\ndomain = \"" + benchDomain + "\"\n"
)

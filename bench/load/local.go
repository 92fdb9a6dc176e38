//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// local is make bench's run: our helper under systemd-socket-activate.
func (b *bench) local() error {
	c := b.cfg
	b.machine()

	// Sequential CREATE+DELETE, as root and as the user.
	sb, stop, err := serveNew(baseConfig, true, c.helper)
	if err != nil {
		return err
	}
	rootC, rootD, err := sequential(sb.Sock, c.pairs, "root", benchUser)
	if err != nil {
		stop()
		return err
	}
	userC, userD, err := sequentialAs(sb.Sock, c.pairs)
	if err != nil {
		stop()
		return err
	}
	cfg, _ := sb.ReadConfig()
	stop()

	// Floors, measured now on the same machine.
	fs, stopF, err := serveNew(baseConfig, false, c.floor)
	if err != nil {
		return err
	}
	floorA, err := repeat("floor", fs.Sock, aimxtest.Version, aimxtest.OK, c.pairs)
	if err != nil {
		stopF()
		return err
	}
	floorB, err := durableWrites(fs.Dir, len(cfg), c.pairs)
	stopF()
	if err != nil {
		return err
	}
	b.sequentialTables(rootC, rootD, userC, userD, floorA, floorB, len(cfg),
		"a Go program under the same activator that reads SO_PEERCRED and answers `AIMX/1 OK`")

	b.rep.f("\n### Throughput: CREATE of distinct names by root, %s per level\n\n", c.secs)
	b.rep.f("| Concurrent clients | CREATEs acknowledged | per second | p50 | p99 | errors | every acknowledged create in the config exactly once |\n|---|---|---|---|---|---|---|\n")
	for _, n := range []int{1, 8, 32} {
		if err := b.throughput(n); err != nil {
			return err
		}
	}

	b.rep.f("\n### Config scaling: CREATE latency (root) with N mailboxes already in the config\n\n")
	b.rep.f("| N | config size | CREATE p50 | p90 | floor (b) for that size, p50 | peak RSS of one instance |\n|---|---|---|---|---|---|\n")
	for _, n := range []int{10, 1000, 10000} {
		if err := b.scaling(n); err != nil {
			return err
		}
	}

	if err := b.memory(); err != nil {
		return err
	}
	if err := b.profile(); err != nil {
		return err
	}
	b.rep.f("\nTotal bench time: %s. Load average at the end: %s.\n", time.Since(b.start).Round(time.Second), loadavg())
	return nil
}

// sequentialTables writes the sequential pairs and the floors, with the
// ratio of each p50 to floor (a)+(b); floorAWhat says what ran floor (a).
func (b *bench) sequentialTables(rootC, rootD, userC, userD, floorA, floorB []time.Duration, configSize int, floorAWhat string) {
	fa, fb := pct(floorA, 50), pct(floorB, 50)
	b.rep.f("\n### Sequential CREATE+DELETE (%d pairs per caller, one connection each)\n\n", b.cfg.pairs)
	b.rep.f("| Caller | Verb | p50 | p90 | p99 | ratio of p50 to floor (a)+(b) |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		who, verb string
		d         []time.Duration
	}{{"root", "CREATE", rootC}, {"root", "DELETE", rootD}, {benchUser, "CREATE", userC}, {benchUser, "DELETE", userD}} {
		b.rep.f("| %s | %s | %s | %s | %s | %.2f |\n", row.who, row.verb, ms(pct(row.d, 50)), ms(pct(row.d, 90)), ms(pct(row.d, 99)), float64(pct(row.d, 50))/float64(fa+fb))
	}
	b.rep.f("\n### Floors (same run)\n\n")
	b.rep.f("| Floor | p50 | p90 | p99 |\n|---|---|---|---|\n")
	b.rep.f("| (a) process per connection: %s | %s | %s | %s |\n", floorAWhat, ms(fa), ms(pct(floorA, 90)), ms(pct(floorA, 99)))
	b.rep.f("| (b) durability: write %d bytes to a temporary file, fsync, rename, fsync the folder | %s | %s | %s |\n", configSize, ms(fb), ms(pct(floorB, 90)), ms(pct(floorB, 99)))
	b.rep.f("| (a)+(b) | %s | | |\n", ms(fa+fb))
}

// throughput is one row: n clients for -throughput-time, and whether
// every acknowledged CREATE is in the config exactly once.
func (b *bench) throughput(n int) error {
	sb, stop, err := serveNew(baseConfig, true, b.cfg.helper)
	if err != nil {
		return err
	}
	defer stop()
	r := hammer(sb.Sock, n, b.cfg.secs, fmt.Sprintf("t%d-", n), false)
	cfg, _ := sb.ReadConfig()
	ok := strings.Count(cfg, "\n[mailboxes.") == len(r.acked)
	for _, name := range r.acked {
		ok = ok && strings.Count(cfg, "\n[mailboxes."+name+"]\n") == 1
	}
	check := "yes"
	if !ok {
		check = "**NO**"
	}
	b.rep.f("| %d | %d | %.1f | %s | %s | %d | %s (%d stanzas) |\n", n, len(r.acked), float64(len(r.acked))/r.elapsed.Seconds(), ms(pct(r.lat, 50)), ms(pct(r.lat, 99)), r.errs, check, strings.Count(cfg, "\n[mailboxes."))
	logf("throughput %d clients: %d creates", n, len(r.acked))
	if !ok {
		return fmt.Errorf("throughput with %d clients: an acknowledged create is missing or duplicated", n)
	}
	return nil
}

// scaling is one row: CREATE latency and peak RSS with n mailboxes.
func (b *bench) scaling(n int) error {
	sb, err := sandbox(configText(n))
	if err != nil {
		return err
	}
	stop, err := serve(sb, true, b.cfg.wrap, rssLog(sb), b.cfg.helper)
	if err != nil {
		return err
	}
	defer stop()
	var lat []time.Duration
	for i := 0; i < 40; i++ {
		d, err := expect(fmt.Sprintf("CREATE with %d mailboxes", n), sb.Sock, aimxtest.Create(fmt.Sprintf("scale%d", i), benchUser), aimxtest.OK)
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	cfg, _ := sb.ReadConfig()
	fb, err := durableWrites(sb.Dir, len(cfg), 50)
	if err != nil {
		return err
	}
	_, peak := readRSS(rssLog(sb))
	b.rep.f("| %d | %d KiB | %s | %s | %s | %.1f MiB |\n", n, len(cfg)>>10, ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(fb, 50)), float64(peak)/1024)
	logf("scaling %d: p50 %s", n, ms(pct(lat, 50)))
	return nil
}

// memory: peak RSS of one instance per verb, and what is resident
// between requests.
func (b *bench) memory() error {
	sb, err := sandbox(baseConfig)
	if err != nil {
		return err
	}
	stop, err := serve(sb, true, b.cfg.wrap, rssLog(sb), b.cfg.helper)
	if err != nil {
		return err
	}
	b.rep.f("\n### Memory\n\n| Request | peak RSS of the helper instance (getrusage ru_maxrss of the child) |\n|---|---|\n")
	for _, r := range []struct{ label, frame string }{
		{"VERSION", aimxtest.Version},
		{"CREATE", aimxtest.Create("mem", benchUser)},
		{"MAILBOX-LIST", aimxtest.List},
		{"DELETE", aimxtest.Delete("mem", false)},
		{"64 header lines of 8 KiB", "AIMX/1 MAILBOX-DELETE\nName: a\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 8000)+"\n", 63) + "\n"},
	} {
		os.Remove(rssLog(sb))
		request(sb.Sock, r.frame)
		_, peak := waitRSS(rssLog(sb), 1) // the wrapper logs after the helper's exit
		b.rep.f("| %s | %.1f MiB |\n", r.label, float64(peak)/1024)
	}
	procs := len(procsOf(b.cfg.helper, false))
	act := "unknown"
	for _, pid := range procsOf("systemd-socket-activate", true) {
		act = fmt.Sprintf("%d kB", procStatus(pid, "VmRSS"))
		break
	}
	stop()
	b.rep.f("\nBetween requests no helper process exists: %d processes run the helper binary after the last answer (scan of /proc/*/exe), so the helper's resident memory between requests is 0 bytes. What stays resident is the socket holder: here `systemd-socket-activate` with VmRSS %s (in production, systemd's own socket unit, which costs nothing extra).\n", procs, act)
	return nil
}

// profile: strace -c -f of one CREATE, the helper's own syscalls.
func (b *bench) profile() error {
	if _, err := exec.LookPath("strace"); err != nil {
		b.rep.f("\n(strace missing: no syscall profile)\n")
		return nil
	}
	sb, err := sandbox(baseConfig)
	if err != nil {
		return err
	}
	log := filepath.Join(sb.Dir, "strace.txt")
	shim := filepath.Join(sb.Dir, "strace-helper.sh")
	if err := os.WriteFile(shim, []byte(fmt.Sprintf("#!/bin/sh\nexec strace -c -f -o %s sh -c 'LISTEN_PID=$$ exec \"$0\" \"$@\"' %s \"$@\"\n", log, b.cfg.helper)), 0o755); err != nil {
		return err
	}
	stop, err := serve(sb, true, shim) // the shim execs the helper
	if err != nil {
		return err
	}
	defer stop()
	_, resp := request(sb.Sock, aimxtest.Create("prof", benchUser))
	// strace writes its table when the helper has exited: wait for its
	// total line (a slow, loaded machine took more than 200 ms).
	var table []byte
	for i := 0; i < 1000 && !bytes.Contains(table, []byte(" total\n")); i++ {
		time.Sleep(10 * time.Millisecond)
		table, _ = os.ReadFile(log)
	}
	b.rep.f("\n### Syscall profile of one CREATE (`strace -c -f`, helper and its shell; answer %q)\n\n```\n%s```\n", strings.TrimSpace(resp), timedOnly(string(table)))
	return nil
}

// timedOnly keeps the rows of an strace -c table that took 1 % of the
// time or more, and folds the others into one line.
func timedOnly(table string) string {
	var b strings.Builder
	var calls, n int
	for _, l := range strings.SplitAfter(table, "\n") {
		f := strings.Fields(l)
		if pct, err := strconv.ParseFloat(f0(f), 64); err == nil && pct < 1 && len(f) >= 5 && f[len(f)-1] != "total" {
			c, _ := strconv.Atoi(f[3])
			calls += c
			n++
			continue
		}
		if n > 0 && strings.HasPrefix(l, "------") {
			fmt.Fprintf(&b, "  (%d more syscalls, %d calls, each under 1 %% of the time)\n", n, calls)
			n = 0
		}
		b.WriteString(l)
	}
	return b.String()
}

// f0 is the first of fields f, or "".
func f0(f []string) string {
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

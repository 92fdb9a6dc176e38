//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// make bench-aimx: the same requests, alternating, against AIMX's own
// daemon (aimx serve, AIMX/1 on its UDS), our helper and the floor
// program, each under its own scratch config; see docs/PERFORMANCE.md.

// target is one thing that answers AIMX/1 on a socket.
type target struct {
	name string
	sock string
	stop func()
	pid  int // the daemon's pid (AIMX), for its memory
}

func aimxEnv(sb *aimxtest.Sandbox) []string {
	return append(os.Environ(),
		"AIMX_CONFIG_DIR="+filepath.Dir(sb.Config),
		"AIMX_RUNTIME_DIR="+filepath.Join(sb.Dir, "run"),
		// aimx serve's test switch: the start-up DKIM check answers "no
		// record" instead of asking DNS.
		"AIMX_TEST_DKIM_RESOLVER_OVERRIDE=no-record")
}

// startAIMX serves sb with aimx serve (SMTP on a loopback port the kernel
// picks, its UDS in sb/run) and waits for its socket. keys is a folder
// holding a DKIM key pair that aimx dkim-keygen made once (aimx serve
// refuses to start without one); it is made into *keys when "".
func (b *bench) startAIMX(sb *aimxtest.Sandbox, keys *string) (*target, error) {
	if *keys == "" {
		dir, err := os.MkdirTemp("", "aimx-bench-keys-")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(baseConfig), 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(b.cfg.aimx, "dkim-keygen")
		cmd.Env = append(os.Environ(), "AIMX_CONFIG_DIR="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("aimx dkim-keygen: %v: %s", err, out)
		}
		*keys = filepath.Join(dir, "dkim")
	}
	dkim := filepath.Join(filepath.Dir(sb.Config), "dkim")
	if err := os.MkdirAll(dkim, 0o700); err != nil {
		return nil, err
	}
	for _, f := range []string{"private.key", "public.key"} {
		key, err := os.ReadFile(filepath.Join(*keys, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dkim, f), key, 0o600); err != nil {
			return nil, err
		}
	}
	run := filepath.Join(sb.Dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(b.cfg.aimx, "--data-dir", sb.Data, "serve", "--bind", "127.0.0.1:0")
	cmd.Env = aimxEnv(sb)
	log := &aimxtest.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sock := filepath.Join(run, "aimx.sock")
	if err := aimxtest.WaitListening(sock, 30*time.Second); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("aimx serve: %w: %s", err, log)
	}
	return &target{name: "AIMX daemon", sock: sock, pid: cmd.Process.Pid, stop: func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}}, nil
}

// trio starts the three targets, each on its own copy of text.
func (b *bench) trio(text string, keys *string) (aimx, ours, fl *target, err error) {
	sa, err := sandbox(text)
	if err != nil {
		return nil, nil, nil, err
	}
	if aimx, err = b.startAIMX(sa, keys); err != nil {
		os.RemoveAll(sa.Dir)
		return nil, nil, nil, err
	}
	stopA := aimx.stop
	aimx.stop = func() { stopA(); os.RemoveAll(sa.Dir) }
	so, stopO, err := serveNew(text, true, b.cfg.helper)
	if err != nil {
		aimx.stop()
		return nil, nil, nil, err
	}
	ours = &target{name: "aimx-mailboxd", sock: so.Sock, stop: stopO}
	sf, stopF, err := serveNew(text, false, b.cfg.floor)
	if err != nil {
		stopAll(aimx, ours)
		return nil, nil, nil, err
	}
	fl = &target{name: "floor", sock: sf.Sock, stop: stopF}
	return aimx, ours, fl, nil
}

func stopAll(ts ...*target) {
	for _, t := range ts {
		t.stop()
	}
}

// ask sends frame to t and returns the latency; an answer that does not
// start with want fails the run (errp keeps the first failure).
func ask(t *target, frame, want string, errp *error) time.Duration {
	d, err := expect(t.name, t.sock, frame, want)
	if err != nil && *errp == nil {
		*errp = err
	}
	return d
}

// series is one measure for the three targets.
type series struct{ aimx, ours, floor []time.Duration }

func (s *series) add(i int, d time.Duration) {
	switch i {
	case 0:
		s.aimx = append(s.aimx, d)
	case 1:
		s.ours = append(s.ours, d)
	default:
		s.floor = append(s.floor, d)
	}
}

// compare is make bench-aimx's run.
func (b *bench) compare() error {
	c := b.cfg
	var keys string // the DKIM keys every AIMX sandbox gets a copy of
	defer func() {
		if keys != "" {
			os.RemoveAll(filepath.Dir(keys))
		}
	}()
	b.machine()
	b.rep.f("AIMX: `%s` (%s), served by `aimx serve` with its test switch `AIMX_TEST_DKIM_RESOLVER_OVERRIDE=no-record`, SMTP on a loopback port, its UDS under the scratch folder.\n",
		c.aimx, command(c.aimx, "--version"))

	// The base config (a domain, no mailbox): VERSION, LIST,
	// CREATE+DELETE pairs, alternating target by target.
	aimx, ours, fl, err := b.trio(configText(0), &keys)
	if err != nil {
		return err
	}
	var version, list, create, del series
	all := []*target{aimx, ours, fl}
	for i := 0; i < c.rounds && err == nil; i++ {
		// A new order of the three every round: what one leaves behind
		// (a dirty page cache, a journal commit) falls on each alike.
		for _, k := range rand.Perm(3) {
			t := all[k]
			version.add(k, ask(t, aimxtest.Version, "AIMX/1 OK", &err))
			list.add(k, ask(t, aimxtest.List, "AIMX/1 OK", &err))
			name := fmt.Sprintf("seq%d", i)
			create.add(k, ask(t, aimxtest.Create(name, benchUser), aimxtest.OK, &err))
			del.add(k, ask(t, aimxtest.Delete(name, false), aimxtest.OK, &err))
		}
	}
	if err != nil {
		stopAll(aimx, ours, fl)
		return err
	}
	logf("compare: sequential done after %s", time.Since(b.start).Round(time.Second))

	// Throughput: 8 clients, CREATEs of distinct names, in three slices
	// per target, alternating.
	const clients = 8
	slice := c.secs / 3
	type tp struct {
		acked   int64
		elapsed time.Duration
		lat     []time.Duration
		errs    int64
	}
	tps := make([]tp, 3)
	for r := 0; r < 3; r++ {
		for k, t := range []*target{aimx, ours, fl} {
			h := hammer(t.sock, clients, slice, fmt.Sprintf("tp%d-", r))
			tps[k].acked += int64(len(h.acked))
			tps[k].elapsed += h.elapsed
			tps[k].lat = append(tps[k].lat, h.lat...)
			tps[k].errs += h.errs
		}
	}
	stopAll(aimx, ours, fl)
	logf("compare: throughput done after %s", time.Since(b.start).Round(time.Second))
	rate := func(t tp) float64 { return float64(t.acked) / t.elapsed.Seconds() }

	// Config scaling.
	sizes := []int{10, 1000, 10000}
	scale := map[int]*series{}
	first := map[int]time.Duration{} // our first CREATE: it builds the index
	var aimxHWM, aimxRSS int64
	var size10k int
	for _, n := range sizes {
		aimx, ours, fl, err := b.trio(configText(n), &keys)
		if err != nil {
			return err
		}
		s := &series{}
		three := []*target{aimx, ours, fl}
		for i := 0; i < c.scaleCreates && err == nil; i++ {
			for _, k := range rand.Perm(3) {
				t := three[k]
				d := ask(t, aimxtest.Create(fmt.Sprintf("scale%d", i), benchUser), aimxtest.OK, &err)
				if k == 1 && i == 0 {
					first[n] = d
					continue
				}
				s.add(k, d)
			}
		}
		scale[n] = s
		if n == 10000 {
			aimxHWM, aimxRSS = procStatus(aimx.pid, "VmHWM"), procStatus(aimx.pid, "VmRSS")
			size10k = len(configText(n))
		}
		stopAll(aimx, ours, fl)
		if err != nil {
			return err
		}
		logf("compare: %d mailboxes done after %s", n, time.Since(b.start).Round(time.Second))
	}

	// Memory at 10 000 mailboxes: our instances through rsswrap, the
	// first on a config with no index (it builds one), then with it.
	sb, err := sandbox(configText(10000))
	if err != nil {
		return err
	}
	stop, err := serve(sb, true, c.wrap, rssLog(sb), c.helper)
	if err != nil {
		return err
	}
	mem := &target{name: "aimx-mailboxd", sock: sb.Sock}
	ask(mem, aimxtest.Create("mem0", benchUser), aimxtest.OK, &err)
	_, rebuildPeak := waitRSS(rssLog(sb), 1)
	os.Remove(rssLog(sb))
	for i := 1; i <= c.memCreates; i++ {
		ask(mem, aimxtest.Create(fmt.Sprintf("mem%d", i), benchUser), aimxtest.OK, &err)
	}
	_, steadyPeak := waitRSS(rssLog(sb), c.memCreates)
	stop()
	if err != nil {
		return err
	}
	sf, err := sandbox(baseConfig)
	if err != nil {
		return err
	}
	if stop, err = serve(sf, false, c.wrap, rssLog(sf), c.floor); err != nil {
		return err
	}
	ask(&target{name: "floor", sock: sf.Sock}, aimxtest.Version, "AIMX/1 OK", &err)
	_, floorPeak := waitRSS(rssLog(sf), 1)
	stop()
	if err != nil {
		return err
	}

	floorB, err := durableWrites(os.TempDir(), len(configText(1)), c.rounds)
	if err != nil {
		return err
	}
	load1 := loadavg()

	// The table of issue #14, with both ratios.
	p50 := func(d []time.Duration) time.Duration { return pct(d, 50) }
	row := func(label string, a, o, f time.Duration) {
		b.rep.f("| %s | %s | %s | %s | %.2f× | %.2f× |\n", label, ms(a), ms(o), ms(f), float64(o)/float64(a), float64(f)/float64(a))
	}
	b.rep.f("\n### The three side by side (p50 unless said)\n\n")
	b.rep.f("| measure | AIMX daemon | aimx-mailboxd | floor | ours / AIMX | floor / AIMX |\n|---|---|---|---|---|---|\n")
	row("VERSION, root", p50(version.aimx), p50(version.ours), p50(version.floor))
	row("MAILBOX-LIST, root, no mailbox", p50(list.aimx), p50(list.ours), p50(list.floor))
	row("sequential CREATE, root, small config", p50(create.aimx), p50(create.ours), p50(create.floor))
	row("sequential DELETE, root", p50(del.aimx), p50(del.ours), p50(del.floor))
	b.rep.f("| throughput, %d clients (CREATEs of distinct names answered per second) | %.0f/s | %.0f/s | %.0f/s | %.2f× | %.2f× |\n",
		clients, rate(tps[0]), rate(tps[1]), rate(tps[2]), rate(tps[1])/rate(tps[0]), rate(tps[2])/rate(tps[0]))
	for _, n := range sizes {
		s := scale[n]
		row(fmt.Sprintf("CREATE with %d mailboxes", n), p50(s.aimx), p50(s.ours), p50(s.floor))
	}
	b.rep.f("| peak memory at 10 000 mailboxes | %.1f MiB (VmHWM; %.1f MiB resident for as long as it runs) | %.1f MiB per instance (%.1f MiB for the one that builds the index) | %.1f MiB | %.2f× | %.2f× |\n",
		float64(aimxHWM)/1024, float64(aimxRSS)/1024, float64(steadyPeak)/1024, float64(rebuildPeak)/1024, float64(floorPeak)/1024,
		float64(max(steadyPeak, rebuildPeak))/float64(aimxHWM), float64(floorPeak)/float64(aimxHWM))
	b.rep.f("\nThe floor answers every frame `AIMX/1 OK` without reading a config: its rows are what a process per connection costs on this machine, whatever the verb. Our first CREATE on each config (not in the rows above) builds the index: %s at 10, %s at 1 000, %s at 10 000 mailboxes. Errors during the throughput runs: AIMX %d, ours %d, floor %d. Durable write of a %d-byte file (floor (b): temporary file, fsync, rename, fsync of the folder), p50 %s.\n",
		ms(first[10]), ms(first[1000]), ms(first[10000]), tps[0].errs, tps[1].errs, tps[2].errs, len(configText(1)), ms(p50(floorB)))

	// The goals of issue #14.
	yes := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	// The floor answers every verb alike: its bound is the p50 of all its
	// sequential answers.
	var floorAll []time.Duration
	for _, s := range []series{version, list, create, del} {
		floorAll = append(floorAll, s.floor...)
	}
	fa, fb := p50(floorAll), p50(floorB)
	limit := time.Duration(1.3 * float64(fa+fb))
	b.rep.f("\n### The goals of issue #14, this run\n\nThe floor in the bounds is the p50 of all its %d sequential answers (%s); one durable write is floor (b) above.\n\n| goal | measured | bound | |\n|---|---|---|---|\n", len(floorAll), ms(fa))
	b.rep.f("| sequential CREATE p50 ≤ 1.3 × (floor + one durable write) | %s | %s | %s |\n", ms(p50(create.ours)), ms(limit), yes(p50(create.ours) <= limit))
	b.rep.f("| sequential DELETE p50 ≤ 1.3 × (floor + one durable write) | %s | %s | %s |\n", ms(p50(del.ours)), ms(limit), yes(p50(del.ours) <= limit))
	for _, v := range []struct {
		label string
		ours  []time.Duration
	}{{"VERSION", version.ours}, {"MAILBOX-LIST", list.ours}} {
		bound := fa + 300*time.Microsecond
		b.rep.f("| %s p50 ≤ floor + 0.3 ms | %s | %s | %s |\n", v.label, ms(p50(v.ours)), ms(bound), yes(p50(v.ours) <= bound))
	}
	b.rep.f("| throughput with %d clients ≥ 0.7 × the floor's | %.0f/s | %.0f/s | %s |\n", clients, rate(tps[1]), 0.7*rate(tps[2]), yes(rate(tps[1]) >= 0.7*rate(tps[2])))
	s10k := scale[10000]
	bound := p50(s10k.floor) + p50(s10k.aimx)
	b.rep.f("| CREATE p50 at 10 000 mailboxes ≤ floor + AIMX's | %s | %s | %s |\n", ms(p50(s10k.ours)), ms(bound), yes(p50(s10k.ours) <= bound))
	peak := max(steadyPeak, rebuildPeak)
	b.rep.f("| peak memory per instance at 10 000 mailboxes ≤ 40 MiB | %.1f MiB | 40 MiB | %s |\n", float64(peak)/1024, yes(peak <= 40*1024))
	b.rep.f("\nConfig at 10 000 mailboxes: %d KiB. Load average at the end: %s. Total: %s.\n", size10k>>10, load1, time.Since(b.start).Round(time.Second))
	return nil
}

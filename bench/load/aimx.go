//go:build linux

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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

// startFloorAB starts floor (a+b) on a sandbox of its own, writing
// durably in a folder of it: size bytes each time, or with a "+" the
// file it replaces and that many bytes more (floor/durable.go).
func (b *bench) startFloorAB(name, size string) (*target, error) {
	sb, err := sandbox(baseConfig)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(sb.Dir, "floor-ab")
	if err := os.Mkdir(dir, 0o755); err != nil {
		os.RemoveAll(sb.Dir)
		return nil, err
	}
	act, err := aimxtest.Activate(sb.Sock, b.cfg.floorAB, dir, size)
	if err != nil {
		os.RemoveAll(sb.Dir)
		return nil, err
	}
	return &target{name: name, sock: sb.Sock, stop: func() {
		act.Stop()
		os.RemoveAll(sb.Dir)
	}}, nil
}

// step is one request of a round: verb 0 to 3 (VERSION, LIST, CREATE,
// DELETE) to target 0 to 2 (AIMX, ours, the floor).
type step struct{ target, verb int }

// roundOrder is one round of the sequential comparison: the four
// requests to each of the three targets, twelve in all, in a random
// order in which each target's CREATE comes before its DELETE. Every
// request thus follows, by chance alike, any other: a fixed order puts
// the same request first after another program ran (its caches cold,
// the disk busy with the write before) and charges that to it alone.
func roundOrder() []step {
	var order []step
	for t := 0; t < 3; t++ {
		for v := 0; v < 4; v++ {
			order = append(order, step{t, v})
		}
	}
	rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	seen := [3]int{-1, -1, -1} // where each target's first of CREATE, DELETE is
	for i, st := range order {
		if st.verb < 2 {
			continue
		}
		if seen[st.target] < 0 {
			seen[st.target] = i
			continue
		}
		j := seen[st.target] // the second: order the pair CREATE, DELETE
		order[j].verb, order[i].verb = 2, 3
	}
	return order
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
	// CREATE+DELETE pairs, the three targets interleaved.
	aimx, ours, fl, err := b.trio(configText(0), &keys)
	if err != nil {
		return err
	}
	var version, list, create, del series
	all := []*target{aimx, ours, fl}
	for i := 0; i < c.rounds && err == nil; i++ {
		name := fmt.Sprintf("seq%d", i)
		for _, st := range roundOrder() {
			t, k := all[st.target], st.target
			switch st.verb {
			case 0:
				version.add(k, ask(t, aimxtest.Version, "AIMX/1 OK", &err))
			case 1:
				list.add(k, ask(t, aimxtest.List, "AIMX/1 OK", &err))
			case 2:
				create.add(k, ask(t, aimxtest.Create(name, benchUser), aimxtest.OK, &err))
			case 3:
				del.add(k, ask(t, aimxtest.Delete(name, false), aimxtest.OK, &err))
			}
		}
	}
	if err != nil {
		stopAll(aimx, ours, fl)
		return err
	}
	logf("compare: sequential done after %s", time.Since(b.start).Round(time.Second))

	// Throughput: 8 clients, in three slices per target, alternating;
	// first CREATE+DELETE pairs (the config stays small), then CREATEs
	// of distinct names (the config grows). Floor (a+b) joins these runs
	// as a fourth target, and the growing one as a fifth that grows its
	// file by a stanza per answer.
	fab, err := b.startFloorAB("floor (a+b)", strconv.Itoa(len(configText(1))))
	if err != nil {
		stopAll(aimx, ours, fl)
		return err
	}
	growBy := len(aimxtest.StanzaIn(benchDomain, "tp1.0-1000", benchUser)) // a stanza of the growing run
	fabGrow, err := b.startFloorAB("floor (a+b), growing", "+"+strconv.Itoa(growBy))
	if err != nil {
		stopAll(aimx, ours, fl, fab)
		return err
	}
	const clients = 8
	slice := c.secs / 3
	type tp struct {
		answers int64
		elapsed time.Duration
		busy    time.Duration
		lat     []time.Duration
		errs    int64
		grew    int // mailboxes added to the config
	}
	modes := []struct {
		pairs bool
		what  string
	}{
		{true, "each client a CREATE then a DELETE of a name of its own, so the config stays small"},
		{false, "CREATEs of distinct names, so the config grows"},
	}
	targets := func(pairs bool) []*target {
		if pairs {
			return []*target{aimx, ours, fl, fab}
		}
		return []*target{aimx, ours, fl, fab, fabGrow}
	}
	tps := make([][]tp, len(modes))
	for m, mode := range modes {
		tps[m] = make([]tp, len(targets(mode.pairs)))
		for r := 0; r < 3; r++ {
			for k, t := range targets(mode.pairs) {
				h := hammer(t.sock, clients, slice, fmt.Sprintf("tp%d.%d-", m, r), mode.pairs)
				x := &tps[m][k]
				x.answers += h.answers
				x.elapsed += h.elapsed
				x.busy += h.busy
				x.lat = append(x.lat, h.lat...)
				x.errs += h.errs
				if !mode.pairs {
					x.grew += len(h.acked)
				}
			}
		}
	}
	stopAll(aimx, ours, fl, fab, fabGrow)
	for m, mode := range modes {
		for k, t := range targets(mode.pairs) {
			if tps[m][k].answers == 0 {
				return fmt.Errorf("%s answered nothing in the throughput run (%d errors)", t.name, tps[m][k].errs)
			}
		}
	}
	logf("compare: throughput done after %s", time.Since(b.start).Round(time.Second))
	rate := func(t tp) float64 { return float64(t.answers) / t.elapsed.Seconds() }
	cpuPer := func(t tp) time.Duration { return t.busy / time.Duration(max(t.answers, 1)) }

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

	// LIST at 10 000 mailboxes, root's and a user's (listscale.go).
	ls, err := b.measureList(&keys)
	if err != nil {
		return err
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
	for m, mode := range modes {
		t := tps[m]
		b.rep.f("| throughput, %d clients (%s: requests answered per second) | %.0f/s | %.0f/s | %.0f/s | %.2f× | %.2f× |\n",
			clients, mode.what, rate(t[0]), rate(t[1]), rate(t[2]), rate(t[1])/rate(t[0]), rate(t[2])/rate(t[0]))
	}
	for _, n := range sizes {
		s := scale[n]
		row(fmt.Sprintf("CREATE with %d mailboxes", n), p50(s.aimx), p50(s.ours), p50(s.floor))
	}
	row(fmt.Sprintf("MAILBOX-LIST, root, %d mailboxes (%d with %d messages each), p50 of %d", listMailboxes, listMailboxes/listEvery, listMessages, c.listRoot),
		p50(ls.root.aimx), p50(ls.root.ours), p50(ls.root.floor))
	row(fmt.Sprintf("MAILBOX-LIST, a user who owns %d of the %d, p50 of %d", listOwned, listMailboxes, c.listUser),
		p50(ls.user.aimx), p50(ls.user.ours), p50(ls.user.floor))
	b.rep.f("| peak memory at 10 000 mailboxes | %.1f MiB (VmHWM; %.1f MiB resident for as long as it runs) | %.1f MiB per instance (%.1f MiB for the one that builds the index) | %.1f MiB | %.2f× | %.2f× |\n",
		float64(aimxHWM)/1024, float64(aimxRSS)/1024, float64(steadyPeak)/1024, float64(rebuildPeak)/1024, float64(floorPeak)/1024,
		float64(max(steadyPeak, rebuildPeak))/float64(aimxHWM), float64(floorPeak)/float64(aimxHWM))
	b.rep.f("| peak memory of root's MAILBOX-LIST at %d mailboxes | | %.1f MiB | | | |\n", listMailboxes, float64(ls.peak)/1024)
	b.rep.f("\nThe LIST rows share one data dir (made in %s); root's answer is %d bytes from AIMX, %d from ours (ours also names each owner); our helper reads the config through its checked index, as any edit through it leaves it.\n",
		ls.made.Round(time.Second), ls.rootLen[0], ls.rootLen[1])
	b.rep.f("\nThe floor answers every frame `AIMX/1 OK` without reading a config: its rows are what a process per connection costs on this machine, whatever the verb. Our first CREATE on each config (not in the rows above) builds the index: %s at 10, %s at 1 000, %s at 10 000 mailboxes. Errors during the throughput runs: AIMX %d, ours %d, floor %d, floor (a+b) %d. Durable write of a %d-byte file (floor (b): temporary file, fsync, rename, fsync of the folder), p50 %s.\n",
		ms(first[10]), ms(first[1000]), ms(first[10000]), tps[0][0].errs+tps[1][0].errs, tps[0][1].errs+tps[1][1].errs, tps[0][2].errs+tps[1][2].errs, tps[0][3].errs+tps[1][3].errs, len(configText(1)), ms(p50(floorB)))

	// What bounds the throughput: the machine's CPU time per answer.
	b.rep.f("\n### Throughput with %d clients: what a durable answer costs\n\n", clients)
	b.rep.f("Floor (a+b) is the floor program making floor (b)'s durable write (%d bytes, under a lock, as the helper writes its config) before it answers: the cheapest Go program per connection whose answer waits for the disk. Its rate, in the same alternating slices as the other three, is what durability leaves of the floor's.\n\n", len(configText(1)))
	b.rep.f("| run | floor | floor (a+b) | aimx-mailboxd | floor (a+b) / floor | ours / floor | ours / floor (a+b) |\n|---|---|---|---|---|---|---|\n")
	for m, mode := range modes {
		t := tps[m]
		b.rep.f("| %s | %.0f/s | %.0f/s | %.0f/s | %.2f× | %.2f× | %.2f× |\n", strings.SplitN(mode.what, ",", 2)[0], rate(t[2]), rate(t[3]), rate(t[1]),
			rate(t[3])/rate(t[2]), rate(t[1])/rate(t[2]), rate(t[1])/rate(t[3]))
	}
	grow := tps[1]
	b.rep.f("\nWith the config growing, floor (a+b) still writes %d bytes. Floor (a+b), growing, reads its file under the lock and writes it back %d bytes longer (a stanza), as a CREATE rewrites the whole config: %.0f/s, its file grew to %d KiB; ours / floor (a+b), growing: %.2f×.\n",
		len(configText(1)), growBy, rate(grow[4]), grow[4].grew*growBy>>10, rate(grow[1])/rate(grow[4]))
	b.rep.f("\nThe CPU time behind each answer: all CPUs' busy time (/proc/stat: not idle, not waiting for I/O) during each target's slices, divided by the requests it answered: the client, the activator (or AIMX's daemon) and the helper (or the floor) together. Where the CPUs are all busy, answers per second are the CPUs over this.\n\n")
	b.rep.f("| run | AIMX daemon | aimx-mailboxd | floor | floor (a+b) | CPUs busy (AIMX, ours, floor, floor (a+b)) |\n|---|---|---|---|---|---|\n")
	ncpu := float64(runtime.NumCPU())
	for m, mode := range modes {
		t := tps[m]
		grew := ""
		if !mode.pairs {
			grew = fmt.Sprintf("; the config grew by %d, %d and %d mailboxes", t[0].grew, t[1].grew, t[2].grew)
		}
		busy := func(x tp) float64 { return 100 * x.busy.Seconds() / x.elapsed.Seconds() / ncpu }
		b.rep.f("| %s%s | %s | %s | %s | %s | %.0f %%, %.0f %%, %.0f %%, %.0f %% |\n", mode.what, grew, ms(cpuPer(t[0])), ms(cpuPer(t[1])), ms(cpuPer(t[2])), ms(cpuPer(t[3])),
			busy(t[0]), busy(t[1]), busy(t[2]), busy(t[3]))
	}

	// The same CPU, one program and one kind of request at a time, with
	// no client beside it in the count.
	cpu, runs, err := b.cpuPerAnswer(c.rounds)
	if err != nil {
		return err
	}
	b.rep.f("\nThe CPU time per answer of the activator and the instances alone: %d requests of one kind, one after the other, to a program under an activator of its own; the activator's user and system time once it has reaped every instance (getrusage), over the answers. What one connection costs beyond the client.\n\n| program and request | CPU per answer | beyond floor (a) |\n|---|---|---|\n", c.rounds)
	for i, r := range runs {
		b.rep.f("| %s | %s | %s |\n", r.label, ms(cpu[i]), ms(cpu[i]-cpu[0]))
	}
	b.rep.f("\nA CREATE or DELETE of ours costs %s more than floor (a+b)'s answer: %s of start-up beyond the floor's (our VERSION's) and %s of work beyond one durable write.\n",
		ms(cpu[4]-cpu[1]), ms(cpu[2]-cpu[0]), ms((cpu[4]-cpu[2])-(cpu[1]-cpu[0])))

	// The goals (issues #14 and #26).
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
	b.rep.f("\n### The goals, this run\n\nThe floor in the bounds is the p50 of all its %d sequential answers (%s), and in the LIST rows its p50 in those rounds; one durable write is floor (b) above.\n\n| goal | measured | bound | |\n|---|---|---|---|\n", len(floorAll), ms(fa))
	b.rep.f("| sequential CREATE p50 ≤ 1.3 × (floor + one durable write) | %s | %s | %s |\n", ms(p50(create.ours)), ms(limit), yes(p50(create.ours) <= limit))
	b.rep.f("| sequential DELETE p50 ≤ 1.3 × (floor + one durable write) | %s | %s | %s |\n", ms(p50(del.ours)), ms(limit), yes(p50(del.ours) <= limit))
	for _, v := range []struct {
		label string
		ours  []time.Duration
	}{{"VERSION", version.ours}, {"MAILBOX-LIST", list.ours}} {
		bound := fa + 300*time.Microsecond
		b.rep.f("| %s p50 ≤ floor + 0.3 ms | %s | %s | %s |\n", v.label, ms(p50(v.ours)), ms(bound), yes(p50(v.ours) <= bound))
	}
	lr, lu := ls.root, ls.user
	rootBound := p50(lr.floor) + p50(lr.aimx)
	b.rep.f("| root's MAILBOX-LIST at %d mailboxes ≤ floor + AIMX's (ours / AIMX: %.2f×) | %s | %s | %s |\n", listMailboxes,
		float64(p50(lr.ours))/float64(p50(lr.aimx)), ms(p50(lr.ours)), ms(rootBound), yes(p50(lr.ours) <= rootBound))
	userBound := p50(lu.floor) + time.Millisecond
	b.rep.f("| MAILBOX-LIST of a user who owns %d of %d ≤ floor + 1 ms (ours / AIMX: %.2f×) | %s | %s | %s |\n", listOwned, listMailboxes,
		float64(p50(lu.ours))/float64(p50(lu.aimx)), ms(p50(lu.ours)), ms(userBound), yes(p50(lu.ours) <= userBound))
	for m, mode := range modes {
		t := tps[m]
		b.rep.f("| throughput with %d clients ≥ 0.9 × floor (a+b)'s (%s; ours / AIMX: %.2f×) | %.0f/s | %.0f/s | %s |\n", clients, strings.SplitN(mode.what, ",", 2)[0],
			rate(t[1])/rate(t[0]), rate(t[1]), 0.9*rate(t[3]), yes(rate(t[1]) >= 0.9*rate(t[3])))
	}
	s10k := scale[10000]
	bound := p50(s10k.floor) + p50(s10k.aimx)
	b.rep.f("| CREATE p50 at 10 000 mailboxes ≤ floor + AIMX's | %s | %s | %s |\n", ms(p50(s10k.ours)), ms(bound), yes(p50(s10k.ours) <= bound))
	peak := max(steadyPeak, rebuildPeak)
	b.rep.f("| peak memory per instance at 10 000 mailboxes ≤ 40 MiB | %.1f MiB | 40 MiB | %s |\n", float64(peak)/1024, yes(peak <= 40*1024))
	b.rep.f("| peak memory of root's MAILBOX-LIST at %d mailboxes ≤ 40 MiB | %.1f MiB | 40 MiB | %s |\n", listMailboxes, float64(ls.peak)/1024, yes(ls.peak <= 40*1024))
	floorList := p50(ls.userFloor)
	b.rep.f("\nWhat the user's LIST must cost: floor (list), the floor told his %d mailboxes, which only hashes the config (the proof a request needs before it trusts the checked index) and reads his %d folders and the messages in them (the counts and read flags), p50 %s in the same rounds: %s over the floor, against the goal's 1 ms. Ours is %s over floor (list): start-up, the index read and checked, the owners looked up, the folders without a stanza, the body.\n",
		listOwned, 2*listOwned, ms(floorList), ms(floorList-p50(lu.floor)), ms(p50(lu.ours)-floorList))
	b.rep.f("\nConfig at 10 000 mailboxes: %d KiB. Load average at the end: %s. Total: %s.\n", size10k>>10, load1, time.Since(b.start).Round(time.Second))
	return nil
}

// cpuRun is one line of the CPU table: frames sent one after the other
// to a program under an activator of its own.
type cpuRun struct {
	label  string
	helper bool     // the helper, in its unit's environment
	argv   []string // the program and its arguments
	frames func(i int) []string
}

// cpuPerAnswer measures, for each run, the CPU time per answer of the
// activator and of the instances it started (getrusage once it has
// reaped every one): what one connection costs the machine, the client
// aside, with nothing else running.
func (b *bench) cpuPerAnswer(n int) ([]time.Duration, []cpuRun, error) {
	version := func(int) []string { return []string{aimxtest.Version} }
	floorAB := b.cfg.floorAB
	runs := []cpuRun{
		{"floor (a), VERSION", false, []string{b.cfg.floor}, version},
		{"floor (a+b), VERSION", false, []string{floorAB}, version},
		{"aimx-mailboxd, VERSION", true, []string{b.cfg.helper}, version},
		{"aimx-mailboxd, MAILBOX-LIST, no mailbox", true, []string{b.cfg.helper}, func(int) []string { return []string{aimxtest.List} }},
		{"aimx-mailboxd, a CREATE then a DELETE, the config small (per answer)", true, []string{b.cfg.helper}, func(i int) []string {
			name := fmt.Sprintf("cpu%d", i%4)
			return []string{aimxtest.Create(name, benchUser), aimxtest.Delete(name, false)}
		}},
	}
	var out []time.Duration
	for _, r := range runs {
		sb, err := sandbox(baseConfig)
		if err != nil {
			return nil, nil, err
		}
		argv := r.argv
		if argv[0] == floorAB {
			dir := filepath.Join(sb.Dir, "floor-ab")
			if err := os.Mkdir(dir, 0o755); err != nil {
				return nil, nil, err
			}
			argv = []string{floorAB, dir, strconv.Itoa(len(configText(1)))}
		}
		var act *aimxtest.Activator
		if r.helper {
			if err = placePolicy(sb); err == nil {
				act, err = sb.ServeHelper(argv...)
			}
		} else {
			act, err = aimxtest.Activate(sb.Sock, argv...)
		}
		if err != nil {
			os.RemoveAll(sb.Dir)
			return nil, nil, err
		}
		answers := 0
		for i := 0; i < n && err == nil; i++ {
			for _, f := range r.frames(i) {
				if _, err = expect(r.label, sb.Sock, f, "AIMX/1 OK"); err != nil {
					break
				}
				answers++
			}
		}
		// Every instance ends (and is reaped) before the activator does:
		// what an instance does after its answer counts too.
		for deadline := time.Now().Add(10 * time.Second); len(act.Instances()) > 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		act.Stop()
		os.RemoveAll(sb.Dir)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, act.CPU()/time.Duration(answers))
	}
	return out, runs, nil
}

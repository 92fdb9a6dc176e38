//go:build linux

// Command load is make bench's load generator: it talks AIMX/1 over the
// mailbox socket to the real helper under systemd-socket-activate
// --accept, as root and as a real user, measures latency, throughput,
// config scaling, peak RSS and the two floors (process per connection;
// durable write), and writes the markdown that docs/PERFORMANCE.md
// carries. It needs root: it creates the user aimxbench and chowns.
//
//	load -helper BIN -floor BIN -wrap BIN -out FILE
//
// With -socket it starts no activator: it measures only the sequential
// CREATE+DELETE pairs through that already listening socket (make
// vmbench: the packaged aimx-mailboxd.socket under real systemd in a
// qemu guest), floor (a) through -floor-socket (bench/floor behind a
// second Accept=yes socket unit) and floor (b) beside the helper's
// -config file.
//
//	load -socket PATH -floor-socket PATH -config FILE -pairs N -out FILE
//
// With -aimx (make bench-aimx) it compares, alternating request by
// request, AIMX's own daemon (aimx serve), the helper and the floor
// program at 10, 1 000 and 10 000 mailboxes (aimx.go).
//
//	load -aimx BIN -helper BIN -floor BIN -wrap BIN -out FILE
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const benchUser = "aimxbench"

var (
	helper = flag.String("helper", "", "the helper binary")
	floor  = flag.String("floor", "", "the floor (a) binary")
	wrap   = flag.String("wrap", "", "the rsswrap binary")
	out    = flag.String("out", "", "write the markdown results here")
	pairs  = flag.Int("pairs", 500, "sequential CREATE+DELETE pairs per caller")
	secs   = flag.Duration("throughput-time", 10*time.Second, "time per concurrency level")

	// make vmbench: sockets that already listen (real systemd units).
	socket      = flag.String("socket", "", "measure the sequential pairs through this listening socket instead of starting the helper (needs -floor-socket and -config)")
	floorSocket = flag.String("floor-socket", "", "with -socket: the listening socket of floor (a)")
	configPath  = flag.String("config", "", "with -socket: the helper's config file (its size, and its folder for floor (b))")
	floorSbx    = flag.String("floor-sandboxed-socket", "", "with -socket, optional: floor (a) behind a copy of the helper's sandboxed instance unit")
)

func main() {
	if os.Getenv("AIMX_BENCH_CLIENT") != "" {
		os.Exit(clientMain())
	}
	flag.Parse()
	if os.Geteuid() != 0 {
		fatalf("needs root: creates the user %s and runs the helper for it", benchUser)
	}
	runf := run
	if *aimxBin != "" {
		if *helper == "" || *floor == "" || *wrap == "" {
			fatalf("-aimx needs -helper, -floor and -wrap")
		}
		runf = compare
	}
	if *socket != "" {
		if *floorSocket == "" || *configPath == "" {
			fatalf("-socket needs -floor-socket and -config")
		}
		runf = runSockets
	}
	if err := runf(); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "load: "+format+"\n", args...)
	os.Exit(1)
}

// report collects the markdown.
type report struct{ strings.Builder }

func (r *report) f(format string, args ...any) { fmt.Fprintf(&r.Builder, format, args...) }

var rep report

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func run() error {
	start := time.Now()
	u, removeUser, err := ensureUser()
	defer removeUser()
	if err != nil {
		return err
	}
	machine()

	// Sequential CREATE+DELETE, as root and as the user.
	sb := newSandbox(baseConfig)
	stop := sb.serve(*helper)
	rootC, rootD := sequential(sb.sock, *pairs, "root", benchUser)
	userC, userD, err := sequentialAs(u, sb.sock, *pairs)
	if err != nil {
		return err
	}
	configSize := len(sb.config())
	stop()

	// Floors, measured now on the same machine.
	fs := newSandbox(baseConfig)
	stopF := fs.serve(*floor)
	var floorA []time.Duration
	for i := 0; i < *pairs; i++ {
		d, resp := request(fs.sock, "AIMX/1 VERSION\n\n")
		if resp != "AIMX/1 OK\n" {
			return fmt.Errorf("floor answered %q", resp)
		}
		floorA = append(floorA, d)
	}
	stopF()
	floorB := durableWrites(fs.dir, configSize, *pairs)
	sequentialTables(rootC, rootD, userC, userD, floorA, floorB, configSize,
		"a Go program under the same activator that reads SO_PEERCRED and answers `AIMX/1 OK`")

	// Throughput.
	rep.f("\n### Throughput: CREATE of distinct names by root, %s per level\n\n", *secs)
	rep.f("| Concurrent clients | CREATEs acknowledged | per second | p50 | p99 | errors | every acknowledged create in the config exactly once |\n|---|---|---|---|---|---|---|\n")
	for _, n := range []int{1, 8, 32} {
		if err := throughput(n); err != nil {
			return err
		}
	}

	// Config scaling.
	rep.f("\n### Config scaling: CREATE latency (root) with N mailboxes already in the config\n\n")
	rep.f("| N | config size | CREATE p50 | p90 | floor (b) for that size, p50 | peak RSS of one instance |\n|---|---|---|---|---|---|\n")
	for _, n := range []int{10, 1000, 10000} {
		if err := scaling(n); err != nil {
			return err
		}
	}

	// Memory.
	memory()
	profile()
	rep.f("\nTotal bench time: %s. Load average at the end: %s.\n", time.Since(start).Round(time.Second), loadavg())
	if *out != "" {
		return os.WriteFile(*out, []byte(rep.String()), 0o644)
	}
	fmt.Print(rep.String())
	return nil
}

// sequentialTables writes the sequential pairs and the floors, with the
// ratio of each p50 to floor (a)+(b); floorAWhat says what ran floor (a).
func sequentialTables(rootC, rootD, userC, userD, floorA, floorB []time.Duration, configSize int, floorAWhat string) {
	a, b := pct(floorA, 50), pct(floorB, 50)

	rep.f("\n### Sequential CREATE+DELETE (%d pairs per caller, one connection each)\n\n", *pairs)
	rep.f("| Caller | Verb | p50 | p90 | p99 | ratio of p50 to floor (a)+(b) |\n|---|---|---|---|---|---|\n")
	for _, row := range []struct {
		who, verb string
		d         []time.Duration
	}{{"root", "CREATE", rootC}, {"root", "DELETE", rootD}, {benchUser, "CREATE", userC}, {benchUser, "DELETE", userD}} {
		rep.f("| %s | %s | %s | %s | %s | %.2f |\n", row.who, row.verb, ms(pct(row.d, 50)), ms(pct(row.d, 90)), ms(pct(row.d, 99)), float64(pct(row.d, 50))/float64(a+b))
	}
	rep.f("\n### Floors (same run)\n\n")
	rep.f("| Floor | p50 | p90 | p99 |\n|---|---|---|---|\n")
	rep.f("| (a) process per connection: %s | %s | %s | %s |\n", floorAWhat, ms(a), ms(pct(floorA, 90)), ms(pct(floorA, 99)))
	rep.f("| (b) durability: write %d bytes to a temporary file, fsync, rename, fsync the folder | %s | %s | %s |\n", configSize, ms(b), ms(pct(floorB, 90)), ms(pct(floorB, 99)))
	rep.f("| (a)+(b) | %s | | |\n", ms(a+b))
}

// runSockets is make vmbench's run: the sequential pairs through the
// already listening -socket, as root and as the user, then the floors.
func runSockets() error {
	start := time.Now()
	u, removeUser, err := ensureUser()
	defer removeUser()
	if err != nil {
		return err
	}
	machineSockets()
	rootC, rootD := sequential(*socket, *pairs, "root", benchUser)
	logf("load: %d pairs as root after %s", *pairs, time.Since(start).Round(time.Second))
	userC, userD, err := sequentialAs(u, *socket, *pairs)
	if err != nil {
		return err
	}
	logf("load: %d pairs as %s after %s", *pairs, benchUser, time.Since(start).Round(time.Second))
	cfg, err := os.ReadFile(*configPath)
	if err != nil {
		return err
	}
	var floorA []time.Duration
	for i := 0; i < *pairs; i++ {
		d, resp := request(*floorSocket, "AIMX/1 VERSION\n\n")
		if resp != "AIMX/1 OK\n" {
			return fmt.Errorf("floor answered %q", resp)
		}
		floorA = append(floorA, d)
	}
	logf("load: floor (a) after %s", time.Since(start).Round(time.Second))
	var floorS []time.Duration
	for i := 0; *floorSbx != "" && i < *pairs; i++ {
		d, resp := request(*floorSbx, "AIMX/1 VERSION\n\n")
		if resp != "AIMX/1 OK\n" {
			return fmt.Errorf("sandboxed floor answered %q", resp)
		}
		floorS = append(floorS, d)
	}
	floorB := durableWrites(filepath.Dir(*configPath), len(cfg), *pairs)
	sequentialTables(rootC, rootD, userC, userD, floorA, floorB, len(cfg),
		"`bench/floor` (reads SO_PEERCRED, answers `AIMX/1 OK`) as the instance of a second socket unit with `Accept=yes` and no sandbox")
	if len(floorS) > 0 {
		// The same table, one more row: where the ratio goes.
		s, b := pct(floorS, 50), pct(floorB, 50)
		rep.f("| (a') the same program under a copy of the installed `aimx-mailboxd@.service` (its whole sandbox; only `ExecStart=` changed) | %s | %s | %s |\n", ms(s), ms(pct(floorS, 90)), ms(pct(floorS, 99)))
		rep.f("| (a')+(b) | %s | | |\n", ms(s+b))
		rep.f("\nRatio of p50 to (a')+(b), which leaves out what the sandbox costs systemd per instance: ")
		for i, row := range []struct {
			label string
			d     []time.Duration
		}{{"root CREATE", rootC}, {"root DELETE", rootD}, {benchUser + " CREATE", userC}, {benchUser + " DELETE", userD}} {
			sep := ", "
			if i == 0 {
				sep = ""
			}
			rep.f("%s%s %.2f", sep, row.label, float64(pct(row.d, 50))/float64(s+b))
		}
		rep.f(". The sandbox alone, (a') over (a): %.2f.\n", float64(s)/float64(pct(floorA, 50)))
	}
	rep.f("\nTotal bench time: %s.\n", time.Since(start).Round(time.Second))
	if *out != "" {
		return os.WriteFile(*out, []byte(rep.String()), 0o644)
	}
	fmt.Print(rep.String())
	return nil
}

func machineSockets() {
	kernel, _ := exec.Command("uname", "-sr").Output()
	nproc, _ := exec.Command("nproc").Output()
	fsType, _ := exec.Command("stat", "-f", "-c", "%T", filepath.Dir(*configPath)).Output()
	sd, _ := exec.Command("systemctl", "--version").Output()
	sdv, _, _ := strings.Cut(string(sd), "\n")
	rep.f("Run: %s. Guest: %s CPUs, %s, %s, %s on %s. Sockets: %s (the packaged unit) and %s (floor (a)).\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(string(nproc)), strings.TrimSpace(string(kernel)), strings.TrimSpace(sdv),
		filepath.Dir(*configPath), strings.TrimSpace(string(fsType)), *socket, *floorSocket)
}

const baseConfig = "# make bench sandbox\ndomain = \"bench.test\"\n"

// ensureUser returns the bench user, creating it when missing; cleanup
// removes a user that it created.
func ensureUser() (u *user.User, cleanup func(), err error) {
	cleanup = func() {}
	if u, err := user.Lookup(benchUser); err == nil {
		return u, cleanup, nil
	}
	if out, err := exec.Command("useradd", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", benchUser).CombinedOutput(); err != nil {
		return nil, cleanup, fmt.Errorf("useradd %s: %v: %s", benchUser, err, out)
	}
	u, err = user.Lookup(benchUser)
	return u, func() { exec.Command("userdel", benchUser).Run() }, err
}

// benchTarget is the make target this run is: bench, or bench-aimx.
func benchTarget() string {
	if *aimxBin != "" {
		return "bench-aimx"
	}
	return "bench"
}

func machine() {
	cpu := ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	kernel, _ := exec.Command("uname", "-sr").Output()
	nproc, _ := exec.Command("nproc").Output()
	fsType, _ := exec.Command("stat", "-f", "-c", "%T", os.TempDir()).Output()
	rep.f("Run: `make %s`, %s. Machine: %s CPUs, %s, %s, temp dir on %s; PID 1 is not systemd, so the activator is `systemd-socket-activate --accept` on the host. Load average (1, 5, 15 min) at the start: %s.\n",
		benchTarget(), time.Now().UTC().Format("2006-01-02 15:04 UTC"), strings.TrimSpace(string(nproc)), cpu, strings.TrimSpace(string(kernel)), strings.TrimSpace(string(fsType)), loadavg())
}

// sandbox is one config, data dir and socket.
type sandbox struct {
	dir, sock, cfg, data string
}

func newSandbox(text string) *sandbox {
	dir, err := os.MkdirTemp("", "aimx-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	os.Chmod(dir, 0o755)
	sb := &sandbox{dir: dir, sock: filepath.Join(dir, "s.sock"), cfg: filepath.Join(dir, "etc", "config.toml"), data: filepath.Join(dir, "data")}
	for _, d := range []string{"etc", "data/inbox", "data/sent"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
		os.Chmod(filepath.Join(dir, d), 0o755)
	}
	if err := os.WriteFile(sb.cfg, []byte(text), 0o640); err != nil {
		fatalf("%v", err)
	}
	return sb
}

func (sb *sandbox) config() string {
	b, _ := os.ReadFile(sb.cfg)
	return string(b)
}

// serve starts systemd-socket-activate --accept running prog (plus the
// helper's flags when prog is the helper, or the wrapper's arguments)
// and returns a function that stops it and removes the sandbox.
func (sb *sandbox) serve(prog string, extra ...string) func() {
	args := []string{"--accept", "-l", sb.sock}
	args = append(args, extra...)
	args = append(args, prog)
	if prog == *helper || len(extra) > 0 || strings.HasSuffix(prog, "rsswrap") {
		if strings.HasSuffix(prog, "rsswrap") {
			args = append(args, filepath.Join(sb.dir, "rss.log"), *helper)
		}
		args = append(args, "--config", sb.cfg, "--data-dir", sb.data)
	}
	cmd := exec.Command("systemd-socket-activate", args...)
	cmd.Stderr = io.Discard
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		fatalf("systemd-socket-activate: %v", err)
	}
	for i := 0; ; i++ {
		if _, err := os.Stat(sb.sock); err == nil {
			break
		}
		if i > 200 {
			fatalf("socket %s did not appear", sb.sock)
		}
		time.Sleep(10 * time.Millisecond)
	}
	os.Chmod(sb.sock, 0o666)
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(sb.dir)
	}
}

// request sends one frame on a new connection and reads the whole
// answer; the duration runs from dial to the server's close.
func request(sock, frame string) (time.Duration, string) {
	start := time.Now()
	var c net.Conn
	var err error
	for {
		c, err = net.Dial("unix", sock)
		if err == nil || !strings.Contains(err.Error(), "resource temporarily unavailable") {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		return time.Since(start), "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(c, frame)
	c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		return time.Since(start), "read: " + err.Error()
	}
	return time.Since(start), string(b)
}

func createFrame(name, owner string) string {
	if owner == "" {
		return "AIMX/1 MAILBOX-CREATE\nName: " + name + "\n\n"
	}
	return "AIMX/1 MAILBOX-CREATE\nName: " + name + "\nOwner: " + owner + "\n\n"
}

func deleteFrame(name string) string { return "AIMX/1 MAILBOX-DELETE\nName: " + name + "\n\n" }

// sequential runs n CREATE+DELETE pairs and returns the latencies.
func sequential(sock string, n int, tag, owner string) (creates, deletes []time.Duration) {
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("seq-%s-%d", tag, i)
		d, resp := request(sock, createFrame(name, owner))
		if resp != "AIMX/1 OK\n" {
			fatalf("CREATE %s: %q", name, resp)
		}
		creates = append(creates, d)
		d, resp = request(sock, deleteFrame(name))
		if resp != "AIMX/1 OK\n" {
			fatalf("DELETE %s: %q", name, resp)
		}
		deletes = append(deletes, d)
	}
	return creates, deletes
}

// sequentialAs runs sequential in a copy of this program as user u.
func sequentialAs(u *user.User, sock string, n int) (creates, deletes []time.Duration, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	// The user must be able to execute the copy.
	dir, err := os.MkdirTemp("", "aimx-bench-bin-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "load")
	b, err := os.ReadFile(self)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		return nil, nil, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd := exec.Command(bin)
	cmd.Env = []string{"AIMX_BENCH_CLIENT=" + sock, "AIMX_BENCH_N=" + strconv.Itoa(n)}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}}
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("client as %s: %v", u.Username, err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(outb)), "\n") {
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

// clientMain is the copy running as the user: CREATE (Owner: ignored,
// the owner is the caller) and DELETE, printing each latency.
func clientMain() int {
	sock := os.Getenv("AIMX_BENCH_CLIENT")
	n, _ := strconv.Atoi(os.Getenv("AIMX_BENCH_N"))
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("seq-user-%d", i)
		d, resp := request(sock, createFrame(name, ""))
		if resp != "AIMX/1 OK\n" {
			fmt.Fprintf(os.Stderr, "CREATE as user: %q\n", resp)
			return 1
		}
		fmt.Fprintf(w, "C %d\n", d.Nanoseconds())
		d, resp = request(sock, deleteFrame(name))
		if resp != "AIMX/1 OK\n" {
			fmt.Fprintf(os.Stderr, "DELETE as user: %q\n", resp)
			return 1
		}
		fmt.Fprintf(w, "D %d\n", d.Nanoseconds())
	}
	return 0
}

// durableWrites times floor (b): size bytes to a temporary file, fsync,
// rename over the target, fsync of the folder.
func durableWrites(dir string, size, n int) []time.Duration {
	d := filepath.Join(dir, "floor-b")
	os.MkdirAll(d, 0o755)
	defer os.RemoveAll(d)
	text := []byte(strings.Repeat("x", size))
	var out []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		f, err := os.CreateTemp(d, ".config.toml.tmp-*")
		if err != nil {
			fatalf("%v", err)
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
	return out
}

func throughput(n int) error {
	sb := newSandbox(baseConfig)
	stop := sb.serve(*helper)
	defer stop()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lat   []time.Duration
		acked []string
		errs  atomic.Int64
		seq   atomic.Int64
	)
	deadline := time.Now().Add(*secs)
	start := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				name := fmt.Sprintf("t%d-%d", n, seq.Add(1))
				d, resp := request(sock(sb), createFrame(name, benchUser))
				if resp != "AIMX/1 OK\n" {
					errs.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, d)
				acked = append(acked, name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cfg := sb.config()
	ok := true
	for _, name := range acked {
		if strings.Count(cfg, "\n[mailboxes."+name+"]\n") != 1 {
			ok = false
		}
	}
	if total := strings.Count(cfg, "\n[mailboxes."); total != len(acked) {
		ok = false
	}
	check := "yes"
	if !ok {
		check = "**NO**"
	}
	rep.f("| %d | %d | %.1f | %s | %s | %d | %s (%d stanzas) |\n", n, len(acked), float64(len(acked))/elapsed.Seconds(), ms(pct(lat, 50)), ms(pct(lat, 99)), errs.Load(), check, strings.Count(cfg, "\n[mailboxes."))
	logf("throughput %d clients: %d creates", n, len(acked))
	if !ok {
		return fmt.Errorf("throughput with %d clients: an acknowledged create is missing or duplicated", n)
	}
	return nil
}

func sock(sb *sandbox) string { return sb.sock }

func scaling(n int) error {
	var b strings.Builder
	b.WriteString(baseConfig)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\n[mailboxes.pre%05d]\naddress = \"pre%05d@bench.test\"\nowner = \"%s\"\n", i, i, benchUser)
	}
	sb := newSandbox(b.String())
	stop := sb.serve(*wrap)
	defer stop()
	const k = 40
	var lat []time.Duration
	for i := 0; i < k; i++ {
		d, resp := request(sb.sock, createFrame(fmt.Sprintf("scale%d", i), benchUser))
		if resp != "AIMX/1 OK\n" {
			return fmt.Errorf("CREATE with %d mailboxes: %q", n, resp)
		}
		lat = append(lat, d)
	}
	size := len(sb.config())
	fb := durableWrites(sb.dir, size, 50)
	_, peak := readRSS(filepath.Join(sb.dir, "rss.log"))
	rep.f("| %d | %d KiB | %s | %s | %s | %.1f MiB |\n", n, size>>10, ms(pct(lat, 50)), ms(pct(lat, 90)), ms(pct(fb, 50)), float64(peak)/1024)
	logf("scaling %d: p50 %s", n, ms(pct(lat, 50)))
	return nil
}

func readRSS(path string) (n int, peak int64) {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		var rss, us int64
		var code int
		if _, err := fmt.Sscan(l, &rss, &us, &code); err == nil {
			n++
			if rss > peak {
				peak = rss
			}
		}
	}
	return n, peak
}

// memory: peak RSS of one instance per verb, and what is resident
// between requests.
func memory() {
	sb := newSandbox(baseConfig)
	stop := sb.serve(*wrap)
	log := filepath.Join(sb.dir, "rss.log")
	rep.f("\n### Memory\n\n| Request | peak RSS of the helper instance (getrusage ru_maxrss of the child) |\n|---|---|\n")
	for _, r := range []struct{ label, frame string }{
		{"VERSION", "AIMX/1 VERSION\n\n"},
		{"CREATE", createFrame("mem", benchUser)},
		{"MAILBOX-LIST", "AIMX/1 MAILBOX-LIST\n\n"},
		{"DELETE", deleteFrame("mem")},
		{"64 header lines of 8 KiB", "AIMX/1 MAILBOX-DELETE\nName: a\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 8000)+"\n", 63) + "\n"},
	} {
		os.Remove(log)
		request(sb.sock, r.frame)
		time.Sleep(50 * time.Millisecond) // the wrapper logs after the helper's exit
		_, peak := readRSS(log)
		rep.f("| %s | %.1f MiB |\n", r.label, float64(peak)/1024)
	}
	time.Sleep(100 * time.Millisecond)
	procs := helperProcs()
	act := activatorRSS()
	stop()
	rep.f("\nBetween requests no helper process exists: %d processes run the helper binary after the last answer (scan of /proc/*/exe), so the helper's resident memory between requests is 0 bytes. What stays resident is the socket holder: here `systemd-socket-activate` with VmRSS %s (in production, systemd's own socket unit, which costs nothing extra).\n", procs, act)
}

func helperProcs() int {
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && exe == *helper {
			n++
		}
	}
	return n
}

func activatorRSS() string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.HasSuffix(exe, "systemd-socket-activate") {
			b, _ := os.ReadFile("/proc/" + e.Name() + "/status")
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "VmRSS:") {
					return strings.Join(strings.Fields(strings.TrimPrefix(l, "VmRSS:")), " ")
				}
			}
		}
	}
	return "unknown"
}

// profile: strace -c -f of one CREATE, the helper's own syscalls.
func profile() {
	if _, err := exec.LookPath("strace"); err != nil {
		rep.f("\n(strace missing: no syscall profile)\n")
		return
	}
	sb := newSandbox(baseConfig)
	defer os.RemoveAll(sb.dir)
	log := filepath.Join(sb.dir, "strace.txt")
	shim := filepath.Join(sb.dir, "strace-helper.sh")
	os.WriteFile(shim, []byte(fmt.Sprintf("#!/bin/sh\nexec strace -c -f -o %s sh -c 'LISTEN_PID=$$ exec \"$0\" \"$@\"' %s \"$@\"\n", log, *helper)), 0o755)
	cmd := exec.Command("systemd-socket-activate", "--accept", "-l", sb.sock, shim, "--config", sb.cfg, "--data-dir", sb.data)
	cmd.Start()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sb.sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, resp := request(sb.sock, createFrame("prof", benchUser))
	// strace writes its table when the helper has exited: wait for its
	// total line (a slow, loaded machine took more than 200 ms).
	var b []byte
	for i := 0; i < 1000 && !bytes.Contains(b, []byte(" total\n")); i++ {
		time.Sleep(10 * time.Millisecond)
		b, _ = os.ReadFile(log)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	rep.f("\n### Syscall profile of one CREATE (`strace -c -f`, helper and its shell; answer %q)\n\n```\n%s```\n", strings.TrimSpace(resp), b)
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

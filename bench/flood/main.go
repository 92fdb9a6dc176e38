// Command flood measures the helper's peak memory against a flooded
// config (issue #8, item 4): N stanzas with 64-byte names (the longest a
// name may be) and their inbox and sent folders. It serves the real,
// unmodified helper under systemd-socket-activate --accept through
// bench/rsswrap (getrusage ru_maxrss of each instance), with the
// Environment= of the unit (-unit) and any -env on top (GOMEMLIMIT=off
// measures without the unit's memory limit), each instance in a memory
// cgroup of its own limited like the unit (MemoryMax=128M), sends one
// request per
// connection (root's CREATE, DELETE, DELETE Force and LIST; a non-root
// CREATE and LIST), and writes a markdown table. It needs root: it chowns
// folders and runs a client as the user daemon (setpriv). It is evidence
// tooling, never part of the product.
//
//	flood -helper BIN -wrap RSSWRAP [-unit FILE] [-n 20000] [-env K=V]...
//	      [-memcg auto|DIR|off] [-out FILE]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aimx/aimx-mailboxd/units"
)

type envList []string

func (e *envList) String() string     { return strings.Join(*e, " ") }
func (e *envList) Set(v string) error { *e = append(*e, v); return nil }

var (
	helper = flag.String("helper", "", "the helper binary")
	wrap   = flag.String("wrap", "", "bench/rsswrap binary")
	n      = flag.Int("n", 20000, "stanzas in the config")
	out    = flag.String("out", "", "write the markdown table here (default stdout)")
	client = flag.String("client", "", "internal: act as a client of this socket, frame on stdin")
	unit   = flag.String("unit", "", "take the helper's environment from this unit's Environment= lines")
	memcg  = flag.String("memcg", "auto", "a memory cgroup folder to make (auto: under the cgroup v2 root or the v1 memory hierarchy; off: none): each instance runs in a child of it limited to -limit, as systemd runs each in its own unit's cgroup")
	limit  = flag.Int64("limit", 128<<20, "the per-instance memory limit with -memcg (the unit's MemoryMax=128M)")
	env    envList
)

func main() {
	flag.Var(&env, "env", "K=V for the helper's environment (repeatable), over the unit's")
	flag.Parse()
	if *client != "" {
		resp, err := ask(*client, mustRead(os.Stdin))
		if err != nil {
			fatalf("%v", err)
		}
		os.Stdout.WriteString(resp)
		return
	}
	if *helper == "" || *wrap == "" {
		fatalf("usage: flood -helper BIN -wrap RSSWRAP [-n N] [-env K=V]... [-out FILE]")
	}
	if os.Geteuid() != 0 {
		fatalf("needs root: it chowns mailbox folders and asks as the user daemon")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		fatalf("%v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	dir, err := os.MkdirTemp("", "aimx-flood-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(dir)
	atExit = append(atExit, func() { os.RemoveAll(dir) })
	cfg, data, sock, log := filepath.Join(dir, "etc", "config.toml"), filepath.Join(dir, "data"), filepath.Join(dir, "s.sock"), filepath.Join(dir, "rss.log")
	for _, d := range []string{"etc", "data/inbox", "data/sent"} {
		must(os.MkdirAll(filepath.Join(dir, d), 0o711))
	}
	// The folder holds the config and the lock: 0711 so daemon can reach
	// the socket beside it.
	must(os.Chmod(dir, 0o711))
	text := config(*n)
	must(os.WriteFile(cfg, text, 0o640))
	start := time.Now()
	for i := range *n {
		for _, k := range []string{"inbox", "sent"} {
			p := filepath.Join(data, k, name(i))
			must(os.Mkdir(p, 0o700))
			must(os.Chown(p, uid, gid))
		}
	}
	setup := time.Since(start)

	helperEnv := environment(*unit, env)
	args := []string{"--accept", "-l", sock}
	for _, e := range helperEnv {
		args = append(args, "-E", e)
	}
	var cg *cgroup
	if dir := cgroupDir(*memcg); dir != "" {
		cg = newCgroup(dir)
		defer cg.remove()
		atExit = append(atExit, cg.remove)
		// A shell puts each instance in a cgroup of its own (named after
		// its pid) with the limit, then execs rsswrap in place.
		args = append(args, "/bin/sh", "-c", cg.enter(*limit))
	}
	args = append(args, *wrap, log, *helper, "--config", cfg, "--data-dir", data)
	act := exec.Command("systemd-socket-activate", args...)
	act.Stdout = io.Discard
	// It says "Listening on ..." once it listens (the socket file
	// exists a moment before).
	errPipe, err := act.StderrPipe()
	must(err)
	must(act.Start())
	stop := func() { act.Process.Kill(); act.Wait() }
	defer stop()
	atExit = append(atExit, stop)
	listening := make(chan bool)
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Listening on ") {
				listening <- true
			}
		}
		close(listening)
	}()
	select {
	case ok := <-listening:
		if !ok {
			fatalf("systemd-socket-activate exited before it listened")
		}
	case <-time.After(30 * time.Second):
		fatalf("systemd-socket-activate did not listen on %s within 30 s", sock)
	}
	must(os.Chmod(sock, 0o666))

	fresh := name(*n)
	reqs := []struct{ who, what, frame string }{
		{"root", "VERSION", "AIMX/1 VERSION\n\n"},
		{"root", "CREATE (Owner: nobody)", "AIMX/1 MAILBOX-CREATE\nName: " + fresh + "\nOwner: nobody\n\n"},
		{"root", "DELETE of that mailbox", "AIMX/1 MAILBOX-DELETE\nName: " + fresh + "\n\n"},
		{"root", "DELETE Force of a flooded mailbox", "AIMX/1 MAILBOX-DELETE\nName: " + name(0) + "\nForce: true\n\n"},
		{"root", "MAILBOX-LIST", "AIMX/1 MAILBOX-LIST\n\n"},
		{"daemon", "CREATE (owner: the caller)", "AIMX/1 MAILBOX-CREATE\nName: " + fresh + "\n\n"},
		{"daemon", "DELETE of that mailbox", "AIMX/1 MAILBOX-DELETE\nName: " + fresh + "\n\n"},
		{"nobody", "MAILBOX-LIST (owns every flooded mailbox)", "AIMX/1 MAILBOX-LIST\n\n"},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Config: %d stanzas with 64-byte names, %.1f MiB (%d bytes); %d inbox and %d sent folders (made in %s). Helper environment: %s.\n\n",
		*n, float64(len(text))/(1<<20), len(text), *n, *n, setup.Round(time.Second), strings.Join(helperEnv, " "))
	if cg == nil {
		b.WriteString("| Caller | Request | Answer | Body | Peak RSS of the instance | Wall time |\n|---|---|---|---|---|---|\n")
	} else {
		fmt.Fprintf(&b, "| Caller | Request | Answer | Body | Peak RSS of the instance | Peak charge of its memory cgroup (limit %d MiB; %s) | OOM kills | Wall time |\n|---|---|---|---|---|---|---|---|\n",
			*limit>>20, cg.kind())
	}
	for _, r := range reqs {
		before := lines(log)
		var resp string
		if r.who == "root" {
			resp, err = ask(sock, []byte(r.frame))
		} else {
			resp, err = askAs(r.who, sock, r.frame)
		}
		if err != nil {
			fatalf("%s %s: %v", r.who, r.what, err)
		}
		// rsswrap appends its line once the instance has exited.
		var rec []string
		for deadline := time.Now().Add(60 * time.Second); ; {
			if l := lines(log); len(l) > len(before) {
				rec = strings.Fields(l[len(before)])
				break
			}
			if time.Now().After(deadline) {
				fatalf("%s %s: no rsswrap record", r.who, r.what)
			}
			time.Sleep(20 * time.Millisecond)
		}
		kib, _ := strconv.Atoi(rec[0])
		us, _ := strconv.Atoi(rec[1])
		first, body, _ := strings.Cut(resp, "\n")
		if i := strings.Index(body, "\n\n"); i >= 0 {
			body = body[i+2:]
		}
		bodyNote := "-"
		switch {
		case len(body) >= 1<<20:
			bodyNote = fmt.Sprintf("%.1f MiB JSON", float64(len(body))/(1<<20))
		case len(body) > 0:
			bodyNote = fmt.Sprintf("%d bytes JSON", len(body))
		}
		if len(first) > 60 {
			first = first[:60] + "…"
		}
		if cg == nil {
			fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %.1f MiB | %.2f s |\n", r.who, r.what, first, bodyNote, float64(kib)/1024, float64(us)/1e6)
			fmt.Fprintf(os.Stderr, "%s %s: %s, %d KiB, %d ms\n", r.who, r.what, first, kib, us/1000)
			continue
		}
		peak, kills := cg.collect()
		fmt.Fprintf(&b, "| %s | %s | `%s` | %s | %.1f MiB | %.1f MiB | %d | %.2f s |\n", r.who, r.what, first, bodyNote, float64(kib)/1024, float64(peak)/(1<<20), kills, float64(us)/1e6)
		fmt.Fprintf(os.Stderr, "%s %s: %s, %d KiB, cgroup peak %d KiB, %d OOM kills, %d ms\n", r.who, r.what, first, kib, peak>>10, kills, us/1000)
	}
	if *out == "" {
		os.Stdout.WriteString(b.String())
		return
	}
	must(os.WriteFile(*out, []byte(b.String()), 0o644))
}

// cgroup is the parent of one memory cgroup per instance (v1 or v2).
type cgroup struct {
	dir string
	v2  bool
}

func newCgroup(dir string) *cgroup {
	must(os.Mkdir(dir, 0o755))
	cg := &cgroup{dir: dir, v2: exists(filepath.Join(dir, "cgroup.controllers"))}
	if cg.v2 {
		must(os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+memory"), 0))
	}
	return cg
}

func (cg *cgroup) kind() string {
	if cg.v2 {
		return "cgroup v2 memory.peak"
	}
	return "cgroup v1 memory.max_usage_in_bytes"
}

// enter is the shell script that makes the instance's cgroup, limits it,
// moves itself there and execs its arguments.
func (cg *cgroup) enter(limit int64) string {
	max := "memory.limit_in_bytes"
	if cg.v2 {
		max = "memory.max"
	}
	return fmt.Sprintf(`cg=%s/i$$; mkdir "$cg" && echo %d > "$cg/%s" && echo $$ > "$cg/cgroup.procs" && exec "$0" "$@"`, cg.dir, limit, max)
}

// collect reads and removes the cgroup of the instance that ran last:
// its peak charge (anonymous memory, page cache, kernel memory) and its
// OOM kills.
func (cg *cgroup) collect() (peak int64, kills int) {
	ents, err := os.ReadDir(cg.dir)
	must(err)
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "i") {
			continue
		}
		d := filepath.Join(cg.dir, e.Name())
		peakFile, events := "memory.max_usage_in_bytes", "memory.oom_control"
		if cg.v2 {
			peakFile, events = "memory.peak", "memory.events"
		}
		b, err := os.ReadFile(filepath.Join(d, peakFile))
		must(err)
		peak, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		b, _ = os.ReadFile(filepath.Join(d, events))
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "oom_kill" {
				kills, _ = strconv.Atoi(f[1])
			}
		}
		// The instance has exited; its page cache charges move up.
		for i := 0; os.Remove(d) != nil && i < 100; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return peak, kills
}

func (cg *cgroup) remove() {
	cg.collect()
	os.Remove(cg.dir)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// name is the i-th flooded mailbox name: 64 bytes of [a-z0-9].
func name(i int) string { return fmt.Sprintf("%s%08d", strings.Repeat("f", 56), i) }

// config is the flooded config: a domain and n stanzas owned by nobody.
func config(n int) []byte {
	var b strings.Builder
	b.WriteString("# a flooded config\ndomain = \"example.com\"\n")
	for i := range n {
		fmt.Fprintf(&b, "\n[mailboxes.%s]\naddress = \"%s@example.com\"\nowner = \"nobody\"\n", name(i), name(i))
	}
	return []byte(b.String())
}

// environment is the Environment= of unit file (when not empty) with
// each of over set on top, one K=V per variable.
func environment(unit string, over []string) []string {
	var order []string
	val := map[string]string{}
	set := func(kv string) {
		k, _, ok := strings.Cut(kv, "=")
		if !ok {
			fatalf("%q is not K=V", kv)
		}
		if _, seen := val[k]; !seen {
			order = append(order, k)
		}
		val[k] = kv
	}
	if unit != "" {
		text, err := os.ReadFile(unit)
		must(err)
		for _, kv := range units.Environment(string(text)) {
			set(kv)
		}
	}
	for _, kv := range over {
		set(kv)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, val[k])
	}
	return out
}

// cgroupDir is the memory cgroup folder to make for -memcg, or "" for
// none.
func cgroupDir(flagValue string) string {
	switch flagValue {
	case "off", "":
		return ""
	case "auto":
		name := fmt.Sprintf("aimx-flood-%d", os.Getpid())
		if exists("/sys/fs/cgroup/cgroup.controllers") {
			return filepath.Join("/sys/fs/cgroup", name)
		}
		if exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") {
			return filepath.Join("/sys/fs/cgroup/memory", name)
		}
		fmt.Fprintln(os.Stderr, "flood: no memory cgroup hierarchy found; peak RSS only")
		return ""
	}
	return flagValue
}

// ask sends frame on one connection to sock and returns the whole answer.
func ask(sock string, frame []byte) (string, error) {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(120 * time.Second))
	if _, err := c.Write(frame); err != nil {
		return "", err
	}
	c.(*net.UnixConn).CloseWrite()
	b, err := io.ReadAll(bufio.NewReader(c))
	return string(b), err
}

// askAs runs this program as a client under setpriv with the uid and
// gid of user who, so that the helper sees that caller in SO_PEERCRED.
func askAs(who, sock, frame string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	u, err := user.Lookup(who)
	if err != nil {
		return "", err
	}
	cmd := exec.Command("setpriv", "--reuid="+u.Uid, "--regid="+u.Gid, "--clear-groups", self, "-client", sock)
	cmd.Stdin = strings.NewReader(frame)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	return string(b), err
}

func lines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func mustRead(r io.Reader) []byte {
	b, err := io.ReadAll(r)
	must(err)
	return b
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

// atExit undoes, last first, what main set up, when fatalf ends the run.
var atExit []func()

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "flood: "+format+"\n", args...)
	for i := len(atExit) - 1; i >= 0; i-- {
		atExit[i]()
	}
	os.Exit(1)
}

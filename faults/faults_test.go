//go:build faults

package faults

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/mailbox"
)

var (
	quick  = flag.Bool("quick", false, "a few kill points and EIO injections per operation (make faults-quick)")
	report = flag.String("report", "", "write the markdown summary to this file")
)

var (
	helper   string // the real helper, built once
	setupErr error
	owner    struct {
		name     string
		uid, gid uint32
	}
)

// configGID is the group of the sandbox config: not root's, so that the
// durable write must chown its temporary file to keep the owner.
const configGID = 4242

func TestMain(m *testing.M) {
	flag.Parse()
	var cleanup func()
	cleanup, setupErr = setup()
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

func setup() (func(), error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if _, err := exec.LookPath("strace"); err != nil {
		return nil, fmt.Errorf("strace not installed (make faults installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "aimx-faults-bin-")
	if err != nil {
		return nil, err
	}
	helper = filepath.Join(dir, "aimx-mailboxd")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", helper, "../cmd/aimx-mailboxd").CombinedOutput(); err != nil {
		return func() { os.RemoveAll(dir) }, fmt.Errorf("go build: %v\n%s", err, out)
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return func() { os.RemoveAll(dir) }, err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	owner.name, owner.uid, owner.gid = u.Username, uint32(uid), uint32(gid)
	return func() { os.RemoveAll(dir) }, nil
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the helper chowns folders and the config")
	}
	if setupErr != nil {
		t.Fatalf("setup: %v", setupErr)
	}
}

// A scenario is one request against a prepared sandbox.
type scenario struct {
	op    string
	name  string // the mailbox the request is about
	frame string
	prep  func(t *testing.T, sb *sandbox)
}

const baseConfig = `# Operator's config: every byte of it must survive.
domain   =   "example.test"   # the domain
data_dir = "/nonexistent"     # overridden by --data-dir

[mailboxes.keep]
address = "keep@example.test"
owner = "nobody"
trust = "verified"

[mailboxes.keep.hooks]
on_receive = "notify"
`

const goneStanza = `
# the mailbox that goes
[mailboxes.gone]
address = "gone@example.test"
owner = "nobody"

[[mailboxes.gone.hooks]]
cmd = "archive"
`

var scenarios = []scenario{
	{op: "CREATE", name: "fresh", frame: "AIMX/1 MAILBOX-CREATE\nName: fresh\nOwner: nobody\n\n"},
	{op: "DELETE", name: "gone", frame: "AIMX/1 MAILBOX-DELETE\nName: gone\n\n", prep: prepGone(false)},
	{op: "DELETE Force", name: "gone", frame: "AIMX/1 MAILBOX-DELETE\nName: gone\nForce: true\n\n", prep: prepGone(true)},
}

// prepGone registers mailbox "gone" with its folders; full fills them
// with messages, a deep tree, symlinks out of the folder and a hard link
// to a file outside it.
func prepGone(full bool) func(t *testing.T, sb *sandbox) {
	return func(t *testing.T, sb *sandbox) {
		sb.appendConfig(t, goneStanza)
		in, sent := sb.mkdirOwned(t, "data/inbox/gone"), sb.mkdirOwned(t, "data/sent/gone")
		if !full {
			return
		}
		sb.file(t, filepath.Join(in, "a.md"), "+++\nread = true\n+++\nhello\n")
		deep := filepath.Join(in, "bundle", "deep", "er")
		must(t, os.MkdirAll(deep, 0o700))
		sb.file(t, filepath.Join(deep, "b.md"), "deep\n")
		must(t, os.Symlink(filepath.Join(sb.root, "outside"), filepath.Join(in, "to-outside")))
		must(t, os.Symlink(filepath.Join(sb.root, "outside", "secret.md"), filepath.Join(in, "secret.md")))
		must(t, os.Link(filepath.Join(sb.root, "outside", "hard.md"), filepath.Join(in, "hard.md")))
		sb.file(t, filepath.Join(sent, "c.md"), "sent\n")
		must(t, filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != filepath.Join(in, "hard.md") {
				err = os.Lchown(p, int(owner.uid), int(owner.gid))
			}
			return err
		}))
		must(t, os.Lchown(filepath.Join(sent, "c.md"), int(owner.uid), int(owner.gid)))
	}
}

// sandbox is one config, data dir and outside folder.
type sandbox struct {
	root, config, data string
}

func newSandbox(t *testing.T, sc scenario) *sandbox {
	t.Helper()
	root, err := os.MkdirTemp("", "aimx-faults-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	sb := &sandbox{root: root, config: filepath.Join(root, "etc", "config.toml"), data: filepath.Join(root, "data")}
	for _, d := range []string{"etc", "data/inbox", "data/sent", "outside/dir"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	sb.file(t, filepath.Join(root, "etc", "other.conf"), "the operator's other file\n")
	sb.file(t, filepath.Join(root, "outside", "secret.md"), "not the mailbox's\n")
	sb.file(t, filepath.Join(root, "outside", "hard.md"), "hard-linked into the mailbox\n")
	sb.file(t, filepath.Join(root, "outside", "dir", "x.md"), "x\n")
	sb.mkdirOwned(t, "data/inbox/keep")
	sb.mkdirOwned(t, "data/sent/keep")
	sb.file(t, filepath.Join(sb.data, "inbox", "keep", "m.md"), "kept\n")
	must(t, os.WriteFile(sb.config, []byte(baseConfig), 0o640))
	must(t, os.Chown(sb.config, 0, configGID))
	must(t, os.Chmod(sb.config, 0o640))
	if sc.prep != nil {
		sc.prep(t, sb)
	}
	return sb
}

func (sb *sandbox) file(t *testing.T, path, text string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(text), 0o644))
}

func (sb *sandbox) mkdirOwned(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(sb.root, rel)
	must(t, os.Mkdir(p, 0o700))
	must(t, os.Chown(p, int(owner.uid), int(owner.gid)))
	return p
}

func (sb *sandbox) appendConfig(t *testing.T, text string) {
	t.Helper()
	f, err := os.OpenFile(sb.config, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = io.WriteString(f, text)
	must(t, err)
	must(t, f.Close())
}

func (sb *sandbox) readConfig() string {
	b, _ := os.ReadFile(sb.config)
	return string(b)
}

// snapshot maps every path under the sandbox (relative) to its type,
// mode, owner and content; temporary config files are listed apart.
type snapshot struct {
	entries map[string]string
	temps   []string
}

var tempName = regexp.MustCompile(`^\.config\.toml\.tmp-`)

func takeSnapshot(root string) snapshot {
	s := snapshot{entries: map[string]string{}}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		if err != nil {
			s.entries[rel] = "error " + err.Error()
			return nil
		}
		if tempName.MatchString(d.Name()) {
			s.temps = append(s.temps, rel)
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			s.entries[rel] = "error " + err.Error()
			return nil
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%s %d:%d", fi.Mode(), st.Uid, st.Gid)
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			desc += fmt.Sprintf(" %x", sha256.Sum256(b))
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		}
		s.entries[rel] = desc
		return nil
	})
	return s
}

// diff lists the paths whose entries differ, except those skip accepts.
func (s snapshot) diff(o snapshot, skip func(rel string) bool) []string {
	var out []string
	for rel, v := range s.entries {
		if skip != nil && skip(rel) {
			continue
		}
		if w, ok := o.entries[rel]; !ok {
			out = append(out, rel+" gone")
		} else if w != v {
			out = append(out, fmt.Sprintf("%s changed: %s -> %s", rel, v, w))
		}
	}
	for rel := range o.entries {
		if _, ok := s.entries[rel]; !ok && (skip == nil || !skip(rel)) {
			out = append(out, rel+" appeared")
		}
	}
	sort.Strings(out)
	return out
}

// run serves one connection with the real helper, under strace with
// straceArgs when they are not nil, and returns the raw response.
func run(t *testing.T, sb *sandbox, frame string, straceArgs []string) (string, string) {
	t.Helper()
	sock := filepath.Join(sb.root, "s.sock")
	os.Remove(sock)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	must(t, err)
	defer l.Close()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: sock, Net: "unix"})
	must(t, err)
	defer c.Close()
	srv, err := l.AcceptUnix()
	must(t, err)
	f, err := srv.File()
	must(t, err)
	srv.Close()
	// systemd's contract: fd 3, LISTEN_FDS=1, LISTEN_PID = the helper's
	// pid. strace forks, so a shell sets LISTEN_PID to its own pid and
	// execs the helper in place.
	args := []string{"sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, helper, "--config", sb.config, "--data-dir", sb.data}
	if straceArgs != nil {
		args = append(append([]string{"strace"}, straceArgs...), args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Env = []string{"LISTEN_FDS=1", "PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	must(t, cmd.Start())
	f.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, frame)
	c.CloseWrite()
	resp, _ := io.ReadAll(c)
	c.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("helper did not exit within 20 s")
	}
	return string(resp), stderr.String()
}

// event is one syscall entry in an strace -f log.
type event struct {
	tid     string
	name    string
	sig     string // name and first argument
	ordinal int    // how many calls of name this tracee made, this one included
	occ     int    // how many events with this sig came after execve, this one included
	line    string
}

var (
	entryRe  = regexp.MustCompile(`^(\d+) +([a-z0-9_]+)\((.*)$`)
	resumeRe = regexp.MustCompile(`^(\d+) +<\.\.\. ([a-z0-9_]+) resumed>`)
)

// trace is a parsed strace log: the events after the helper's execve,
// which of them strace injected into, and the last event of each tracee.
type trace struct {
	events   []event // every entry, in order
	start    int     // index of the first event after the helper's execve
	injected int     // index of the event with (INJECTED), or -1
	last     map[string]int
	killed   bool
}

func parseTrace(path string) (*trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := &trace{injected: -1, start: -1, last: map[string]int{}}
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "+++ killed by SIGKILL +++") {
			tr.killed = true
		}
		if m := resumeRe.FindStringSubmatch(line); m != nil {
			if strings.Contains(line, "(INJECTED)") {
				if i, ok := tr.last[m[1]]; ok {
					tr.injected = i
				}
			}
			continue
		}
		m := entryRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		tid, name, rest := m[1], m[2], strings.TrimSuffix(m[3], " <unfinished ...>")
		counts[tid+" "+name]++
		first := rest
		if i := strings.IndexAny(first, ",)"); i >= 0 {
			first = first[:i]
		}
		first = tempSuffix.ReplaceAllString(first, ".tmp-N")
		ev := event{tid: tid, name: name, sig: name + "(" + first + ")", ordinal: counts[tid+" "+name], line: line}
		tr.events = append(tr.events, ev)
		tr.last[tid] = len(tr.events) - 1
		if strings.Contains(line, "(INJECTED)") {
			tr.injected = len(tr.events) - 1
		}
		if tr.start < 0 && name == "execve" && strings.HasPrefix(rest, strconv.Quote(helper)) {
			tr.start = len(tr.events)
		}
	}
	if tr.start < 0 {
		return nil, fmt.Errorf("%s: no execve of the helper", path)
	}
	occ := map[string]int{}
	for i := tr.start; i < len(tr.events); i++ {
		occ[tr.events[i].sig]++
		tr.events[i].occ = occ[tr.events[i].sig]
	}
	return tr, sc.Err()
}

var tempSuffix = regexp.MustCompile(`\.tmp-\d+`)

// points returns the indexes of the events after the helper's execve
// whose syscall is in set, in order.
func (tr *trace) points(set map[string]bool) []int {
	var out []int
	for i := tr.start; i < len(tr.events); i++ {
		if set[tr.events[i].name] {
			out = append(out, i)
		}
	}
	return out
}

// rank is the position of event i among the events of set after execve.
func (tr *trace) rank(i int, set map[string]bool) int {
	n := 0
	for j := tr.start; j < i; j++ {
		if set[tr.events[j].name] {
			n++
		}
	}
	return n
}

// killedAt finds the event that strace's signal injection for the
// ordinal-th call of name hit: the last event of a tracee that is exactly
// that call.
func (tr *trace) killedAt(name string, ordinal int) int {
	for _, i := range tr.last {
		if e := tr.events[i]; e.name == name && e.ordinal == ordinal {
			return i
		}
	}
	return -1
}

// The syscalls of the helper that touch the file system or a descriptor:
// each is a kill point. errSet are the ones that get error injection.
var (
	killSet = setOf("openat", "read", "write", "close", "fsync", "fdatasync", "rename", "renameat", "renameat2",
		"mkdirat", "fchownat", "fchown", "fchmod", "fchmodat", "unlinkat", "flock", "getdents64", "newfstatat",
		"fstat", "statx", "lseek", "readlinkat", "shutdown", "fcntl", "getsockopt")
	errSet = setOf("openat", "read", "write", "close", "fsync", "fdatasync", "rename", "renameat", "renameat2",
		"mkdirat", "fchownat", "fchown", "fchmod", "fchmodat", "unlinkat", "flock", "getdents64", "newfstatat",
		"fstat", "lseek", "readlinkat")
	quickSet = setOf("mkdirat", "fchownat", "fsync", "renameat", "unlinkat", "flock")
	errnos   = []string{"EIO", "ENOSPC", "EDQUOT", "EACCES"}
	// socketCalls may fail on the connection itself: the helper then can
	// not answer, and a clean close is the right outcome.
	socketCalls = setOf("read", "write", "close", "shutdown", "fcntl", "getsockopt", "fstat", "newfstatat", "lseek")
)

func setOf(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// reference is the uninterrupted run of a scenario.
type reference struct {
	before, after   snapshot
	oldText, text   string
	resp            string
	tr              *trace
	killPts, errPts []int
}

func mkReference(t *testing.T, sc scenario) *reference {
	sb := newSandbox(t, sc)
	ref := &reference{before: takeSnapshot(sb.root), oldText: sb.readConfig()}
	logPath := filepath.Join(sb.root, "..", filepath.Base(sb.root)+".strace")
	defer os.Remove(logPath)
	resp, stderr := run(t, sb, sc.frame, []string{"-f", "-o", logPath})
	if resp != "AIMX/1 OK\n" {
		t.Fatalf("%s uninterrupted: %q\n%s", sc.op, resp, stderr)
	}
	ref.resp, ref.after, ref.text = resp, takeSnapshot(sb.root), sb.readConfig()
	tr, err := parseTrace(logPath)
	must(t, err)
	ref.tr = tr
	ref.killPts, ref.errPts = tr.points(killSet), tr.points(errSet)
	if *quick {
		ref.killPts, ref.errPts = tr.points(quickSet), tr.points(quickSet)
	}
	return ref
}

// stats is what one scenario's runs found.
type stats struct {
	op                   string
	syscalls             int // relevant syscalls of the uninterrupted run
	killRuns, killHit    int
	errRuns, errHit      int
	violations           []string
	outcomes             map[string]int
	missed               []string
	elapsed              time.Duration
	killPoints, errPoint int
	attempts             int // helper runs under strace, retries included
	steps                map[string]int
}

var (
	allMu    sync.Mutex
	allStats []*stats
)

func TestCrashSafety(t *testing.T) {
	needRoot(t)
	start := time.Now()
	for _, sc := range scenarios {
		t.Run(strings.ReplaceAll(sc.op, " ", "_"), func(t *testing.T) {
			st := runScenario(t, sc)
			allMu.Lock()
			allStats = append(allStats, st)
			allMu.Unlock()
			for _, v := range st.violations {
				t.Error(v)
			}
		})
	}
	if *report != "" {
		writeReport(t, time.Since(start))
	}
}

func runScenario(t *testing.T, sc scenario) *stats {
	start := time.Now()
	ref := mkReference(t, sc)
	st := &stats{op: sc.op, syscalls: len(ref.tr.points(killSet)), outcomes: map[string]int{}, steps: map[string]int{},
		killPoints: len(ref.killPts), errPoint: len(ref.errPts)}
	type job struct {
		target int    // event index in the reference trace
		errno  string // "" for a kill
	}
	var jobs []job
	for _, i := range ref.killPts {
		jobs = append(jobs, job{target: i})
	}
	for _, i := range ref.errPts {
		for _, e := range errnos {
			jobs = append(jobs, job{target: i, errno: e})
			if *quick {
				break
			}
		}
	}
	var mu sync.Mutex
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				r := runOne(t, sc, ref, j.target, j.errno)
				mu.Lock()
				if j.errno == "" {
					st.killRuns++
					if r.hit {
						st.killHit++
					}
				} else {
					st.errRuns++
					if r.hit {
						st.errHit++
					}
				}
				if !r.hit {
					st.missed = append(st.missed, r.label)
				}
				st.outcomes[r.outcome]++
				st.attempts += r.attempts
				if r.step != "" {
					st.steps[r.step]++
				}
				st.violations = append(st.violations, r.violations...)
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	st.elapsed = time.Since(start)
	return st
}

type result struct {
	label      string
	hit        bool // strace hit the targeted call (same syscall, same first argument)
	attempts   int
	step       string // the failing step an IO answer names
	outcome    string
	violations []string
}

// runOne runs sc with strace killing the helper at, or failing with
// errno, the call that was event target of the reference run; then checks
// the invariants, repeats the request and checks that it converged. It
// retries twice when the injection landed on another thread's call.
func runOne(t *testing.T, sc scenario, ref *reference, target int, errno string) result {
	ev := ref.tr.events[target]
	label := fmt.Sprintf("%s #%d %s", sc.op, ref.tr.rank(target, killSet), ev.sig)
	if errno != "" {
		label += " " + errno
	} else {
		label += " SIGKILL"
	}
	// strace counts calls per syscall and per thread, and the Go runtime
	// moves the request's goroutine between threads: when the ordinal of
	// the reference run lands on another call, try it again, then try the
	// neighbouring ordinals. Every attempt is checked all the same.
	ordinals := []int{ev.ordinal, ev.ordinal, ev.ordinal}
	for n := 1; n <= ev.ordinal+2; n++ {
		if n != ev.ordinal {
			ordinals = append(ordinals, n)
		}
	}
	var r result
	for _, n := range ordinals {
		spec := fmt.Sprintf("inject=%s:signal=SIGKILL:when=%d", ev.name, n)
		if errno != "" {
			spec = fmt.Sprintf("inject=%s:error=%s:when=%d", ev.name, errno, n)
		}
		a := attemptOne(t, sc, ref, ev, spec, errno, n)
		r.attempts++
		r.violations = append(r.violations, a.violations...)
		r.hit, r.outcome, r.step = a.hit, a.outcome, a.step
		if r.hit {
			break
		}
	}
	r.label = label
	for i, v := range r.violations {
		r.violations[i] = label + ": " + v
	}
	return r
}

var errFrame = regexp.MustCompile(`^AIMX/1 ERR ([A-Z]+) (.+)\nCode: ([A-Z]+)\n\n$`)

func attemptOne(t *testing.T, sc scenario, ref *reference, ev event, spec, errno string, ordinal int) result {
	sb := newSandbox(t, sc)
	defer os.RemoveAll(sb.root)
	logPath := sb.root + ".strace"
	defer os.Remove(logPath)
	resp, stderr := run(t, sb, sc.frame, []string{"-f", "-o", logPath, "-e", spec})
	var r result
	bad := func(format string, args ...any) { r.violations = append(r.violations, fmt.Sprintf(format, args...)) }
	inMailbox := func(rel string) bool {
		for _, k := range []string{"inbox", "sent"} {
			// The mailbox's folders, and the staging folder CREATE
			// renames into place.
			for _, p := range []string{filepath.Join("data", k, sc.name), filepath.Join("data", k, "."+sc.name+".new")} {
				if rel == p || strings.HasPrefix(rel, p+"/") {
					return true
				}
			}
		}
		return rel == "etc/config.toml" || rel == "s.sock"
	}
	tr, err := parseTrace(logPath)
	if err != nil {
		// The ordinal landed on the shell before it exec'd the helper:
		// no helper ran, nothing to check; a miss.
		if d := ref.before.diff(takeSnapshot(sb.root), inMailbox); len(d) > 0 || sb.readConfig() != ref.oldText {
			bad("strace log (%s): %v, and the sandbox changed: %v", spec, err, d)
		}
		return r
	}
	hitIdx := tr.injected
	if errno == "" {
		hitIdx = -1
		if tr.killed {
			hitIdx = tr.killedAt(ev.name, ordinal)
		}
	}
	var hitEv event
	if hitIdx >= 0 {
		hitEv = tr.events[hitIdx]
		r.hit = hitEv.sig == ev.sig && hitEv.occ == ev.occ
	}

	// The state right after the faulted run.
	text := sb.readConfig()
	now := takeSnapshot(sb.root)
	committed := text == ref.text
	switch {
	case text != ref.oldText && text != ref.text:
		bad("config is neither the old nor the new text: %q", text)
	default:
		if _, err := mailbox.ParseConfig(sb.config, []byte(text)); err != nil {
			bad("config does not parse: %v", err)
		}
	}
	if fi, err := os.Stat(sb.config); err != nil {
		bad("config: %v", err)
	} else if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || st.Uid != 0 || st.Gid != configGID {
		bad("config mode/owner %o %d:%d, want 0640 0:%d", fi.Mode().Perm(), st.Uid, st.Gid, configGID)
	}
	if d := ref.before.diff(now, inMailbox); len(d) > 0 {
		bad("changed outside the mailbox: %v", d)
	}

	// The answer.
	switch m := errFrame.FindStringSubmatch(resp); {
	case errno == "":
		r.outcome = "killed"
		if resp != "" && resp != "AIMX/1 OK\n" {
			bad("killed helper answered %q", resp)
		}
	case resp == "AIMX/1 OK\n":
		r.outcome = "OK (the failed call was not needed, or came after the commit)"
		if !committed || len(now.temps) > 0 {
			bad("answered OK but the config is not the new text, or a temporary file is left (%v)", now.temps)
		}
	case m != nil && m[1] == m[3]:
		r.outcome = "ERR " + m[1]
		if m[1] != "IO" {
			bad("answered %s, want IO: %q", m[1], resp)
		}
		if !strings.Contains(m[2], "/") && !strings.HasPrefix(m[2], "look up user ") {
			bad("IO reason names no path: %q", m[2])
		}
		r.step = step(m[2])
		if committed && !strings.Contains(m[2], "fsync") {
			bad("answered an error although the config was replaced: %q", resp)
		}
		if !committed && len(now.temps) > 0 && hitEv.name != "unlinkat" {
			bad("failed request left a temporary file: %v", now.temps)
		}
	case resp == "":
		r.outcome = "no answer (the connection itself failed)"
		if !socketCalls[hitEv.name] {
			bad("no answer after an injected %s failure; helper said: %s", hitEv.sig, stderr)
		}
	default:
		bad("answer is not one AIMX/1 frame: %q", resp)
	}

	// Repeating the request converges to the uninterrupted end state, and
	// sweeps any temporary file.
	again, _ := run(t, sb, sc.frame, nil)
	want := []string{"AIMX/1 OK\n"}
	if committed {
		switch sc.op {
		case "CREATE":
			want = append(want, "AIMX/1 ERR MAILBOX mailbox 'fresh' already exists\nCode: MAILBOX\n\n")
		default:
			want = append(want, "AIMX/1 ERR MAILBOX mailbox 'gone' does not exist\nCode: MAILBOX\n\n")
		}
	}
	if again != want[0] && (len(want) == 1 || again != want[1]) {
		bad("repeated request answered %q (after %q)", again, resp)
	}
	end := takeSnapshot(sb.root)
	if d := ref.after.diff(end, func(rel string) bool { return rel == "s.sock" }); len(d) > 0 {
		bad("repeated request did not converge: %v", d)
	}
	if len(end.temps) > 0 {
		bad("temporary file left after the next request: %v", end.temps)
	}
	return r
}

// step is the failing step an IO reason names: its words up to the path.
func step(reason string) string {
	if i := strings.Index(reason, " /"); i >= 0 {
		return reason[:i]
	}
	if i := strings.Index(reason, ":"); i >= 0 {
		return reason[:i]
	}
	return reason
}

func writeReport(t *testing.T, total time.Duration) {
	var b strings.Builder
	mode := "full"
	if *quick {
		mode = "quick"
	}
	fmt.Fprintf(&b, "Run: `make faults` (%s), %s, %d CPUs, %s, total %s.\n\n", mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"), numCPU(), kernel(), total.Round(time.Second))
	fmt.Fprintf(&b, "| Operation | FS/fd syscalls after exec | Kill points run | hit as targeted | Error injections run | hit as targeted | Helper runs under strace (retries incl.) | Violations |\n|---|---|---|---|---|---|---|---|\n")
	sort.Slice(allStats, func(i, j int) bool { return allStats[i].op < allStats[j].op })
	var kills, errs, viol int
	for _, s := range allStats {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d |\n", s.op, s.syscalls, s.killRuns, s.killHit, s.errRuns, s.errHit, s.attempts, len(s.violations))
		kills += s.killRuns
		errs += s.errRuns
		viol += len(s.violations)
	}
	fmt.Fprintf(&b, "| **total** | | **%d** | | **%d** | | | **%d** |\n\n", kills, errs, viol)
	b.WriteString("Outcomes of the faulted runs:\n\n")
	for _, s := range allStats {
		fmt.Fprintf(&b, "- %s (%s): %s\n", s.op, s.elapsed.Round(time.Second), strings.Join(counts(s.outcomes, "%s: %d"), "; "))
	}
	b.WriteString("\nThe steps that `ERR IO` answers named (count of answers):\n\n")
	for _, s := range allStats {
		fmt.Fprintf(&b, "- %s: %s\n", s.op, strings.Join(counts(s.steps, "`%s` %d"), ", "))
	}
	var missed []string
	for _, s := range allStats {
		missed = append(missed, s.missed...)
	}
	if len(missed) > 0 {
		sort.Strings(missed)
		fmt.Fprintf(&b, "\nInjections that landed on another call than targeted after every retry (another thread made that call first; each run was still checked): %d\n", len(missed))
		for i, m := range missed {
			if i == 20 {
				fmt.Fprintf(&b, "- … %d more\n", len(missed)-20)
				break
			}
			fmt.Fprintf(&b, "- %s\n", m)
		}
	}
	var vs []string
	for _, s := range allStats {
		vs = append(vs, s.violations...)
	}
	if len(vs) > 0 {
		b.WriteString("\nViolations:\n\n")
		for _, v := range vs {
			fmt.Fprintf(&b, "- %s\n", v)
		}
	}
	must(t, os.WriteFile(*report, []byte(b.String()), 0o644))
}

func numCPU() int {
	out, _ := exec.Command("nproc").Output()
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func kernel() string {
	out, _ := exec.Command("uname", "-sr").Output()
	return strings.TrimSpace(string(out))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// counts formats each key of m with its count, sorted by key.
func counts(m map[string]int, format string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf(format, k, m[k]))
	}
	return parts
}

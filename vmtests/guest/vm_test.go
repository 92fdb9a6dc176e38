//go:build vmtest

package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestVM walks the promises in order on one guest: install, the
// behavior matrix, the journal, the sandbox, floods, upgrade, removal.
// Each step needs the state the previous ones left, so a step that
// breaks the installation stops the run. Failure messages start with
// "promise N (...)", the numbering of README.md's "What it proves" (in
// "The VM lane: `make vmtest`").
func TestVM(t *testing.T) {
	v1, v2 := os.Getenv("AIMX_VMTEST_V1"), os.Getenv("AIMX_VMTEST_V2")
	if v1 == "" || v2 == "" {
		t.Fatal("AIMX_VMTEST_V1 and AIMX_VMTEST_V2 must name the two package versions")
	}
	if b := os.Getenv("AIMX_VMTEST_BREAK"); b != "" {
		t.Logf("deliberately broken build under test: %s (this run must fail)", b)
	}
	t.Logf("systemd %d", systemdVersion(t))

	steps := []struct {
		name string
		fn   func(*testing.T)
	}{
		{"install", func(t *testing.T) { testInstall(t, v1) }},
		{"matrix", testMatrix},
		{"nss-user", testNSSUser},
		{"journal", testJournal},
		{"mcp", testMCP},
		{"sandbox", testSandbox},
		{"sandbox-probe", testSandboxProbe},
		{"hostile", testHostile},
		{"deep-tree", testDeepTree},
		{"flood", testFlood},
		{"per-source", testPerSource},
		{"aimx", testAIMX},
		{"upgrade", func(t *testing.T) { testUpgrade(t, v2) }},
		{"remove", testRemove},
		{"packaging", func(t *testing.T) { testPackaging(t, v2) }},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) && s.name == "install" {
			t.Fatal("install failed; the other steps need the package")
		}
	}
}

// deb is the guest's path of our package of version: AIMX_VMTEST_V1 or
// _V2, whose file names make print-deb gave (AIMX_VMTEST_DEB1, _DEB2).
func deb(t *testing.T, version string) string {
	t.Helper()
	name := ""
	for _, i := range []string{"1", "2"} {
		if os.Getenv("AIMX_VMTEST_V"+i) == version {
			name = os.Getenv("AIMX_VMTEST_DEB" + i)
		}
	}
	if name == "" {
		t.Fatalf("no AIMX_VMTEST_DEBn names the package of version %s (make vmtest passes them)", version)
	}
	p := filepath.Join(debDir, name)
	if !fileExists(p) {
		t.Fatalf("no package %s in the guest", p)
	}
	return p
}

// Promise 1: dpkg -i leaves the socket enabled, listening with mode
// 0666, and no helper running.
func testInstall(t *testing.T, v1 string) {
	for _, u := range []string{"alice", "bob"} {
		mustRun(t, "useradd", "--user-group", "--no-create-home", "--shell", "/bin/sh", u)
	}
	mustRun(t, "mkdir", "-p", "/etc/aimx")
	if err := os.WriteFile(configPath, []byte("# written by the VM lane\ndomain = \"example.test\"\n"), 0o640); err != nil {
		t.Fatal(err)
	}

	r := run(t, "", "", "dpkg", "-i", deb(t, v1))
	t.Logf("dpkg -i: %s", r)
	if r.code != 0 {
		t.Fatalf("promise 1 (the .deb installs): dpkg -i failed: %s", r)
	}
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-enabled", "aimx-mailboxd.socket").stdout); got != "enabled" {
		t.Errorf("promise 1 (socket enabled after dpkg -i): is-enabled = %q", got)
	}
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-active", "aimx-mailboxd.socket").stdout); got != "active" {
		t.Errorf("promise 1 (socket listening after dpkg -i): is-active = %q", got)
	}
	fi, err := os.Stat(socketPath)
	switch {
	case err != nil:
		t.Errorf("promise 1 (socket at %s): %v", socketPath, err)
	case fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o666:
		t.Errorf("promise 1 (socket mode 0666): %s is %v", socketPath, fi.Mode())
	}
	if accept := strings.TrimSpace(mustRun(t, "systemctl", "show", "-p", "Accept", "--value", "aimx-mailboxd.socket")); accept != "yes" {
		t.Errorf("promise 1 (one helper per connection): aimx-mailboxd.socket has Accept=%s, want yes", accept)
	}
	if left := instances(t); len(left) > 0 {
		t.Errorf("promise 1 (no helper runs after install): %v", left)
	}
	// The first request through the fresh socket.
	if r := cliAs(t, "alice", "list", "--json"); r.code != 0 {
		t.Errorf("promise 1 (the installed socket answers): alice's list: %s", r)
	}
	noInstances(t, "the first list")
	measureCost(t)
}

// Promise 2 (with promise 3 after every request): the spec's matrix as
// alice, bob and root.
func testMatrix(t *testing.T) {
	alice, bob := lookup(t, "alice"), lookup(t, "bob")
	// Promise 3 after every single request, failing ones included.
	checkedRaw := func(t *testing.T, user, frame string) string {
		t.Helper()
		resp := raw(t, user, frame)
		noInstances(t, fmt.Sprintf("%s's frame %q", user, frame))
		return resp
	}
	checkedCLI := func(t *testing.T, user string, args ...string) result {
		t.Helper()
		r := cliAs(t, user, args...)
		noInstances(t, fmt.Sprintf("%s's aimx-mailboxes %s", user, strings.Join(args, " ")))
		return r
	}

	// Owner comes from SO_PEERCRED; --owner from a non-root caller is ignored.
	if r := checkedCLI(t, "alice", "create", "m-alice", "--owner", "bob"); r.code != 0 {
		t.Fatalf("promise 2 (a user creates a mailbox; --owner from a non-root caller is ignored): alice create m-alice --owner bob: %s", r)
	}
	if owner := stanzaOwner(t, "m-alice"); owner != "alice" {
		t.Errorf("promise 2 (owner from SO_PEERCRED, Owner: ignored for non-root): m-alice has owner %q, want alice", owner)
	}
	checkDirs(t, "m-alice", alice)

	if r := checkedCLI(t, "alice", "create", "m-alice"); r.code != 1 {
		t.Errorf("promise 2 (CREATE of an existing mailbox is an error): second create: %s", r)
	}

	// Root must name an owner, and gets that owner.
	if got := checkedRaw(t, "root", "AIMX/1 MAILBOX-CREATE\nName: m-bob\nOwner: bob\n\n"); got != "AIMX/1 OK\n" {
		t.Errorf("promise 2 (root creates for an owner): got %q", got)
	}
	checkDirs(t, "m-bob", bob)
	if got := checkedRaw(t, "root", "AIMX/1 MAILBOX-CREATE\nName: m-root\n\n"); !strings.HasPrefix(got, "AIMX/1 ERR VALIDATION ") {
		t.Errorf("promise 2 (root CREATE without Owner: is VALIDATION): got %q", got)
	}

	// No leak: bob deleting alice's mailbox reads exactly like a missing one.
	leak := "AIMX/1 ERR MAILBOX mailbox 'm-alice' does not exist\nCode: MAILBOX\n\n"
	for _, frame := range []string{
		"AIMX/1 MAILBOX-DELETE\nName: m-alice\n\n",
		"AIMX/1 MAILBOX-DELETE\nName: m-alice\nForce: true\nOwner: alice\n\n",
	} {
		if got := checkedRaw(t, "bob", frame); got != leak {
			t.Errorf("promise 2 (no leak on someone else's mailbox): bob sent %q\n got %q\nwant %q", frame, got, leak)
		}
	}
	if got, want := checkedRaw(t, "bob", "AIMX/1 MAILBOX-DELETE\nName: m-none\n\n"), "AIMX/1 ERR MAILBOX mailbox 'm-none' does not exist\nCode: MAILBOX\n\n"; got != want {
		t.Errorf("promise 2 (DELETE of a missing mailbox): got %q, want %q", got, want)
	}
	if stanzaOwner(t, "m-alice") != "alice" {
		t.Errorf("promise 2 (a user cannot delete another's mailbox): m-alice is gone after bob's delete")
	}

	// LIST filtering.
	r := checkedCLI(t, "bob", "list", "--json")
	if r.code != 0 {
		t.Fatalf("promise 2 (LIST as a user): %s", r)
	}
	if names := listNames(t, r.stdout); contains(names, "m-alice") || !contains(names, "m-bob") {
		t.Errorf("promise 2 (LIST shows a user only its own mailboxes): bob sees %v", names)
	}
	r = checkedCLI(t, "alice", "list", "--json")
	if names := listNames(t, r.stdout); !contains(names, "m-alice") || contains(names, "m-bob") {
		t.Errorf("promise 2 (LIST shows a user only its own mailboxes): alice sees %v (%s)", names, r)
	}
	if names := listNames(t, body(t, checkedRaw(t, "root", "AIMX/1 MAILBOX-LIST\n\n"))); !contains(names, "m-alice") || !contains(names, "m-bob") {
		t.Errorf("promise 2 (root's LIST shows every mailbox): root sees %v", names)
	}

	// Non-empty, then force.
	msg := filepath.Join(dataDir, "inbox", "m-alice", "one.md")
	if err := os.WriteFile(msg, []byte("+++\nsubject = \"hi\"\n+++\nhello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chown(msg, int(alice.uid), int(alice.gid))
	if got := checkedRaw(t, "alice", "AIMX/1 MAILBOX-DELETE\nName: m-alice\n\n"); !strings.HasPrefix(got, "AIMX/1 ERR NONEMPTY ") {
		t.Errorf("promise 2 (DELETE of a non-empty mailbox without force is NONEMPTY): got %q", got)
	}
	if r := checkedCLI(t, "alice", "delete", "m-alice", "--yes"); r.code != 1 {
		t.Errorf("promise 2 (CLI delete of a non-empty mailbox fails): %s", r)
	}
	if r := checkedCLI(t, "alice", "delete", "m-alice", "--force", "--yes"); r.code != 0 {
		t.Errorf("promise 2 (the owner force-deletes): %s", r)
	}
	if stanzaOwner(t, "m-alice") != "" || fileExists(filepath.Join(dataDir, "inbox", "m-alice")) || fileExists(filepath.Join(dataDir, "sent", "m-alice")) {
		t.Errorf("promise 2 (force delete removes the stanza and both folders): still there")
	}

	// Malformed and unknown requests are answered and leave nothing behind.
	for frame, prefix := range map[string]string{
		"AIMX/1 MAILBOX-LIST\nName: x\n\n":            "AIMX/1 ERR MALFORMED malformed request: ",
		"HELLO\n\n":                                   "AIMX/1 ERR MALFORMED malformed request: ",
		"AIMX/1 MAILBOX-CREATE\nName: a\nName: b\n\n": "AIMX/1 ERR MALFORMED malformed request: ",
		"AIMX/1 FROB\n\n":                             "AIMX/1 ERR PROTOCOL ",
	} {
		if got := checkedRaw(t, "bob", frame); !strings.HasPrefix(got, prefix) {
			t.Errorf("promise 2 (bad frames get an error response): %q got %q, want prefix %q", frame, got, prefix)
		}
	}
	// A client that hangs up mid-frame.
	checkedRaw(t, "bob", "AIMX/1 MAILBOX-CREATE\nName: half")
}

// stanzaOwner returns the owner in [mailboxes.NAME] of the config, ""
// when there is no such stanza.
func stanzaOwner(t *testing.T, name string) string {
	t.Helper()
	text, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	in := false
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = line == "[mailboxes."+name+"]"
			continue
		}
		if in && strings.HasPrefix(line, "owner") {
			_, v, _ := strings.Cut(line, "=")
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// checkDirs asserts inbox/NAME and sent/NAME are owner:group 0700.
func checkDirs(t *testing.T, name string, owner account) {
	t.Helper()
	for _, sub := range []string{"inbox", "sent"} {
		p := filepath.Join(dataDir, sub, name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("promise 2 (CREATE makes %s): %v", p, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !fi.IsDir() || fi.Mode().Perm() != 0o700 || st.Uid != owner.uid || st.Gid != owner.gid {
			t.Errorf("promise 2 (%s is owner:group 0700): %v uid %d gid %d, want uid %d gid %d",
				p, fi.Mode(), st.Uid, st.Gid, owner.uid, owner.gid)
		}
	}
}

// Promise 4: one structured journal record per decision.
func testJournal(t *testing.T) {
	alice, bob := lookup(t, "alice"), lookup(t, "bob")
	if r := cliAs(t, "alice", "create", "j-alice"); r.code != 0 {
		t.Fatalf("alice create j-alice: %s", r)
	}
	raw(t, "bob", "AIMX/1 MAILBOX-DELETE\nName: j-alice\n\n")
	raw(t, "root", "AIMX/1 MAILBOX-CREATE\nName: j-bob\nOwner: bob\n\n")

	want := []struct {
		mailbox, verb, uid, user, decision string
	}{
		{"j-alice", "MAILBOX-CREATE", fmt.Sprint(alice.uid), "alice", "accept"},
		{"j-alice", "MAILBOX-DELETE", fmt.Sprint(bob.uid), "bob", "reject"},
		{"j-bob", "MAILBOX-CREATE", "0", "root", "root_bypass"},
	}
	// Until journald has all three (or no more come); the count below
	// then says what is missing.
	var records []map[string]any
	tryWaitFor(t, 2, func() (bool, string) {
		records = journalRecords(t)
		n := 0
		for _, rec := range records {
			if m := field(rec, "AIMX_MAILBOX"); m == "j-alice" || m == "j-bob" {
				n++
			}
		}
		return n >= len(want), fmt.Sprint(n)
	})
	for _, w := range want {
		var found []map[string]any
		for _, rec := range records {
			if field(rec, "AIMX_MAILBOX") == w.mailbox && field(rec, "AIMX_VERB") == w.verb && field(rec, "AIMX_CALLER_UID") == w.uid {
				found = append(found, rec)
			}
		}
		if len(found) != 1 {
			t.Errorf("promise 4 (one journal record per decision): %d records for %s %s by uid %s, want 1", len(found), w.verb, w.mailbox, w.uid)
			continue
		}
		rec := found[0]
		if d := field(rec, "AIMX_DECISION"); d != w.decision {
			t.Errorf("promise 4 (the record holds the decision): %s %s by %s: AIMX_DECISION=%q, want %q", w.verb, w.mailbox, w.user, d, w.decision)
		}
		if u := field(rec, "AIMX_CALLER_USER"); u != w.user {
			t.Errorf("promise 4 (the record names the caller): AIMX_CALLER_USER=%q, want %q", u, w.user)
		}
		if field(rec, "AIMX_CALLER_PID") == "" || field(rec, "MESSAGE") == "" {
			t.Errorf("promise 4 (the record holds caller pid and a message): %v", rec)
		}
		if w.decision == "reject" && field(rec, "AIMX_REASON") == "" {
			t.Errorf("promise 4 (a reject names its internal reason): no AIMX_REASON in %v", rec)
		}
	}
	noInstances(t, "the journal requests")

	// Root's edit in-process, while the socket is stopped, is in the same
	// query as every helper's record (journalctl -t aimx-mailboxd,
	// docs/ADMIN.md), under no unit of ours.
	mustRun(t, "systemctl", "stop", "aimx-mailboxd.socket")
	r := cliAs(t, "root", "create", "j-direct", "--owner", "bob")
	mustRun(t, "systemctl", "start", "aimx-mailboxd.socket")
	if r.code != 0 || !strings.Contains(r.stderr, "running the request in-process as root") {
		t.Fatalf("root's create with the socket stopped: %s", r)
	}
	var direct []map[string]any
	tryWaitFor(t, 2, func() (bool, string) {
		direct = nil
		out := mustRun(t, "journalctl", "-t", "aimx-mailboxd", "-o", "json", "--no-pager", "AIMX_MAILBOX=j-direct")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil {
				direct = append(direct, m)
			}
		}
		return len(direct) > 0, fmt.Sprint(len(direct))
	})
	if len(direct) != 1 || field(direct[0], "AIMX_CALLER_UID") != "0" || field(direct[0], "AIMX_DECISION") != "root_bypass" ||
		strings.HasPrefix(field(direct[0], "_SYSTEMD_UNIT"), "aimx-mailboxd@") {
		t.Errorf("promise 4 (journalctl -t aimx-mailboxd shows root's in-process edit, once): %v", direct)
	}
	if got := raw(t, "root", "AIMX/1 MAILBOX-DELETE\nName: j-direct\n\n"); got != "AIMX/1 OK\n" {
		t.Errorf("delete j-direct: %q", got)
	}
}

func journalRecords(t *testing.T) []map[string]any {
	t.Helper()
	out := mustRun(t, "journalctl", "-o", "json", "--no-pager", "SYSLOG_IDENTIFIER=aimx-mailboxd")
	var recs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			recs = append(recs, m)
		}
	}
	return recs
}

func field(rec map[string]any, k string) string {
	s, _ := rec[k].(string)
	return s
}

// Promise 5: the instance unit's sandbox, as systemd itself rates it.
// The matrix above already ran every request under this very unit.
func testSandbox(t *testing.T) {
	level, report := exposure(t, "aimx-mailboxd@vmtest.service")
	t.Logf("overall exposure of aimx-mailboxd@vmtest.service: %.1f", level)
	if level > 1.2 {
		t.Errorf("promise 5 (sandbox exposure at most 1.2): systemd-analyze security says %.1f:\n%s", level, report)
	}
}

// Promise 6: a flood of connections that never send a byte does not put
// the socket into failed, and another user is answered during and after.
func testFlood(t *testing.T) {
	const n, workers = 300, 16
	t.Logf("socket before the flood: %s", counters(t))
	flood := asChild(t, "alice", "flood", fmt.Sprint(n), fmt.Sprint(workers))
	start := time.Now()
	out := make(chan string, 1)
	go func() {
		b, err := flood.CombinedOutput()
		out <- fmt.Sprintf("%s%v", b, err)
	}()
	// During: bob asks once alice's connections hold at least one helper
	// per flood worker, so his request meets the flood whatever the
	// host's speed. (Her client may well be done by then: its dials
	// complete into the socket's backlog, which PID 1 works through one
	// helper at a time.)
	waitFor(t, "alice's flood to hold a helper per worker", 4, func() (bool, string) {
		c := connections(t)
		return c >= workers, fmt.Sprint(c)
	})
	t.Logf("socket %v into the flood, as bob asks: %s", time.Since(start).Round(time.Millisecond), counters(t))
	during := raw(t, "bob", "AIMX/1 MAILBOX-LIST\n\n")
	t.Logf("bob answered %v into the flood", time.Since(start).Round(time.Millisecond))
	flooded := <-out
	t.Logf("alice's %d connections dialed in %v; failed dials: %s", n, time.Since(start).Round(time.Millisecond), strings.TrimSpace(flooded))
	switch {
	case strings.HasPrefix(during, "AIMX/1 OK\n"):
	case systemdVersion(t) < 256:
		// systemd < 256 cannot cap connections per uid on AF_UNIX, so
		// alice's flood fills MaxConnections= and systemd refuses bob's
		// connection (closed unanswered). Nothing in our units can fix
		// that on 252; it is reported, not failed. The socket must still
		// survive and bob must be served right after (checked below).
		t.Logf("KNOWN LIMITATION (systemd < 256): bob's request during the flood was refused (got %q)", during)
	default:
		t.Errorf("promise 6 (another user is served during a flood): bob got %q", during)
	}
	// Alice's own instances all see EOF and end. Until they have, the
	// flood still holds up to MaxConnections= of them (alice's last
	// dials are only queued when her client returns, and under TCG PID 1
	// starts and reaps each in 0.3 to 0.5 s, one at a time: 128 of them
	// were still running 30 s after her client closed on a 2-core host),
	// so "right after" is once none is left and the socket counts no
	// connection, however long that takes while they keep ending.
	noInstances(t, "the flood")
	t.Logf("alice's helpers all gone %v after the flood began: %s", time.Since(start).Round(time.Millisecond), counters(t))
	after := raw(t, "bob", "AIMX/1 MAILBOX-LIST\n\n")
	if !strings.HasPrefix(after, "AIMX/1 OK\n") {
		t.Errorf("promise 6 (another user is served right after a flood): bob got %q", after)
	}
	if state := strings.TrimSpace(run(t, "", "", "systemctl", "is-active", "aimx-mailboxd.socket").stdout); state != "active" {
		t.Errorf("promise 6 (a flood does not fail the socket): aimx-mailboxd.socket is %q", state)
	}
	t.Logf("socket after the flood: %s", counters(t))
	t.Logf("flood over after %v", time.Since(start).Round(time.Millisecond))
}

// Promise 6, systemd >= 256: MaxConnectionsPerSource counts AF_UNIX
// peers by uid, so one user holding its share of connections cannot
// starve another. Alice's helpers are kept alive without any timing by
// holding the config lock file while they wait for it (with the policy's
// lock wait raised for the step, so none gives up first).
func testPerSource(t *testing.T) {
	if v := systemdVersion(t); v < 256 {
		t.Skipf("systemd %d counts MaxConnectionsPerSource by address, not uid, on AF_UNIX sockets (uid since 256)", v)
	}
	var limit, max int
	fmt.Sscan(mustRun(t, "systemctl", "show", "-p", "MaxConnectionsPerSource", "--value", "aimx-mailboxd.socket"), &limit)
	fmt.Sscan(mustRun(t, "systemctl", "show", "-p", "MaxConnections", "--value", "aimx-mailboxd.socket"), &max)
	if limit <= 0 || limit >= max {
		t.Fatalf("promise 6 (a per-uid cap below the global one): MaxConnectionsPerSource=%d, MaxConnections=%d", limit, max)
	}
	setPolicy(t, map[string]string{"lock_timeout_seconds": "110", "max_mailboxes_per_user": "0"})
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	unlock := func() { syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }
	defer unlock()

	hold := asChild(t, "alice", "hold", fmt.Sprint(limit), hangGuard().String())
	stdin, _ := hold.StdinPipe()
	stdout, _ := hold.StdoutPipe()
	hold.Stderr = os.Stderr
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(stdout)
	var once sync.Once
	release := func() {
		once.Do(func() {
			unlock()
			stdin.Close()
			line, _ := out.ReadString('\n')
			hold.Wait()
			t.Logf("alice's held requests after the lock was released: %s", strings.TrimSpace(line))
		})
	}
	defer release()
	if line, _ := out.ReadString('\n'); line != "held\n" {
		t.Fatalf("alice could not open %d connections: %q", limit, line)
	}
	// Until systemd has accepted all of them: each is a helper blocked on
	// the lock, started one after the other by PID 1.
	tryWaitFor(t, 4, func() (bool, string) {
		c := connections(t)
		return c >= limit, fmt.Sprint(c)
	})
	t.Logf("socket with alice's %d connections: %s", limit, counters(t))
	if n := connections(t); n < limit {
		t.Fatalf("only %d of alice's %d connections became helpers", n, limit)
	}
	// One more from alice is refused without an answer...
	if got, _ := tryRaw(t, "alice", "AIMX/1 MAILBOX-LIST\n\n"); got != "" {
		t.Errorf("promise 6 (MaxConnectionsPerSource caps one uid): alice's connection %d was served: %q", limit+1, got)
	}
	// ...while bob is served (LIST takes no lock).
	if got := raw(t, "bob", "AIMX/1 MAILBOX-LIST\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("promise 6 (another uid is served while one uid is at its cap): bob got %q", got)
	}
	release()
	noInstances(t, "alice's held requests")
	if state := strings.TrimSpace(run(t, "", "", "systemctl", "is-active", "aimx-mailboxd.socket").stdout); state != "active" {
		t.Errorf("promise 6 (the cap does not fail the socket): aimx-mailboxd.socket is %q", state)
	}
}

// connections is the socket's count of live connections (helpers).
func connections(t *testing.T) int {
	t.Helper()
	var n int
	fmt.Sscan(run(t, "", "", "systemctl", "show", "-p", "NConnections", "--value", "aimx-mailboxd.socket").stdout, &n)
	return n
}

// Promise 7: dpkg -r stops and disables the socket; dpkg -P removes the
// units and what the helper made, and keeps the operator's config and the
// mailboxes.
func testRemove(t *testing.T) {
	// A mailbox of its own, so this step does not depend on the others.
	if got := raw(t, "root", "AIMX/1 MAILBOX-CREATE\nName: r-keep\nOwner: bob\n\n"); got != "AIMX/1 OK\n" {
		t.Fatalf("root create r-keep before removal: %q", got)
	}
	config, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	helperFilesExist(t)
	if r := run(t, "", "", "dpkg", "-r", "aimx-mailboxd"); r.code != 0 {
		t.Fatalf("promise 7 (dpkg -r works): %s", r)
	}
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-active", "aimx-mailboxd.socket").stdout); got == "active" {
		t.Errorf("promise 7 (dpkg -r stops the socket): still active")
	}
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-enabled", "aimx-mailboxd.socket").stdout); got == "enabled" {
		t.Errorf("promise 7 (dpkg -r disables the socket): still enabled")
	}
	if resp, _ := tryRaw(t, "bob", "AIMX/1 MAILBOX-LIST\n\n"); resp != "" {
		t.Errorf("promise 7 (nothing answers after dpkg -r): got %q", resp)
	}
	if r := run(t, "", "", "dpkg", "-P", "aimx-mailboxd"); r.code != 0 {
		t.Fatalf("promise 7 (dpkg -P works): %s", r)
	}
	mustRun(t, "systemctl", "daemon-reload")
	noLeftovers(t)
	for _, dir := range []string{"/lib/systemd/system", "/usr/lib/systemd/system", "/etc/systemd/system", "/etc/systemd/system/sockets.target.wants"} {
		for _, unit := range []string{"aimx-mailboxd.socket", "aimx-mailboxd@.service", "aimx-mailboxd-reload.path", "aimx-mailboxd-reload@.service", "aimx-mailboxd-reload.timer", "aimx.service.d/aimx-mailboxd.conf"} {
			if p := filepath.Join(dir, unit); fileExists(p) {
				t.Errorf("promise 7 (dpkg -P removes the units): %s remains", p)
			}
		}
	}
	if got, err := os.ReadFile(configPath); err != nil || string(got) != string(config) {
		t.Errorf("promise 7 (dpkg -P keeps %s as it was): err %v, now %q, was %q", configPath, err, got, config)
	}
	for _, p := range []string{filepath.Join(dataDir, "inbox", "r-keep"), filepath.Join(dataDir, "sent", "r-keep")} {
		if !fileExists(p) {
			t.Errorf("promise 7 (dpkg -P keeps the mailboxes): %s is gone", p)
		}
	}
}

// counters are the socket's connection counters, for the log.
func counters(t *testing.T) string {
	t.Helper()
	out := run(t, "", "", "systemctl", "show", "-p", "NAccepted", "-p", "NConnections", "-p", "NRefused", "aimx-mailboxd.socket").stdout
	return strings.Join(strings.Fields(out), " ")
}

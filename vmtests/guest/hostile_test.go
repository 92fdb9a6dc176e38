//go:build vmtest

package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	// policyPath is the package's conffile (policy/mailboxd.toml).
	policyPath = "/etc/aimx/mailboxd.toml"
	// lockPath is the config lock every writer takes (behavior.md, Locking).
	lockPath = "/etc/aimx/.config.toml.lock"
)

// Promise 15: what issue 8 found a hostile local user could do, held
// under real systemd: the config lock is root's alone and its wait is
// bounded (item 1), one user's mailboxes are capped (item 4), and nobody
// can list the mailbox names on disk (item 7).
func testHostile(t *testing.T) {
	// A short lock wait keeps the step fast (and a small limit, below).
	setPolicy(t, map[string]string{"lock_timeout_seconds": "2"})

	// Item 7: the folders as the package made them.
	checkOwnerMode(t, "promise 15 (tmpfiles: the data dir is root:root 0755)", dataDir, 0, 0, 0o755)
	for _, sub := range []string{"inbox", "sent"} {
		checkOwnerMode(t, "promise 15 (tmpfiles: "+sub+"/ is root:root 0711)", filepath.Join(dataDir, sub), 0, 0, 0o711)
	}

	if got := raw(t, "alice", "AIMX/1 MAILBOX-CREATE\nName: h-alice\n\n"); got != "AIMX/1 OK\n" {
		t.Fatalf("alice create h-alice: %q", got)
	}
	// Item 7: alice cannot list the names, and still reaches her own folder.
	if r := run(t, "alice", "", "ls", "-ln", filepath.Join(dataDir, "inbox")); r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("promise 15 (nobody but root lists the mailbox names): alice's ls -ln %s/inbox: %s", dataDir, r)
	}
	own := filepath.Join(dataDir, "inbox", "h-alice")
	if r := run(t, "alice", "", "sh", "-c", "ls -ln "+own+" && echo hi >"+own+"/one.md && rm "+own+"/one.md"); r.code != 0 {
		t.Errorf("promise 15 (an owner still reaches her own folder through the 0711 inbox/): %s", r)
	}

	// Item 1: the lock file is root's alone.
	checkOwnerMode(t, "promise 15 (the lock file is root:root 0600)", lockPath, 0, 0, 0o600)
	if r := run(t, "alice", "", "flock", "--nonblock", lockPath, "true"); r.code == 0 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("promise 15 (a user cannot open the lock file): alice's flock %s: %s", lockPath, r)
	}
	// Alice's flock on /etc/aimx (the lock before issue 8) stalls nobody.
	holdAs(t, "alice", "/etc/aimx", func() {
		if got := raw(t, "bob", "AIMX/1 MAILBOX-CREATE\nName: h-bob\n\n"); got != "AIMX/1 OK\n" {
			t.Errorf("promise 15 (a user's flock on /etc/aimx does not stall another's CREATE): bob got %q", got)
		}
	})

	// Item 1: while root holds the real lock, a CREATE waits
	// lock_timeout_seconds, gets IO "busy", and changes nothing.
	before, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	var waited time.Duration
	withLock(t, func() {
		start := time.Now()
		got = raw(t, "bob", "AIMX/1 MAILBOX-CREATE\nName: h-busy\n\n")
		waited = time.Since(start)
	})
	t.Logf("bob's CREATE while root held the lock: %q after %v", got, waited.Round(time.Millisecond))
	if !strings.HasPrefix(got, "AIMX/1 ERR IO ") || !strings.Contains(got, "busy") {
		t.Errorf("promise 15 (a CREATE past the lock wait gets IO busy): got %q", got)
	}
	// The bound is the policy's 2 s, plus what a request costs in this
	// guest (cost), with the lane's margin for a host that got busier.
	if bound := 2*time.Second + stallBound(1); waited < 2*time.Second || waited > bound {
		t.Errorf("promise 15 (the lock wait is bounded by lock_timeout_seconds = 2): answered after %v (allowed 2 s to %v)", waited, bound.Round(time.Millisecond))
	}
	if after, _ := os.ReadFile(configPath); string(after) != string(before) {
		t.Errorf("promise 15 (a busy CREATE changes nothing): the config changed:\n%s", after)
	}
	if fileExists(filepath.Join(dataDir, "inbox", "h-busy")) {
		t.Errorf("promise 15 (a busy CREATE changes nothing): inbox/h-busy exists")
	}
	if got := raw(t, "bob", "AIMX/1 MAILBOX-CREATE\nName: h-busy\n\n"); got != "AIMX/1 OK\n" {
		t.Errorf("promise 15 (the same CREATE works once the lock is free): got %q", got)
	}

	// Item 7: the helper makes inbox/ and sent/ root:root 0711 when it
	// creates them (here in a fresh data dir).
	testFreshDataDir(t)

	// Item 4: alice's mailboxes are capped at the policy's 3; root is not.
	setPolicy(t, map[string]string{"max_mailboxes_per_user": "3"})
	var entries []struct {
		Registered bool `json:"registered"`
	}
	if err := json.Unmarshal([]byte(body(t, raw(t, "alice", "AIMX/1 MAILBOX-LIST\n\n"))), &entries); err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, e := range entries {
		if e.Registered {
			owned++
		}
	}
	var made []string
	for i := owned; i < 3; i++ {
		name := fmt.Sprintf("h-lim-%d", i)
		if got := raw(t, "alice", "AIMX/1 MAILBOX-CREATE\nName: "+name+"\n\n"); got != "AIMX/1 OK\n" {
			t.Fatalf("promise 15 (a user may own up to max_mailboxes_per_user): alice's mailbox %d: %q", i+1, got)
		}
		made = append(made, name)
	}
	got = raw(t, "alice", "AIMX/1 MAILBOX-CREATE\nName: h-lim-over\n\n")
	if !strings.HasPrefix(got, "AIMX/1 ERR VALIDATION ") || !strings.Contains(got, "3") || !strings.Contains(got, "max_mailboxes_per_user") {
		t.Errorf("promise 15 (one more than max_mailboxes_per_user is VALIDATION naming the limit): alice's 4th CREATE got %q", got)
	}
	if stanzaOwner(t, "h-lim-over") != "" {
		t.Errorf("promise 15 (a CREATE over the limit changes nothing): h-lim-over is in the config")
	}
	if got := raw(t, "root", "AIMX/1 MAILBOX-CREATE\nName: h-lim-root\nOwner: alice\n\n"); got != "AIMX/1 OK\n" {
		t.Errorf("promise 15 (root is exempt from max_mailboxes_per_user): root's CREATE for alice got %q", got)
	}
	made = append(made, "h-lim-root", "h-alice", "h-busy", "h-bob")
	for _, name := range made {
		raw(t, "root", "AIMX/1 MAILBOX-DELETE\nName: "+name+"\nForce: true\n\n")
	}
	noInstances(t, "the hostile-user step")
}

// testFreshDataDir points the config at an empty data dir, has alice
// create a mailbox there, and checks the inbox/ and sent/ the helper made.
func testFreshDataDir(t *testing.T) {
	fresh := filepath.Join(dataDir, "h-fresh")
	if err := os.Mkdir(fresh, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(fresh)
	line := fmt.Sprintf("data_dir = %q\n", fresh)
	editConfig(t, func(text string) string {
		i := strings.Index(text, "domain = ")
		j := i + strings.Index(text[i:], "\n") + 1
		return text[:j] + line + text[j:]
	})
	defer editConfig(t, func(text string) string { return strings.Replace(text, line, "", 1) })
	if got := raw(t, "alice", "AIMX/1 MAILBOX-CREATE\nName: h-fresh\n\n"); got != "AIMX/1 OK\n" {
		t.Fatalf("promise 15 (CREATE in a fresh data dir): got %q", got)
	}
	alice := lookup(t, "alice")
	for _, sub := range []string{"inbox", "sent"} {
		checkOwnerMode(t, "promise 15 (the helper makes "+sub+"/ root:root 0711)", filepath.Join(fresh, sub), 0, 0, 0o711)
		checkOwnerMode(t, "promise 15 (the helper makes "+sub+"/h-fresh owner:group 0700)", filepath.Join(fresh, sub, "h-fresh"), alice.uid, alice.gid, 0o700)
	}
	if got := raw(t, "alice", "AIMX/1 MAILBOX-DELETE\nName: h-fresh\n\n"); got != "AIMX/1 OK\n" {
		t.Errorf("alice delete h-fresh: %q", got)
	}
}

func checkOwnerMode(t *testing.T, promise, p string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Errorf("%s: %v", promise, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() != mode || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: %s is %v uid %d gid %d, want %v uid %d gid %d", promise, p, fi.Mode(), st.Uid, st.Gid, mode, uid, gid)
	}
}

// setPolicy sets keys of the policy file for the rest of the test and
// puts the package's file back afterwards.
func setPolicy(t *testing.T, keys map[string]string) {
	t.Helper()
	orig, err := os.ReadFile(policyPath)
	if err != nil {
		t.Fatalf("promise 15 (the package ships %s): %v", policyPath, err)
	}
	text := string(orig)
	for k, v := range keys {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + ` = .*$`)
		if !re.MatchString(text) {
			t.Fatalf("promise 15 (%s sets every key): no %s in:\n%s", policyPath, k, orig)
		}
		text = re.ReplaceAllString(text, k+" = "+v)
	}
	if err := os.WriteFile(policyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.WriteFile(policyPath, orig, 0o644); err != nil {
			t.Errorf("restore %s: %v", policyPath, err)
		}
	})
}

// withLock runs fn while this process (root) holds the config lock, the
// way every writer of the config takes it.
func withLock(t *testing.T, fn func()) {
	t.Helper()
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	fn()
}

// editConfig rewrites the config under the lock, keeping its mode and
// owner (a temporary file renamed over it, as the helper writes it).
func editConfig(t *testing.T, edit func(string) string) {
	t.Helper()
	withLock(t, func() {
		text, err := os.ReadFile(configPath)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(configPath)
		tmp := configPath + ".vmtest"
		if err := os.WriteFile(tmp, []byte(edit(string(text))), fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, configPath); err != nil {
			t.Fatal(err)
		}
	})
}

// holdAs runs fn while user holds an exclusive flock on path (through
// util-linux flock(1), started as that user).
func holdAs(t *testing.T, user, path string, fn func()) {
	t.Helper()
	cmd := asUser(t, user, "flock", "--exclusive", path, "sh", "-c", "echo locked; read _")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("%s could not flock %s: %q", user, path, line)
	}
	fn()
}

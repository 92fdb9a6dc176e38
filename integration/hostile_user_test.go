//go:build integration

package integration

// Issue #8: what a hostile local user could do to the first version, each
// stated as the promise that holds now (docs/BEHAVIOR.md: Locking, the policy
// file, Names, Who may do what, DELETE, Logs, Files; docs/PROTOCOL.md: LIST).

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"

	"golang.org/x/sys/unix"
)

// writePolicy puts a policy file beside the env's config.
func (e *env) writePolicy(text string) string {
	e.t.Helper()
	p := filepath.Join(filepath.Dir(e.Config), "mailboxd.toml")
	must(e.t, os.WriteFile(p, []byte(text), 0o644))
	return p
}

func (e *env) lockPath() string { return filepath.Join(filepath.Dir(e.Config), ".config.toml.lock") }

// background starts prog as u and returns once it printed its first line
// (the sign that it holds what it was told to take); stop kills it.
func background(t *testing.T, u *user, prog string, args ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = u.Credential()
	cmd.SysProcAttr.Setpgid = true
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	stop = func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	t.Cleanup(stop)
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		stop()
		t.Fatalf("%s %v as %s did not start: %v", prog, args, u.Name, err)
	}
	return stop
}

// 1. The lock is a root-only file: a user's flock on /etc/aimx (the old
// lock) stalls nobody, she cannot open the new one, and a lock held too
// long ends in a clear IO "busy" with nothing changed, for the helper and
// for root's direct mode alike.
func TestHostileLockFile(t *testing.T) {
	e := newEnv(t, baseConfig)
	e.writePolicy("lock_timeout_seconds = 1\n")
	etc := filepath.Dir(e.Config)

	stop := background(t, &alice, "flock", "--exclusive", etc, "sh", "-c", "echo holding; exec sleep 60")
	done := make(chan string, 1)
	go func() { done <- e.raw(&bob, aimxtest.Create("bob-1", "")) }()
	select {
	case got := <-done:
		if got != aimxtest.OK {
			t.Errorf("bob's CREATE while alice holds a flock on %s: %q", etc, got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bob's CREATE stalled behind alice's flock on the config folder")
	}
	stop()

	fi, err := os.Lstat(e.lockPath())
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || st.Uid != 0 || st.Gid != 0 {
		t.Errorf("lock file %s is %v %d:%d, want a regular file root:root 0600", e.lockPath(), fi.Mode(), st.Uid, st.Gid)
	}
	if r := runAs(t, &alice, "", "flock", "--exclusive", "--nonblock", e.lockPath(), "true"); r.Code == 0 || !strings.Contains(r.Stderr, "Permission denied") {
		t.Errorf("alice could open the lock file: exit %d, %s", r.Code, r.Stderr)
	}

	// Root (this test) holds the lock: the wait is bounded.
	fd, err := unix.Open(e.lockPath(), unix.O_RDWR|unix.O_NOFOLLOW, 0)
	must(t, err)
	must(t, unix.Flock(fd, unix.LOCK_EX))
	before := e.readConfig()
	busy := aimxtest.Err("IO", fmt.Sprintf("config %s is busy: its lock %s was held by another request for more than 1s; nothing was changed, try again", e.Config, e.lockPath()))
	start := time.Now()
	if got := e.raw(&bob, aimxtest.Create("bob-2", "")); got != busy {
		t.Errorf("CREATE under a held lock:\n got %q\nwant %q", got, busy)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("answered busy after %v, before the 1 s timeout", took)
	}
	if got := e.raw(nil, aimxtest.Delete("bob-1", false)); got != busy {
		t.Errorf("root's DELETE under a held lock:\n got %q\nwant %q", got, busy)
	}
	if e.readConfig() != before {
		t.Errorf("config changed while busy:\n%s", e.readConfig())
	}
	assertGone(t, e.Path("inbox", "bob-2"))
	// Root's direct mode (no socket) takes the same lock with the same bound.
	r := runCLI(t, nil, "", "--socket", filepath.Join(e.Dir, "none.sock"), "--config", e.Config, "--data-dir", e.Data, "create", "direct", "--owner", alice.Name)
	if r.Code != 1 || !strings.Contains(r.Stderr, "aimx-mailboxes: config "+e.Config+" is busy") {
		t.Errorf("direct mode under a held lock: exit %d\n%s", r.Code, r.Stderr)
	}
	unix.Close(fd)
	if got := e.raw(&bob, aimxtest.Create("bob-2", "")); got != aimxtest.OK {
		t.Errorf("CREATE after the lock was released: %q", got)
	}
}

// 2. A forced DELETE of a mailbox full of files holds the lock only to set
// its folders aside: the files are removed after the answer, outside the
// lock, and another user's CREATE is answered meanwhile.
func TestHostileWipeOutsideLock(t *testing.T) {
	e := newEnv(t, baseConfig)
	for n := 20000; ; n *= 4 {
		name := fmt.Sprintf("big-%d", n)
		if got := e.raw(&alice, aimxtest.Create(name, "")); got != aimxtest.OK {
			t.Fatalf("create: %q", got)
		}
		fill(t, e.Path("inbox", name), n, alice)
		if got := e.raw(&alice, aimxtest.Delete(name, true)); got != aimxtest.OK {
			t.Fatalf("forced delete: %q", got)
		}
		trash := e.Path("inbox", ".trash")
		if left, _ := os.ReadDir(trash); len(left) == 0 {
			if n >= 320000 {
				t.Fatalf("%d files were removed before the DELETE answered: the wipe is not after the answer", n)
			}
			continue // removed too fast to watch: try a bigger mailbox
		}
		// The wipe is under way: the lock is free, and bob is answered.
		fd, err := unix.Open(e.lockPath(), unix.O_RDWR|unix.O_NOFOLLOW, 0)
		must(t, err)
		if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
			t.Errorf("the lock is held while the set-aside folder is emptied: %v", err)
		}
		unix.Close(fd)
		if got := e.raw(&bob, aimxtest.Create(fmt.Sprintf("bob-%d", n), "")); got != aimxtest.OK {
			t.Errorf("bob's CREATE during the wipe: %q", got)
		}
		if left, _ := os.ReadDir(trash); len(left) == 0 {
			t.Logf("the wipe of %d files ended before bob's CREATE was answered", n)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; {
			if left, _ := os.ReadDir(trash); len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s was not emptied", trash)
			}
			time.Sleep(50 * time.Millisecond)
		}
		assertGone(t, e.Path("inbox", name))
		if strings.Contains(e.readConfig(), name) {
			t.Errorf("stanza %s left", name)
		}
		return
	}
}

// fill makes n files owned by u in folder dir, in subfolders of 1000.
func fill(t *testing.T, dir string, n int, u user) {
	t.Helper()
	for i := 0; i < n; i++ {
		sub := filepath.Join(dir, fmt.Sprintf("d%d", i/1000))
		if i%1000 == 0 {
			must(t, os.Mkdir(sub, 0o700))
			must(t, os.Lchown(sub, int(u.UID), int(u.GID)))
		}
		p := filepath.Join(sub, fmt.Sprintf("%d.md", i))
		must(t, os.WriteFile(p, nil, 0o600))
		must(t, os.Lchown(p, int(u.UID), int(u.GID)))
	}
}

// 3. Role addresses are the operator's: a user gets VALIDATION, root can
// still create them for anyone, and the operator's list replaces ours.
func TestHostileReservedNames(t *testing.T) {
	e := newEnv(t, baseConfig)
	pol := filepath.Join(filepath.Dir(e.Config), "mailboxd.toml")
	reserved := func(name string) string {
		return aimxtest.Err("VALIDATION", fmt.Sprintf("mailbox name '%s' is reserved for the operator: only root can create it (reserved_names in %s)", name, pol))
	}
	for _, name := range []string{"postmaster", "abuse", "hostmaster", "admin", "webmaster", "security", "root", "mailer-daemon"} {
		if got := e.raw(&alice, aimxtest.Create(name, "")); got != reserved(name) {
			t.Errorf("alice creates %s:\n got %q\nwant %q", name, got, reserved(name))
		}
	}
	if strings.Contains(e.readConfig(), "[mailboxes.") {
		t.Errorf("a reserved name reached the config:\n%s", e.readConfig())
	}
	if got := e.raw(nil, aimxtest.Create("postmaster", alice.Name)); got != aimxtest.OK {
		t.Errorf("root creates postmaster for alice: %q", got)
	}
	assertDir(t, e.Path("inbox", "postmaster"), alice.UID, alice.GID, 0o700)
	e.writePolicy("reserved_names = [\"boss\"]\n")
	if got := e.raw(&alice, aimxtest.Create("boss", "")); got != reserved("boss") {
		t.Errorf("alice creates boss under the operator's list: %q", got)
	}
	if got := e.raw(&alice, aimxtest.Create("abuse", "")); got != aimxtest.OK {
		t.Errorf("alice creates abuse once the operator's list leaves it out: %q", got)
	}
}

// 4. One user cannot flood the config: past max_mailboxes_per_user her
// CREATE is VALIDATION naming the limit; root is exempt; others are not
// affected. A broken policy file stops every request but VERSION.
func TestHostileLimit(t *testing.T) {
	e := newEnv(t, baseConfig)
	pol := e.writePolicy("max_mailboxes_per_user = 2\n")
	for _, n := range []string{"a1", "a2"} {
		if got := e.raw(&alice, aimxtest.Create(n, "")); got != aimxtest.OK {
			t.Fatalf("alice creates %s: %q", n, got)
		}
	}
	limit := aimxtest.Err("VALIDATION", fmt.Sprintf("you already own 2 mailboxes, the most one user may have (max_mailboxes_per_user = 2 in %s): delete one first, or ask the operator to raise the limit", pol))
	if got := e.raw(&alice, aimxtest.Create("a3", "")); got != limit {
		t.Errorf("alice's third:\n got %q\nwant %q", got, limit)
	}
	if got := e.raw(&bob, aimxtest.Create("b1", "")); got != aimxtest.OK {
		t.Errorf("bob is not limited by alice's mailboxes: %q", got)
	}
	if got := e.raw(nil, aimxtest.Create("a3", alice.Name)); got != aimxtest.OK {
		t.Errorf("root is exempt: %q", got)
	}
	if got := e.raw(&alice, aimxtest.Delete("a1", false)); got != aimxtest.OK {
		t.Errorf("alice deletes one: %q", got)
	}
	// Root gave her a third: she owns 2 (a2, a3) again, still at the limit.
	if got := e.raw(&alice, aimxtest.Create("a4", "")); got != limit {
		t.Errorf("alice at the limit again:\n got %q\nwant %q", got, limit)
	}

	e.writePolicy("max_mailboxes_per_user = 2\nlock_timeout = 5\n")
	broken := aimxtest.Err("IO", fmt.Sprintf("policy file %s, line 2, key lock_timeout: unknown key; the keys are reserved_names, max_mailboxes_per_user and lock_timeout_seconds", pol))
	before := e.readConfig()
	for _, frame := range []string{aimxtest.Create("b2", ""), aimxtest.Delete("b1", false), "AIMX/1 MAILBOX-LIST\n\n"} {
		if got := e.raw(&bob, frame); got != broken {
			t.Errorf("%q under a broken policy:\n got %q\nwant %q", frame, got, broken)
		}
	}
	if e.readConfig() != before {
		t.Errorf("config changed under a broken policy")
	}
	if got := e.raw(&bob, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("VERSION under a broken policy: %q", got)
	}
}

// 6. Root's LIST answers however a user changes her folder under it: a
// message swapped for a FIFO between the folder read and the open is not
// counted and does not block.
func TestHostileListFIFO(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(&alice, aimxtest.Create("trap", "")); got != aimxtest.OK {
		t.Fatalf("create: %q", got)
	}
	dir := e.Path("inbox", "trap")
	asAlice := func(p string) { must(t, os.Lchown(p, int(alice.UID), int(alice.GID))) }
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo.md"), 0o600))
	asAlice(filepath.Join(dir, "fifo.md"))
	must(t, os.Mkdir(filepath.Join(dir, "b"), 0o700))
	must(t, syscall.Mkfifo(filepath.Join(dir, "b", "b.md"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "real.md"), []byte("hi\n"), 0o600))
	// Swap regular files and FIFOs under a message name as fast as possible.
	var stopSwap atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		reg, fifo, msg := filepath.Join(dir, ".reg"), filepath.Join(dir, ".fifo"), filepath.Join(dir, "swap.md")
		for !stopSwap.Load() {
			os.WriteFile(reg, nil, 0o600)
			os.Rename(reg, msg)
			syscall.Mkfifo(fifo, 0o600)
			os.Rename(fifo, msg)
		}
	}()
	defer func() { stopSwap.Store(true); wg.Wait() }()
	for i := 0; i < 40; i++ {
		done := make(chan string, 1)
		go func() { done <- e.raw(nil, "AIMX/1 MAILBOX-LIST\n\n") }()
		select {
		case got := <-done:
			if !strings.Contains(got, `"name":"trap"`) || !(strings.Contains(got, `"total":1,`) || strings.Contains(got, `"total":2,`)) {
				t.Fatalf("LIST %d: %q", i, got)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("root's LIST %d blocked on a FIFO", i)
		}
	}
}

// 7. inbox/ and sent/ are root:root 0711: a user reaches her own folder by
// name but cannot list the names; a reclaimed folder is owner-only again.
func TestHostileFolderModes(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, kind := range []string{"inbox", "sent"} {
		must(t, os.Remove(e.Path(kind)))
	}
	must(t, os.Mkdir(e.Path("inbox"), 0o755))
	must(t, os.Chmod(e.Path("inbox"), 0o755))
	must(t, os.Mkdir(e.Path("inbox", "old"), 0o755))
	must(t, os.Chmod(e.Path("inbox", "old"), 0o755))
	must(t, os.Lchown(e.Path("inbox", "old"), int(alice.UID), int(alice.GID)))
	if got := e.raw(&alice, aimxtest.Create("old", "")); got != aimxtest.OK {
		t.Fatalf("create: %q", got)
	}
	assertDir(t, e.Path("sent"), 0, 0, 0o711) // made by the helper
	assertDir(t, e.Path("inbox", "old"), alice.UID, alice.GID, 0o700)
	assertDir(t, e.Path("sent", "old"), alice.UID, alice.GID, 0o700)
	must(t, os.Chmod(e.Path("inbox"), 0o711)) // as tmpfiles.d sets it on a real host
	for _, kind := range []string{"inbox", "sent"} {
		if r := runAs(t, &bob, "", "ls", e.Path(kind)); r.Code == 0 || !strings.Contains(r.Stderr, "Permission denied") {
			t.Errorf("bob lists %s/: exit %d %q %q", kind, r.Code, r.Stdout, r.Stderr)
		}
		if r := runAs(t, &alice, "", "ls", "-a", e.Path(kind, "old")); r.Code != 0 {
			t.Errorf("alice cannot reach her own %s/old: %s", kind, r.Stderr)
		}
	}
}

// 8. No request creates a mailbox for a reserved owner, whoever asks, even
// a user whose account has that name; and no log field carries a control
// character a user sent.
func TestHostileReservedOwner(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, owner := range []string{"root", "aimx-catchall"} {
		want := aimxtest.Err("VALIDATION", fmt.Sprintf("owner '%s' is reserved: only a hand edit of the config may give a mailbox to it", owner))
		if got := e.raw(nil, aimxtest.Create("x", owner)); got != want {
			t.Errorf("root creates for %s:\n got %q\nwant %q", owner, got, want)
		}
	}
	catchall, made, err := aimxtest.EnsureUser("aimx-catchall")
	must(t, err)
	if made {
		defer aimxtest.RemoveUser("aimx-catchall")
	}
	want := aimxtest.Err("VALIDATION", "owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it")
	if got := e.raw(&catchall, aimxtest.Create("mine", "")); got != want {
		t.Errorf("the user aimx-catchall creates a mailbox:\n got %q\nwant %q", got, want)
	}
	if strings.Contains(e.readConfig(), "[mailboxes.") {
		t.Errorf("config gained a stanza:\n%s", e.readConfig())
	}
}

func TestHostileLogEscapes(t *testing.T) {
	e := newEnv(t, baseConfig)
	name := "x\x1b]0;owned\x07\x1b[2J\vy\u2028z\u0085w"
	got := e.raw(&alice, aimxtest.Create(name, ""))
	if !strings.HasPrefix(got, "AIMX/1 ERR VALIDATION invalid mailbox name ") {
		t.Fatalf("create %q: %q", name, got)
	}
	if !e.logged("decision=reject", `mailbox=x\x1b]0;owned\x07\x1b[2J\x0by\u2028z\u0085w `) {
		t.Errorf("no escaped record in:\n%q", e.logs.String())
	}
	if strings.ContainsAny(e.logs.String(), "\x1b\x07\v\u2028\u0085") {
		t.Errorf("a control character reached the log:\n%q", e.logs.String())
	}
	// The name length cap: VALIDATION, not IO, past 64 bytes.
	long := strings.Repeat("n", 251)
	want := aimxtest.Err("VALIDATION", fmt.Sprintf("invalid mailbox name '%s': it must be at most 64 bytes long (it is 251)", long))
	if got := e.raw(&alice, aimxtest.Create(long, "")); got != want {
		t.Errorf("251-byte name:\n got %q\nwant %q", got, want)
	}
}

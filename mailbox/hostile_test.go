package mailbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdLock takes the store's lock file the way another process would
// (its own open file) and returns the release.
func holdLock(t *testing.T, s *Store) func() {
	t.Helper()
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	return func() { tx.Close() }
}

func TestLockFileMadeOwnerOnly(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "m"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(filepath.Dir(s.ConfigPath), ".config.toml.lock"))
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := me()
	if u, g := owner(fi); !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || u != uid || g != gid {
		t.Errorf("lock file is %v %d:%d, want a regular file 0600 %d:%d", fi.Mode(), u, g, uid, gid)
	}
	if s.LockPath() != filepath.Join(filepath.Dir(s.ConfigPath), ".config.toml.lock") {
		t.Errorf("LockPath %s", s.LockPath())
	}
}

func TestLockFileModeRepaired(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := os.WriteFile(s.LockPath(), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(s.LockPath(), 0o644)
	holdLock(t, s)()
	if fi, _ := os.Stat(s.LockPath()); fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file left %v", fi.Mode())
	}
}

// A lock path that is a symlink or not a regular file is refused, never
// followed or used.
func TestLockFileNotFollowed(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, s.LockPath()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock(); err == nil || !strings.Contains(err.Error(), "open lock file "+s.LockPath()) {
		t.Errorf("symlinked lock: got %v", err)
	}
	os.Remove(s.LockPath())
	if err := syscall.Mkfifo(s.LockPath(), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Lock(); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Errorf("FIFO lock: got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Lock blocked on a FIFO at the lock path")
	}
}

// The wait for the lock is bounded; past it the answer is a *BusyError and
// nothing changes. A lock the kernel grants after the wait gave up is
// released at once.
func TestLockWaitBounded(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	s.LockTimeout = 300 * time.Millisecond
	release := holdLock(t, s)
	before, _ := os.ReadFile(s.ConfigPath)
	start := time.Now()
	err := create(t, s, "late")
	waited := time.Since(start)
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("got %v, want a *BusyError", err)
	}
	want := "config " + s.ConfigPath + " is busy: its lock " + s.LockPath() + " was held by another request for more than 300ms; nothing was changed, try again"
	if err.Error() != want {
		t.Errorf("reason\n got %s\nwant %s", err, want)
	}
	if waited < 300*time.Millisecond {
		t.Errorf("gave up after %v, before the timeout", waited)
	}
	if after, _ := os.ReadFile(s.ConfigPath); string(after) != string(before) {
		t.Errorf("config changed while busy:\n%s", after)
	}
	release()
	// The abandoned waiter got the lock when it was released and must let
	// it go: a non-blocking lock succeeds soon after.
	fd, err := unix.Open(s.LockPath(), unix.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	deadline := time.Now().Add(10 * time.Second)
	for unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the lock stayed held after its waiter gave up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNameLength(t *testing.T) {
	if err := ValidateName(strings.Repeat("a", 64)); err != nil {
		t.Errorf("64 bytes: %v", err)
	}
	err := ValidateName(strings.Repeat("a", 65))
	var ne *NameError
	if !errors.As(err, &ne) || ne.Rule != "it must be at most 64 bytes long (it is 65)" {
		t.Errorf("65 bytes: %v", err)
	}
	if err := ValidateName(strings.Repeat("b", 255)); err == nil {
		t.Error("255 bytes accepted")
	}
}

// A forced DELETE sets both folders aside under the lock; EmptyTrash then
// empties them without following a symlink their owner planted.
func TestForceDeleteSetsAside(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "m"); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(outside, []byte("keep"), 0o600)
	in := filepath.Join(s.DataDir, "inbox", "m")
	os.WriteFile(filepath.Join(in, "a.md"), []byte("x"), 0o600)
	os.Symlink(outside, filepath.Join(in, "link"))
	os.Symlink(filepath.Dir(outside), filepath.Join(in, "dirlink"))
	os.MkdirAll(filepath.Join(in, "deep", "er", "still"), 0o700)

	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete("m", true); err != nil {
		t.Fatal(err)
	}
	tx.Close()
	for _, kind := range []string{"inbox", "sent"} {
		if _, err := os.Lstat(filepath.Join(s.DataDir, kind, "m")); !os.IsNotExist(err) {
			t.Errorf("%s/m still there: %v", kind, err)
		}
		aside, _ := os.ReadDir(filepath.Join(s.DataDir, kind, Trash))
		if len(aside) != 1 || !strings.HasPrefix(aside[0].Name(), "m.") {
			t.Errorf("%s/.trash holds %v, want the set-aside folder", kind, aside)
		}
	}
	EmptyTrash(s.DataDir)
	for _, kind := range []string{"inbox", "sent"} {
		if aside, _ := os.ReadDir(filepath.Join(s.DataDir, kind, Trash)); len(aside) != 0 {
			t.Errorf("%s/.trash not emptied: %v", kind, aside)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("a symlink target outside the mailbox was touched: %q %v", b, err)
	}
	if c, _ := s.Load(); c.Len() != 0 {
		t.Errorf("stanza left: %v", c.Names())
	}
}

// A config write that fails puts the set-aside folders back: a failed
// DELETE loses no mail.
func TestForceDeleteFailedWritePutsBack(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("needs a non-root user: root writes into a read-only folder anyway")
	}
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "m"); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(s.DataDir, "inbox", "m", "a.md"), []byte("x"), 0o600)
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	etc := filepath.Dir(s.ConfigPath)
	os.Chmod(etc, 0o555) // the temporary file cannot be made
	defer os.Chmod(etc, 0o755)
	var step *StepError
	if err := tx.Delete("m", true); !errors.As(err, &step) || step.Committed {
		t.Fatalf("got %v, want an uncommitted *StepError", err)
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "inbox", "m", "a.md")); err != nil {
		t.Errorf("message not put back: %v", err)
	}
}

// LIST opens a message without blocking: a FIFO in place of a message
// (planted after the folder was read) is not counted and does not stall.
func TestReadMessageFIFO(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "a.md"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "b.md"))
	os.WriteFile(filepath.Join(dir, "c.md"), []byte("+++\nread = true\n+++\nhi\n"), 0o600)
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	done := make(chan [3][2]bool, 1)
	go func() {
		var r [3][2]bool
		for i, n := range []string{"a.md", "b.md", "c.md"} {
			r[i][0], r[i][1] = readMessage(fd, n, make([]byte, maxFrontMatter))
		}
		done <- r
	}()
	select {
	case r := <-done:
		if want := [3][2]bool{{false, false}, {false, false}, {true, true}}; r != want {
			t.Errorf("(regular, read) for FIFO, symlink, file: %v, want %v", r, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening a FIFO message blocked")
	}
}

func TestCreateReclaimsWithOwnerOnlyMode(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	for _, kind := range []string{"inbox", "sent"} {
		os.MkdirAll(filepath.Join(s.DataDir, kind, "m"), 0o755)
		os.Chmod(filepath.Join(s.DataDir, kind, "m"), 0o755)
	}
	if err := create(t, s, "m"); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"inbox", "sent"} {
		if fi, _ := os.Stat(filepath.Join(s.DataDir, kind, "m")); fi.Mode().Perm() != 0o700 {
			t.Errorf("reclaimed %s/m is %v, want 0700", kind, fi.Mode().Perm())
		}
	}
}

func TestCreateMakesParentsSearchOnly(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "m"); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"inbox", "sent"} {
		if fi, _ := os.Stat(filepath.Join(s.DataDir, kind)); fi.Mode().Perm() != 0o711 {
			t.Errorf("%s/ is %v, want 0711", kind, fi.Mode().Perm())
		}
	}
}

// A writer that does not take the lock (the AIMX daemon rewrites the
// config from memory) changes the config while an edit holds the lock:
// the edit writes nothing, so that writer's change is not undone, and the
// folders it made are removed again.
func TestEditRefusesConfigChangedUnderIt(t *testing.T) {
	for _, how := range []string{"rename over", "write in place"} {
		t.Run(how, func(t *testing.T) {
			s := newStore(t, "domain = \"example.com\"\n")
			tx, err := s.Lock()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Close()
			theirs := "domain = \"example.com\"\n\n[mailboxes.daemons]\naddress = \"daemons@example.com\"\nowner = \"root\"\n"
			if how == "rename over" {
				tmp := s.ConfigPath + ".theirs"
				os.WriteFile(tmp, []byte(theirs), 0o640)
				os.Rename(tmp, s.ConfigPath)
			} else {
				os.WriteFile(s.ConfigPath, []byte(theirs), 0o640)
			}
			uid, gid := me()
			err = tx.Create(Stanza{Name: "mine", Address: "mine@example.com", Owner: "someone"}, uid, gid, exactly(uid, gid))
			var changed *ChangedError
			if !errors.As(err, &changed) {
				t.Fatalf("got %v, want a *ChangedError", err)
			}
			want := "config " + s.ConfigPath + " changed while this request was editing it (a program that does not take .config.toml.lock wrote it, such as the AIMX daemon serving its own mailbox request); nothing was changed, try again"
			if err.Error() != want {
				t.Errorf("reason\n got %s\nwant %s", err, want)
			}
			if b, _ := os.ReadFile(s.ConfigPath); string(b) != theirs {
				t.Errorf("the other writer's config was undone:\n%s", b)
			}
			if _, err := os.Stat(filepath.Join(s.DataDir, "inbox", "mine")); !os.IsNotExist(err) {
				t.Errorf("inbox/mine left behind: %v", err)
			}
		})
	}
}

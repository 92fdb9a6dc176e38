package mailbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"golang.org/x/sys/unix"
)

func newStore(t *testing.T, text string) *Store {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "etc", "config.toml")
	for _, d := range []string{filepath.Dir(cfg), filepath.Join(dir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(cfg, []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return &Store{ConfigPath: cfg, DataDir: filepath.Join(dir, "data")}
}

func me() (uint32, uint32) { return uint32(os.Getuid()), uint32(os.Getgid()) }

// exactly is authz.Reclaim's rule for an owner uid:gid (mailbox does not
// import authz: the rule is handed in).
func exactly(uid, gid uint32) func(uint32, uint32) bool {
	return func(fu, fg uint32) bool { return fu == uid && fg == gid }
}

func create(t *testing.T, s *Store, name string) error {
	t.Helper()
	tx, err := s.Lock()
	if err != nil {
		return err
	}
	defer tx.Release()
	defer tx.Close()
	uid, gid := me()
	return tx.Create(Stanza{Name: name, Address: name + "@example.com", Owner: "someone"}, uid, gid, exactly(uid, gid))
}

// TestLockSerializes: concurrent edits through separate locks (separate
// open files, as separate processes have) all land, none twice.
func TestLockSerializes(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := create(t, s, fmt.Sprintf("m%02d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	b, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i < 40; i++ {
		if n := strings.Count(text, fmt.Sprintf("[mailboxes.m%02d]\n", i)); n != 1 {
			t.Errorf("m%02d appears %d times", i, n)
		}
	}
}

func TestWriteKeepsModeAndOwner(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	uid, gid := me()
	if os.Getuid() == 0 {
		uid, gid = 1, 2 // root can give the config away; the write must keep that
		if err := os.Chown(s.ConfigPath, 1, 2); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(s.ConfigPath, 0o604); err != nil {
		t.Fatal(err)
	}
	if err := create(t, s, "a"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o604 || st.Uid != uid || st.Gid != gid {
		t.Errorf("config is %o %d:%d, want 604 %d:%d", fi.Mode().Perm(), st.Uid, st.Gid, uid, gid)
	}
}

func TestStaleTempSwept(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	stale := filepath.Join(filepath.Dir(s.ConfigPath), ".config.toml.tmp-123456")
	other := filepath.Join(filepath.Dir(s.ConfigPath), "keep.toml")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	tx.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file survived the lock: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file was removed: %v", err)
	}
}

func TestCreateDeleteFolders(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "box"); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{Inbox, Sent} {
		fi, err := os.Lstat(filepath.Join(s.DataDir, kind, "box"))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s/box: %v %v", kind, fi.Mode(), err)
		}
	}
	if err := create(t, s, "box"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second create: %v", err)
	}
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.Delete("box", false); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{Inbox, Sent} {
		if _, err := os.Lstat(filepath.Join(s.DataDir, kind, "box")); !os.IsNotExist(err) {
			t.Errorf("%s/box left: %v", kind, err)
		}
	}
}

func TestDeleteWithoutDataDir(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n[mailboxes.x]\naddress = \"x@example.com\"\nowner = \"o\"\n")
	s.DataDir = filepath.Join(t.TempDir(), "missing")
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.Delete("x", false); err != nil {
		t.Fatalf("delete with no data dir: %v", err)
	}
	if c, _ := s.Load(); c.Len() != 0 {
		t.Errorf("stanza left")
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("AIMX_CONFIG_DIR", "/env/etc")
	t.Setenv("AIMX_DATA_DIR", "/env/data")
	if s := FromEnv("", ""); s.ConfigPath != "/env/etc/config.toml" || s.DataDir != "/env/data" {
		t.Errorf("env: %+v", s)
	}
	if s := FromEnv("/flag/c.toml", "/flag/data"); s.ConfigPath != "/flag/c.toml" || s.DataDir != "/flag/data" {
		t.Errorf("flags: %+v", s)
	}
	c := &Config{DataDir: "/from/config"}
	t.Setenv("AIMX_DATA_DIR", "")
	if got := FromEnv("", "").DataDirFor(c); got != "/from/config" {
		t.Errorf("config data_dir: %s", got)
	}
	if got := FromEnv("", "").DataDirFor(&Config{}); got != DefaultDataDir {
		t.Errorf("default: %s", got)
	}
}

// TestRemoveIfEmpty: DELETE's last step removes an empty folder and
// leaves one that holds anything (mail that arrived after the count), or
// that is not a folder.
func TestRemoveIfEmpty(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"empty", "full/sub", "full2"} {
		if err := os.MkdirAll(filepath.Join(dir, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "full2", "late.md"), []byte("mail"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("empty2", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for rel, gone := range map[string]bool{"empty": true, "full": false, "full2": false, "file": false, "link": false, "missing": true} {
		if got := removeIfEmpty(fd, rel); got != gone {
			t.Errorf("%s: gone = %v, want %v", rel, got, gone)
		}
		_, err := os.Lstat(filepath.Join(dir, rel))
		if exists := err == nil; exists == gone {
			t.Errorf("%s: exists = %v after removeIfEmpty", rel, exists)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "full2", "late.md")); err != nil {
		t.Errorf("late mail lost: %v", err)
	}
}

// TestRenameNoReplace: a mailbox folder is renamed into place only when
// nothing is there; rename(2) alone would silently replace an empty
// folder that appeared under the name.
func TestRenameNoReplace(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"tmp", "taken"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := renameNoReplace(fd, "tmp", "taken"); err != unix.EEXIST {
		t.Errorf("rename over an empty folder: %v, want EEXIST", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tmp")); err != nil {
		t.Errorf("tmp gone after a refused rename: %v", err)
	}
	if err := renameNoReplace(fd, "tmp", "free"); err != nil {
		t.Errorf("rename to a free name: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "free")); err != nil {
		t.Errorf("free not there after the rename: %v", err)
	}
}

// TestReleaseFreesAfterClose: what a DELETE unlinks (the config it
// replaced, the mailbox's folders) stays open past Close, so that the
// file system frees it (and, mounted with discard, waits on the device)
// only at Release, after the lock and the answer; Release leaves nothing
// open.
func TestReleaseFreesAfterClose(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "box"); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete("box", false); err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{ // sorted
		filepath.Join(s.DataDir, Inbox, "box") + " (deleted)",
		filepath.Join(s.DataDir, Sent, "box") + " (deleted)",
		s.ConfigPath + " (deleted)",
	}
	if got := openUnlinked(t, s); !slices.Equal(got, want) {
		t.Errorf("after Close, open and unlinked: %q, want %q", got, want)
	}
	tx.Release()
	if got := openUnlinked(t, s); len(got) != 0 {
		t.Errorf("after Release, still open: %q", got)
	}
	tx.Release() // a second Release does nothing
}

// openUnlinked is aimxtest.OpenUnlinked of s's folders.
func openUnlinked(t *testing.T, s *Store) []string {
	t.Helper()
	got, err := aimxtest.OpenUnlinked(filepath.Dir(filepath.Dir(s.ConfigPath)))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

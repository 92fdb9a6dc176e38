package mailbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setAside puts a tree made by build into inbox/.trash of a new store, as
// a forced DELETE would, and returns the store and the trash's path.
func setAside(t *testing.T, build func(root string)) (*Store, string) {
	t.Helper()
	s := newStore(t, "domain = \"example.com\"\n")
	trash := filepath.Join(s.DataDir, Inbox, Trash)
	if err := os.MkdirAll(trash, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(trash, "m.0123456789abcdef")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	build(root)
	return s, trash
}

// chain makes a chain of depth folders under root, each opened from the
// last (no path grows with the depth), with a file at the bottom.
func chain(t *testing.T, root string, depth int) {
	t.Helper()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < depth; i++ {
		if err := unix.Mkdirat(fd, "d", 0o700); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	f, err := unix.Openat(fd, "bottom.md", unix.O_CREAT|unix.O_WRONLY, 0o600)
	if err == nil {
		unix.Close(f)
	}
	unix.Close(fd)
}

// withFileLimit runs f with at most n open files.
func withFileLimit(t *testing.T, n uint64, f func()) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = n
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	f()
}

func trashEntries(t *testing.T, trash string) []string {
	t.Helper()
	des, err := os.ReadDir(trash)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// TestEmptyTrashDeepChain: a chain 3 000 folders deep, far past the 64
// open files it is allowed, is removed with bounded open files, over as
// many tries as its budget needs, and nothing outside the trash is
// touched.
func TestEmptyTrashDeepChain(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "keep")
	os.WriteFile(outside, []byte("keep"), 0o600)
	s, trash := setAside(t, func(root string) {
		chain(t, root, 3_000)
		os.Symlink(filepath.Dir(outside), filepath.Join(root, "out"))
		os.Link(outside, filepath.Join(root, "hard"))
	})
	withFileLimit(t, 64, func() { emptyAll(t, s, trash) })
	if left := trashEntries(t, trash); len(left) != 0 {
		t.Errorf("trash still holds %v", left)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Errorf("outside the trash: %q %v", b, err)
	}
}

// TestEmptyTrashWide: a folder of many entries and sub-folders, files of
// every kind.
func TestEmptyTrashWide(t *testing.T) {
	s, trash := setAside(t, func(root string) {
		for i := 0; i < 3000; i++ {
			os.WriteFile(filepath.Join(root, "f"+strings.Repeat("x", i%50)+string(rune('a'+i%26))+itoa(i)), nil, 0o600)
		}
		for i := 0; i < 200; i++ {
			os.MkdirAll(filepath.Join(root, "d"+itoa(i), "e", "f"), 0o700)
		}
		unix.Mkfifo(filepath.Join(root, "fifo"), 0o600)
		os.Symlink("/etc", filepath.Join(root, "etc"))
	})
	emptyAll(t, s, trash)
	if left := trashEntries(t, trash); len(left) != 0 {
		t.Errorf("trash still holds %v", left)
	}
}

// emptyAll calls EmptyTrash until the trash is empty, as later requests
// would, without the wait between tries; each try must make progress.
func emptyAll(t *testing.T, s *Store, trash string) {
	t.Helper()
	for i := 0; i < 60 && len(trashEntries(t, trash)) > 0; i++ {
		EmptyTrash(s.DataDir)
		if tries, _ := retryState(mustOpen(t, trash)); tries > 1 {
			t.Fatalf("try %d removed nothing", i)
		}
		unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(trash, retryFile), []unix.Timespec{{}, {}}, 0)
	}
}

// TestEmptyTrashBackoff: while the retry file says to wait, the trash is
// left alone (not walked by every request); after, it is emptied and the
// retry file goes. The wait doubles with each try that removed nothing.
func TestEmptyTrashBackoff(t *testing.T) {
	s, trash := setAside(t, func(root string) { os.WriteFile(filepath.Join(root, "a.md"), nil, 0o600) })
	setRetry(mustOpen(t, trash), 1)
	tries, next := retryState(mustOpen(t, trash))
	if wait := time.Until(next); tries != 1 || wait < retryMin-time.Second || wait > retryMin {
		t.Fatalf("after one unfinished try: %d tries, next in %s", tries, wait)
	}
	setRetry(mustOpen(t, trash), 3)
	if _, next := retryState(mustOpen(t, trash)); time.Until(next) < 4*retryMin-time.Second {
		t.Errorf("after three: next in %s, want about %s", time.Until(next), 4*retryMin)
	}
	EmptyTrash(s.DataDir)
	if left := trashEntries(t, trash); len(left) != 2 {
		t.Errorf("emptied during the back-off: %v", left)
	}
	unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(trash, retryFile), []unix.Timespec{{}, {}}, 0)
	EmptyTrash(s.DataDir)
	if left := trashEntries(t, trash); len(left) != 0 {
		t.Errorf("after the back-off the trash holds %v", left)
	}
}

// TestEmptyTrashUnfinished: a try stopped by an entry that will not go
// sets no wait (that is not a tree too big for the budget): the next
// request tries again and, once the entry can go, empties the trash.
func TestEmptyTrashUnfinished(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("needs an ordinary user: root may remove from a folder without write permission")
	}
	var locked string
	s, trash := setAside(t, func(root string) {
		locked = filepath.Join(root, "locked")
		os.Mkdir(locked, 0o700)
		os.WriteFile(filepath.Join(locked, "a.md"), nil, 0o600)
		os.Chmod(locked, 0o500)
		t.Cleanup(func() { os.Chmod(locked, 0o700) })
	})
	EmptyTrash(s.DataDir)
	if tries, next := retryState(mustOpen(t, trash)); tries != 0 || next.After(time.Now()) {
		t.Errorf("after a try stopped by an error: %d tries, next %s: want no wait", tries, next)
	}
	if left := trashEntries(t, trash); len(left) != 1 {
		t.Errorf("trash holds %v, want the set-aside folder", left)
	}
	os.Chmod(locked, 0o700)
	EmptyTrash(s.DataDir)
	if left := trashEntries(t, trash); len(left) != 0 {
		t.Errorf("the next request left %v", left)
	}
}

func mustOpen(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func itoa(i int) string { return strconv.Itoa(i) }

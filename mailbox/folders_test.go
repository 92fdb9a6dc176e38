package mailbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// names lists es's names, in order.
func entryNames(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

// settle waits until inbox/'s ctime is old enough (racy) for a LIST to
// write the folders cache.
func settle(t testing.TB, inbox string) {
	t.Helper()
	for {
		var st unix.Stat_t
		if err := unix.Stat(inbox, &st); err != nil {
			t.Fatal(err)
		}
		if !racy(st.Ctim, time.Now()) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFoldersCache: a LIST finds the folders without a stanza through the
// folders cache only while the cache describes the config and inbox/ as
// they are; it writes the cache only when inbox/ is old enough; and a
// cache that is torn, stale, or not a private file of the folder's owner
// is never trusted (docs/BEHAVIOR.md, "Files").
func TestFoldersCache(t *testing.T) {
	s := newStore(t, `domain = "example.com"

[mailboxes.a1]
address = "a1@example.com"
owner = "alice"
`)
	in := filepath.Join(s.DataDir, Inbox)
	mkdirs(t, filepath.Join(in, "a1"), filepath.Join(in, "left1"), filepath.Join(in, ".trash"))
	writeFiles(t, map[string]string{filepath.Join(in, "not-a-folder"): "x"})
	all := func() []string {
		t.Helper()
		c, err := s.Load()
		if err != nil || c.index == nil {
			t.Fatalf("Load = %v; want the config read through its index", err)
		}
		es, err := s.List(c, func(Entry) bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		return entryNames(es)
	}
	indexed(t, s)
	cache := s.FoldersPath()

	// inbox/ changed just now: the scan is not written.
	if got := all(); !slices.Equal(got, []string{"a1", "left1"}) {
		t.Fatalf("LIST = %q", got)
	}
	if _, err := os.Lstat(cache); !os.IsNotExist(err) {
		t.Fatalf("a LIST right after inbox/ changed wrote the cache (%v)", err)
	}

	// Old enough: written, 0600, holding left1 alone.
	settle(t, in)
	if got := all(); !slices.Equal(got, []string{"a1", "left1"}) {
		t.Fatalf("LIST = %q", got)
	}
	data, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal("no cache written: ", err)
	}
	var st unix.Stat_t
	if err := unix.Stat(in, &st); err != nil {
		t.Fatal(err)
	}
	c, _ := s.Load()
	key := foldersKey{sum: c.index.Sum, inbox: idOf(&st)}
	if names, ok := parseFolders(data, key); !ok || !slices.Equal(names, []string{"left1"}) {
		t.Fatalf("cache holds %q (%v):\n%s", names, ok, data)
	}
	if fi, _ := os.Stat(cache); fi.Mode().Perm() != 0o600 {
		t.Fatalf("cache mode %v", fi.Mode())
	}

	// A hit is what the cache says: a valid cache naming no folder hides
	// left1 (only a forged cache can do this; it shows the cache is read).
	forge := func(names ...string) {
		t.Helper()
		var fs []folder
		for _, n := range names {
			fs = append(fs, folder{name: n})
		}
		if err := os.WriteFile(cache, marshalFolders(key, fs).bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	forge()
	if got := all(); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("LIST through a cache naming no folder = %q", got)
	}
	// A named folder that is gone, or a file, is not listed.
	forge("gone", "left1", "not-a-folder")
	if got := all(); !slices.Equal(got, []string{"a1", "left1"}) {
		t.Fatalf("LIST = %q", got)
	}

	// Never trusted: a torn file, another mode, a symlink.
	for _, spoil := range []struct {
		how string
		do  func()
	}{
		{"torn", func() { forge(); os.WriteFile(cache, data[:len(data)-3], 0o600) }},
		{"mode 0644", func() { forge(); os.Chmod(cache, 0o644) }},
		{"a symlink", func() {
			forge()
			os.Rename(cache, cache+".real")
			os.Symlink(cache+".real", cache)
		}},
	} {
		spoil.do()
		if got := all(); !slices.Equal(got, []string{"a1", "left1"}) {
			t.Fatalf("%s cache: LIST = %q", spoil.how, got)
		}
		os.Remove(cache)
		os.Remove(cache + ".real")
	}

	// Stale: a new folder changes inbox/'s ctime; an edit changes the
	// config's hash.
	forge()
	mkdirs(t, filepath.Join(in, "left2"))
	if got := all(); !slices.Equal(got, []string{"a1", "left1", "left2"}) {
		t.Fatalf("after a new folder: LIST = %q", got)
	}
	settle(t, in)
	all() // the cache now holds left1 and left2
	f, err := os.OpenFile(s.ConfigPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n[mailboxes.left2]\naddress = \"left2@example.com\"\nowner = \"alice\"\n")
	f.Close()
	indexed(t, s) // inbox/ as it was, the config another
	if got := all(); !slices.Equal(got, []string{"a1", "left1", "left2"}) {
		t.Fatalf("after a stanza for left2: LIST = %q", got)
	}

	// A folder's owner is read on each LIST, not cached.
	if os.Geteuid() != 0 {
		return // only root can chown; make test runs this as root
	}
	settle(t, in)
	all()
	if err := os.Chown(filepath.Join(in, "left1"), 4242, 4242); err != nil {
		t.Fatal(err)
	}
	c, _ = s.Load()
	es, err := s.ListFor(c, Filter{Owner: func(string) bool { return false }, Folder: func(u uint32) bool { return u == 4242 }})
	if err != nil || !slices.Equal(entryNames(es), []string{"left1"}) {
		t.Fatalf("LIST for uid 4242 after a chown = %q, %v", entryNames(es), err)
	}
}

// TestRacy: the window racy keeps between inbox/'s ctime and the clock.
func TestRacy(t *testing.T) {
	now := time.Unix(1000, 500_000_000)
	for _, c := range []struct {
		ctim unix.Timespec
		want bool
	}{
		{unix.Timespec{Sec: 1000, Nsec: 450_000_000}, true},
		{unix.Timespec{Sec: 1000, Nsec: 400_000_001}, true},
		{unix.Timespec{Sec: 1000, Nsec: 399_999_999}, false},
		{unix.Timespec{Sec: 1001, Nsec: 1}, true}, // ahead of the clock
		{unix.Timespec{Sec: 999, Nsec: 0}, true},  // to the second: 2 s
		{unix.Timespec{Sec: 998, Nsec: 0}, false},
	} {
		if got := racy(c.ctim, now); got != c.want {
			t.Errorf("racy(%v, %v) = %v", c.ctim, now, got)
		}
	}
}

// FuzzFoldersCache: whatever a folders cache file holds under a checksum
// that holds, reading it never panics, and what it accepts is exactly the
// file marshalFolders writes for the names it returns, each a mailbox
// name, sorted, none twice.
func FuzzFoldersCache(f *testing.F) {
	key := foldersKey{sum: [32]byte{1, 2, 3}, inbox: fileID{dev: 2049, ino: 77, size: 4096, ctim: unix.Timespec{Sec: 1, Nsec: 2}}}
	body := func(fs ...folder) []byte { f := marshalFolders(key, fs); return f[0] }
	f.Add(body())
	f.Add(body(folder{name: "a"}, folder{name: "left.over"}))
	f.Add(body(folder{name: "b"}, folder{name: "a"}))
	f.Add([]byte("aimx-mailboxd folders 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		data := withEnd(b).bytes() // the checksum holds: what is under it is fuzzed
		names, ok := parseFolders(data, key)
		if !ok {
			return
		}
		var fs []folder
		for _, n := range names {
			if ValidateName(n) != nil || len(fs) > 0 && n <= fs[len(fs)-1].name {
				t.Fatalf("accepted %q after %v", n, fs)
			}
			fs = append(fs, folder{name: n})
		}
		if again := marshalFolders(key, fs).bytes(); string(again) != string(data) {
			t.Fatalf("accepted a file that is not what marshalFolders writes:\n%q\n%q", data, again)
		}
	})
}

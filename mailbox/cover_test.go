package mailbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// lockT is s.Lock for a test: the Tx, released and closed at the end.
func lockT(t *testing.T, s *Store) *Tx {
	t.Helper()
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tx.Close()
		tx.Release()
	})
	return tx
}

func mkdirs(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) {
	t.Helper()
	for p, text := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestLeftovers: the names with a folder owned by the caller under inbox/
// or sent/ and no stanza count once each toward her limit (docs/BEHAVIOR.md,
// leftovers in the limit); a registered name, an invalid name, a file, or
// a folder of another owner does not count.
func TestLeftovers(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "kept"); err != nil {
		t.Fatal(err)
	}
	d := s.DataDir
	mkdirs(t, filepath.Join(d, Inbox, "both"), filepath.Join(d, Sent, "both"),
		filepath.Join(d, Sent, "sentonly"), filepath.Join(d, Inbox, "Bad-Name"))
	writeFiles(t, map[string]string{filepath.Join(d, Inbox, "afile"): "x"})

	tx := lockT(t, s)
	uid, _ := me()
	if n, err := tx.Leftovers(uidIs(uid)); n != 2 || err != nil {
		t.Errorf("Leftovers(me) = %d, %v; want 2 (both, sentonly), nil", n, err)
	}
	if n, err := tx.Leftovers(uidIs(uid + 1)); n != 0 || err != nil {
		t.Errorf("Leftovers(another uid) = %d, %v; want 0, nil", n, err)
	}
}

// TestLeftoversWithoutFolders: no data dir, or no inbox/ and sent/ yet,
// is no leftover and no error.
func TestLeftoversWithoutFolders(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	tx := lockT(t, s)
	uid, _ := me()
	if n, err := tx.Leftovers(uidIs(uid)); n != 0 || err != nil {
		t.Errorf("empty data dir: Leftovers = %d, %v; want 0, nil", n, err)
	}
	tx.DataDir = filepath.Join(s.DataDir, "missing")
	if n, err := tx.Leftovers(uidIs(uid)); n != 0 || err != nil {
		t.Errorf("no data dir: Leftovers = %d, %v; want 0, nil", n, err)
	}
	writeFiles(t, map[string]string{filepath.Join(s.DataDir, "file"): "x"})
	tx.DataDir = filepath.Join(s.DataDir, "file")
	var se *StepError
	if _, err := tx.Leftovers(uidIs(uid)); !errors.As(err, &se) || !errors.Is(err, unix.ENOTDIR) ||
		err.Error() != "open data dir "+tx.DataDir+": not a directory" {
		t.Errorf("a file as data dir: Leftovers error = %v; want a *StepError, open data dir %s: not a directory", err, tx.DataDir)
	}
}

// TestRemoveLeftovers: only empty folders of a name that has no stanza,
// and only those whose owner the rule accepts, are removed; the rest
// stays as it is.
func TestRemoveLeftovers(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "kept"); err != nil {
		t.Fatal(err)
	}
	d := s.DataDir
	mkdirs(t, filepath.Join(d, Inbox, "gone"), filepath.Join(d, Sent, "gone"),
		filepath.Join(d, Sent, "full"), filepath.Join(d, Inbox, "full"))
	writeFiles(t, map[string]string{filepath.Join(d, Inbox, "full", "m.md"): "+++\n+++\n"})
	uid, _ := me()

	tx := lockT(t, s)
	var asked []uint32
	tx.RemoveLeftovers("gone", func(u uint32) bool { asked = append(asked, u); return false })
	if len(asked) != 2 || asked[0] != uid || asked[1] != uid {
		t.Errorf("the rule was asked about %v; want the owner of each folder, [%d %d]", asked, uid, uid)
	}
	if !exists(filepath.Join(d, Inbox, "gone")) || !exists(filepath.Join(d, Sent, "gone")) {
		t.Fatal("a folder the rule refused was removed")
	}
	yes := func(uint32) bool { return true }
	tx.RemoveLeftovers("gone", yes)
	if exists(filepath.Join(d, Inbox, "gone")) || exists(filepath.Join(d, Sent, "gone")) {
		t.Error("the empty leftover folders of gone are still there")
	}
	tx.RemoveLeftovers("full", yes)
	if !exists(filepath.Join(d, Inbox, "full", "m.md")) {
		t.Error("a leftover folder holding a message was removed")
	}
	if exists(filepath.Join(d, Sent, "full")) {
		t.Error("the empty sent/full is still there beside a full inbox/full")
	}
	tx.RemoveLeftovers("kept", yes)
	tx.RemoveLeftovers("../etc", yes)
	if !exists(filepath.Join(d, Inbox, "kept")) || !exists(filepath.Join(d, Sent, "kept")) {
		t.Error("the folders of a registered mailbox were removed")
	}
}

// TestNonEmptyCount: DELETE without force refuses a mailbox that holds
// files, first without counting (under the lock), then with the counts
// that Count reads after it (docs/BEHAVIOR.md, DELETE).
func TestNonEmptyCount(t *testing.T) {
	for _, tc := range []struct {
		inbox, sent int
		want        string
	}{
		{2, 1, "mailbox 'full' has 3 files (2 in inbox, 1 in sent); archive or remove them first"},
		{1, 0, "mailbox 'full' has 1 file (1 in inbox, 0 in sent); archive or remove them first"},
		{0, MaxCount + 1, fmt.Sprintf("mailbox 'full' has at least %d files (0 in inbox, %d in sent); archive or remove them first", MaxCount, MaxCount)},
	} {
		t.Run(fmt.Sprintf("%d+%d", tc.inbox, tc.sent), func(t *testing.T) {
			s := newStore(t, "domain = \"example.com\"\n")
			if err := create(t, s, "full"); err != nil {
				t.Fatal(err)
			}
			for kind, n := range map[string]int{Inbox: tc.inbox, Sent: tc.sent} {
				for i := range n {
					p := filepath.Join(s.DataDir, kind, "full", fmt.Sprintf("%05d.md", i))
					if err := os.WriteFile(p, nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			tx := lockT(t, s)
			err := tx.Delete("full", false)
			var ne *NonEmptyError
			if !errors.As(err, &ne) {
				t.Fatalf("Delete = %v; want a *NonEmptyError", err)
			}
			if got, want := ne.Error(), "mailbox 'full' is not empty; archive or remove its files first"; got != want {
				t.Errorf("before Count: %q; want %q", got, want)
			}
			ne.Count()
			if got := ne.Error(); got != tc.want {
				t.Errorf("after Count: %q; want %q", got, tc.want)
			}
			if _, ok := tx.Config.Mailbox("full"); !ok {
				t.Error("the refused DELETE removed the stanza")
			}
		})
	}
}

// TestCountWithoutFolders: a NonEmptyError whose folders are gone by the
// time Count runs (the owner emptied them) counts zero.
func TestCountWithoutFolders(t *testing.T) {
	e := &NonEmptyError{Name: "x", dataDir: filepath.Join(t.TempDir(), "none")}
	e.Count()
	if want := "mailbox 'x' has 0 files (0 in inbox, 0 in sent); archive or remove them first"; e.Error() != want {
		t.Errorf("%q; want %q", e.Error(), want)
	}
	d := t.TempDir()
	mkdirs(t, filepath.Join(d, Inbox))
	e = &NonEmptyError{Name: "x", dataDir: d}
	e.Count()
	if e.Inbox != 0 || e.Sent != 0 || e.AtLeast {
		t.Errorf("no inbox/x, no sent/: %+v; want zero counts", e)
	}
}

// TestCreateConflict: a folder in the way that is not a folder, or that
// the rule does not let the new owner reclaim, refuses the CREATE with a
// *ConflictError that says what to do, and the config keeps no stanza.
func TestCreateConflict(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	writeFiles(t, map[string]string{filepath.Join(s.DataDir, Inbox, "afile"): "x"})
	mkdirs(t, filepath.Join(s.DataDir, Sent, "theirs"))
	uid, gid := me()
	path := filepath.Join(s.DataDir, Inbox, "afile")
	for _, tc := range []struct {
		name    string
		reclaim func(uint32, uint32) bool
		want    string
	}{
		{"afile", exactly(uid, gid), path + " exists and is not a folder: move it out of the way, then create the mailbox again"},
		{"theirs", func(uint32, uint32) bool { return false }, fmt.Sprintf(
			"%[1]s exists and is owned by %[2]d:%[3]d, not by the mailbox owner %[2]d:%[3]d: move it out of the way or run 'chown -R %[2]d:%[3]d %[1]s', then create the mailbox again",
			filepath.Join(s.DataDir, Sent, "theirs"), uid, gid)},
	} {
		tx := lockT(t, s)
		err := tx.Create(Stanza{Name: tc.name, Address: tc.name + "@example.com", Owner: "someone"}, uid, gid, tc.reclaim)
		var ce *ConflictError
		if !errors.As(err, &ce) || err.Error() != tc.want {
			t.Errorf("Create(%s) = %v; want a *ConflictError %q", tc.name, err, tc.want)
		}
		tx.Close()
		tx.Release()
	}
	text, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if string(text) != "domain = \"example.com\"\n" {
		t.Errorf("config after refused CREATEs:\n%s", text)
	}
	if exists(filepath.Join(s.DataDir, Sent, "afile")) || exists(filepath.Join(s.DataDir, Inbox, "theirs")) {
		t.Error("a refused CREATE left a folder it made")
	}
}

// TestListBundles: LIST counts *.md files and bundle folders <stem>/
// holding <stem>.md, unread unless the front matter says read = true;
// anything else (other files, a bundle without its message, a symlink)
// is not a message (docs/PROTOCOL.md, MAILBOX-LIST).
func TestListBundles(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	if err := create(t, s, "box"); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(s.DataDir, Inbox, "box")
	read, unread := "+++\nread = true\n+++\nbody\n", "+++\nread = false\n+++\nbody\n"
	writeFiles(t, map[string]string{
		filepath.Join(in, "a.md"):                     unread,
		filepath.Join(in, "b.md"):                     read,
		filepath.Join(in, "c", "c.md"):                read,
		filepath.Join(in, "d", "d.md"):                unread,
		filepath.Join(in, "d", "att.pdf"):             "%PDF",
		filepath.Join(in, "e", "other.md"):            unread,
		filepath.Join(in, "notes.txt"):                unread,
		filepath.Join(s.DataDir, Sent, "box", "s.md"): read,
	})
	if err := os.Symlink(filepath.Join(in, "c"), filepath.Join(in, "f")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(in, "a.md"), filepath.Join(in, "g.md")); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.List(c, func(Entry) bool { return true })
	if err != nil || len(es) != 1 {
		t.Fatalf("List = %+v, %v; want one entry", es, err)
	}
	e := es[0]
	if e.Name != "box" || e.Total != 4 || e.Unread != 2 || e.SentCount != 1 || !e.Registered ||
		e.InboxPath != in || e.SentPath != filepath.Join(s.DataDir, Sent, "box") {
		t.Errorf("List entry = %+v; want box, 4 messages (a, b, c/, d/), 2 unread (a, d/), 1 sent", e)
	}
}

// TestListUnregistered: a folder under inbox/ with a valid name and no
// stanza is listed unregistered, with its owner for the filter; invalid
// names and files are not; keep drops entries before their folders are
// read.
func TestListUnregistered(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	mkdirs(t, filepath.Join(s.DataDir, Inbox, "orphan"), filepath.Join(s.DataDir, Inbox, "Bad"),
		filepath.Join(s.DataDir, Inbox, "skipped"))
	writeFiles(t, map[string]string{
		filepath.Join(s.DataDir, Inbox, "orphan", "m.md"): "+++\n+++\n",
		filepath.Join(s.DataDir, Inbox, "file"):           "x",
	})
	c, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	es, err := s.List(c, func(e Entry) bool { return e.Name != "skipped" })
	uid, _ := me()
	if err != nil || len(es) != 1 || es[0].Name != "orphan" || es[0].Registered || es[0].Address != nil ||
		es[0].DirUID != uid || es[0].Total != 1 || es[0].Unread != 1 || es[0].SentCount != 0 {
		t.Errorf("List = %+v, %v; want only orphan, unregistered, owned by %d, 1 unread message", es, err, uid)
	}

	writeFiles(t, map[string]string{filepath.Join(t.TempDir(), "f"): "x"})
	s.DataDir = filepath.Join(s.DataDir, Inbox, "file")
	var se *StepError
	if _, err := s.List(c, func(Entry) bool { return true }); !errors.As(err, &se) || !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("a file as data dir: List error = %v; want a *StepError wrapping ENOTDIR", err)
	}
	s.DataDir = filepath.Join(t.TempDir(), "none")
	if es, err := s.List(c, func(Entry) bool { return true }); err != nil || len(es) != 0 {
		t.Errorf("no data dir: List = %+v, %v; want nothing, nil", es, err)
	}
}

// TestErrorTexts: the errors callers show name the rule, the path and
// what to do, and unwrap to their cause.
func TestErrorTexts(t *testing.T) {
	err := ValidateName("Caps")
	var ne *NameError
	if !errors.As(err, &ne) || err.Error() != "invalid mailbox name 'Caps': only lower-case letters, digits, '.', '_' and '-' are allowed" {
		t.Errorf("ValidateName(Caps) = %v", err)
	}
	_, err = ParseConfig("/etc/aimx/config.toml", []byte("domain = \n"))
	var ce *ConfigError
	if want := "config /etc/aimx/config.toml does not parse: line 1, column 10: expected value but found '\\n' instead"; !errors.As(err, &ce) || errors.Unwrap(err) == nil || err.Error() != want {
		t.Errorf("ParseConfig(bad TOML) = %v; want a *ConfigError %q, with its cause", err, want)
	}
	err = (&ConfigError{Path: "/c.toml", Err: os.ErrNotExist})
	if want := "config /c.toml does not exist: create it with at least a line domain = \"<your mail domain>\""; err.Error() != want || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing config: %q; want %q", err, want)
	}
	err = (&ConfigError{Path: "/c.toml", Err: unix.EACCES})
	if want := "config /c.toml: permission denied"; err.Error() != want || !errors.Is(err, unix.EACCES) {
		t.Errorf("unreadable config: %q; want %q", err, want)
	}
	c, err := ParseConfig("/etc/aimx/config.toml", []byte("domain = \"example.com\"\nmailboxes = { a = { address = \"a@example.com\", owner = \"x\" } }\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WithStanza(Stanza{Name: "b", Address: "b@example.com", Owner: "x"})
	var ee *EditError
	if want := "edit /etc/aimx/config.toml: mailboxes is written as an inline table (mailboxes = {...}); write each mailbox as a [mailboxes.<name>] table; the file was not changed, edit it by hand"; !errors.As(err, &ee) || err.Error() != want {
		t.Errorf("WithStanza on an inline table = %v; want %q", err, want)
	}
	se := &StepError{Err: fsError("rmdir", "/var/lib/aimx/inbox/x", &os.PathError{Op: "unlinkat", Path: "x", Err: unix.EBUSY})}
	if se.Error() != "rmdir /var/lib/aimx/inbox/x: device or resource busy" || !errors.Is(se, unix.EBUSY) {
		t.Errorf("StepError = %q; want the step, the whole path once, and the errno", se.Error())
	}
	le := fsError("rename", "/d/a", &os.LinkError{Op: "rename", Old: "a", New: "b", Err: unix.EXDEV})
	if le.Error() != "rename /d/a: invalid cross-device link" || !errors.Is(le, unix.EXDEV) {
		t.Errorf("fsError(LinkError) = %q", le.Error())
	}
}

// TestStorePath: the config in force is the one named, else the default.
func TestStorePath(t *testing.T) {
	if got := (&Store{}).Path(); got != DefaultConfigPath {
		t.Errorf("Path of an empty Store = %q; want %q", got, DefaultConfigPath)
	}
	if got := (&Store{ConfigPath: "/x/c.toml"}).Path(); got != "/x/c.toml" {
		t.Errorf("Path = %q; want /x/c.toml", got)
	}
	if got := (&Store{ConfigPath: "/x/c.toml"}).LockPath(); got != "/x/.c.toml.lock" {
		t.Errorf("LockPath = %q; want /x/.c.toml.lock", got)
	}
}

// TestRemoveStale: what a killed helper left under a temporary name is
// removed whatever it is (an empty folder, a file, a tree), and a symlink
// in the tree is removed, not followed.
func TestRemoveStale(t *testing.T) {
	d := t.TempDir()
	outside := filepath.Join(t.TempDir(), "keep")
	writeFiles(t, map[string]string{
		outside:                               "x",
		filepath.Join(d, "file"):              "x",
		filepath.Join(d, "tree", "a", "b.md"): "x",
		filepath.Join(d, "tree", "c.md"):      "x",
	})
	mkdirs(t, filepath.Join(d, "empty"))
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(d, "tree", "link")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	for _, name := range []string{"empty", "file", "tree", "absent"} {
		if err := removeStale(fd, name, d); err != nil {
			t.Errorf("removeStale(%s) = %v", name, err)
		}
		if exists(filepath.Join(d, name)) {
			t.Errorf("%s is still there", name)
		}
	}
	if !exists(outside) {
		t.Error("removeStale followed a symlink out of the folder")
	}
}

// TestCreateRemovesStaleTemp: a folder .<name>.new that a CREATE killed
// half-way left (here holding a file and a symlink out) is removed by the
// next CREATE of the name, which makes both folders 0700 and owned by the
// owner.
func TestCreateRemovesStaleTemp(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	outside := filepath.Join(t.TempDir(), "keep")
	writeFiles(t, map[string]string{
		outside: "x",
		filepath.Join(s.DataDir, Inbox, ".box.new", "half.md"): "x",
	})
	mkdirs(t, filepath.Join(s.DataDir, Sent, ".box.new"))
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(s.DataDir, Inbox, ".box.new", "link")); err != nil {
		t.Fatal(err)
	}
	if err := create(t, s, "box"); err != nil {
		t.Fatal(err)
	}
	uid, gid := me()
	for _, kind := range []string{Inbox, Sent} {
		var st unix.Stat_t
		p := filepath.Join(s.DataDir, kind, "box")
		if err := unix.Lstat(p, &st); err != nil || st.Mode != unix.S_IFDIR|0o700 || st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: mode %o owner %d:%d (%v); want a folder 0700 %d:%d", p, st.Mode, st.Uid, st.Gid, err, uid, gid)
		}
		if exists(filepath.Join(s.DataDir, kind, ".box.new")) {
			t.Errorf("the stale %s/.box.new is still there", kind)
		}
		if des, err := os.ReadDir(p); err != nil || len(des) != 0 {
			t.Errorf("%s holds %v (%v); want a new empty folder", p, des, err)
		}
	}
	if !exists(outside) {
		t.Error("removing the stale folder followed its symlink")
	}
}

// TestNamesSorted: the names of the config come sorted, whether the
// config was decoded or loaded through its index.
func TestNamesSorted(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n")
	for _, n := range []string{"zed", "alpha", "mid"} {
		if err := create(t, s, n); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"alpha", "mid", "zed"}
	c, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Names(); !slices.Equal(got, want) {
		t.Errorf("Names (loaded) = %v; want %v", got, want)
	}
	text, err := os.ReadFile(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseConfig(c.Path, text)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Names(); !slices.Equal(got, want) {
		t.Errorf("Names (decoded) = %v; want %v", got, want)
	}
	if c.Len() != 3 || d.Len() != 3 {
		t.Errorf("Len = %d, %d; want 3", c.Len(), d.Len())
	}
}

// uidIs is the rule "the folder's owner is uid", as authz.OwnsFolder
// says it for a caller with that uid.
func uidIs(uid uint32) func(uint32) bool { return func(u uint32) bool { return u == uid } }

package mailbox

import (
	"bytes"
	"crypto/sha256"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const indexedConfig = "# operator\ndomain = \"example.com\"\n\n[mailboxes.a]\naddress = \"a@example.com\"\nowner = \"alice\"\n"

// indexOnDisk reads the index beside s's config.
func indexOnDisk(t *testing.T, s *Store) []byte {
	t.Helper()
	b, err := os.ReadFile(s.IndexPath())
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	return b
}

// built is the index file a build of text gives.
func built(t *testing.T, text []byte) []byte {
	t.Helper()
	c, err := BuildIndex("c.toml", text)
	if err != nil {
		t.Fatal(err)
	}
	return MarshalIndex(c.index)
}

// TestIndexFile: the first locked request writes the index, 0600, owned
// like the folder (like the lock), named .config.toml.index; every
// edit leaves the index that a build of the new text gives; a request
// trusts it (its edits take the fast path).
func TestIndexFile(t *testing.T) {
	s := newStore(t, indexedConfig)
	if s.IndexPath() != filepath.Join(filepath.Dir(s.ConfigPath), ".config.toml.index") {
		t.Errorf("IndexPath %s", s.IndexPath())
	}
	holdLock(t, s)()
	fi, err := os.Lstat(s.IndexPath())
	if err != nil {
		t.Fatal(err)
	}
	dfi, _ := os.Stat(filepath.Dir(s.ConfigPath))
	du, dg := owner(dfi)
	if u, g := owner(fi); !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || u != du || g != dg {
		t.Errorf("index is %v %d:%d, want a regular file 0600 %d:%d", fi.Mode(), u, g, du, dg)
	}
	if got, want := indexOnDisk(t, s), built(t, []byte(indexedConfig)); !bytes.Equal(got, want) {
		t.Errorf("index:\n%s\nwant:\n%s", got, want)
	}
	for i, name := range []string{"b", "c.d", "e"} {
		if err := create(t, s, name); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			deleteName(t, s, "a")
		}
	}
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if tx.rebuilt != nil || tx.Config.meaning != nil {
		t.Errorf("the index was not trusted after the edits")
	}
	text := tx.Config.Text()
	if err := tx.Delete("b", false); err != nil || !tx.Config.fast {
		t.Errorf("delete: %v, fast path %v", err, tx.Config.fast)
	}
	tx.Close()
	text2, _ := os.ReadFile(s.ConfigPath)
	if got, want := indexOnDisk(t, s), built(t, text2); !bytes.Equal(got, want) {
		t.Errorf("after the edits the index is\n%s\nwant (a build of the config):\n%s", got, want)
	}
	if bytes.Contains(text2, []byte("[mailboxes.b]")) || !bytes.Contains(text, []byte("[mailboxes.b]")) {
		t.Errorf("config:\n%s", text2)
	}
	if names, _ := filepath.Glob(filepath.Join(filepath.Dir(s.ConfigPath), ".config.toml.tmp-*")); len(names) > 0 {
		t.Errorf("temporary files left: %v", names)
	}
}

func deleteName(t *testing.T, s *Store, name string) {
	t.Helper()
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	if err := tx.Delete(name, true); err != nil {
		t.Fatal(err)
	}
}

// TestIndexStale: when someone else rewrites the config (the mail daemon
// serializing its own config), the index no longer describes it: the
// next request decodes the config in full and writes a new index.
func TestIndexStale(t *testing.T) {
	s := newStore(t, indexedConfig)
	holdLock(t, s)()
	old := indexOnDisk(t, s)
	other := strings.Replace(indexedConfig, `owner = "alice"`, `owner = "mallory"`, 1)
	if err := os.WriteFile(s.ConfigPath, []byte(other), 0o640); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load()
	if st, _ := c.Mailbox("a"); err != nil || st.Owner != "mallory" {
		t.Fatalf("Load read a stale index: %v %+v", err, c)
	}
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := tx.Config.Mailbox("a"); tx.rebuilt == nil || st.Owner != "mallory" {
		t.Errorf("Lock trusted a stale index")
	}
	tx.Close()
	if got := indexOnDisk(t, s); bytes.Equal(got, old) || !bytes.Equal(got, built(t, []byte(other))) {
		t.Errorf("index not rebuilt:\n%s", got)
	}
}

// TestLoadKeepsNoText: a LIST's Load through the index hashes the
// config without keeping it (Load); one that must decode it holds
// exactly its bytes.
func TestLoadKeepsNoText(t *testing.T) {
	s := newStore(t, indexedConfig)
	holdLock(t, s)()
	c, err := s.Load()
	if err != nil || c.index == nil || c.Text() != nil {
		t.Fatalf("through the index: %v, index %v, %d bytes of text kept", err, c.index != nil, len(c.Text()))
	}
	if st, _ := c.Mailbox("a"); st.Owner != "alice" {
		t.Errorf("through the index: %+v", st)
	}
	other := indexedConfig + "# an operator's note\n"
	if err := os.WriteFile(s.ConfigPath, []byte(other), 0o640); err != nil {
		t.Fatal(err)
	}
	if c, err = s.Load(); err != nil || c.index != nil || string(c.Text()) != other {
		t.Errorf("stale index: %v, index %v, text %q", err, c.index != nil, c.Text())
	}
}

// TestIndexUntrusted: an index that is not a regular file 0600 owned
// like the folder, that fails its own checksum, or that describes other
// bytes is never trusted, even when it names the config's exact hash:
// it says who owns each mailbox.
func TestIndexUntrusted(t *testing.T) {
	forged := func(t *testing.T) []byte {
		c, err := BuildIndex("c.toml", []byte(indexedConfig))
		if err != nil {
			t.Fatal(err)
		}
		es := entries(c.index)
		es[0].Owner = "mallory"
		c.index.setEntries(es)
		return MarshalIndex(c.index)
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T, s *Store)
	}{
		{"group and world readable and writable", func(t *testing.T, s *Store) {
			must(t, os.WriteFile(s.IndexPath(), forged(t), 0o666))
			must(t, os.Chmod(s.IndexPath(), 0o666))
		}},
		{"mode 0640", func(t *testing.T, s *Store) {
			must(t, os.WriteFile(s.IndexPath(), forged(t), 0o640))
			must(t, os.Chmod(s.IndexPath(), 0o640))
		}},
		{"a symlink to a good file", func(t *testing.T, s *Store) {
			target := filepath.Join(t.TempDir(), "index")
			must(t, os.WriteFile(target, forged(t), 0o600))
			must(t, os.Symlink(target, s.IndexPath()))
		}},
		{"owned by another user", func(t *testing.T, s *Store) {
			if os.Geteuid() != 0 {
				t.Skip("needs root: chowns the index to another user")
			}
			must(t, os.WriteFile(s.IndexPath(), forged(t), 0o600))
			must(t, os.Chown(s.IndexPath(), 65534, 65534))
		}},
		{"a flipped byte", func(t *testing.T, s *Store) {
			b := forged(t)
			b[len(b)/2] ^= 1
			must(t, os.WriteFile(s.IndexPath(), b, 0o600))
		}},
		{"truncated", func(t *testing.T, s *Store) {
			b := forged(t)
			must(t, os.WriteFile(s.IndexPath(), b[:len(b)-10], 0o600))
		}},
		{"a FIFO", func(t *testing.T, s *Store) {
			must(t, mkfifo(s.IndexPath()))
		}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			s := newStore(t, indexedConfig)
			tc.make(t, s)
			if tc.name != "a flipped byte" && tc.name != "truncated" && tc.name != "a FIFO" {
				// The forged index is well formed and names the config's
				// hash: only where it is and who may write it give it away.
				if x, err := UnmarshalIndex(forged(t)); err != nil || x.Sum != sha256.Sum256([]byte(indexedConfig)) {
					t.Fatalf("forged index: %v", err)
				}
			}
			c, err := s.Load()
			if st, _ := c.Mailbox("a"); err != nil || st.Owner != "alice" {
				t.Errorf("Load trusted the index: %v %+v", err, c)
			}
			tx, err := s.Lock()
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := tx.Config.Mailbox("a"); st.Owner != "alice" || tx.rebuilt == nil {
				t.Errorf("Lock trusted the index: %+v", st)
			}
			tx.Close()
		})
	}
}

// TestIndexMarshal: any index reads back as itself, including fields with
// tabs, newlines and backslashes; anything else is refused.
func TestIndexMarshal(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	field := func() string {
		var b strings.Builder
		for range r.Intn(8) {
			b.WriteString([]string{"a", "\\", "\t", "\n", "\r", "é", " ", "n", "\\t"}[r.Intn(9)])
		}
		return b.String()
	}
	for range 200 {
		x := &Index{Domain: field(), DataDir: field(), Appendable: r.Intn(2) == 0}
		r.Read(x.Sum[:])
		seen := map[string]bool{}
		var es []IndexEntry
		for range r.Intn(5) {
			n := field()
			if seen[n] {
				continue
			}
			seen[n] = true
			es = append(es, IndexEntry{Stanza: Stanza{Name: n, Address: field(), Owner: field()}, Own: r.Intn(2) == 0})
		}
		sortEntries(es)
		x.setEntries(es)
		b := MarshalIndex(x)
		y, err := UnmarshalIndex(b)
		if err != nil || !bytes.Equal(MarshalIndex(y), b) || !slices.Equal(entries(y), es) {
			t.Fatalf("%q: %v", b, err)
		}
		for _, e := range es {
			if got, ok := y.entry(e.Name); !ok || got != e {
				t.Fatalf("%q: entry %q: %+v %v", b, e.Name, got, ok)
			}
			if _, ok := y.entry(e.Name + "\x00"); ok {
				t.Fatalf("%q: found %q", b, e.Name+"\x00")
			}
		}
		for i := range b {
			c := bytes.Clone(b)
			c[i] ^= 0x20
			if _, err := UnmarshalIndex(c); err == nil {
				t.Fatalf("byte %d flipped: accepted %q", i, c)
			}
			if _, err := UnmarshalIndex(b[:i]); err == nil {
				t.Fatalf("truncated to %d: accepted", i)
			}
		}
	}
}

// TestIndexRowsChecked: an index whose checksum holds is still refused
// when a row is not one appendRow writes or the rows are out of order,
// whatever the other rows hold: the checks count tabs and look for
// backslashes over all rows at once.
func TestIndexRowsChecked(t *testing.T) {
	file := func(n int, rows string) []byte {
		x := &Index{Domain: "d.test", DataDir: "/var/lib/aimx"}
		return withEnd(x.appendHeader(nil, n), []byte(rows)).bytes()
	}
	for _, ok := range []struct {
		n    int
		rows string
	}{
		{0, ""},
		{2, "own\ta\ta@d.test\tbob\n-\tb\tb@d.test\tbob\n"},
		{2, "own\ta\\tb\ta@d.test\tb\\\\ob\n-\tb\tb@d.test\t\n"}, // escapes, empty fields
	} {
		if _, err := UnmarshalIndex(file(ok.n, ok.rows)); err != nil {
			t.Errorf("%d rows %q: %v", ok.n, ok.rows, err)
		}
	}
	for _, bad := range []struct {
		n    int
		rows string
	}{
		{1, "own\ta\ta@d.test\n"},                             // three fields
		{1, "own\ta\ta@d.test\tbob\tx\n"},                     // five
		{2, "own\ta\ta@d.test\tbob\tx\n-\tb\tb@d.test\n"},     // five, then three: nine tabs in all
		{2, "-\ta\ta@d.test\n-\tb\tb\t@d.test\tbob\n"},        // three, then five
		{1, "yes\ta\ta@d.test\tbob\n"},                        // a flag that is not own or -
		{1, "own a\ta@d.test\tbob\t\n"},                       // no tab after the flag
		{1, "\ta\ta@d.test\tbob\n"},                           // no flag
		{1, "own\ta\\x\ta@d.test\tbob\n"},                     // an unknown escape
		{1, "own\ta\ta@d.test\tbob\\\n"},                      // a lone backslash
		{2, "own\tb\tb@d.test\tbob\nown\ta\ta@d.test\tbob\n"}, // out of order
		{2, "own\ta\ta@d.test\tbob\nown\ta\ta@d.test\tbob\n"}, // twice
		{2, "own\ta\\n\tx\tbob\nown\ta\\n\ty\tbob\n"},         // twice, escaped
		{1, "own\ta\ta@d.test\tbob\n-\tb\tb@d.test\tbob\n"},   // a row more than n
		{2, "own\ta\ta@d.test\tbob\n"},                        // a row less
		{1, "own\ta\ta@d.test\tbob\nx\n"},                     // a line more
		{1, "own\ta\ta@d.test\tbob"},                          // no end of line
	} {
		if _, err := UnmarshalIndex(file(bad.n, bad.rows)); err == nil {
			t.Errorf("%d rows %q: accepted", bad.n, bad.rows)
		}
	}
}

// FuzzIndexRows: UnmarshalIndex accepts rows under a valid header and
// checksum exactly when each of the n lines is one parseRow decodes and
// the names strictly increase, and then holds those entries.
func FuzzIndexRows(f *testing.F) {
	f.Add(uint8(2), []byte("own\ta\ta@d.test\tbob\n-\tb\tb@d.test\tbob\n"))
	f.Add(uint8(2), []byte("own\ta\\tb\ta@d.test\tb\\\\ob\n-\tb\tb@d.test\t\n"))
	f.Add(uint8(2), []byte("own\ta\ta@d.test\tbob\tx\n-\tb\tb@d.test\n"))
	f.Add(uint8(1), []byte("own\ta\\x\ta@d.test\tbob\n"))
	f.Add(uint8(0), []byte(""))
	f.Fuzz(func(t *testing.T, n uint8, rows []byte) {
		x := &Index{Domain: "d.test", DataDir: "/var/lib/aimx"}
		y, err := UnmarshalIndex(withEnd(x.appendHeader(nil, int(n)), rows).bytes())
		want, ok := parsedRows(int(n), rows)
		if (err == nil) != ok {
			t.Fatalf("%d rows %q: UnmarshalIndex says %v, each row parsed says %v", n, rows, err, ok)
		}
		if ok && !slices.Equal(entries(y), want) {
			t.Fatalf("%d rows %q: entries %+v, want %+v", n, rows, entries(y), want)
		}
	})
}

// parsedRows is rows as n lines that parseRow decodes, names strictly
// increasing; ok is false when they are not.
func parsedRows(n int, rows []byte) (es []IndexEntry, ok bool) {
	if n == 0 || len(rows) == 0 || rows[len(rows)-1] != '\n' {
		return nil, n == 0 && len(rows) == 0
	}
	lines := bytes.Split(rows[:len(rows)-1], []byte{'\n'})
	if len(lines) != n {
		return nil, false
	}
	for k, l := range lines {
		e, err := parseRow(l)
		if err != nil || k > 0 && e.Name <= es[k-1].Name {
			return nil, false
		}
		es = append(es, e)
	}
	return es, true
}

// entries decodes every row of x.
func entries(x *Index) []IndexEntry {
	var es []IndexEntry
	for i := range x.Len() {
		es = append(es, x.at(i))
	}
	return es
}

// TestIndexLarge: an index of 2 000 mailboxes (the CRC-32 over 80 KiB)
// reads back as itself, and a changed byte or a cut anywhere is refused.
func TestIndexLarge(t *testing.T) {
	c, err := BuildIndex("c.toml", configWith(2000))
	if err != nil {
		t.Fatal(err)
	}
	b := MarshalIndex(c.index)
	y, err := UnmarshalIndex(b)
	if err != nil || !bytes.Equal(MarshalIndex(y), b) || y.Len() != 2000 {
		t.Fatalf("%d bytes: %v", len(b), err)
	}
	if e, ok := y.entry("pre01234"); !ok || e != (IndexEntry{Stanza: Stanza{Name: "pre01234", Address: "pre01234@bench.test", Owner: "bench"}, Own: true}) {
		t.Errorf("entry pre01234: %+v %v", e, ok)
	}
	r := rand.New(rand.NewSource(1))
	for range 300 {
		i := r.Intn(len(b))
		c := bytes.Clone(b)
		c[i] ^= byte(1 + r.Intn(255))
		if _, err := UnmarshalIndex(c); err == nil {
			t.Fatalf("byte %d changed: accepted", i)
		}
		if _, err := UnmarshalIndex(b[:i]); err == nil {
			t.Fatalf("cut at %d: accepted", i)
		}
	}
}

func sortEntries(e []IndexEntry) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].Name < e[j-1].Name; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mkfifo(path string) error { return syscall.Mkfifo(path, 0o600) }

// owner is the uid and gid of a file the os package stat'ed.
func owner(fi os.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

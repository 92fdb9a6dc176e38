package mailbox

import (
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// indexed writes the checked index of s's config (a Lock and its Close
// build and write it) and loads the config through it.
func indexed(t *testing.T, s *Store) *Config {
	t.Helper()
	tx, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		t.Fatal(err)
	}
	c, err := s.Load()
	if err != nil || c.index == nil {
		t.Fatalf("Load = %v; want the config read through its index", err)
	}
	return c
}

// TestListFor: the filter's Owner is asked once per distinct owner name
// (an escaped one too), Folder about each unregistered folder, Counting
// told how many are listed, and the list holds exactly what they
// accept, sorted, with its counts; alike through the checked index and
// through a full decode.
func TestListFor(t *testing.T) {
	s := newStore(t, `domain = "example.com"

[mailboxes.b1]
address = "b1@example.com"
owner = "bob"

[mailboxes.a2]
address = "a2@example.com"
owner = "alice"

[mailboxes.w1]
address = "w1@example.com"
owner = "we\\ird"

[mailboxes.a1]
address = "a1@example.com"
owner = "alice"
`)
	in := filepath.Join(s.DataDir, Inbox)
	mkdirs(t, filepath.Join(in, "b1"), filepath.Join(in, "a2"), filepath.Join(in, "mine"), filepath.Join(s.DataDir, Sent, "a1"))
	writeFiles(t, map[string]string{
		filepath.Join(in, "a1", "1.md"):               "+++\nread = true\n+++\n",
		filepath.Join(in, "a1", "2.md"):               "+++\nread = false\n+++\n",
		filepath.Join(in, "mine", "1.md"):             "+++\n+++\n",
		filepath.Join(s.DataDir, Sent, "a1", "s.md"):  "+++\n+++\n",
		filepath.Join(s.DataDir, Sent, "a1", "s.txt"): "x",
	})
	uid, _ := me()
	decoded, err := s.Load()
	if err != nil || decoded.index != nil {
		t.Fatalf("Load = %v; want a full decode (no index yet)", err)
	}
	for _, c := range []struct {
		how string
		cfg *Config
	}{{"decoded", decoded}, {"indexed", indexed(t, s)}} {
		asked := map[string]int{}
		var folders []uint32
		counting := -1
		es, err := s.ListFor(c.cfg, Filter{
			Owner: func(o string) bool {
				asked[o]++
				return o == "alice" || o == `we\ird`
			},
			Folder: func(u uint32) bool {
				folders = append(folders, u)
				return u == uid
			},
			Counting: func(n int) { counting = n },
		})
		if err != nil {
			t.Fatalf("%s: ListFor: %v", c.how, err)
		}
		if want := map[string]int{"alice": 1, "bob": 1, `we\ird`: 1}; fmt.Sprint(asked) != fmt.Sprint(want) {
			t.Errorf("%s: Owner asked %v; want %v", c.how, asked, want)
		}
		if counting != 4 {
			t.Errorf("%s: Counting told %d; want the 4 mailboxes listed", c.how, counting)
		}
		if !slices.Equal(folders, []uint32{uid}) {
			t.Errorf("%s: Folder asked about %v; want only mine's owner %d", c.how, folders, uid)
		}
		var got []string
		for _, e := range es {
			got = append(got, fmt.Sprintf("%s %v %s %d/%d/%d %v %v", e.Name, e.Registered, e.Owner, e.Total, e.Unread, e.SentCount,
				e.InboxPath == filepath.Join(in, e.Name), e.SentPath == filepath.Join(s.DataDir, Sent, e.Name)))
		}
		want := []string{"a1 true alice 2/1/1 true true", "a2 true alice 0/0/0 true true", "mine false  1/1/0 true true", `w1 true we\ird 0/0/0 true true`}
		if !slices.Equal(got, want) {
			t.Errorf("%s: ListFor =\n%q\nwant\n%q", c.how, got, want)
		}
		if owners := c.cfg.Owners(); len(owners) != 3 || !slices.Contains(owners, "alice") || !slices.Contains(owners, "bob") || !slices.Contains(owners, `we\ird`) {
			t.Errorf("%s: Owners = %q; want alice, bob and we\\ird once each", c.how, owners)
		}
	}
}

// TestListCountsOnEveryCPU: the counts are exact whether one goroutine
// or several count the folders, and a folder larger than one read of its
// entries (1 200 messages) is counted whole.
func TestListCountsOnEveryCPU(t *testing.T) {
	const n = 300 // more than CountWorkers chunks
	text := "domain = \"example.com\"\n"
	files := map[string]string{}
	want := map[string][3]int{}
	for i := range n {
		name := fmt.Sprintf("m%03d", i)
		text += fmt.Sprintf("\n[mailboxes.%s]\naddress = \"%s@example.com\"\nowner = \"o\"\n", name, name)
		total, sent := i%7, i%5
		if i == 17 {
			total = 1200
		}
		unread := 0
		for j := range total {
			read := j%3 == 0
			if !read {
				unread++
			}
			files[filepath.Join(Inbox, name, fmt.Sprintf("%04d.md", j))] = fmt.Sprintf("+++\nread = %v\n+++\n", read)
		}
		for j := range sent {
			files[filepath.Join(Sent, name, fmt.Sprintf("%d.md", j))] = "+++\n+++\n"
		}
		want[name] = [3]int{total, unread, sent}
	}
	s := newStore(t, text)
	abs := map[string]string{}
	for p, body := range files {
		abs[filepath.Join(s.DataDir, p)] = body
	}
	writeFiles(t, abs)
	c := indexed(t, s)
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		es, err := s.List(c, func(Entry) bool { return true })
		runtime.GOMAXPROCS(old)
		if err != nil || len(es) != n {
			t.Fatalf("GOMAXPROCS %d: List = %d entries, %v; want %d", procs, len(es), err, n)
		}
		for _, e := range es {
			if got := [3]int{e.Total, e.Unread, e.SentCount}; got != want[e.Name] {
				t.Errorf("GOMAXPROCS %d: %s total/unread/sent = %v; want %v", procs, e.Name, got, want[e.Name])
			}
		}
	}
}

// TestListNames: the set LIST checks folders under inbox/ against holds
// exactly the config's names, an escaped one too, and a hash that two
// names share falls back to the index's search.
func TestListNames(t *testing.T) {
	s := newStore(t, `domain = "example.com"

[mailboxes.a1]
address = "a1@example.com"
owner = "o"

[mailboxes."we\\ird"]
address = "w@example.com"
owner = "o"
`)
	decoded, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{decoded, indexed(t, s)} {
		n := c.names()
		for name, want := range map[string]bool{"a1": true, `we\ird`: true, `we\\ird`: false, "a": false, "a10": false, "": false} {
			if got := n.has(name); got != want {
				t.Errorf("indexed %v: has(%q) = %v; want %v", c.index != nil, name, got, want)
			}
		}
		if n.byHash != nil {
			n.byHash[fnv1a("a1")] = -1 // as if another name had a1's hash
			if !n.has("a1") || n.has("a2") {
				t.Errorf("a shared hash: has(a1) = %v, has(a2) = %v; want true, false", n.has("a1"), n.has("a2"))
			}
		}
	}
}

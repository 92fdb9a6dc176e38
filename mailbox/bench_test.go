package mailbox

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// configWith returns config text with n mailboxes.
func configWith(n int) []byte {
	var b strings.Builder
	b.WriteString("domain = \"bench.test\"\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\n[mailboxes.pre%05d]\naddress = \"pre%05d@bench.test\"\nowner = \"bench\"\n", i, i)
	}
	return []byte(b.String())
}

// BenchmarkEdit: what a CREATE and a DELETE cost in the config editor at
// 10, 1000 and 10000 mailboxes. parse, create and delete are the full
// decode path (decode the old text, edit, decode and compare the new
// text); build is what a request pays once when it finds no index for
// the config; load is what every request pays with a trusted index
// (hash the config, read the index); create-indexed and delete-indexed
// are the edits a request then makes (decode only what changed, hash the
// new text, write out the derived index).
func BenchmarkEdit(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		text := configWith(n)
		b.Run(fmt.Sprintf("parse/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ParseConfig("b.toml", text); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("create/%d", n), func(b *testing.B) {
			c, _ := ParseConfig("b.toml", text)
			c.slow = true
			for i := 0; i < b.N; i++ {
				if _, err := c.WithStanza(Stanza{Name: "new", Address: "new@bench.test", Owner: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("delete/%d", n), func(b *testing.B) {
			c, _ := ParseConfig("b.toml", text)
			c.slow = true
			for i := 0; i < b.N; i++ {
				if _, err := c.WithoutStanza("pre00005"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("build/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := BuildIndex("b.toml", text); err != nil {
					b.Fatal(err)
				}
			}
		})
		c, _ := BuildIndex("b.toml", text)
		file := MarshalIndex(c.index)
		b.Run(fmt.Sprintf("load/%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				x, err := UnmarshalIndex(file)
				if err != nil || x.Sum != sha256.Sum256(text) {
					b.Fatal(err)
				}
				fromIndex("b.toml", text, x)
			}
		})
		x, _ := UnmarshalIndex(file)
		b.Run(fmt.Sprintf("create-indexed/%d", n), func(b *testing.B) {
			c := fromIndex("b.toml", text, x)
			_, c.hashed = textHash(text)
			for i := 0; i < b.N; i++ {
				added, err := c.stanzaAdded(Stanza{Name: "new", Address: "new@bench.test", Owner: "bench"})
				if err != nil || !c.fast {
					b.Fatal(err)
				}
				sum, _ := extendHash(c.hashed, added)
				c.next.marshal(sum)
			}
		})
		b.Run(fmt.Sprintf("delete-indexed/%d", n), func(b *testing.B) {
			c := fromIndex("b.toml", text, x)
			for i := 0; i < b.N; i++ {
				out, err := c.WithoutStanza("pre00005")
				if err != nil || !c.fast {
					b.Fatal(err)
				}
				c.next.marshal(sha256.Sum256(out))
			}
		})
	}
}

// listFixture is a config of n mailboxes with inbox/<name> and
// sent/<name> on disk, every tenth holding three messages in its inbox
// (one of them read), and the checked index written beside the config
// (what a store last edited by the helper has). Every 312th mailbox, 32
// at 10 000, is owned by "agent", the rest by "other". It returns the
// store and the names of agent's mailboxes.
func listFixture(b *testing.B, n int) (*Store, []string) {
	b.Helper()
	dir := b.TempDir()
	data := filepath.Join(dir, "data")
	var text strings.Builder
	text.WriteString("domain = \"bench.test\"\n")
	var agent []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("pre%05d", i)
		owner := "other"
		if i%312 == 0 && len(agent) < 32 {
			owner = "agent"
			agent = append(agent, name)
		}
		fmt.Fprintf(&text, "\n[mailboxes.%s]\naddress = \"%s@bench.test\"\nowner = \"%s\"\n", name, name, owner)
		for _, kind := range []string{Inbox, Sent} {
			if err := os.MkdirAll(filepath.Join(data, kind, name), 0o700); err != nil {
				b.Fatal(err)
			}
		}
		if i%10 != 0 {
			continue
		}
		for m, read := range []string{"true", "false", "false"} {
			msg := fmt.Sprintf("+++\nid = \"m%d\"\nfrom = \"someone@example.com\"\nsubject = \"hello\"\nread = %s\n+++\n\nbody\n", m, read)
			if err := os.WriteFile(filepath.Join(data, Inbox, name, fmt.Sprintf("2026-01-0%d-m%d.md", m+1, m)), []byte(msg), 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(text.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	s := &Store{ConfigPath: cfg, DataDir: data}
	tx, err := s.Lock() // builds the index; Close writes it
	if err != nil {
		b.Fatal(err)
	}
	if err := tx.Close(); err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(s.IndexPath()); err != nil {
		b.Fatal(err)
	}
	settle(b, filepath.Join(data, Inbox)) // so that a LIST writes the folders cache
	return s, agent
}

// BenchmarkList: what a MAILBOX-LIST costs in storage at 10 000
// mailboxes (1 000 of them with three messages): the config loaded
// through its index, then the list, for root (every mailbox) and for a
// caller who owns 32 of them, filtered as the server filters, with the
// folders cache and without it (docs/PERFORMANCE.md, "LIST at 10 000
// mailboxes"). -cpu 1,2 shows what counting on two CPUs buys.
func BenchmarkList(b *testing.B) {
	s, agent := listFixture(b, 10000)
	uid := uint32(os.Getuid())
	for _, c := range []struct {
		name string
		list func(*Config) ([]Entry, error)
		want []string // nil: every mailbox
	}{
		{"root", func(cfg *Config) ([]Entry, error) { return s.List(cfg, func(Entry) bool { return true }) }, nil},
		{"owner32", func(cfg *Config) ([]Entry, error) { // no folder of another uid
			return s.ListFor(cfg, Filter{Owner: func(o string) bool { return o == "agent" }, Folder: func(u uint32) bool { return u == uid+1 }})
		}, agent},
		{"owner32-miss", func(cfg *Config) ([]Entry, error) { // as a LIST without the folders cache
			os.Remove(s.FoldersPath())
			return s.ListFor(cfg, Filter{Owner: func(o string) bool { return o == "agent" }, Folder: func(u uint32) bool { return u == uid+1 }})
		}, agent},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				cfg, err := s.Load()
				if err != nil || cfg.index == nil {
					b.Fatal("not loaded through the index: ", err)
				}
				es, err := c.list(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if c.want == nil && len(es) != 10000 || c.want != nil && len(es) != len(c.want) {
					b.Fatalf("%d entries", len(es))
				}
				for j, e := range es {
					switch {
					case c.want != nil && e.Name != c.want[j],
						c.want == nil && j%10 == 0 && (e.Total != 3 || e.Unread != 2),
						c.want == nil && j%10 != 0 && e.Total != 0:
						b.Fatalf("entry %d: %+v", j, e)
					}
				}
			}
		})
	}
}

package mailbox

import (
	"crypto/sha256"
	"fmt"
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

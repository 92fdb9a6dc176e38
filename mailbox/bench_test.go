package mailbox

import (
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

// BenchmarkEdit: what a CREATE and a DELETE cost in the config editor
// (parse, edit, decode-and-compare of the new text) at 10, 1000 and
// 10000 mailboxes.
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
			for i := 0; i < b.N; i++ {
				if _, err := c.WithStanza(Stanza{Name: "new", Address: "new@bench.test", Owner: "bench"}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("delete/%d", n), func(b *testing.B) {
			c, _ := ParseConfig("b.toml", text)
			for i := 0; i < b.N; i++ {
				if _, err := c.WithoutStanza("pre00005"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

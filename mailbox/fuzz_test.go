package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// gen turns fuzzer bytes into choices; past the end every choice is 0.
type gen struct{ b []byte }

func (g *gen) n(max int) int {
	if len(g.b) == 0 || max <= 1 {
		return 0
	}
	v := int(g.b[0]) % max
	g.b = g.b[1:]
	return v
}

func (g *gen) pick(s ...string) string { return s[g.n(len(s))] }

// genConfig writes valid config text from g: top-level keys, comments,
// blank lines and odd spacing, mailboxes written as [mailboxes.<name>]
// with bare or quoted names, extra keys, sub-tables and arrays of tables,
// other tables, LF or CRLF. It returns the names of its mailboxes.
func genConfig(g *gen) (string, []string) {
	eol := g.pick("\n", "\n", "\n", "\r\n")
	var b strings.Builder
	line := func(s string) { b.WriteString(s + eol) }
	sp := func() string { return g.pick("", " ", "  ", "\t", " \t ") }
	comment := func() string { return g.pick("", "", " # note", "\t#[mailboxes.fake]", " # a = \"b\"") }
	val := func() string {
		return g.pick(`"x"`, `'lit'`, `42`, `true`, `1.5`, `["a", "b"]`, `[1, [2, 3]]`, `{ k = "v", n = 1 }`,
			`"with # hash"`, `"[mailboxes.fake]"`, `"""`+eol+`multi`+eol+`[mailboxes.inside]`+eol+`"""`, `2026-11-26`)
	}
	if g.n(2) == 0 {
		line("# " + g.pick("operator config", "[mailboxes.commented]", "", "aimx"))
	}
	line("domain" + sp() + "=" + sp() + `"example.test"` + comment())
	for i, n := 0, g.n(3); i < n; i++ {
		line(fmt.Sprintf("top%d%s=%s%s%s", i, sp(), sp(), val(), comment()))
	}
	var names []string
	used := map[string]bool{}
	for i, n := 0, g.n(6); i < n; i++ {
		name := g.pick("a", "b", "support", "sales", "a.b", "x-y_z", "n0", "supportive", "c.d.e")
		if used[name] {
			continue
		}
		used[name] = true
		names = append(names, name)
		if g.n(2) == 0 {
			line("")
		}
		for j, c := 0, g.n(3); j < c; j++ {
			line("#" + g.pick(" about "+name, "", " [mailboxes."+name+"]"))
		}
		key := name
		if strings.Contains(name, ".") || g.n(4) == 0 {
			key = g.pick(`"`+name+`"`, `'`+name+`'`)
		}
		line(g.pick("", " ", "\t") + "[" + sp() + "mailboxes" + sp() + "." + sp() + key + sp() + "]" + comment())
		line("address" + sp() + "=" + sp() + `"` + name + `@example.test"` + comment())
		line("owner = " + g.pick(`"alice"`, `'bob'`, `"carol"`))
		for j, c := 0, g.n(3); j < c; j++ {
			line(fmt.Sprintf("k%d = %s", j, val()))
		}
		for j, c := 0, g.n(3); j < c; j++ {
			if g.n(2) == 0 {
				line("")
			}
			switch g.n(2) {
			case 0:
				line(fmt.Sprintf("[mailboxes.%s.sub%d]", key, j))
			default:
				line(fmt.Sprintf("[[mailboxes.%s.hooks]]", key))
			}
			line(fmt.Sprintf("cmd = %s", val()))
		}
		if g.n(3) == 0 {
			line("")
			line(fmt.Sprintf("[other%d]%s", i, comment()))
			line("x = " + val())
		}
	}
	for i, n := 0, g.n(3); i < n; i++ {
		line(g.pick("", "# trailing", "  "))
	}
	text := b.String()
	if g.n(4) == 0 {
		text = strings.TrimRight(text, "\r\n")
	}
	return text, names
}

// FuzzEditGenerated: random valid config text and a random create or
// delete. The edit either yields text that decodes to exactly the old
// meaning plus or minus that mailbox and keeps every other byte (a create
// only appends; a delete only drops whole lines), or it is refused with
// an *EditError and no text.
func FuzzEditGenerated(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x01\x00\x02\x03\x04\x05\x01\x02\x03\x00\x01\x02\x02\x01\x00\x03\x02\x01\x04"))
	f.Add(bytes.Repeat([]byte{1, 2, 3, 0, 5, 7, 11}, 20))
	f.Add(bytes.Repeat([]byte{3, 1, 4, 1, 5, 9, 2, 6}, 30))
	f.Fuzz(func(t *testing.T, choices []byte) {
		g := &gen{b: choices}
		text, names := genConfig(g)
		var want map[string]any
		if _, err := toml.Decode(text, &want); err != nil {
			t.Fatalf("generated text does not parse: %v\n%s", err, text)
		}
		c, err := ParseConfig("g.toml", []byte(text))
		if err != nil {
			t.Fatalf("ParseConfig: %v\n%s", err, text)
		}
		create := len(names) == 0 || g.n(2) == 0
		var name string
		var out []byte
		mbs, _ := want["mailboxes"].(map[string]any)
		if mbs == nil {
			mbs = map[string]any{}
			want["mailboxes"] = mbs
		}
		if create {
			name = g.pick("new", "support", "a.b", "n-1", "x.y.z", "supportive")
			if _, ok := mbs[name]; ok {
				return
			}
			out, err = c.WithStanza(Stanza{Name: name, Address: name + "@example.test", Owner: "dave"})
			mbs[name] = map[string]any{"address": name + "@example.test", "owner": "dave"}
		} else {
			name = names[g.n(len(names))]
			out, err = c.WithoutStanza(name)
			delete(mbs, name)
		}
		if len(mbs) == 0 {
			delete(want, "mailboxes")
		}
		if err != nil {
			var ee *EditError
			if !errors.As(err, &ee) || out != nil {
				t.Fatalf("refused with %T %v and %d bytes", err, err, len(out))
			}
			t.Logf("refused: %v", err)
			return
		}
		var got map[string]any
		if _, err := toml.Decode(string(out), &got); err != nil {
			t.Fatalf("edited text does not parse: %v\nbefore:\n%s\nafter:\n%s", err, text, out)
		}
		if m, ok := got["mailboxes"].(map[string]any); ok && len(m) == 0 {
			delete(got, "mailboxes")
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("create=%v %s: meaning\n got %v\nwant %v\nbefore:\n%s\nafter:\n%s", create, name, got, want, text, out)
		}
		if create {
			if !bytes.HasPrefix(out, []byte(text)) {
				t.Fatalf("create changed existing bytes:\nbefore:\n%q\nafter:\n%q", text, out)
			}
			return
		}
		// A delete keeps every other line as it was, in order.
		old := splitLines([]byte(text))
		i := 0
		for _, l := range splitLines(out) {
			for i < len(old) && !bytes.Equal(old[i], l) {
				i++
			}
			if i == len(old) {
				t.Fatalf("delete of %s changed a kept line %q:\nbefore:\n%q\nafter:\n%q", name, l, text, out)
			}
			i++
		}
	})
}

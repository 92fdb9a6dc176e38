package mailbox

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
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
// other tables, LF or CRLF; and shapes that the index's fast paths must
// leave to the full decode: multi-line values whose lines look like
// comments, blank lines or headers, a mailbox defined by dotted keys at
// the top level ("split"), and a [mailboxes] table whose dotted keys
// define a mailbox ("dot") and may add a key to another one. It returns
// the names of its mailboxes.
func genConfig(g *gen) (string, []string) {
	eol := g.pick("\n", "\n", "\n", "\r\n")
	var b strings.Builder
	line := func(s string) { b.WriteString(s + eol) }
	sp := func() string { return g.pick("", " ", "  ", "\t", " \t ") }
	comment := func() string { return g.pick("", "", " # note", "\t#[mailboxes.fake]", " # a = \"b\"") }
	val := func() string {
		return g.pick(`"x"`, `'lit'`, `42`, `true`, `1.5`, `["a", "b"]`, `[1, [2, 3]]`, `{ k = "v", n = 1 }`,
			`"with # hash"`, `"[mailboxes.fake]"`, `"""`+eol+`multi`+eol+`[mailboxes.inside]`+eol+`"""`, `2026-11-26`,
			`"""`+eol+`#"""`, `'''`+eol+`#'''`, `"""`+eol+eol+`"""`, `[`+eol+`  1, # c`+eol+eol+`  2,`+eol+`]`,
			`'''`+eol+`[mailboxes.x]`+eol+`# not a comment'''`)
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
	odd := g.n(6) // 1: a mailbox by top-level dotted keys; 2: a [mailboxes] table with dotted keys
	if odd == 1 {
		line(`mailboxes.split.address = "split@example.test"`)
		line(`mailboxes . split . owner = "alice"`)
		names = append(names, "split")
	}
	dotAt := -1
	if odd == 2 {
		dotAt = g.n(4)
	}
	for i, n := 0, g.n(6); i < n || i <= dotAt; i++ {
		if i == dotAt {
			line("")
			line("[mailboxes]" + comment())
			line(`dot.address = "dot@example.test"`)
			line(`dot.owner = 'carol'`)
			names = append(names, "dot")
			if len(names) > 1 && g.n(2) == 0 {
				key := names[g.n(len(names)-1)]
				if strings.Contains(key, ".") {
					key = `"` + key + `"`
				}
				line(key + ".extra = 1")
			}
		}
		if i >= n {
			break
		}
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
	if odd == 1 && g.n(2) == 0 {
		line("[mailboxes.split.sub]")
		line("k = " + val())
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
		if _, err := ParseConfig("g.toml", []byte(text)); err != nil {
			t.Fatalf("ParseConfig: %v\n%s", err, text)
		}
		create := len(names) == 0 || g.n(2) == 0
		var name string
		var out []byte
		var err error
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
			out, _, err = editBoth(t, []byte(text), Stanza{Name: name, Address: name + "@example.test", Owner: "dave"}, true)
			mbs[name] = map[string]any{"address": name + "@example.test", "owner": "dave"}
		} else {
			name = names[g.n(len(names))]
			out, _, err = editBoth(t, []byte(text), Stanza{Name: name}, false)
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

// editBoth makes one edit of text twice: through the full decode (the
// slow path) and as a request does with a trusted index (the index built,
// written out, read back, and the edit's fast path taken when the index
// allows it). It fails the test unless both give the same bytes and the
// same decision. When the fast path accepted, it also checks that the
// full decode of the new text confirms it, and that the index derived for
// the new text is byte for byte the one a build would give (a crash
// between the config write and the index write must converge). It
// returns the edited text, whether the fast path took it, and the error
// (of both paths: an *EditError) when the edit was refused. For a delete,
// only st.Name is used.
func editBoth(t *testing.T, text []byte, st Stanza, create bool) ([]byte, bool, error) {
	t.Helper()
	slow, err := ParseConfig("f.toml", text)
	if err != nil {
		t.Fatalf("editBoth needs text that parses: %v", err)
	}
	slow.slow = true
	built, err := BuildIndex("f.toml", text)
	if err != nil {
		t.Fatalf("BuildIndex failed where ParseConfig did not: %v", err)
	}
	x, err := UnmarshalIndex(MarshalIndex(built.index))
	if err != nil || !bytes.Equal(MarshalIndex(x), MarshalIndex(built.index)) {
		t.Fatalf("index does not read back: %v\n%+v\n%+v", err, x, built.index)
	}
	fast := fromIndex("f.toml", text, x)
	if !reflect.DeepEqual(slices.Collect(fast.All()), slices.Collect(slow.All())) || fast.Len() != slow.Len() || fast.Domain != slow.Domain || fast.DataDir != slow.DataDir {
		t.Fatalf("the index reads another config than the decode:\n%+v\n%+v", fast, slow)
	}
	edit := func(c *Config) ([]byte, error) {
		if create {
			return c.WithStanza(st)
		}
		return c.WithoutStanza(st.Name)
	}
	want, werr := edit(slow)
	got, gerr := edit(fast)
	if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("create=%v %s: the fast path gave %v %q, the full decode %v %q\ntext:\n%q", create, st.Name, gerr, got, werr, want, text)
	}
	if gerr != nil {
		var e1, e2 *EditError
		if !errors.As(werr, &e1) || !errors.As(gerr, &e2) || got != nil {
			t.Fatalf("refused with %T %v and %T %v", werr, werr, gerr, gerr)
		}
		return nil, fast.fast, gerr
	}
	if !fast.fast {
		return got, false, nil
	}
	// What the fast path accepted, the full decode confirms.
	meaning, _ := slow.decoded()
	var wantMeaning map[string]any
	if create {
		wantMeaning = withMailbox(meaning, st.Name, map[string]any{"address": st.Address, "owner": st.Owner})
	} else {
		wantMeaning = withMailbox(meaning, st.Name, nil)
	}
	m, err := decode(got)
	if err != nil || !sameMeaning(m, wantMeaning) {
		t.Fatalf("create=%v %s: fast path accepted text the full decode refuses (%v):\nbefore:\n%q\nafter:\n%q", create, st.Name, err, text, got)
	}
	if fast.next != nil {
		sum := sha256.Sum256(got)
		if create {
			// How Tx.write hashes a CREATE: on from the old text's state.
			_, state := textHash(text)
			var ok bool
			if sum, ok = extendHash(state, got[len(text):]); !ok || sum != sha256.Sum256(got) {
				t.Fatalf("extendHash: %v, %x, want %x", ok, sum, sha256.Sum256(got))
			}
		}
		rebuilt, err := BuildIndex("f.toml", got)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := fast.next.marshal(sum).bytes(), MarshalIndex(rebuilt.index); !bytes.Equal(a, b) {
			t.Fatalf("create=%v %s: derived index differs from a rebuild:\n%s\n%s\ntext:\n%q", create, st.Name, a, b, got)
		}
	}
	return got, true, nil
}

// TestFastPathTaken: over generated configs, the fast paths check nearly
// every edit that the full decode accepts (the rest fall back to it), so
// that they cannot quietly stop being used; and the fuzz targets'
// comparison of the two paths is not vacuous.
func TestFastPathTaken(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var fast, slow, refused int
	for range 500 {
		b := make([]byte, 200)
		r.Read(b)
		g := &gen{b: b}
		text, names := genConfig(g)
		var err error
		var took bool
		if len(names) == 0 || g.n(2) == 0 {
			c, _ := ParseConfig("g.toml", []byte(text))
			if _, ok := c.Mailbox("new"); ok {
				continue
			}
			_, took, err = editBoth(t, []byte(text), Stanza{Name: "new", Address: "new@example.test", Owner: "dave"}, true)
		} else {
			_, took, err = editBoth(t, []byte(text), Stanza{Name: names[g.n(len(names))]}, false)
		}
		switch {
		case err != nil:
			refused++
		case took:
			fast++
		default:
			slow++
		}
	}
	t.Logf("%d edits by the fast path, %d by the full decode, %d refused by both", fast, slow, refused)
	if fast < 9*(fast+slow)/10 || refused == 0 {
		t.Errorf("%d fast, %d slow, %d refused: want at least 90%% of the accepted edits fast, and some refusals", fast, slow, refused)
	}
}

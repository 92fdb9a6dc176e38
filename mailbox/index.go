package mailbox

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Index is the checked index of one exact config text: what requests need
// from it (domain, data_dir, each mailbox's name, address and owner) and
// the facts that let an edit be verified without decoding the whole text
// again. It is established once by a full decode of the text (BuildIndex)
// and kept beside the config in .<config name>.index, root-only like the
// lock, written only under the lock. A request trusts it only when the
// SHA-256 of the config bytes it just read equals Sum; any other config
// (the mail daemon rewrote it, the operator edited it) is decoded in full
// and indexed again.
type Index struct {
	Sum     [sha256.Size]byte // of the config text described
	Domain  string
	DataDir string
	// Appendable: appending a fresh [mailboxes.<new>] table (appendStanza)
	// to this text means the old config plus that mailbox. Established by
	// decoding the text with a probe stanza appended and comparing.
	Appendable bool
	Entries    []IndexEntry // sorted by name
}

// IndexEntry is one mailbox of an Index.
type IndexEntry struct {
	Stanza
	// Own: the mailbox's whole meaning lives in its own tables
	// ([mailboxes.<n>], [mailboxes.<n>.*], [[mailboxes.<n>.*]]), so that
	// removing exactly the lines WithoutStanza drops removes exactly it,
	// and each run of those lines starts and ends outside any multi-line
	// string or array.
	Own bool
}

// entry finds mailbox name; x may be nil.
func (x *Index) entry(name string) (IndexEntry, bool) {
	if x == nil {
		return IndexEntry{}, false
	}
	i, ok := slices.BinarySearchFunc(x.Entries, name, func(e IndexEntry, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return IndexEntry{}, false
	}
	return x.Entries[i], true
}

// indexEdit is the index of a config text after one edit, described by
// the index before it and the edit: one mailbox added (add), or removed
// (add nil). It is written out without copying the entries (marshal).
type indexEdit struct {
	base *Index
	name string
	add  *IndexEntry
}

// with is x after mailbox e was added, or mailbox name removed when e is
// nil.
func (x *Index) with(name string, e *IndexEntry) *indexEdit {
	return &indexEdit{base: x, name: name, add: e}
}

// each calls f for every entry of the edited index, in order.
func (d *indexEdit) each(f func(*IndexEntry)) {
	es := d.base.Entries
	i, found := slices.BinarySearchFunc(es, d.name, func(e IndexEntry, n string) int { return strings.Compare(e.Name, n) })
	for k := range es[:i] {
		f(&es[k])
	}
	if d.add != nil {
		f(d.add)
	}
	if found {
		i++
	}
	for k := range es[i:] {
		f(&es[i+k])
	}
}

// marshal is the file form of the edited index, describing the text
// whose hash is sum.
func (d *indexEdit) marshal(sum [sha256.Size]byte) []byte {
	n := len(d.base.Entries)
	if d.add != nil {
		n++
	} else if _, ok := d.base.entry(d.name); ok {
		n--
	}
	h := *d.base
	h.Sum = sum
	return marshalIndex(&h, n, d.each)
}

// textHash is the SHA-256 of text, and the hash's state after it, from
// which extendHash computes the hash of text with bytes appended without
// reading text again.
func textHash(text []byte) ([sha256.Size]byte, []byte) {
	h := sha256.New()
	h.Write(text)
	state, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, state
}

// extendHash is the SHA-256 of the text whose state textHash returned,
// followed by more.
func extendHash(state, more []byte) ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	h := sha256.New()
	if state == nil || h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state) != nil {
		return sum, false
	}
	h.Write(more)
	h.Sum(sum[:0])
	return sum, true
}

// probeName is a mailbox name that text's config does not have, for the
// appendable probe; it holds a '.', so its key is written quoted.
func probeName(has map[string]Stanza) string {
	for i := 0; ; i++ {
		n := "aimx.index-probe"
		if i > 0 {
			n += strconv.Itoa(i)
		}
		if _, ok := has[n]; !ok {
			return n
		}
	}
}

// BuildIndex decodes config text in full (failing like ParseConfig) and
// establishes its index. The Config it returns carries both the decoded
// meaning and the index, so that its edits take the fast paths that the
// index allows.
//
// Cost: four decodes of about the text's size (the text; the text with a
// probe stanza appended; the lines of all mailbox tables; the other
// lines). It runs once per config that a request finds unindexed.
func BuildIndex(path string, text []byte) (*Config, error) {
	c, err := ParseConfig(path, text)
	if err != nil {
		return nil, err
	}
	x := &Index{Domain: c.Domain, DataDir: c.DataDir}
	x.Sum, c.hashed = textHash(text)
	for _, n := range c.Names() {
		x.Entries = append(x.Entries, IndexEntry{Stanza: c.mailboxes[n]})
	}
	c.index = x

	if !assignsMailboxes(text) {
		p := Stanza{Name: probeName(c.mailboxes), Address: "probe@index.invalid", Owner: "probe"}
		if m, err := decode(appendStanza(text, p)); err == nil {
			x.Appendable = sameMeaning(m, withMailbox(c.meaning, p.Name, map[string]any{"address": p.Address, "owner": p.Owner}))
		}
	}

	sc, err := scanLines(text)
	if err != nil {
		return c, nil // no table can be cut out: every DELETE decodes in full
	}
	groups := sc.mailboxHeaders()
	dropAll := make([]bool, len(sc.lines))
	clean := map[string]bool{}
	for name, hs := range groups {
		runs := sc.runs(hs, name)
		clean[name] = sc.runsClean(runs)
		for _, r := range runs {
			for j := r[0]; j < r[1]; j++ {
				dropAll[j] = true
			}
		}
	}
	var tables, rest bytes.Buffer
	for i, l := range sc.lines {
		if dropAll[i] {
			tables.Write(l)
		} else {
			rest.Write(l)
		}
	}
	dm, err := decode(tables.Bytes())
	if err != nil {
		return c, nil
	}
	rm, err := decode(rest.Bytes())
	if err != nil {
		return c, nil
	}
	// The cut is faithful: the two parts together mean the whole text.
	whole, ok := merge(rm, dm)
	if !ok || !sameMeaning(whole, c.meaning) {
		return c, nil
	}
	dmbs, _ := dm["mailboxes"].(map[string]any)
	rmbs, _ := rm["mailboxes"].(map[string]any)
	mbs, _ := c.meaning["mailboxes"].(map[string]any)
	for i := range x.Entries {
		n := x.Entries[i].Name
		_, elsewhere := rmbs[n]
		x.Entries[i].Own = clean[n] && !elsewhere && equal(dmbs[n], mbs[n])
	}
	return c, nil
}

// merge deep-merges the decoded tables a and b into a new map; ok is
// false when they define the same key other than as two tables.
func merge(a, b map[string]any) (map[string]any, bool) {
	out := maps.Clone(a)
	for k, bv := range b {
		av, ok := out[k]
		if !ok {
			out[k] = bv
			continue
		}
		am, aok := av.(map[string]any)
		bm, bok := bv.(map[string]any)
		if !aok || !bok {
			return nil, false
		}
		m, ok := merge(am, bm)
		if !ok {
			return nil, false
		}
		out[k] = m
	}
	return out, true
}

// fromIndex is the Config of text as its trusted index x describes it;
// its meaning is decoded only if an edit falls back to the full check.
func fromIndex(path string, text []byte, x *Index) *Config {
	return &Config{Path: path, Domain: x.Domain, DataDir: x.DataDir, text: text, index: x}
}

// The index file: a header line, one line per field, one line per
// mailbox (tab-separated, sorted by name), and a last line with the
// SHA-256 of every byte before it, so that a torn or truncated file is
// never trusted.
const indexMagic = "aimx-mailboxd config index 1"

// MarshalIndex is the file form of x.
func MarshalIndex(x *Index) []byte {
	return marshalIndex(x, len(x.Entries), func(f func(*IndexEntry)) {
		for i := range x.Entries {
			f(&x.Entries[i])
		}
	})
}

// marshalIndex writes the header of x and the n entries that each
// gives.
func marshalIndex(x *Index, n int, each func(func(*IndexEntry))) []byte {
	size := 256 + len(x.Domain) + len(x.DataDir)
	each(func(e *IndexEntry) { size += 8 + len(e.Name) + len(e.Address) + len(e.Owner) })
	b := make([]byte, 0, size)
	b = append(b, indexMagic+"\nsum "...)
	b = hex.AppendEncode(b, x.Sum[:])
	b = append(b, "\ndomain "...)
	b = appendField(b, x.Domain)
	b = append(b, "\ndata_dir "...)
	b = appendField(b, x.DataDir)
	b = append(b, "\nappendable "...)
	b = strconv.AppendBool(b, x.Appendable)
	b = append(b, "\nmailboxes "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '\n')
	each(func(e *IndexEntry) {
		if e.Own {
			b = append(b, "own\t"...)
		} else {
			b = append(b, "-\t"...)
		}
		b = appendField(b, e.Name)
		b = append(b, '\t')
		b = appendField(b, e.Address)
		b = append(b, '\t')
		b = appendField(b, e.Owner)
		b = append(b, '\n')
	})
	sum := sha256.Sum256(b)
	b = append(b, "end "...)
	b = hex.AppendEncode(b, sum[:])
	return append(b, '\n')
}

var errIndex = errors.New("not a valid index")

// UnmarshalIndex parses the file form of an index; any flaw is an error.
func UnmarshalIndex(data []byte) (*Index, error) {
	i := bytes.LastIndexByte(data[:max(len(data)-1, 0)], '\n')
	if i < 0 || data[len(data)-1] != '\n' {
		return nil, errIndex
	}
	sum := sha256.Sum256(data[:i+1])
	if string(data[i+1:len(data)-1]) != "end "+hex.EncodeToString(sum[:]) {
		return nil, errIndex
	}
	body := string(data[:i+1]) // every field is cut from it, without a copy each
	next := func() (string, bool) {
		j := strings.IndexByte(body, '\n')
		if j < 0 {
			return "", false
		}
		line := body[:j]
		body = body[j+1:]
		return line, true
	}
	field := func(key string) (string, bool) {
		l, ok := next()
		if !ok {
			return "", false
		}
		return strings.CutPrefix(l, key+" ")
	}
	x := &Index{}
	if l, ok := next(); !ok || l != indexMagic {
		return nil, errIndex
	}
	v, ok := field("sum")
	if !ok || hex.DecodedLen(len(v)) != sha256.Size {
		return nil, errIndex
	}
	if _, err := hex.Decode(x.Sum[:], []byte(v)); err != nil {
		return nil, errIndex
	}
	var err error
	if v, ok = field("domain"); !ok {
		return nil, errIndex
	}
	if x.Domain, err = unescapeField(v); err != nil {
		return nil, err
	}
	if v, ok = field("data_dir"); !ok {
		return nil, errIndex
	}
	if x.DataDir, err = unescapeField(v); err != nil {
		return nil, err
	}
	if v, ok = field("appendable"); !ok {
		return nil, errIndex
	}
	if x.Appendable, err = strconv.ParseBool(v); err != nil {
		return nil, errIndex
	}
	if v, ok = field("mailboxes"); !ok {
		return nil, errIndex
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > len(body) {
		return nil, errIndex
	}
	x.Entries = make([]IndexEntry, n)
	for k := range x.Entries {
		l, ok := next()
		if !ok {
			return nil, errIndex
		}
		e := &x.Entries[k]
		var f [4]string
		for j := range 3 {
			t := strings.IndexByte(l, '\t')
			if t < 0 {
				return nil, errIndex
			}
			f[j], l = l[:t], l[t+1:]
		}
		f[3] = l
		if strings.IndexByte(l, '\t') >= 0 {
			return nil, errIndex
		}
		switch f[0] {
		case "own":
			e.Own = true
		case "-":
		default:
			return nil, errIndex
		}
		var err1, err2, err3 error
		e.Name, err1 = unescapeField(f[1])
		e.Address, err2 = unescapeField(f[2])
		e.Owner, err3 = unescapeField(f[3])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, errIndex
		}
		if k > 0 && x.Entries[k-1].Name >= e.Name {
			return nil, errIndex // sorted, no duplicates
		}
	}
	if len(body) != 0 {
		return nil, errIndex
	}
	return x, nil
}

// appendField appends s on one tab-free line: backslash, tab, CR and LF
// are written \\, \t, \r and \n.
func appendField(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == '\t' || c == '\r' || c == '\n' {
			plain = false
			break
		}
	}
	if plain {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '\t':
			b = append(b, `\t`...)
		case '\r':
			b = append(b, `\r`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func unescapeField(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("%w: a lone backslash", errIndex)
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			return "", fmt.Errorf("%w: unknown escape", errIndex)
		}
	}
	return b.String(), nil
}

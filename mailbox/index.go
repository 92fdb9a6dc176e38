package mailbox

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
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

	// rows are the mailboxes' lines as the file holds them, one per
	// mailbox, sorted by name; row i is rows[start[i]:start[i+1]], its
	// '\n' included, and start[0] is 0. A request decodes only the rows
	// it reads, and an edit copies the others out unchanged: at 10 000
	// mailboxes, entries decoded into a slice cost a CREATE more than
	// its hashing.
	rows  []byte
	start []int
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

// setEntries makes es (sorted by name, no name twice) x's mailboxes.
func (x *Index) setEntries(es []IndexEntry) {
	x.rows, x.start = nil, []int{0}
	for i := range es {
		x.rows = appendRow(x.rows, &es[i])
		x.start = append(x.start, len(x.rows))
	}
}

// Len is the number of mailboxes; x may be nil.
func (x *Index) Len() int {
	if x == nil || len(x.start) == 0 {
		return 0
	}
	return len(x.start) - 1
}

// field k (0: own flag, 1: name, 2: address, 3: owner) of row i, as
// written (escaped).
func (x *Index) field(i, k int) []byte {
	l := x.rows[x.start[i] : x.start[i+1]-1]
	if k == 3 { // the last: a row has exactly four (rowsChecked)
		return l[bytes.LastIndexByte(l, '\t')+1:]
	}
	for ; k > 0; k-- {
		l = l[bytes.IndexByte(l, '\t')+1:]
	}
	if t := bytes.IndexByte(l, '\t'); t >= 0 {
		l = l[:t]
	}
	return l
}

// at is mailbox i, in name order. The rows were checked when the index
// was read or made, so their fields unescape.
func (x *Index) at(i int) IndexEntry {
	e, _ := parseRow(x.rows[x.start[i] : x.start[i+1]-1])
	return e
}

// nameAt is the name of mailbox i.
func (x *Index) nameAt(i int) string {
	n, _ := unescapeField(string(x.field(i, 1)))
	return n
}

// search is where mailbox name is, or would go, in the rows; found says
// whether it is there.
func (x *Index) search(name string) (int, bool) {
	lo, hi := 0, x.Len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if compareField(x.field(m, 1), name) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < x.Len() && compareField(x.field(lo, 1), name) == 0
}

// compareField compares the name that escaped field f holds with name,
// without a copy when f holds no escape.
func compareField(f []byte, name string) int {
	if bytes.IndexByte(f, '\\') < 0 {
		return strings.Compare(string(f), name)
	}
	n, _ := unescapeField(string(f))
	return strings.Compare(n, name)
}

// entry finds mailbox name; x may be nil.
func (x *Index) entry(name string) (IndexEntry, bool) {
	if x == nil {
		return IndexEntry{}, false
	}
	i, ok := x.search(name)
	if !ok {
		return IndexEntry{}, false
	}
	return x.at(i), true
}

// indexEdit is the index of a config text after one edit, described by
// the index before it and the edit: one mailbox added (add), or removed
// (add nil). It is written out without decoding the rows it keeps
// (marshal).
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

// marshal is the file form of the edited index, describing the text
// whose hash is sum, in pieces: the header, the rows before the
// mailbox's place, its new row (if any), the rows after it (the old
// ones, not copied), and the last line.
func (d *indexEdit) marshal(sum [sha256.Size]byte) indexFile {
	x := d.base
	i, found := x.search(d.name)
	n, next := x.Len(), i
	if found {
		n, next = n-1, i+1
	}
	var add []byte
	if d.add != nil {
		add = appendRow(nil, d.add)
		n++
	}
	h := *x
	h.Sum = sum
	return withEnd(h.appendHeader(nil, n), x.rows[:x.start[i]], add, x.rows[x.start[next]:])
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
	names := c.Names()
	es := make([]IndexEntry, len(names))
	for i, n := range names {
		es[i].Stanza = c.mailboxes[n]
	}
	x.setEntries(es)
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
	for i := range es {
		n := es[i].Name
		_, elsewhere := rmbs[n]
		es[i].Own = clean[n] && !elsewhere && equal(dmbs[n], mbs[n])
	}
	x.setEntries(es)
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
// CRC-32 (IEEE, as in gzip) of every byte before it, so that a torn or truncated file is
// never trusted. (A checksum against accidents is enough: only root, or
// the config folder's owner, can write the index, and a request trusts
// no other; TestIndexUntrusted.)
const indexMagic = "aimx-mailboxd config index 2"

// indexFile is an index's file form in pieces, which writeIndex writes
// one after the other without joining them.
type indexFile [][]byte

// file is the file form of x in pieces: its header, its rows as they
// are, and the last line.
func (x *Index) file() indexFile { return withEnd(x.appendHeader(nil, x.Len()), x.rows) }

// appendHeader appends the file's lines before the rows: x's fields and
// n, the number of rows.
func (x *Index) appendHeader(b []byte, n int) []byte {
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
	return append(b, '\n')
}

// appendRow appends e's line.
func appendRow(b []byte, e *IndexEntry) []byte {
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
	return append(b, '\n')
}

// withEnd is the pieces of a file form followed by its last line: the
// CRC-32 of all of them.
func withEnd(pieces ...[]byte) indexFile {
	var sum uint32
	for _, p := range pieces {
		sum = crc32.Update(sum, crc32.IEEETable, p)
	}
	return append(pieces, fmt.Appendf(nil, "end %08x\n", sum))
}

// checkEnd returns what precedes the last line of data, a cache file's
// form, when that line is the checksum withEnd wrote of it.
func checkEnd(data []byte) ([]byte, bool) {
	i := bytes.LastIndexByte(data[:max(len(data)-1, 0)], '\n')
	if i < 0 || data[len(data)-1] != '\n' {
		return nil, false
	}
	return data[:i+1], string(data[i+1:len(data)-1]) == fmt.Sprintf("end %08x", crc32.ChecksumIEEE(data[:i+1]))
}

var errIndex = errors.New("not a valid index")

// parseRow decodes one row, without its '\n': four tab-separated fields
// (own or -, name, address, owner), each a valid appendField.
func parseRow(l []byte) (IndexEntry, error) {
	var e IndexEntry
	var f [4][]byte
	for j := range 3 {
		t := bytes.IndexByte(l, '\t')
		if t < 0 {
			return e, errIndex
		}
		f[j], l = l[:t], l[t+1:]
	}
	f[3] = l
	if bytes.IndexByte(l, '\t') >= 0 {
		return e, errIndex
	}
	switch string(f[0]) {
	case "own":
		e.Own = true
	case "-":
	default:
		return e, errIndex
	}
	var err1, err2, err3 error
	e.Name, err1 = unescapeField(string(f[1]))
	e.Address, err2 = unescapeField(string(f[2]))
	e.Owner, err3 = unescapeField(string(f[3]))
	if err1 != nil || err2 != nil || err3 != nil {
		return e, errIndex
	}
	return e, nil
}

// nameOf checks row l (without its '\n') as parseRow would, all but its
// number of tabs and its escapes, which rowsChecked counts for all rows
// at once, and returns its name field as written. A row holds at least
// three tabs when nameOf accepts it: after its flag, after its name, and
// one more after that.
func nameOf(l []byte) ([]byte, bool) {
	var rest []byte
	switch {
	case len(l) > 4 && string(l[:4]) == "own\t":
		rest = l[4:]
	case len(l) > 2 && string(l[:2]) == "-\t":
		rest = l[2:]
	default:
		return nil, false
	}
	t := bytes.IndexByte(rest, '\t')
	if t < 0 || bytes.LastIndexByte(rest, '\t') == t {
		return nil, false
	}
	return rest[:t], true
}

// UnmarshalIndex parses the file form of an index; any flaw is an error.
// Every row is checked (fields, escapes, names strictly increasing) but
// not decoded: the Index keeps the rows as they are.
func UnmarshalIndex(data []byte) (*Index, error) {
	body, ok := checkEnd(data)
	if !ok {
		return nil, errIndex
	}
	next := func() (string, bool) {
		j := bytes.IndexByte(body, '\n')
		if j < 0 {
			return "", false
		}
		line := string(body[:j])
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
	x.rows, x.start = body, make([]int, 1, n+1)
	if err := x.rowsChecked(n); err != nil {
		return nil, err
	}
	return x, nil
}

// rowsChecked splits x.rows into its n rows (x.start) and checks them as
// parseRow would, names strictly increasing. What no row may hold more
// of is counted once for all of them: each row has at least three tabs
// (nameOf), so 3n tabs in all means exactly three in each; and rows are
// unescaped one by one only when a backslash is somewhere in them.
func (x *Index) rowsChecked(n int) error {
	if bytes.Count(x.rows, []byte{'\t'}) != 3*n {
		return errIndex
	}
	escapes := bytes.IndexByte(x.rows, '\\') >= 0
	var prev []byte
	for k := range n {
		off := x.start[k]
		j := bytes.IndexByte(x.rows[off:], '\n')
		if j < 0 {
			return errIndex
		}
		l := x.rows[off : off+j]
		name, ok := nameOf(l)
		if !ok {
			return errIndex
		}
		if escapes {
			if _, err := parseRow(l); err != nil {
				return err
			}
			if k > 0 && compareNames(prev, name) >= 0 {
				return errIndex // sorted, no duplicates
			}
		} else if k > 0 && bytes.Compare(prev, name) >= 0 {
			return errIndex
		}
		prev = name
		x.start = append(x.start, off+j+1)
	}
	if x.start[n] != len(x.rows) {
		return errIndex
	}
	return nil
}

// compareNames compares the names that escaped fields a and b hold.
func compareNames(a, b []byte) int {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.Compare(a, b)
	}
	na, _ := unescapeField(string(a))
	nb, _ := unescapeField(string(b))
	return strings.Compare(na, nb)
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

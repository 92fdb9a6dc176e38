package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"
)

// EditError is an edit that would not mean exactly the old config plus or
// minus one mailbox, or text this program cannot edit safely. Nothing is
// written when it is returned.
type EditError struct {
	Path string
	Msg  string
}

func (e *EditError) Error() string {
	return fmt.Sprintf("edit %s: %s; the file was not changed, edit it by hand", e.Path, e.Msg)
}

// stanzaAdded is the edit of a CREATE: the config text with one
// [mailboxes.<name>] stanza appended and every other byte kept. It checks
// that the new text decodes to exactly the old meaning plus that mailbox,
// else it returns an *EditError.
//
// A config loaded through a trusted index (index.go) that the index marks
// appendable is checked by decoding only the appended fragment: the index
// proved, by a full decode of this very text with a probe stanza
// appended, that appending a fresh table means old plus that table. Any
// other config, or a fragment that does not mean exactly the stanza, is
// checked by decoding the whole new text.
//
// It returns only the bytes it appends, so that a CREATE writes the text
// it read and them without joining the two (at 10 000
// mailboxes the copy cost more than the fragment's decode).
func (c *Config) stanzaAdded(st Stanza) ([]byte, error) {
	added := stanzaText(c.text, st)
	if c.index != nil && c.index.Appendable && !c.slow {
		want := map[string]any{"mailboxes": map[string]any{st.Name: map[string]any{"address": st.Address, "owner": st.Owner}}}
		if got, err := decode(added); err == nil && sameMeaning(got, want) {
			c.fast, c.next = true, c.index.with(st.Name, &IndexEntry{Stanza: st, Own: true})
			return added, nil
		}
	}
	c.fast, c.next = false, nil
	if assignsMailboxes(c.text) {
		// Another table can not be added to an inline table; some parsers
		// would take it, others not.
		return nil, &EditError{Path: c.Path, Msg: "mailboxes is written as an inline table (mailboxes = {...}); write each mailbox as a [mailboxes.<name>] table"}
	}
	meaning, err := c.decoded()
	if err != nil {
		return nil, err
	}
	want := withMailbox(meaning, st.Name, map[string]any{"address": st.Address, "owner": st.Owner})
	if _, err := c.checked(append(c.text[:len(c.text):len(c.text)], added...), want); err != nil {
		return nil, err
	}
	return added, nil
}

// appendStanza is text with st's stanza appended (stanzaText).
func appendStanza(text []byte, st Stanza) []byte {
	return append(text[:len(text):len(text)], stanzaText(text, st)...)
}

// stanzaText is what appending st's stanza to text adds: a line end if
// text lacks its last, a blank line if its last line is not blank, and
// the stanza, in the line ends the text already uses.
func stanzaText(text []byte, st Stanza) []byte {
	eol := lineEnd(text)
	b := bytes.NewBuffer(make([]byte, 0, 3*len(eol)+len(st.Name)+len(st.Address)+len(st.Owner)+40))
	if len(text) > 0 {
		if !bytes.HasSuffix(text, []byte("\n")) {
			b.WriteString(eol)
		}
		if !isBlank(lastLine(text)) {
			b.WriteString(eol)
		}
	}
	fmt.Fprintf(b, "[mailboxes.%s]%saddress = %q%sowner = %q%s", tomlKey(st.Name), eol, st.Address, eol, st.Owner, eol)
	return b.Bytes()
}

// lastLine is the last line of text, with its line end.
func lastLine(text []byte) []byte {
	i := bytes.LastIndexByte(bytes.TrimSuffix(text, []byte("\n")), '\n')
	return text[i+1:]
}

// WithoutStanza returns the config text without the lines of mailbox
// name's stanza and its sub-tables ([mailboxes.<name>.*] and
// [[mailboxes.<name>.*]]), every other byte kept. A block of comment lines
// directly above a table header belongs to that table: it goes with a
// table that goes and stays with one that stays. It checks
// that the new text decodes to exactly the old meaning minus that mailbox,
// else it returns an *EditError.
//
// A config loaded through a trusted index that marks the mailbox
// self-contained (all of its meaning lives in its own tables, proved by a
// full decode when the index was built) is checked by decoding only the
// dropped lines, which must mean that mailbox and nothing else, and by
// checking that every run of dropped lines starts and ends outside any
// multi-line string or array. Anything else is checked by decoding the
// whole new text.
func (c *Config) WithoutStanza(name string) ([]byte, error) {
	sc, err := scanLines(c.text)
	if err != nil {
		return nil, &EditError{Path: c.Path, Msg: err.Error()}
	}
	var hs []int
	for i, h := range sc.headers {
		if isMailboxTable(h.path, name) {
			hs = append(hs, i)
		}
	}
	runs := sc.runs(hs, name)
	drop := make([]bool, len(sc.lines))
	for _, r := range runs {
		for j := r[0]; j < r[1]; j++ {
			drop[j] = true
		}
	}
	var kept, gone bytes.Buffer
	kept.Grow(len(c.text))
	for i, l := range sc.lines {
		if drop[i] {
			gone.Write(l)
		} else {
			kept.Write(l)
		}
	}
	text := kept.Bytes()
	if e, ok := c.index.entry(name); ok && e.Own && !c.slow && sc.runsClean(runs) {
		if got, err := decode(gone.Bytes()); err == nil && onlyMailbox(got, name, e.Stanza) {
			c.fast, c.next = true, nil
			if c.index.Appendable {
				// Otherwise a new build might find the text appendable
				// now; the next request builds the index again.
				c.next = c.index.with(name, nil)
			}
			return text, nil
		}
	}
	c.fast, c.next = false, nil
	meaning, err := c.decoded()
	if err != nil {
		return nil, err
	}
	return c.checked(text, withMailbox(meaning, name, nil))
}

// onlyMailbox reports whether decoded text m holds mailbox name and
// nothing else, with st's address and owner.
func onlyMailbox(m map[string]any, name string, st Stanza) bool {
	if len(m) != 1 {
		return false
	}
	mbs, ok := m["mailboxes"].(map[string]any)
	if !ok || len(mbs) != 1 {
		return false
	}
	t, ok := mbs[name].(map[string]any)
	if !ok {
		return false
	}
	addr, _ := t["address"].(string)
	own, _ := t["owner"].(string)
	return addr == st.Address && own == st.Owner
}

// isMailboxTable reports whether a header path is mailbox name's table or
// one of its sub-tables.
func isMailboxTable(path []string, name string) bool {
	return len(path) >= 2 && path[0] == "mailboxes" && path[1] == name
}

// mailboxHeaders groups the headers of mailbox tables by mailbox name:
// the indexes into sc.headers, in order.
func (sc *scan) mailboxHeaders() map[string][]int {
	groups := map[string][]int{}
	for i, h := range sc.headers {
		if len(h.path) >= 2 && h.path[0] == "mailboxes" {
			groups[h.path[1]] = append(groups[h.path[1]], i)
		}
	}
	return groups
}

// runs returns the line ranges [start, end) that removing mailbox name
// drops, in order and disjoint, given hs, the indexes of its table
// headers: each table's lines, the comment block directly above each
// header, and one blank line that separated them from their neighbours
// (so that a create and a delete leave the file as it was). Trailing
// blank and comment lines before the next table that is not the
// mailbox's stay. Only lines that start outside a multi-line string or
// array count as blank or comment lines.
func (sc *scan) runs(hs []int, name string) [][2]int {
	lines, headers := sc.lines, sc.headers
	var out [][2]int
	for _, i := range hs {
		h := headers[i]
		end := len(lines)
		if i+1 < len(headers) {
			end = headers[i+1].line
		}
		if i+1 == len(headers) || !isMailboxTable(headers[i+1].path, name) {
			for end > h.line+1 && sc.top[end-1] && (isBlank(lines[end-1]) || isComment(lines[end-1])) {
				end--
			}
		}
		start := h.line
		for start > 0 && sc.top[start-1] && isComment(lines[start-1]) {
			start-- // the comment block directly above belongs to the table
		}
		if k := len(out); k > 0 && out[k-1][1] >= start {
			out[k-1][1] = max(out[k-1][1], end)
			continue
		}
		out = append(out, [2]int{start, end})
	}
	for k := 0; k < len(out); k++ {
		s, e := out[k][0], out[k][1]
		switch {
		case e < len(lines) && sc.top[e] && isBlank(lines[e]) && (s == 0 || sc.top[s-1] && isBlank(lines[s-1])):
			out[k][1] = e + 1
			if k+1 < len(out) && out[k+1][0] == e+1 {
				// The next run now continues this one.
				out[k][1] = out[k+1][1]
				out = append(out[:k+1], out[k+2:]...)
			}
		case e == len(lines) && s > 0 && sc.top[s-1] && isBlank(lines[s-1]):
			out[k][0] = s - 1
			if k > 0 && out[k-1][1] == s-1 {
				out[k-1][1] = out[k][1]
				out = append(out[:k], out[k+1:]...)
				k--
			}
		}
	}
	return out
}

// runsClean reports whether every run starts on a line that begins
// outside any multi-line string or array, and is followed by such a line
// (or the end of the text): then the lines around the runs scan exactly
// as they did with them, each under the same table header, and the runs
// are whole TOML statements.
func (sc *scan) runsClean(runs [][2]int) bool {
	for _, r := range runs {
		if !sc.top[r[0]] || r[1] < len(sc.lines) && !sc.top[r[1]] {
			return false
		}
	}
	return true
}

func (c *Config) checked(text []byte, want map[string]any) ([]byte, error) {
	got, err := decode(text)
	if err != nil {
		return nil, &EditError{Path: c.Path, Msg: "the edited text would not parse: " + err.Error()}
	}
	if !sameMeaning(got, want) {
		return nil, &EditError{Path: c.Path, Msg: "the edited text would not mean the old config plus or minus exactly one mailbox (is the stanza written with dotted keys or inline tables?)"}
	}
	return text, nil
}

// assignsMailboxes reports whether a line of text assigns the whole
// mailboxes table: after spaces and tabs, mailboxes (bare, "quoted" or
// 'quoted'), spaces and tabs, '='. (A plain loop rather than a regexp:
// a package-level regexp is compiled by every process at start-up.)
func assignsMailboxes(text []byte) bool {
	for len(text) > 0 {
		line := text
		if i := bytes.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = nil
		}
		line = bytes.TrimLeft(line, " \t")
		for _, key := range []string{"mailboxes", `"mailboxes"`, "'mailboxes'"} {
			if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
				if rest = bytes.TrimLeft(rest, " \t"); len(rest) > 0 && rest[0] == '=' {
					return true
				}
			}
		}
	}
	return false
}

// tomlKey writes a mailbox name as a TOML key: bare when it can be,
// quoted when it holds a '.' (names never hold '"' or '\').
func tomlKey(name string) string {
	if strings.Contains(name, ".") {
		return `"` + name + `"`
	}
	return name
}

// lineEnd is the line end the file already uses.
func lineEnd(text []byte) string {
	if i := bytes.IndexByte(text, '\n'); i > 0 && text[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// splitLines splits text after each '\n'; the lines keep their ends, so
// joining them gives text back.
func splitLines(text []byte) [][]byte {
	lines := make([][]byte, 0, bytes.Count(text, []byte("\n"))+1)
	for len(text) > 0 {
		i := bytes.IndexByte(text, '\n') + 1
		if i == 0 {
			i = len(text)
		}
		lines = append(lines, text[:i])
		text = text[i:]
	}
	return lines
}

func isBlank(l []byte) bool { return len(bytes.TrimSpace(l)) == 0 }

func isComment(l []byte) bool { return bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) }

// header is a table header line: [a.b] or [[a.b]].
type header struct {
	line int
	path []string
}

// scan is TOML text cut into lines (each with its line end), its table
// headers, and for each line whether it starts outside any multi-line
// string or array (top): only such a line can be a header, a comment or a
// blank line of the document rather than part of a value.
type scan struct {
	lines   [][]byte
	headers []header
	top     []bool
}

// scanLines finds the table headers of TOML text, line by line, keeping
// track of multi-line strings and arrays so that a '[' inside a value is
// never taken for a header, nor a '#' inside one for a comment.
func scanLines(text []byte) (*scan, error) {
	sc := &scan{lines: splitLines(text)}
	sc.top = make([]bool, len(sc.lines))
	sc.headers = make([]header, 0, bytes.Count(text, []byte("\n["))+1)
	str := string(text) // header keys are cut from it, without a copy each
	off := 0
	var (
		inStr string // `"""` or `'''` while inside a multi-line string
		depth int    // open [ and { of a value
	)
	for n, l := range sc.lines {
		at := off // of line n in text
		off += len(l)
		s := l
		for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
			s = s[:len(s)-1]
		}
		sc.top[n] = inStr == "" && depth == 0
		if sc.top[n] {
			t := s
			for len(t) > 0 && (t[0] == ' ' || t[0] == '\t') {
				t = t[1:]
			}
			if len(t) > 0 && t[0] == '[' {
				start := at + len(s) - len(t)
				path, err := parseHeader(str[start : start+len(t)])
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", n+1, err)
				}
				sc.headers = append(sc.headers, header{line: n, path: path})
				continue
			}
		}
		i := 0
		for i < len(s) {
			if inStr != "" {
				j := bytes.Index(s[i:], []byte(inStr))
				if j < 0 {
					break
				}
				if inStr == `"""` && escapedAt(s, i+j) {
					i += j + 1
					continue
				}
				i += j + 3
				for i < len(s) && s[i] == inStr[0] { // up to two quotes may close it
					i++
				}
				inStr = ""
				continue
			}
			switch ch := s[i]; ch {
			case '#':
				i = len(s)
				continue
			case '"', '\'':
				if i+2 < len(s) && s[i+1] == ch && s[i+2] == ch {
					inStr = string([]byte{ch, ch, ch})
					i += 3
					continue
				}
				j := i + 1
				for j < len(s) && (s[j] != ch || ch == '"' && escapedAt(s, j)) {
					j++
				}
				i = j + 1
				continue
			case '[', '{':
				depth++
			case ']', '}':
				depth--
			}
			i++
		}
	}
	return sc, nil
}

// escapedAt reports whether s[i] is preceded by an odd number of '\'.
func escapedAt(s []byte, i int) bool {
	n := 0
	for i > 0 && s[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// escaped reports whether s[i] is preceded by an odd number of '\'.
func escaped(s string, i int) bool {
	n := 0
	for i > 0 && s[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// parseHeader parses the key path of a table header line that starts at
// '['.
func parseHeader(line string) (path []string, err error) {
	var bad error = errBadHeader
	defer func() {
		if err == errBadHeader {
			err = errors.New("cannot read table header " + strings.TrimSpace(line))
		}
	}()
	s := strings.TrimPrefix(line, "[")
	array := strings.HasPrefix(s, "[")
	s = strings.TrimPrefix(s, "[")
	for {
		s = trimBlank(s)
		var key string
		switch {
		case strings.HasPrefix(s, `"`):
			j := 1
			for j < len(s) && (s[j] != '"' || escaped(s, j)) {
				j++
			}
			if j >= len(s) {
				return nil, bad
			}
			var err error
			if key, err = unquote(s[1:j]); err != nil {
				return nil, bad
			}
			s = s[j+1:]
		case strings.HasPrefix(s, "'"):
			j := strings.IndexByte(s[1:], '\'')
			if j < 0 {
				return nil, bad
			}
			key, s = s[1:j+1], s[j+2:]
		default:
			j := 0
			for j < len(s) && isBareKeyChar(s[j]) {
				j++
			}
			if j == 0 {
				return nil, bad
			}
			key, s = s[:j], s[j:]
		}
		path = append(path, key)
		s = trimBlank(s)
		if strings.HasPrefix(s, ".") {
			s = s[1:]
			continue
		}
		closer := "]"
		if array {
			closer = "]]"
		}
		if !strings.HasPrefix(s, closer) {
			return nil, bad
		}
		rest := trimBlank(s[len(closer):])
		if rest != "" && !strings.HasPrefix(rest, "#") {
			return nil, bad
		}
		return path, nil
	}
}

var errBadHeader = errors.New("bad header")

// trimBlank is s without its leading spaces and tabs.
func trimBlank(s string) string {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return s[i:]
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// unquote decodes the body of a TOML basic string used as a key.
func unquote(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	m := map[string]string{}
	if _, err := toml.Decode(`k = "`+s+`"`, &m); err != nil {
		return "", err
	}
	return m["k"], nil
}

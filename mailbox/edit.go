package mailbox

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
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

// WithStanza returns the config text with one [mailboxes.<name>] stanza
// appended and every other byte kept. It checks that the new text decodes
// to exactly the old meaning plus that mailbox, else it returns an
// *EditError.
func (c *Config) WithStanza(st Stanza) ([]byte, error) {
	if inlineMailboxes.Match(c.text) {
		// Another table can not be added to an inline table; some parsers
		// would take it, others not.
		return nil, &EditError{Path: c.Path, Msg: "mailboxes is written as an inline table (mailboxes = {...}); write each mailbox as a [mailboxes.<name>] table"}
	}
	eol := lineEnd(c.text)
	var b bytes.Buffer
	b.Write(c.text)
	if len(c.text) > 0 {
		if !bytes.HasSuffix(c.text, []byte("\n")) {
			b.WriteString(eol)
		}
		if lines := splitLines(b.Bytes()); !isBlank(lines[len(lines)-1]) {
			b.WriteString(eol)
		}
	}
	fmt.Fprintf(&b, "[mailboxes.%s]%saddress = %q%sowner = %q%s", tomlKey(st.Name), eol, st.Address, eol, st.Owner, eol)
	want := c.withMailbox(st.Name, map[string]any{"address": st.Address, "owner": st.Owner})
	return c.checked(b.Bytes(), want)
}

// WithoutStanza returns the config text without the lines of mailbox
// name's stanza and its sub-tables ([mailboxes.<name>.*] and
// [[mailboxes.<name>.*]]), every other byte kept. A block of comment lines
// directly above a table header belongs to that table: it goes with a
// table that goes and stays with one that stays. It checks
// that the new text decodes to exactly the old meaning minus that mailbox,
// else it returns an *EditError.
func (c *Config) WithoutStanza(name string) ([]byte, error) {
	lines := splitLines(c.text)
	headers, err := scanHeaders(lines)
	if err != nil {
		return nil, &EditError{Path: c.Path, Msg: err.Error()}
	}
	ours := func(path []string) bool {
		return len(path) >= 2 && path[0] == "mailboxes" && path[1] == name
	}
	drop := make([]bool, len(lines))
	for i, h := range headers {
		if !ours(h.path) {
			continue
		}
		end := len(lines)
		if i+1 < len(headers) {
			end = headers[i+1].line
		}
		if i+1 == len(headers) || !ours(headers[i+1].path) {
			for end > h.line+1 && (isBlank(lines[end-1]) || isComment(lines[end-1])) {
				end--
			}
		}
		start := h.line
		for start > 0 && isComment(lines[start-1]) {
			start-- // the comment block directly above belongs to the table
		}
		for j := start; j < end; j++ {
			drop[j] = true
		}
	}
	// One blank line that separated the stanza from its neighbours goes
	// with it, so that a create and a delete leave the file as it was.
	for s := 0; s < len(lines); s++ {
		if !drop[s] || (s > 0 && drop[s-1]) {
			continue
		}
		e := s
		for e < len(lines) && drop[e] {
			e++
		}
		switch {
		case e < len(lines) && isBlank(lines[e]) && (s == 0 || isBlank(lines[s-1])):
			drop[e] = true
		case e == len(lines) && s > 0 && isBlank(lines[s-1]):
			drop[s-1] = true
		}
		s = e
	}
	var b bytes.Buffer
	for i, l := range lines {
		if !drop[i] {
			b.Write(l)
		}
	}
	return c.checked(b.Bytes(), c.withMailbox(name, nil))
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

// inlineMailboxes matches a line that assigns the whole mailboxes table.
var inlineMailboxes = regexp.MustCompile(`(?m)^[ \t]*(mailboxes|"mailboxes"|'mailboxes')[ \t]*=`)

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
	var lines [][]byte
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

// scanHeaders finds the table headers of TOML text, line by line, keeping
// track of multi-line strings and arrays so that a '[' inside a value is
// never taken for a header.
func scanHeaders(lines [][]byte) ([]header, error) {
	var (
		headers []header
		inStr   string // `"""` or `'''` while inside a multi-line string
		depth   int    // open [ and { of a value
	)
	for n, l := range lines {
		s := string(bytes.TrimRight(l, "\r\n"))
		i := 0
		if inStr == "" && depth == 0 {
			t := strings.TrimLeft(s, " \t")
			if strings.HasPrefix(t, "[") {
				path, err := parseHeader(t)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", n+1, err)
				}
				headers = append(headers, header{line: n, path: path})
				continue
			}
		}
		for i < len(s) {
			if inStr != "" {
				j := strings.Index(s[i:], inStr)
				if j < 0 {
					break
				}
				if inStr == `"""` && escaped(s, i+j) {
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
				q := s[i : i+1]
				if strings.HasPrefix(s[i:], q+q+q) {
					inStr = q + q + q
					i += 3
					continue
				}
				j := i + 1
				for j < len(s) && (s[j] != ch || ch == '"' && escaped(s, j)) {
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
	return headers, nil
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
func parseHeader(s string) ([]string, error) {
	bad := errors.New("cannot read table header " + strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "[")
	array := strings.HasPrefix(s, "[")
	s = strings.TrimPrefix(s, "[")
	var path []string
	for {
		s = strings.TrimLeft(s, " \t")
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
		s = strings.TrimLeft(s, " \t")
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
		rest := strings.TrimLeft(s[len(closer):], " \t")
		if rest != "" && !strings.HasPrefix(rest, "#") {
			return nil, bad
		}
		return path, nil
	}
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

package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Entry is one element of the MAILBOX-LIST body (docs/PROTOCOL.md). Owner is
// in root's body only (an additive field: the server leaves it empty for
// anyone else, whose every entry is their own).
type Entry struct {
	Name       string  `json:"name"`
	Address    *string `json:"address"` // null for a folder with no stanza
	InboxPath  string  `json:"inbox_path"`
	SentPath   string  `json:"sent_path"`
	Total      int     `json:"total"`
	Unread     int     `json:"unread"`
	SentCount  int     `json:"sent_count"`
	Registered bool    `json:"registered"`
	Owner      string  `json:"owner,omitempty"`
}

// Version is the VERSION body (docs/PROTOCOL.md): the build of the server
// that answered.
type Version struct {
	Tag       string `json:"tag"`
	GitHash   string `json:"git_hash"`
	Target    string `json:"target"`
	BuildDate string `json:"build_date"`
}

// ListOK is the OK response to MAILBOX-LIST carrying entries: a JSON
// array, [] when there are none. Its bytes are encoding/json's for
// []Entry (FuzzListBody), written field by field: json.Marshal first
// reflects on Entry, which a process per request pays every time, and
// then on every field of every entry (docs/PERFORMANCE.md, "LIST at
// 10 000 mailboxes").
func ListOK(entries []Entry) Response {
	b := make([]byte, 0, 2+len(entries)*entrySize)
	b = append(b, '[')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(append(b, `{"name":`...), e.Name)
		b = append(b, `,"address":`...)
		if e.Address == nil {
			b = append(b, "null"...)
		} else {
			b = appendString(b, *e.Address)
		}
		b = appendString(append(b, `,"inbox_path":`...), e.InboxPath)
		b = appendString(append(b, `,"sent_path":`...), e.SentPath)
		b = strconv.AppendInt(append(b, `,"total":`...), int64(e.Total), 10)
		b = strconv.AppendInt(append(b, `,"unread":`...), int64(e.Unread), 10)
		b = strconv.AppendInt(append(b, `,"sent_count":`...), int64(e.SentCount), 10)
		b = strconv.AppendBool(append(b, `,"registered":`...), e.Registered)
		if e.Owner != "" {
			b = appendString(append(b, `,"owner":`...), e.Owner)
		}
		b = append(b, '}')
	}
	return Response{Body: append(b, ']')}
}

// entrySize is about what one entry takes in the body, to size it once.
const entrySize = 256

// appendString appends s as encoding/json writes a string: quoted, with
// '"', '\\' and control characters escaped, '<', '>' and '&' as \u003c,
// \u003e and \u0026, U+2028 and U+2029 as \u2028 and \u2029, and each
// byte that is not UTF-8 as \ufffd.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}

// VersionOK is the OK response to VERSION carrying v: encoding/json's
// bytes for v, written as ListOK writes its entries.
func VersionOK(v Version) Response {
	b := make([]byte, 0, 64+len(v.Tag)+len(v.GitHash)+len(v.Target)+len(v.BuildDate))
	b = appendString(append(b, `{"tag":`...), v.Tag)
	b = appendString(append(b, `,"git_hash":`...), v.GitHash)
	b = appendString(append(b, `,"target":`...), v.Target)
	b = appendString(append(b, `,"build_date":`...), v.BuildDate)
	return Response{Body: append(b, '}')}
}

// DecodeList reads a MAILBOX-LIST body. The error says the body is not
// the JSON array docs/PROTOCOL.md promises.
func DecodeList(body []byte) ([]Entry, error) {
	var entries []Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		return nil, fmt.Errorf("the list is not JSON: %w", err)
	}
	return entries, nil
}

// DecodeVersion reads a VERSION body. The error says the body is not the
// JSON object docs/PROTOCOL.md promises.
func DecodeVersion(body []byte) (Version, error) {
	var v Version
	if err := json.Unmarshal(body, &v); err != nil {
		return Version{}, fmt.Errorf("the version is not JSON: %w", err)
	}
	return v, nil
}

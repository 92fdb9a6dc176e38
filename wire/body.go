package wire

import (
	"encoding/json"
	"fmt"
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
// array, [] when there are none.
func ListOK(entries []Entry) Response {
	if entries == nil {
		entries = []Entry{}
	}
	body, _ := json.Marshal(entries) // plain strings, ints and bools: cannot fail
	return Response{Body: body}
}

// VersionOK is the OK response to VERSION carrying v.
func VersionOK(v Version) Response {
	body, _ := json.Marshal(v) // plain strings: cannot fail
	return Response{Body: body}
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

package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestListOK: the MAILBOX-LIST body is docs/PROTOCOL.md's JSON array, field
// names and null address included; none is [] (never null); owner is
// there only when set (root's body).
func TestListOK(t *testing.T) {
	addr := "a@example.test"
	for _, tc := range []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"none", nil, "AIMX/1 OK\nContent-Length: 2\n\n[]"},
		{"a user's", []Entry{{Name: "a", Address: &addr, InboxPath: "/d/inbox/a", SentPath: "/d/sent/a", Total: 2, Unread: 1, SentCount: 3, Registered: true}},
			`{"name":"a","address":"a@example.test","inbox_path":"/d/inbox/a","sent_path":"/d/sent/a","total":2,"unread":1,"sent_count":3,"registered":true}`},
		{"root's, unregistered", []Entry{{Name: "u", InboxPath: "/d/inbox/u", SentPath: "/d/sent/u", Owner: "bob"}},
			`{"name":"u","address":null,"inbox_path":"/d/inbox/u","sent_path":"/d/sent/u","total":0,"unread":0,"sent_count":0,"registered":false,"owner":"bob"}`},
	} {
		var b bytes.Buffer
		if err := WriteResponse(&b, ListOK(tc.entries)); err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if !strings.HasPrefix(want, "AIMX/1") {
			want = "AIMX/1 OK\nContent-Length: " + strconv.Itoa(len(want)+2) + "\n\n[" + want + "]"
		}
		if b.String() != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, b.String(), want)
		}
		got, err := DecodeList(ListOK(tc.entries).Body)
		if err != nil || (len(tc.entries) > 0 && !reflect.DeepEqual(got, tc.entries)) || (len(tc.entries) == 0 && len(got) != 0) {
			t.Errorf("%s: DecodeList = %+v, %v; want %+v", tc.name, got, err, tc.entries)
		}
	}
}

// FuzzListBody: ListOK writes exactly what encoding/json writes for the
// same entries, whatever the strings hold (escapes, HTML characters,
// U+2028, bytes that are not UTF-8).
func FuzzListBody(f *testing.F) {
	f.Add("a", "a@example.test", "/d/inbox/a", "bob", 2, -1, true, false)
	f.Add("q\"\\<>&\x00\x1f\x7f\b\f\n\r\t", "\u2028\u2029é", "\xff\xfe\xc3", "", 0, 1<<40, false, true)
	f.Fuzz(func(t *testing.T, name, addr, path, owner string, n, m int, registered, noAddress bool) {
		entries := []Entry{{Name: name, Address: &addr, InboxPath: path, SentPath: path + name, Total: n, Unread: m, SentCount: n ^ m, Registered: registered, Owner: owner}}
		if noAddress {
			entries = append(entries, Entry{Name: addr, InboxPath: owner, Owner: name})
		}
		want, err := json.Marshal(entries)
		if err != nil {
			t.Fatal(err)
		}
		if got := ListOK(entries).Body; !bytes.Equal(got, want) {
			t.Errorf("ListOK:\n got %q\nwant %q", got, want)
		}
	})
}

// TestVersionOK: the VERSION body is docs/PROTOCOL.md's object, and reads back.
func TestVersionOK(t *testing.T) {
	v := Version{Tag: "v1.2.3", GitHash: "abc1234", Target: "linux/amd64", BuildDate: "2026-01-02"}
	body := `{"tag":"v1.2.3","git_hash":"abc1234","target":"linux/amd64","build_date":"2026-01-02"}`
	if got := string(VersionOK(v).Body); got != body {
		t.Errorf("body %q, want %q", got, body)
	}
	if got, err := DecodeVersion([]byte(body)); err != nil || got != v {
		t.Errorf("DecodeVersion = %+v, %v", got, err)
	}
	// Whatever the build's strings hold, encoding/json's bytes.
	odd := Version{Tag: "v1 \"<&>\"", GitHash: "\x00\t\u2028", Target: "\xff/é", BuildDate: `\`}
	if want, _ := json.Marshal(odd); string(VersionOK(odd).Body) != string(want) {
		t.Errorf("body %q, want %q", VersionOK(odd).Body, want)
	}
}

// TestDecodeNotJSON: a body that is not what docs/PROTOCOL.md promises is an
// error that says which body.
func TestDecodeNotJSON(t *testing.T) {
	if _, err := DecodeList([]byte("nope")); err == nil || !strings.HasPrefix(err.Error(), "the list is not JSON: ") {
		t.Errorf("DecodeList: %v", err)
	}
	if _, err := DecodeList([]byte(`{"name":"a"}`)); err == nil {
		t.Errorf("DecodeList of an object: no error")
	}
	if _, err := DecodeVersion([]byte("[]")); err == nil || !strings.HasPrefix(err.Error(), "the version is not JSON: ") {
		t.Errorf("DecodeVersion: %v", err)
	}
}

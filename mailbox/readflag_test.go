package mailbox

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIsRead: the read-flag line scan (docs/PROTOCOL.md, MAILBOX-LIST).
func TestIsRead(t *testing.T) {
	// The front matter AIMX writes for a message it delivered.
	aimx := "+++\nid = \"2026-01-01-120000-hi\"\nmailbox = \"box\"\nfrom = \"a@example.com\"\nsubject = \"hi\"\nread = %s\n\n[[attachments]]\nfilename = \"a.txt\"\n+++\nbody\n"
	for _, tc := range []struct {
		name, text string
		want       bool
	}{
		{"AIMX's, unread", strings.Replace(aimx, "%s", "false", 1), false},
		{"AIMX's, read", strings.Replace(aimx, "%s", "true", 1), true},
		{"plain", "+++\nread = true\n+++\nhi\n", true},
		{"no spaces", "+++\nread=true\n+++\n", true},
		{"tabs and a comment", "+++\n\tread\t=\ttrue  # marked by the agent\n+++\n", true},
		{"CRLF", "+++\r\nread = true\r\n+++\r\n", true},
		{"delimiters with spaces", "  +++  \nread = true\n +++\n", true},
		{"after other keys", "+++\nsubject = \"x\"\nread = true\n+++\n", true},
		{"false", "+++\nread = false\n+++\n", false},
		{"in a table", "+++\nsubject = \"x\"\n[meta]\nread = true\n+++\n", false},
		{"after an array of tables", "+++\n[[attachments]]\nread = true\n+++\n", false},
		{"another key", "+++\nreadiness = true\n+++\n", false},
		{"a dotted key", "+++\nread.by = true\n+++\n", false},
		{"a string", "+++\nread = \"true\"\n+++\n", false},
		{"trailing text", "+++\nread = trueish\n+++\n", false},
		{"never closes", "+++\nread = true\n", false},
		{"no front matter", "read = true\n", false},
		{"in the body", "+++\nsubject = \"x\"\n+++\nread = true\n+++\n", false},
		{"empty", "", false},
	} {
		if got := isRead(strings.NewReader(tc.text), make([]byte, maxFrontMatter)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// The cap: a front matter that closes past it is unread.
	long := "+++\nread = true\n" + strings.Repeat("x = 1\n", maxFrontMatter/6) + "+++\n"
	if isRead(strings.NewReader(long), make([]byte, maxFrontMatter)) {
		t.Error("a front matter closing past the cap counts as read")
	}
}

// TestListHostileMessages: what a user stores in her own folder bounds
// neither the time nor the memory of root's LIST: a nested-table bomb, a
// 1 GiB message, one 100 MB line and a front matter that never closes
// are each read at most maxFrontMatter bytes, decoded by nothing.
func TestListHostileMessages(t *testing.T) {
	s := newStore(t, "domain = \"example.com\"\n\n[mailboxes.m]\naddress = \"m@example.com\"\nowner = \"x\"\n")
	dir := filepath.Join(s.DataDir, "inbox", "m")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string, size int64) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(text); err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			if err := f.Truncate(size); err != nil { // sparse: no disk, all of it read as zeros
				t.Fatal(err)
			}
		}
	}
	write("bomb.md", "+++\nread = true\nx = "+strings.Repeat("{a=", 4000)+"1"+strings.Repeat("}", 4000)+"\n+++\n", 0)
	write("huge.md", "+++\nread = true\n", 1<<30)
	write("line.md", "+++\nread = true\nx = \"", 100<<20)
	write("open.md", "+++\nread = true\n"+strings.Repeat("y = 2\n", 20000), 0)
	write("ok.md", "+++\nread = true\n+++\nhi\n", 0)
	c, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	entries, err := s.List(c, func(Entry) bool { return true })
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err != nil || len(entries) != 1 {
		t.Fatalf("List: %v %+v", err, entries)
	}
	if e := entries[0]; e.Total != 5 || e.Unread != 3 {
		t.Errorf("total %d unread %d, want 5 and 3 (the bomb and ok.md are read; the others never close within the cap)", e.Total, e.Unread)
	}
	if took > time.Second {
		t.Errorf("LIST took %s", took)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 1<<20 {
		t.Errorf("LIST allocated %d bytes", alloc)
	}
	t.Logf("LIST of the hostile folder: %s, %d KiB allocated", took.Round(time.Microsecond), alloc>>10)
}

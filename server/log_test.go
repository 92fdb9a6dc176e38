package server

import (
	"bytes"
	"testing"

	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/wire"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain name":         "plain name",
		"esc\x1b[31mred":     `esc\x1b[31mred`,
		"vt\vnul\x00del\x7f": `vt\x0bnul\x00del\x7f`,
		"nl\ncr\r":           `nl\x0acr\x0d`,
		"c1\u0085csi\u009b":  `c1\u0085csi\u009b`,
		"ls\u2028ps\u2029":   `ls\u2028ps\u2029`,
		"bad\xffutf8":        `bad\xffutf8`,
		`back\slash`:         `back\\slash`,
		"ünïcödé ✓":          "ünïcödé ✓",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every field of a record is escaped before any logger sees it.
func TestLogRecordEscaped(t *testing.T) {
	var buf bytes.Buffer
	r := record(authz.Caller{UID: 1000, PID: 7}, wire.Request{Verb: "MAILBOX-CREATE", Name: "x\x1b]0;pwned\x07"}, authz.Reject, Refused, "bad\x1b[2J")
	r.User = Escape("al\u2028ice")
	LogfmtLogger{W: &buf}.Log(r)
	got := buf.String()
	if bytes.ContainsAny(buf.Bytes(), "\x1b\x07") || bytes.Contains(buf.Bytes(), []byte("\u2028")) {
		t.Fatalf("control characters reached the log: %q", got)
	}
	want := `verb=MAILBOX-CREATE caller_uid=1000 caller_pid=7 caller_user=al\u2028ice mailbox=x\x1b]0;pwned\x07 decision=reject reason=bad\x1b[2J outcome=refused priority=notice` + "\n"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// A record with no mailbox (LIST, VERSION, a frame that named none) reads
// without a gap where the mailbox would be.
func TestRecordMessage(t *testing.T) {
	for _, tc := range []struct {
		r    Record
		want string
	}{
		{Record{Verb: "MAILBOX-LIST", UID: 1000, User: "alice", Outcome: Accepted}, "MAILBOX-LIST by uid 1000 (alice): accepted"},
		{Record{Verb: "MAILBOX-CREATE", Mailbox: "m", UID: 0, User: "root", Outcome: Refused, Reason: "r"}, "MAILBOX-CREATE m by uid 0 (root): refused: r"},
	} {
		if got := tc.r.message(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

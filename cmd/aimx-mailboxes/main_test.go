package main

import (
	"os"
	"os/user"
	"testing"
)

// TestPlain: what the CLI prints never carries a control character, so
// nothing it prints can drive a terminal (colour, title, cursor).
func TestPlain(t *testing.T) {
	for in, want := range map[string]string{
		"mailbox 'a' does not exist": "mailbox 'a' does not exist",
		"\x1b[31mred\x1b[0m":         `\x1b[31mred\x1b[0m`,
		"tab\there, bell\a":          `tab\x09here, bell\x07`,
		"del\x7f c1\u009b":           `del\x7f c1\x9b`,
		"line\u2028para\u2029":       `line\u2028para\u2029`,
		"é ü 日本":                     "é ü 日本",
	} {
		if got := plain(in); got != want {
			t.Errorf("plain(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCannotSend: a name or owner that no frame can carry (a line end in
// it) is a usage error, found before connecting: exit 2, nothing sent,
// and what is printed is plain.
func TestCannotSend(t *testing.T) {
	// --owner: root's create without one is refused before this check; a
	// user's own name, so that no warning that it is ignored comes first.
	owner := "nobody"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		owner = u.Username
	}
	for _, args := range [][]string{{"create", "a\nb", "--owner", owner}, {"create", "a\r", "--owner", owner}, {"delete", "a\nb", "--yes"}} {
		r := newRecorder(t)
		code, stdout, stderr := run(append([]string{"--socket", r.sock}, args...)...)
		verb := map[string]string{"create": "MAILBOX-CREATE", "delete": "MAILBOX-DELETE"}[args[0]]
		want := "aimx-mailboxes: cannot send " + verb + ": a verb, name or owner must not contain a line end\n"
		if code != exitUsage || stdout != "" || stderr != want {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", args, code, stdout, stderr, want)
		}
		if n := r.requests(); n != 0 {
			t.Errorf("%q: %d connection(s), want none", args, n)
		}
	}
}

// Package wiretest holds the AIMX/1 frames that docs/PROTOCOL.md rejects, with
// the exact response each must get, so that the codec's unit tests, the
// fuzz seed corpus and the integration suite check one list.
package wiretest

import (
	"fmt"
	"strings"
)

// Case is one request frame and the exact response the server owes it.
type Case struct {
	Name     string
	Frame    string
	Response string
}

func malformed(reason string) string {
	return fmt.Sprintf("AIMX/1 ERR MALFORMED malformed request: %s\nCode: MALFORMED\n\n", reason)
}

func protocol(reason string) string {
	return fmt.Sprintf("AIMX/1 ERR PROTOCOL %s\nCode: PROTOCOL\n\n", reason)
}

// Rejected returns every kind of frame that docs/PROTOCOL.md rejects before any
// mailbox is looked at.
func Rejected() []Case {
	long := strings.Repeat("x", 8193)
	many := strings.Repeat("X-Pad: 1\n", 65)
	daemon := func(verb string) Case {
		return Case{"daemon verb " + verb, "AIMX/1 " + verb + "\n\n",
			protocol("verb '" + verb + "' is served by the AIMX mail daemon's socket, not the mailbox socket: send it there")}
	}
	return []Case{
		{"empty connection", "", malformed("connection closed before a whole request line")},
		{"no line end", "AIMX/1 VERSION", malformed("connection closed before a whole request line")},
		{"not AIMX/1", "HTTP/1.1 GET\n\n", malformed(`request line must start with "AIMX/1 "`)},
		{"AIMX/2", "AIMX/2 VERSION\n\n", malformed(`request line must start with "AIMX/1 "`)},
		{"invalid UTF-8 in the request line", "AIMX/1 VERS\xc3ION\n\n", malformed("request line is not valid UTF-8")},
		{"binary garbage", "\x00\x01\x02\xff\xfe\n\n", malformed("request line is not valid UTF-8")},
		{"NUL bytes", "\x00\x00\x00\n\n", malformed(`request line must start with "AIMX/1 "`)},
		{"unknown verb", "AIMX/1 FROB\n\n", protocol("unknown verb 'FROB'")},
		{"lower-case verb", "AIMX/1 version\n\n", protocol("unknown verb 'version'")},
		daemon("SEND"), daemon("MARK-READ"), daemon("MARK-UNREAD"),
		daemon("HOOK-CREATE"), daemon("HOOK-DELETE"), daemon("HOOK-LIST"),
		{"request line over 8 KiB", "AIMX/1 " + long + "\n\n", malformed("request line longer than 8192 bytes")},
		{"header line over 8 KiB", "AIMX/1 MAILBOX-CREATE\nName: " + long + "\n\n", malformed("header line longer than 8192 bytes")},
		{"65 header lines", "AIMX/1 MAILBOX-DELETE\nName: a\n" + many + "\n", malformed("more than 64 header lines")},
		{"invalid UTF-8", "AIMX/1 MAILBOX-CREATE\nName: a\xff\n\n", malformed("header line is not valid UTF-8")},
		{"NUL in header name", "AIMX/1 MAILBOX-CREATE\nNa\x00me: a\n\n", malformed(`header name "Na\x00me" is not a printable ASCII token`)},
		{"EOF in headers", "AIMX/1 MAILBOX-CREATE\nName: a\n", malformed("connection closed before the blank line that ends the headers")},
		{"header without colon", "AIMX/1 MAILBOX-CREATE\nName a\n\n", malformed("header line without ':'")},
		{"folded header", "AIMX/1 MAILBOX-CREATE\n Name: a\n\n", malformed(`header name " Name" is not a printable ASCII token`)},
		{"missing Name", "AIMX/1 MAILBOX-CREATE\nOwner: bob\n\n", malformed("MAILBOX-CREATE needs a Name: header")},
		{"missing Name on delete", "AIMX/1 MAILBOX-DELETE\n\n", malformed("MAILBOX-DELETE needs a Name: header")},
		{"empty Name", "AIMX/1 MAILBOX-DELETE\nName:   \n\n", malformed("Name: must not be empty")},
		{"empty Owner", "AIMX/1 MAILBOX-CREATE\nName: a\nOwner:\n\n", malformed("Owner: must not be empty")},
		{"duplicate Name", "AIMX/1 MAILBOX-CREATE\nName: a\nname: b\n\n", malformed("duplicate header 'name'")},
		{"duplicate Owner", "AIMX/1 MAILBOX-CREATE\nName: a\nOwner: bob\nOWNER: bob\n\n", malformed("duplicate header 'OWNER'")},
		{"duplicate Force", "AIMX/1 MAILBOX-DELETE\nName: a\nForce: true\nForce: true\n\n", malformed("duplicate header 'Force'")},
		{"Owner not a user name", "AIMX/1 MAILBOX-CREATE\nName: a\nOwner: Bob\n\n", malformed(`Owner: "Bob" is not a Linux user name ([a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes)`)},
		{"Owner over 32 bytes", "AIMX/1 MAILBOX-CREATE\nName: a\nOwner: " + strings.Repeat("a", 33) + "\n\n",
			malformed(`Owner: "` + strings.Repeat("a", 33) + `" is not a Linux user name ([a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes)`)},
		{"Force on create", "AIMX/1 MAILBOX-CREATE\nName: a\nForce: true\n\n", malformed("Force: is not allowed on MAILBOX-CREATE")},
		{"Force not a boolean", "AIMX/1 MAILBOX-DELETE\nName: a\nForce: yes\n\n", malformed(`Force: must be true or false, not "yes"`)},
		{"Content-Length not 0", "AIMX/1 MAILBOX-CREATE\nName: a\nContent-Length: 5\n\n", malformed(`Content-Length: must be 0 on MAILBOX-CREATE, not "5"`)},
		{"Content-Length not a number", "AIMX/1 MAILBOX-DELETE\nName: a\nContent-Length: zero\n\n", malformed(`Content-Length: must be 0 on MAILBOX-DELETE, not "zero"`)},
		{"header on LIST", "AIMX/1 MAILBOX-LIST\nName: a\n\n", malformed("MAILBOX-LIST takes no headers: the blank line must follow the request line")},
		{"header on VERSION", "AIMX/1 VERSION\nX-Any: 1\n\n", malformed("VERSION takes no headers: the blank line must follow the request line")},
	}
}

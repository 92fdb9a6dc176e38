// Package wire is the AIMX/1 codec of the mailbox socket
// (docs/PROTOCOL.md), in both directions: the server reads
// requests and writes responses, the client writes requests and reads
// responses.
//
// It promises bounded memory on any input: a line is at most MaxLine
// bytes, a request has at most MaxHeaders header lines, and a response
// body is at most MaxBody bytes. It never touches the filesystem and
// knows nothing of who the caller is.
package wire

import (
	"fmt"
	"strings"
)

// Verbs served on the mailbox socket.
const (
	VerbCreate  = "MAILBOX-CREATE"
	VerbDelete  = "MAILBOX-DELETE"
	VerbList    = "MAILBOX-LIST"
	VerbVersion = "VERSION"
)

// daemonVerbs are AIMX/1 verbs that the mail daemon serves, not this socket.
var daemonVerbs = map[string]bool{
	"SEND": true, "MARK-READ": true, "MARK-UNREAD": true,
	"HOOK-CREATE": true, "HOOK-DELETE": true, "HOOK-LIST": true,
}

// Limits of docs/PROTOCOL.md.
const (
	MaxLine    = 8 << 10  // bytes in one request or header line, without its line end
	MaxHeaders = 64       // header lines in one request
	MaxBody    = 64 << 20 // bytes in one response body (client side)
)

// Code is an AIMX/1 error code. Clients branch on it, never on a reason.
type Code string

// Error codes used on the mailbox socket.
const (
	Malformed  Code = "MALFORMED"
	Protocol   Code = "PROTOCOL"
	Validation Code = "VALIDATION"
	Mailbox    Code = "MAILBOX"
	NonEmpty   Code = "NONEMPTY"
	Conflict   Code = "ECONFLICT"
	Access     Code = "EACCES"
	IO         Code = "IO"
)

// Error is an AIMX/1 error response: what the server answers and what a
// client reads back. ReadRequest returns it (Malformed or Protocol) for a
// frame it rejects; the server maps every other failure to one.
type Error struct {
	Code   Code
	Reason string
}

func (e *Error) Error() string { return e.Reason }

// Errorf returns an *Error with a formatted reason.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *Error {
	return &Error{Code: Malformed, Reason: "malformed request: " + fmt.Sprintf(format, args...)}
}

// Request is one parsed AIMX/1 request on the mailbox socket.
type Request struct {
	Verb  string
	Name  string // MAILBOX-CREATE, MAILBOX-DELETE
	Owner string // MAILBOX-CREATE; empty when absent
	Force bool   // MAILBOX-DELETE
}

// Response is one AIMX/1 response: Err is nil for OK. Body is the JSON
// body of MAILBOX-LIST and VERSION, nil for a bare OK.
type Response struct {
	Err  *Error
	Body []byte
}

// oneLine removes every \r and \n, so a reason is always one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

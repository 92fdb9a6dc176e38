package wire

import (
	"bufio"
	"errors"
	"github.com/aimx/aimx-mailboxd/authz"
	"io"
	"strings"
	"unicode/utf8"
)

const requestPrefix = "AIMX/1 "

// NewReader returns a reader sized so that ReadRequest and ReadResponse
// can hold one whole line of MaxLine bytes plus its line end.
func NewReader(r io.Reader) *bufio.Reader {
	return bufio.NewReaderSize(r, MaxLine+2)
}

// ReadRequest reads one request frame from r (made by NewReader).
//
// It returns an *Error with code Malformed for a frame that breaks
// docs/PROTOCOL.md's framing rules, and with code Protocol for a verb this
// socket does not serve; any other error is the reader's own (a read
// deadline, a reset), after which no response can be written usefully.
// It reads nothing past the blank line that ends the request. On an error
// the returned Request holds the verb when it was read, for the log.
func ReadRequest(r *bufio.Reader) (Request, error) {
	line, err := readLine(r, "request line", "before a whole request line")
	if err != nil {
		return Request{}, err
	}
	verb, ok := strings.CutPrefix(line, requestPrefix)
	if !ok {
		return Request{}, malformed("request line must start with %q", requestPrefix)
	}
	switch {
	case verb == VerbCreate, verb == VerbDelete, verb == VerbList, verb == VerbVersion:
	case daemonVerbs[verb]:
		return Request{Verb: verb}, Errorf(Protocol, "verb '%s' is served by the AIMX mail daemon's socket, not the mailbox socket: send it there", verb)
	default:
		return Request{Verb: verb}, Errorf(Protocol, "unknown verb '%s'", verb)
	}

	req := Request{Verb: verb}
	seen := map[string]bool{}
	for n := 0; ; n++ {
		line, err := readLine(r, "header line", "before the blank line that ends the headers")
		if err != nil {
			return Request{Verb: verb}, err
		}
		if line == "" {
			break
		}
		if n == MaxHeaders {
			return Request{Verb: verb}, malformed("more than %d header lines", MaxHeaders)
		}
		if verb == VerbList || verb == VerbVersion {
			return Request{Verb: verb}, malformed("%s takes no headers: the blank line must follow the request line", verb)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return Request{Verb: verb}, malformed("header line without ':'")
		}
		if !isHeaderName(name) {
			return Request{Verb: verb}, malformed("header name %q is not a printable ASCII token", name)
		}
		key := strings.ToLower(name)
		value = strings.TrimSpace(value)
		if err := req.set(key, value); err != nil {
			return Request{Verb: verb}, err
		}
		if knownHeader(verb, key) {
			if seen[key] {
				return Request{Verb: verb}, malformed("duplicate header '%s'", name)
			}
			seen[key] = true
		}
	}
	if (verb == VerbCreate || verb == VerbDelete) && !seen["name"] {
		return Request{Verb: verb}, malformed("%s needs a Name: header", verb)
	}
	return req, nil
}

// knownHeader reports whether a header means something to verb, so that a
// duplicate of it is an error.
func knownHeader(verb, key string) bool {
	switch key {
	case "name", "owner", "content-length":
		return true
	case "force":
		return verb == VerbDelete
	}
	return false
}

// set records one header of a mailbox verb, checking its value.
func (req *Request) set(key, value string) error {
	switch key {
	case "name":
		if value == "" {
			return malformed("Name: must not be empty")
		}
		req.Name = value
	case "owner":
		if value == "" {
			return malformed("Owner: must not be empty")
		}
		if req.Verb != VerbCreate {
			return nil // accepted and ignored on DELETE
		}
		if !authz.OwnerName(value) {
			return malformed("Owner: %q is not a Linux user name (%s)", value, authz.OwnerRule)
		}
		req.Owner = value
	case "force":
		if req.Verb == VerbCreate {
			return malformed("Force: is not allowed on %s", VerbCreate)
		}
		switch strings.ToLower(value) {
		case "true":
			req.Force = true
		case "false":
			req.Force = false
		default:
			return malformed("Force: must be true or false, not %q", value)
		}
	case "content-length":
		if value == "" || strings.Trim(value, "0123456789") != "" || strings.Trim(value, "0") != "" {
			return malformed("Content-Length: must be 0 on %s, not %q", req.Verb, value)
		}
	}
	return nil
}

func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// readLine reads one line of at most MaxLine bytes, without its "\n" or
// "\r\n". Running out of input is malformed: a request always ends in a
// blank line.
func readLine(r *bufio.Reader, what, eof string) (string, error) {
	b, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", malformed("%s longer than %d bytes", what, MaxLine)
	case errors.Is(err, io.EOF):
		return "", malformed("connection closed %s", eof)
	case err != nil:
		return "", err
	}
	b = b[:len(b)-1]
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if len(b) > MaxLine {
		return "", malformed("%s longer than %d bytes", what, MaxLine)
	}
	if !utf8.Valid(b) {
		return "", malformed("%s is not valid UTF-8", what)
	}
	return string(b), nil
}

// WriteRequest writes req as one frame. It writes the headers its verb
// takes and nothing else, and refuses a value that holds a line end (it
// would forge a header).
func WriteRequest(w io.Writer, req Request) error {
	if strings.ContainsAny(req.Verb+req.Name+req.Owner, "\r\n") {
		return errors.New("write request: a verb, name or owner must not contain a line end")
	}
	var b strings.Builder
	b.WriteString(requestPrefix + req.Verb + "\n")
	switch req.Verb {
	case VerbCreate:
		b.WriteString("Name: " + req.Name + "\n")
		if req.Owner != "" {
			b.WriteString("Owner: " + req.Owner + "\n")
		}
	case VerbDelete:
		b.WriteString("Name: " + req.Name + "\n")
		if req.Force {
			b.WriteString("Force: true\n")
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

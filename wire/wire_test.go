package wire

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/wire/wiretest"
)

func parse(frame string) (Request, error) {
	return ReadRequest(NewReader(strings.NewReader(frame)))
}

func TestRejected(t *testing.T) {
	for _, tc := range wiretest.Rejected() {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := parse(tc.Frame)
			var werr *Error
			if !errors.As(err, &werr) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			var b bytes.Buffer
			if err := WriteResponse(&b, Response{Err: werr}); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.Response {
				t.Errorf("response\n got %q\nwant %q", b.String(), tc.Response)
			}
		})
	}
}

// validFrames are frames docs/PROTOCOL.md accepts, with what they mean.
var validFrames = []struct {
	frame string
	want  Request
}{
	{"AIMX/1 MAILBOX-CREATE\nName: a\n\n", Request{Verb: VerbCreate, Name: "a"}},
	{"AIMX/1 MAILBOX-CREATE\r\nname:  a  \r\nOWNER: bob\r\nContent-Length: 0\r\n\r\n", Request{Verb: VerbCreate, Name: "a", Owner: "bob"}},
	{"AIMX/1 MAILBOX-CREATE\nName: a\nOwner: machine$\nX-Future: anything\n\n", Request{Verb: VerbCreate, Name: "a", Owner: "machine$"}},
	{"AIMX/1 MAILBOX-CREATE\nName: " + strings.Repeat("n", 8186) + "\n\n", Request{Verb: VerbCreate, Name: strings.Repeat("n", 8186)}},
	{"AIMX/1 MAILBOX-DELETE\nName: a\n\n", Request{Verb: VerbDelete, Name: "a"}},
	{"AIMX/1 MAILBOX-DELETE\nForce: TRUE\nName: a\nOwner: Not A User\n\n", Request{Verb: VerbDelete, Name: "a", Force: true}},
	{"AIMX/1 MAILBOX-DELETE\nName: a\nForce: false\nContent-Length: 000\n\n", Request{Verb: VerbDelete, Name: "a"}},
	{"AIMX/1 MAILBOX-DELETE\nName: a\n" + strings.Repeat("X-Pad: 1\n", 63) + "\n", Request{Verb: VerbDelete, Name: "a"}},
	{"AIMX/1 MAILBOX-LIST\n\n", Request{Verb: VerbList}},
	{"AIMX/1 VERSION\r\n\r\n", Request{Verb: VerbVersion}},
}

func TestAccepted(t *testing.T) {
	for _, tc := range validFrames {
		r := NewReader(strings.NewReader(tc.frame + "TRAILING JUNK"))
		got, err := ReadRequest(r)
		if err != nil || got != tc.want {
			t.Errorf("%.60q: got %+v, %v; want %+v", tc.frame, got, err, tc.want)
		}
		if rest, _ := r.Peek(13); string(rest) != "TRAILING JUNK" {
			t.Errorf("%.60q: read past the blank line (left %q)", tc.frame, rest)
		}
	}
}

func TestWriteResponse(t *testing.T) {
	for _, tc := range []struct {
		resp Response
		want string
	}{
		{Response{}, "AIMX/1 OK\n"},
		{Response{Body: []byte(`[]`)}, "AIMX/1 OK\nContent-Length: 2\n\n[]"},
		{Response{Err: Errorf(Mailbox, "mailbox '%s' does not exist", "x")}, "AIMX/1 ERR MAILBOX mailbox 'x' does not exist\nCode: MAILBOX\n\n"},
		{Response{Err: &Error{Code: IO, Reason: "two\r\nlines\n"}}, "AIMX/1 ERR IO twolines\nCode: IO\n\n"},
	} {
		var b bytes.Buffer
		if err := WriteResponse(&b, tc.resp); err != nil || b.String() != tc.want {
			t.Errorf("got %q, %v; want %q", b.String(), err, tc.want)
		}
		got, err := ReadResponse(NewReader(&b))
		if err != nil || fmt.Sprint(got.Body) != fmt.Sprint(tc.resp.Body) || (got.Err == nil) != (tc.resp.Err == nil) ||
			got.Err != nil && (got.Err.Code != tc.resp.Err.Code || got.Err.Reason != oneLine(tc.resp.Err.Reason)) {
			t.Errorf("read back %q: %+v, %v", tc.want, got, err)
		}
	}
}

func TestReadResponseRejects(t *testing.T) {
	for _, frame := range []string{
		"", "HTTP/1.1 200 OK\n", "AIMX/1 MAYBE\n", "AIMX/1 OK\nContent-Length: -1\n\n",
		"AIMX/1 OK\nContent-Length: 99999999999\n\n", "AIMX/1 OK\nContent-Length: 5\n\nabc", "AIMX/1 OK\nContent-Length: 2\nx\n[]",
		"AIMX/1 OK", "AIMX/1 OK\nContent-Length: 2",
	} {
		if got, err := ReadResponse(NewReader(strings.NewReader(frame))); err == nil {
			t.Errorf("%q: accepted as %+v", frame, got)
		}
	}
}

func TestWriteRequestRoundTrip(t *testing.T) {
	for _, tc := range validFrames {
		var b bytes.Buffer
		if err := WriteRequest(&b, tc.want); err != nil {
			t.Fatal(err)
		}
		if got, err := parse(b.String()); err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v", b.String(), got, err)
		}
	}
	for _, bad := range []Request{{Verb: VerbCreate, Name: "a\nOwner: root"}, {Verb: VerbCreate, Name: "a", Owner: "b\r"}} {
		if err := WriteRequest(&bytes.Buffer{}, bad); err == nil {
			t.Errorf("%+v: a line end was written", bad)
		}
	}
}

var seedName = regexp.MustCompile(`[^A-Za-z0-9]+`)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzReadRequest from wiretest and validFrames")

// TestSeedCorpus keeps the committed seed corpus complete: one file for
// every rejected kind of frame and every valid frame.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReadRequest")
	seeds := map[string]string{}
	for _, tc := range wiretest.Rejected() {
		seeds["rejected-"+seedName.ReplaceAllString(tc.Name, "-")] = tc.Frame
	}
	for i, tc := range validFrames {
		seeds[fmt.Sprintf("valid-%02d", i)] = tc.frame
	}
	for name, frame := range seeds {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", frame)
		path := filepath.Join(dir, name)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != want {
			t.Errorf("seed %s is missing or stale (go test ./wire -run TestSeedCorpus -update-corpus): %v", path, err)
		}
	}
}

// FuzzReadRequest: any input gets a request or an *Error, never a panic;
// an error is one of the framing codes and writes as a one-line reason;
// an accepted request survives a write and a re-read unchanged.
func FuzzReadRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := ReadRequest(NewReader(bytes.NewReader(frame)))
		var werr *Error
		switch {
		case errors.As(err, &werr):
			if werr.Code != Malformed && werr.Code != Protocol {
				t.Fatalf("code %s", werr.Code)
			}
			var b bytes.Buffer
			WriteResponse(&b, Response{Err: werr})
			if strings.Count(b.String(), "\n") != 3 {
				t.Fatalf("response is not 3 lines: %q", b.String())
			}
		case err != nil:
			t.Fatalf("non-wire error %v", err)
		case strings.Contains(req.Name+req.Owner, "\r"):
			// A bare \r inside a value is read as part of it (only a
			// trailing one ends a line); a name with one never passes
			// ValidateName. WriteRequest refuses to write it.
			if err := WriteRequest(io.Discard, req); err == nil {
				t.Fatalf("WriteRequest wrote a \\r in %+v", req)
			}
		case len("Owner: "+req.Owner) > MaxLine || len("Name: "+req.Name) > MaxLine:
			// "Name:<8186 bytes>" is a line of at most MaxLine; written
			// back with the space after the colon it is one byte longer,
			// and the re-read refuses it as too long.
			var b bytes.Buffer
			WriteRequest(&b, req)
			var werr *Error
			if _, err := parse(b.String()); !errors.As(err, &werr) || !strings.Contains(werr.Reason, "longer than") {
				t.Fatalf("re-read of a line over MaxLine: %v", err)
			}
		default:
			var b bytes.Buffer
			if err := WriteRequest(&b, req); err != nil {
				t.Fatalf("write back %+v: %v", req, err)
			}
			again, err := parse(b.String())
			if err != nil || again != req {
				t.Fatalf("round trip of %+v: %+v, %v", req, again, err)
			}
		}
	})
}

// FuzzReadResponse: any input gets a response or an error, never a panic
// or a body over MaxBody.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("AIMX/1 OK\n"))
	f.Add([]byte("AIMX/1 OK\nContent-Length: 2\n\n[]"))
	f.Add([]byte("AIMX/1 ERR MAILBOX mailbox 'x' does not exist\nCode: MAILBOX\n\n"))
	f.Fuzz(func(t *testing.T, frame []byte) {
		resp, err := ReadResponse(NewReader(bytes.NewReader(frame)))
		if err == nil && len(resp.Body) > len(frame) {
			t.Fatalf("body of %d bytes from %d bytes of input", len(resp.Body), len(frame))
		}
	})
}

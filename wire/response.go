package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

const responsePrefix = "AIMX/1 "

// WriteResponse writes resp as one frame: a bare OK, an OK with a JSON
// body, or an error whose reason is forced onto one line.
func WriteResponse(w io.Writer, resp Response) error {
	var frame string
	switch {
	case resp.Err != nil:
		code := oneLine(string(resp.Err.Code))
		frame = fmt.Sprintf("AIMX/1 ERR %s %s\nCode: %s\n\n", code, oneLine(resp.Err.Reason), code)
	case resp.Body != nil:
		frame = fmt.Sprintf("AIMX/1 OK\nContent-Length: %d\n\n%s", len(resp.Body), resp.Body)
	default:
		frame = "AIMX/1 OK\n"
	}
	_, err := io.WriteString(w, frame)
	return err
}

// ReadResponse reads one response frame from r (made by NewReader). An
// AIMX/1 error comes back as Response.Err, not as the returned error,
// which is kept for a frame that breaks docs/PROTOCOL.md or a failed read.
func ReadResponse(r *bufio.Reader) (Response, error) {
	line, err := readResponseLine(r)
	if err != nil {
		return Response{}, err
	}
	status, ok := strings.CutPrefix(line, responsePrefix)
	if !ok {
		return Response{}, fmt.Errorf("read response: status line %q does not start with %q", line, responsePrefix)
	}
	if rest, ok := strings.CutPrefix(status, "ERR "); ok {
		code, reason, _ := strings.Cut(rest, " ")
		return Response{Err: &Error{Code: Code(code), Reason: reason}}, nil
	}
	if status != "OK" {
		return Response{}, fmt.Errorf("read response: unknown status %q", status)
	}
	line, err = readResponseLine(r)
	if errors.Is(err, io.EOF) {
		return Response{}, nil // a bare OK: the server closed after it
	}
	if err != nil {
		return Response{}, err
	}
	v, ok := strings.CutPrefix(line, "Content-Length: ")
	n, convErr := strconv.Atoi(v)
	if !ok || convErr != nil || n < 0 || n > MaxBody {
		return Response{}, fmt.Errorf("read response: bad Content-Length line %q", line)
	}
	if blank, err := readResponseLine(r); err != nil || blank != "" {
		return Response{}, fmt.Errorf("read response: no blank line after Content-Length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Response{}, fmt.Errorf("read response body: %w", err)
	}
	return Response{Body: body}, nil
}

// readResponseLine reads one line for the client; io.EOF only when the
// stream ended cleanly before it.
func readResponseLine(r *bufio.Reader) (string, error) {
	b, err := r.ReadSlice('\n')
	switch {
	case errors.Is(err, io.EOF) && len(b) == 0:
		return "", io.EOF
	case errors.Is(err, io.EOF):
		return "", fmt.Errorf("read response: %w", io.ErrUnexpectedEOF)
	case errors.Is(err, bufio.ErrBufferFull):
		return "", fmt.Errorf("read response: line longer than %d bytes", MaxLine)
	case err != nil:
		return "", fmt.Errorf("read response: %w", err)
	}
	return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
}

package client

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aimx/aimx-mailboxd/wire"
)

// fakeServer accepts one connection on a fresh socket, reads everything
// the client sends until it half-closes, hands that to got, and answers
// with reply (nil: never answers, holds the connection until the test ends).
func fakeServer(t *testing.T, reply []byte) (sock string, got chan string) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got = make(chan string, 1)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's half-close
		got <- string(b)
		if reply == nil {
			<-done
			return
		}
		c.Write(reply)
	}()
	return sock, got
}

func TestCall(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   wire.Request
		frame string
		reply string
		want  wire.Response
	}{
		{"create", wire.Request{Verb: wire.VerbCreate, Name: "a", Owner: "bob"}, "AIMX/1 MAILBOX-CREATE\nName: a\nOwner: bob\n\n",
			"AIMX/1 OK\n", wire.Response{}},
		{"delete force", wire.Request{Verb: wire.VerbDelete, Name: "a", Force: true}, "AIMX/1 MAILBOX-DELETE\nName: a\nForce: true\n\n",
			"AIMX/1 ERR NONEMPTY mailbox 'a' has 1 files (1 in inbox, 0 in sent); archive or remove them first\nCode: NONEMPTY\n\n",
			wire.Response{Err: &wire.Error{Code: wire.NonEmpty, Reason: "mailbox 'a' has 1 files (1 in inbox, 0 in sent); archive or remove them first"}}},
		{"list", wire.Request{Verb: wire.VerbList}, "AIMX/1 MAILBOX-LIST\n\n", "AIMX/1 OK\nContent-Length: 2\n\n[]", wire.Response{Body: []byte("[]")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock, got := fakeServer(t, []byte(tc.reply))
			resp, err := Call(context.Background(), sock, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			// The server read to EOF: the client half-closed after the frame.
			if frame := <-got; frame != tc.frame {
				t.Errorf("server got %q, want %q", frame, tc.frame)
			}
			if string(resp.Body) != string(tc.want.Body) || (resp.Err == nil) != (tc.want.Err == nil) ||
				(resp.Err != nil && *resp.Err != *tc.want.Err) {
				t.Errorf("response = %+v %+v, want %+v %+v", resp, resp.Err, tc.want, tc.want.Err)
			}
		})
	}
}

func TestCallUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "missing.sock")
	_, err := Call(context.Background(), sock, wire.Request{Verb: wire.VerbList})
	var de *DialError
	if !errors.As(err, &de) || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("err = %#v, want a *DialError wrapping ENOENT", err)
	}
	if want := "connect to " + sock + ": no such file or directory"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

func TestCallRefusesUnframableRequest(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "never-dialed.sock") // nothing listens: a dial would be a *DialError
	_, err := Call(context.Background(), sock, wire.Request{Verb: wire.VerbCreate, Name: "a\nOwner: root"})
	var de *DialError
	if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "must not contain a line end") {
		t.Errorf("err = %v, want the framing error before any connect", err)
	}
}

func TestCallCancel(t *testing.T) {
	sock, got := fakeServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-got; cancel() }() // once the request arrived and no answer will come
	_, err := Call(ctx, sock, wire.Request{Verb: wire.VerbList})
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "talk to "+sock+": ") {
		t.Errorf("err = %v, want talk to %s: context canceled", err, sock)
	}
}

func TestCallBadResponse(t *testing.T) {
	sock, _ := fakeServer(t, []byte("HTTP/1.1 200 OK\n"))
	_, err := Call(context.Background(), sock, wire.Request{Verb: wire.VerbList})
	if err == nil || !strings.HasPrefix(err.Error(), "talk to "+sock+": read response: ") {
		t.Errorf("err = %v, want talk to %s: read response: ...", err, sock)
	}
}

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/server"
)

func TestParse(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want cli
	}{
		{nil, cli{}},
		{[]string{"--config", "/etc/x.toml", "--data-dir=/srv/aimx", "-policy", "p.toml"},
			cli{Config: "/etc/x.toml", DataDir: "/srv/aimx", Policy: filepath.Join(wd, "p.toml")}},
		{[]string{"--config=rel/c.toml"}, cli{Config: filepath.Join(wd, "rel/c.toml")}},
	} {
		c, err := parse(tc.args, nil)
		if err != nil || *c != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.args, c, err, tc.want)
		}
	}
	for _, args := range [][]string{{"--bogus"}, {"--config"}, {"extra"}} {
		if _, err := parse(args, nil); err == nil || err == flag.ErrHelp {
			t.Errorf("%q: %v, want an error", args, err)
		}
	}
	var help bytes.Buffer
	if _, err := parse([]string{"--help"}, &help); err != flag.ErrHelp || !strings.Contains(help.String(), "--data-dir PATH") {
		t.Errorf("--help: %v %q", err, help.String())
	}
}

// A real failure reaches the journal at err; a client's hang-up does not
// (its request record says what happened, at info).
func TestFailure(t *testing.T) {
	hangUp := fmt.Errorf("%w: read request: EOF", server.ErrNoResponse)
	noFD := errors.New("no socket from systemd: LISTEN_FDS is not set")
	for _, tc := range []struct {
		err       error
		toJournal bool
		want      string
	}{
		{noFD, true, "<3>aimx-mailboxd: no socket from systemd: LISTEN_FDS is not set\n"},
		{noFD, false, "aimx-mailboxd: no socket from systemd: LISTEN_FDS is not set\n"},
		{hangUp, true, "aimx-mailboxd: no response written: read request: EOF\n"},
		{hangUp, false, "aimx-mailboxd: no response written: read request: EOF\n"},
	} {
		if got := failure(tc.err, tc.toJournal); got != tc.want {
			t.Errorf("failure(%v, journal %v) = %q, want %q", tc.err, tc.toJournal, got, tc.want)
		}
	}
}

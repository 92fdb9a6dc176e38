package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

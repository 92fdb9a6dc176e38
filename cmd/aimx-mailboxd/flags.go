package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/aimx/aimx-mailboxd/mailbox"
)

type cli struct {
	Config  string
	DataDir string
	Policy  string
}

const usage = `Usage: aimx-mailboxd [--config PATH] [--data-dir PATH] [--policy PATH]

Answer one AIMX/1 mailbox request on the socket systemd passed as fd 3, then
exit.

Flags:
  -h, --help         Show this help.
  --config PATH      Config file (default: $AIMX_CONFIG_DIR/config.toml, else
                     ` + mailbox.DefaultConfigPath + `).
  --data-dir PATH    Data dir holding inbox/ and sent/ (default:
                     $AIMX_DATA_DIR, else the config's data_dir, else
                     ` + mailbox.DefaultDataDir + `).
  --policy PATH      Policy file (default: mailboxd.toml beside the config).
`

// parse reads the flags (--name PATH or --name=PATH; one dash works too)
// and makes each path absolute. On -h or --help it writes the usage to
// help and returns flag.ErrHelp.
func parse(args []string, help io.Writer) (*cli, error) {
	var c cli
	fs := flag.NewFlagSet("aimx-mailboxd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Config, "config", "", "")
	fs.StringVar(&c.DataDir, "data-dir", "", "")
	fs.StringVar(&c.Policy, "policy", "", "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			io.WriteString(help, usage)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, p := range []*string{&c.Config, &c.DataDir, &c.Policy} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, err
		}
		*p = abs
	}
	return &c, nil
}

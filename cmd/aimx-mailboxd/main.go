// Command aimx-mailboxd is the per-connection mailbox helper: systemd
// (aimx-mailboxd.socket, Accept=yes) starts it once per connection with
// the connected socket as fd 3; it answers one AIMX/1 request and exits.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kong"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/server"
)

type cli struct {
	Config  string `help:"Config file (default: $$AIMX_CONFIG_DIR/config.toml, else ${default_config})." type:"path" placeholder:"PATH"`
	DataDir string `help:"Data dir holding inbox/ and sent/ (default: $$AIMX_DATA_DIR, else the config's data_dir, else ${default_data})." type:"path" placeholder:"PATH"`
	Policy  string `help:"Policy file (default: mailboxd.toml beside the config)." type:"path" placeholder:"PATH"`
}

func main() {
	var c cli
	kong.Parse(&c,
		kong.Name("aimx-mailboxd"),
		kong.Description("Answer one AIMX/1 mailbox request on the socket systemd passed as fd 3, then exit."),
		kong.Vars{"default_config": mailbox.DefaultConfigPath, "default_data": mailbox.DefaultDataDir})
	if err := c.run(); err != nil {
		fmt.Fprintf(os.Stderr, "aimx-mailboxd: %v\n", err)
		os.Exit(1)
	}
}

func (c *cli) run() error {
	conn, peer, err := activation.Conn()
	if err != nil {
		return err
	}
	srv := &server.Server{Store: mailbox.FromEnv(c.Config, c.DataDir), Log: server.NewLogger(os.Stderr), PolicyPath: c.Policy}
	return srv.Serve(conn, peer)
}

// Command aimx-mailboxd is the per-connection mailbox helper: systemd
// (aimx-mailboxd.socket, Accept=yes) starts it once per connection with
// the connected socket as fd 3; it answers one AIMX/1 request and exits.
//
// Every connection pays for this program's start-up, so it parses its
// three flags with the standard library's flag package (flags.go), and
// sets the collector for one request (gc.go).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/server"
)

func main() {
	tuneGC()
	c, err := parse(os.Args[1:], os.Stdout)
	switch {
	case err == flag.ErrHelp:
		os.Exit(0)
	case err != nil:
		fmt.Fprintf(os.Stderr, "aimx-mailboxd: %v\nhint: aimx-mailboxd --help\n", err)
		os.Exit(2)
	}
	if err := c.run(); err != nil {
		io.WriteString(os.Stderr, failure(err, os.Getenv("JOURNAL_STREAM") != ""))
		os.Exit(1)
	}
}

// run answers the one connection systemd passed.
func (c *cli) run() error {
	conn, peer, err := activation.Accept()
	if err != nil {
		return err
	}
	srv := &server.Server{Store: mailbox.FromEnv(c.Config, c.DataDir), Log: server.NewLogger(os.Stderr), PolicyPath: c.Policy}
	return srv.Serve(conn, authz.Caller(peer))
}

// failure is the stderr line for an error that ends the helper (exit 1).
// A client that hung up or stalled before its answer (server.ErrNoResponse)
// already has its request record, at info: the line stays at the unit's
// default level. Anything else is the service failing, and when stderr is
// the journal ($JOURNAL_STREAM) the line carries "<3>", which journald
// (SyslogLevelPrefix=, on by default) stores at priority err. The unit's
// ExecStart=- keeps exit 1 from marking an instance failed, so this is
// where a real failure shows.
func failure(err error, toJournal bool) string {
	prefix := ""
	if toJournal && !errors.Is(err, server.ErrNoResponse) {
		prefix = "<3>"
	}
	return fmt.Sprintf("%saimx-mailboxd: %v\n", prefix, err)
}

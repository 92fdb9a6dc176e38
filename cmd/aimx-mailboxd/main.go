// Command aimx-mailboxd is the per-connection mailbox helper: systemd
// (aimx-mailboxd.socket, Accept=yes) starts it once per connection with
// the connected socket as fd 3; it answers one AIMX/1 request and exits.
//
// Every connection pays for this program's start-up, so it parses its
// three flags with the standard library's flag package (kong, which the
// CLI uses, costs a request more than all its flags are worth).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/server"
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

// memoryLimit is the heap size at which the garbage collector starts
// when GOMEMLIMIT names none (and GOGC is unset), the unit's value too:
// below the limit in force the helper never collects, since it exits
// after one request anyway. An indexed request stays far below it (a
// CREATE at 10 000 mailboxes allocates about 10 MiB). A request that
// finds the config unindexed decodes it in full four times
// (mailbox.BuildIndex), and the TOML decoder allocates about 40 times
// the text: at 10 000 mailboxes that instance peaks at 31 MiB with this
// limit, 42 MiB with 30 MiB and 63 MiB with 64 MiB (docs/PERFORMANCE.md).
const memoryLimit = 24 << 20

func main() {
	if os.Getenv("GOGC") == "" {
		if os.Getenv("GOMEMLIMIT") == "" {
			debug.SetMemoryLimit(memoryLimit)
		}
		// The collector waits for the limit in force (the unit's
		// GOMEMLIMIT=24MiB, else memoryLimit), never for none at all
		// (GOMEMLIMIT=off keeps the default pacing).
		if debug.SetMemoryLimit(-1) < math.MaxInt64 {
			debug.SetGCPercent(-1)
		}
	}
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

func (c *cli) run() error {
	conn, peer, err := activation.Accept()
	if err != nil {
		return err
	}
	srv := &server.Server{Store: mailbox.FromEnv(c.Config, c.DataDir), Log: server.NewLogger(os.Stderr), PolicyPath: c.Policy}
	return srv.Serve(conn, peer)
}

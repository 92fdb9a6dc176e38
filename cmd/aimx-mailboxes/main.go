// Command aimx-mailboxes creates, deletes and lists the caller's AIMX
// mailboxes through the aimx-mailboxd socket. Root may also work without
// the socket: the same code runs in-process under the same lock.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/passwd"
	"github.com/aimx/aimx-mailboxd/server"
	"github.com/aimx/aimx-mailboxd/version"
	"github.com/aimx/aimx-mailboxd/wire"
)

// Exit codes.
const (
	exitOK          = 0
	exitServerError = 1 // the server answered with an error
	exitUnreachable = 2 // no server to ask, or a usage error
)

type cli struct {
	Socket  string `help:"Socket of aimx-mailboxd." env:"AIMX_MAILBOXD_SOCKET" default:"/run/aimx/mailboxd.sock" type:"path" placeholder:"PATH"`
	Config  string `help:"Config file, for root's direct mode when the socket is down (default: $$AIMX_CONFIG_DIR/config.toml, else /etc/aimx/config.toml)." type:"path" placeholder:"PATH"`
	DataDir string `help:"Data dir, for root's direct mode (default: $$AIMX_DATA_DIR, else the config's data_dir)." type:"path" placeholder:"PATH"`
	Policy  string `help:"Policy file, for root's direct mode (default: mailboxd.toml beside the config)." type:"path" placeholder:"PATH"`

	Create  createCmd  `cmd:"" help:"Create a mailbox owned by you (root: by --owner)."`
	Delete  deleteCmd  `cmd:"" help:"Delete one of your mailboxes."`
	List    listCmd    `cmd:"" help:"List your mailboxes (root: all of them)."`
	Version versionCmd `cmd:"" help:"Print the client's and the server's version."`
	MCP     mcpCmd     `cmd:"" name:"mcp" help:"Serve your mailboxes to an AI agent over MCP (stdio): tools mailbox_list, mailbox_create, mailbox_delete."`

	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type createCmd struct {
	Name  string `arg:"" help:"Mailbox name: lower-case letters, digits, '.', '_', '-'."`
	Owner string `help:"Owner of the new mailbox (root only; ignored for anyone else)." placeholder:"USER"`
}

type deleteCmd struct {
	Name  string `arg:"" help:"Mailbox name."`
	Force bool   `help:"Also delete every message in the mailbox."`
	Yes   bool   `short:"y" help:"Do not ask for confirmation."`
}

type listCmd struct {
	JSON bool `name:"json" help:"Print the JSON array the server sent."`
}

type versionCmd struct{}

// exitError carries an exit code and what to tell the person.
type exitError struct {
	code int
	msg  string
	hint string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(c.main(os.Args[1:]))
}

// exitRequest is how kong's Exit (after --help) stops the parse: main
// recovers it and returns its code, so nothing after the help runs.
type exitRequest struct{ code int }

func (c *cli) main(args []string) (code int) {
	parser, err := kong.New(c, kong.Name("aimx-mailboxes"),
		kong.Description("Create, delete and list your AIMX mailboxes."),
		kong.Writers(c.stdout, c.stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }))
	if err != nil {
		panic(err) // the struct tags above are wrong
	}
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = e.code
		}
	}()
	ctx, err := parser.Parse(args)
	if err != nil {
		return c.usageError(parser, err)
	}
	err = ctx.Run(c)
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
	default:
		ee = &exitError{code: exitUnreachable, msg: err.Error()}
	}
	fmt.Fprintf(c.stderr, "aimx-mailboxes: %s\n", ee.msg)
	if ee.hint != "" {
		fmt.Fprintf(c.stderr, "hint: %s\n", ee.hint)
	}
	return ee.code
}

// usageError prints what is wrong with the command line in one line, then
// the usage of the command it names, all on stderr; exit code 2.
func (c *cli) usageError(parser *kong.Kong, err error) int {
	fmt.Fprintf(c.stderr, "aimx-mailboxes: %s\n", err)
	var perr *kong.ParseError
	if errors.As(err, &perr) && perr.Context != nil {
		fmt.Fprintln(c.stderr)
		parser.Stdout = c.stderr
		perr.Context.PrintUsage(true)
		parser.Stdout = c.stdout
	}
	return exitUnreachable
}

func (cmd *createCmd) Run(c *cli) error {
	if uid := os.Getuid(); uid != 0 && cmd.Owner != "" {
		if me, err := passwd.LookupUID(uint32(uid)); err == nil && me.Name != cmd.Owner {
			fmt.Fprintf(c.stderr, "aimx-mailboxes: warning: --owner %s is ignored for non-root callers; mailbox '%s' will be owned by %s\n", cmd.Owner, cmd.Name, me.Name)
		}
	}
	if _, err := c.call(wire.Request{Verb: wire.VerbCreate, Name: cmd.Name, Owner: cmd.Owner}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "created mailbox '%s'\n", cmd.Name)
	return nil
}

func (cmd *deleteCmd) Run(c *cli) error {
	if !cmd.Yes {
		if !isTerminal(c.stdin) {
			return &exitError{code: exitUnreachable, msg: fmt.Sprintf("not deleting mailbox '%s' without confirmation: standard input is not a terminal", cmd.Name),
				hint: "pass --yes to delete without asking"}
		}
		what := fmt.Sprintf("mailbox '%s'", cmd.Name)
		if cmd.Force {
			what += " and every message in it"
		}
		fmt.Fprintf(c.stderr, "Delete %s? [y/N] ", what)
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return &exitError{code: exitServerError, msg: "not deleted"}
		}
	}
	if _, err := c.call(wire.Request{Verb: wire.VerbDelete, Name: cmd.Name, Force: cmd.Force}); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "deleted mailbox '%s'\n", cmd.Name)
	return nil
}

func (cmd *listCmd) Run(c *cli) error {
	body, err := c.call(wire.Request{Verb: wire.VerbList})
	if err != nil {
		return err
	}
	if cmd.JSON {
		fmt.Fprintf(c.stdout, "%s\n", body)
		return nil
	}
	var entries []mailbox.Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		return &exitError{code: exitServerError, msg: fmt.Sprintf("the server sent a list that is not JSON: %v", err)}
	}
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tADDRESS\tTOTAL\tUNREAD\tSENT")
	for _, e := range entries {
		addr := "(unregistered)"
		if e.Address != nil {
			addr = *e.Address
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\n", e.Name, addr, e.Total, e.Unread, e.SentCount)
	}
	return w.Flush()
}

func (cmd *versionCmd) Run(c *cli) error {
	client := version.Get()
	fmt.Fprintf(c.stdout, "client: %s (%s, %s, built %s)\n", client.Tag, client.GitHash, client.Target, client.BuildDate)
	body, err := c.call(wire.Request{Verb: wire.VerbVersion})
	if err != nil {
		return err
	}
	var srv version.Info
	if err := json.Unmarshal(body, &srv); err != nil {
		return &exitError{code: exitServerError, msg: fmt.Sprintf("the server sent a version that is not JSON: %v", err)}
	}
	fmt.Fprintf(c.stdout, "server: %s (%s, %s, built %s)\n", srv.Tag, srv.GitHash, srv.Target, srv.BuildDate)
	return nil
}

// call sends req to the server and returns the body of its OK. When the
// socket is missing or refuses, root answers req in-process instead; any
// other caller gets exit code 2.
func (c *cli) call(req wire.Request) ([]byte, error) {
	resp, err := wire.Call(context.Background(), c.Socket, req)
	var dialErr *wire.DialError
	switch {
	case err == nil:
	case errors.As(err, &dialErr) && os.Geteuid() == 0 && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)):
		fmt.Fprintf(c.stderr, "aimx-mailboxes: %s is not answering (%v); running the request in-process as root\n", c.Socket, unwrapSyscall(err))
		srv := &server.Server{Store: mailbox.FromEnv(c.Config, c.DataDir), Log: server.NewLogger(io.Discard), PolicyPath: c.Policy}
		resp = srv.Handle(activation.Peer{UID: 0, GID: 0, PID: int32(os.Getpid())}, req)
	case errors.As(err, &dialErr):
		return nil, unreachable(c.Socket, err)
	default:
		return nil, &exitError{code: exitUnreachable, msg: err.Error()}
	}
	if resp.Err != nil {
		return nil, &exitError{code: exitServerError, msg: resp.Err.Reason, hint: hints[resp.Err.Code].cli}
	}
	return resp.Body, nil
}

// unreachable is what the person (or agent) reads when the socket cannot
// be reached.
func unreachable(socket string, err error) *exitError {
	return &exitError{code: exitUnreachable, msg: fmt.Sprintf("cannot reach aimx-mailboxd at %s: %v", socket, unwrapSyscall(err)),
		hint: "is the socket enabled? sudo systemctl enable --now aimx-mailboxd.socket"}
}

// hints says what to do after an error, by code, in the words of each
// surface: the CLI's flags and the MCP tools' arguments.
var hints = map[wire.Code]struct{ cli, mcp string }{
	wire.NonEmpty: {
		cli: "pass --force to delete the messages together with the mailbox",
		mcp: "call mailbox_delete again with force: true to delete the messages together with the mailbox",
	},
}

func unwrapSyscall(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

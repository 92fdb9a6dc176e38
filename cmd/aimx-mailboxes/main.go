// Command aimx-mailboxes creates, deletes and lists the caller's AIMX
// mailboxes through the aimx-mailboxd socket. Root may also work without
// the socket: the same code runs in-process under the same lock.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/aimx/aimx-mailboxd/passwd"
	"github.com/aimx/aimx-mailboxd/version"
	"github.com/aimx/aimx-mailboxd/wire"
	"github.com/aimx/aimx-mailboxd/wire/client"
)

// Exit codes, as aimx-mailboxes(1) documents them under EXIT STATUS.
// Scripts branch on them: a number never changes its meaning.
const (
	exitOK          = 0 // done
	exitServerError = 1 // the helper answered with an error; doctor: a check failed
	exitUsage       = 2 // the command line is wrong, or delete lacks --yes off a terminal: nothing was sent
	exitUnreachable = 3 // the socket could not be reached: nothing was sent
	exitDeclined    = 4 // the answer at delete's prompt was not yes: nothing was sent
	exitNoAnswer    = 5 // the request went out but no whole answer came back: it may have been applied
)

type cli struct {
	Socket  string           `help:"Socket of aimx-mailboxd." env:"AIMX_MAILBOXD_SOCKET" default:"/run/aimx/mailboxd.sock" type:"path" placeholder:"PATH"`
	Config  string           `help:"Config file, for doctor and root's direct mode (default: $$AIMX_CONFIG_DIR/config.toml, else /etc/aimx/config.toml)." type:"path" placeholder:"PATH"`
	DataDir string           `help:"Data dir, for doctor and root's direct mode (default: $$AIMX_DATA_DIR, else the config's data_dir, else /var/lib/aimx)." type:"path" placeholder:"PATH"`
	Policy  string           `help:"Policy file, for doctor and root's direct mode (default: mailboxd.toml beside the config)." type:"path" placeholder:"PATH"`
	Version kong.VersionFlag `help:"Print this program's version and exit; asks no server."`

	Create     createCmd     `cmd:"" help:"Create a mailbox owned by you (root: by --owner)."`
	Delete     deleteCmd     `cmd:"" help:"Delete one of your mailboxes."`
	List       listCmd       `cmd:"" help:"List your mailboxes (root: all of them, with their owners)."`
	Doctor     doctorCmd     `cmd:"" help:"Check the installation: socket unit, socket, helper, config, policy, data dir, AIMX daemon."`
	ShowVer    versionCmd    `cmd:"" name:"version" help:"Print the client's and the server's version."`
	MCP        mcpCmd        `cmd:"" name:"mcp" help:"Serve your mailboxes to an AI agent over MCP (stdio): tools mailbox_list, mailbox_create, mailbox_delete."`
	Completion completionCmd `cmd:"" help:"Print the completion script for a shell (bash, zsh or fish)."`
	Help       helpCmd       `cmd:"" help:"Print the help of a command, as --help does; sends nothing."`
	Names      namesCmd      `cmd:"" name:"complete-names" hidden:"" help:"Print the names of the mailboxes you may delete, one a line, for the completion scripts."`

	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// inProcess is set when root's request was answered in this process
	// because the socket was not answering.
	inProcess bool
}

type createCmd struct {
	Name  string `arg:"" help:"Mailbox name: lower-case letters, digits, '.', '_', '-'."`
	Owner string `help:"Owner of the new mailbox (root must name one; ignored for anyone else)." placeholder:"USER" completion:"user"`
}

type deleteCmd struct {
	Name  string `arg:"" help:"Mailbox name." completion:"mailbox"`
	Force bool   `help:"Also delete every message in the mailbox."`
	Yes   bool   `short:"y" help:"Do not ask for confirmation."`
}

type listCmd struct {
	JSON bool `name:"json" help:"Print the JSON array the server sent."`
}

type versionCmd struct{}

// helpCmd is "help [command...]": main prints the help that "command...
// --help" prints, so it never runs the command it names.
type helpCmd struct {
	Command []string `arg:"" optional:"" passthrough:"all" help:"The command to print the help of, with any of its arguments."`
}

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

// exitRequest is how kong's Exit (after --help or --version) stops the
// parse: main recovers it and returns its code, so nothing after it runs.
type exitRequest struct{ code int }

// newParser returns the kong parser of the command line; the completion
// scripts are generated from its model.
func (c *cli) newParser() *kong.Kong {
	v := version.Get()
	parser, err := kong.New(c, kong.Name("aimx-mailboxes"),
		kong.Description("Create, delete and list your AIMX mailboxes."),
		kong.Vars{"version": fmt.Sprintf("aimx-mailboxes %s (%s, %s, built %s)", v.Tag, v.GitHash, v.Target, v.BuildDate)},
		kong.Writers(c.stdout, c.stderr),
		kong.Exit(func(code int) { panic(exitRequest{code}) }))
	if err != nil {
		panic(err) // the struct tags above are wrong
	}
	return parser
}

func (c *cli) main(args []string) (code int) {
	parser := c.newParser()
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
	if err == nil && ctx.Selected() != nil && ctx.Selected().Name == "help" {
		// --help prints and exits through kong.Exit: Parse returns only
		// when the words after help are not a command line.
		_, err = parser.Parse(append(c.Help.Command, "--help"))
		if err == nil {
			err = errors.New("help: nothing to print")
		}
	}
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
		ee = &exitError{code: exitServerError, msg: err.Error()}
	}
	fmt.Fprintf(c.stderr, "aimx-mailboxes: %s\n", plain(ee.msg))
	if ee.hint != "" {
		fmt.Fprintf(c.stderr, "hint: %s\n", plain(ee.hint))
	}
	return ee.code
}

// usageError prints what is wrong with the command line in one line, then
// the usage of the command it names, all on stderr; exit code 2.
func (c *cli) usageError(parser *kong.Kong, err error) int {
	fmt.Fprintf(c.stderr, "aimx-mailboxes: %s\n", plain(err.Error()))
	var perr *kong.ParseError
	if errors.As(err, &perr) && perr.Context != nil {
		fmt.Fprintln(c.stderr)
		parser.Stdout = c.stderr
		perr.Context.PrintUsage(true)
		parser.Stdout = c.stdout
	}
	return exitUsage
}

func (cmd *createCmd) Run(c *cli) error {
	if os.Geteuid() == 0 && cmd.Owner == "" {
		// The server would refuse it too, in the words of the wire.
		return &exitError{code: exitUsage, msg: fmt.Sprintf("root must name the owner of mailbox '%s' with --owner USER", cmd.Name),
			hint: fmt.Sprintf("aimx-mailboxes create %s --owner USER", cmd.Name)}
	}
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
			return &exitError{code: exitUsage, msg: fmt.Sprintf("not deleting mailbox '%s' without confirmation: standard input is not a terminal", cmd.Name),
				hint: "pass --yes to delete without asking"}
		}
		what := fmt.Sprintf("mailbox '%s'", cmd.Name)
		if cmd.Force {
			what += " and every message in it"
		}
		fmt.Fprintf(c.stderr, "Delete %s? [y/N] ", plain(what))
		answer, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil {
			fmt.Fprintln(c.stderr) // end of input: end the prompt's line
		}
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return &exitError{code: exitDeclined, msg: fmt.Sprintf("not deleted: mailbox '%s' is unchanged", cmd.Name)}
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
	entries, err := wire.DecodeList(body)
	if err != nil {
		return &exitError{code: exitNoAnswer, msg: fmt.Sprintf("no usable answer from aimx-mailboxd at %s: %v", c.Socket, err)}
	}
	// Root sees every mailbox, so it is told whose each one is. An
	// unregistered folder has no owner in the config: "-".
	root := os.Geteuid() == 0
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	if root {
		fmt.Fprint(w, "NAME\tOWNER\tADDRESS\tTOTAL\tUNREAD\tSENT\n")
	} else {
		fmt.Fprint(w, "NAME\tADDRESS\tTOTAL\tUNREAD\tSENT\n")
	}
	for _, e := range entries {
		addr := "(unregistered)"
		if e.Address != nil {
			addr = *e.Address
		}
		fmt.Fprintf(w, "%s\t", plain(e.Name))
		if root {
			owner := e.Owner
			if owner == "" {
				owner = "-"
			}
			fmt.Fprintf(w, "%s\t", plain(owner))
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\n", plain(addr), e.Total, e.Unread, e.SentCount)
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
	if c.inProcess {
		// No server answered: this process did, and it is the client.
		fmt.Fprintf(c.stdout, "server: none answered; in-process as root (the client above)\n")
		return nil
	}
	srv, err := wire.DecodeVersion(body)
	if err != nil {
		return &exitError{code: exitNoAnswer, msg: fmt.Sprintf("no usable answer from aimx-mailboxd at %s: %v", c.Socket, err)}
	}
	fmt.Fprintf(c.stdout, "server: %s (%s, %s, built %s)\n", plain(srv.Tag), plain(srv.GitHash), plain(srv.Target), plain(srv.BuildDate))
	return nil
}

// call sends req to the server and returns the body of its OK. When the
// socket is missing or refuses, root answers req in-process instead (and
// c.inProcess says so); any other caller gets exitUnreachable.
func (c *cli) call(req wire.Request) ([]byte, error) {
	resp, err := client.Call(context.Background(), c.Socket, req)
	var dialErr *client.DialError
	switch {
	case err == nil:
	case errors.As(err, &dialErr) && os.Geteuid() == 0 && (errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)):
		fmt.Fprintf(c.stderr, "aimx-mailboxes: %s is not answering (%v); running the request in-process as root\n", c.Socket, unwrapSyscall(err))
		resp = c.direct(req)
	case errors.As(err, &dialErr):
		return nil, unreachable(c.Socket, err, os.Geteuid())
	case strings.HasPrefix(err.Error(), "write request:"):
		// Nothing was sent: a name or owner that no frame can carry.
		return nil, &exitError{code: exitUsage, msg: fmt.Sprintf("cannot send %s: %v", req.Verb, strings.TrimPrefix(err.Error(), "write request: "))}
	default:
		// The request went out: say that it may have been carried out.
		e := &exitError{code: exitNoAnswer, msg: fmt.Sprintf("no usable answer from aimx-mailboxd at %s: %v", c.Socket, noAnswer(err)),
			hint: logsHint(os.Geteuid())}
		if req.Verb == wire.VerbCreate || req.Verb == wire.VerbDelete {
			e.hint = "it may have been carried out all the same: aimx-mailboxes list shows; " + e.hint
		}
		return nil, e
	}
	if resp.Err != nil {
		return nil, &exitError{code: exitServerError, msg: resp.Err.Reason, hint: hints[resp.Err.Code].cli}
	}
	return resp.Body, nil
}

// noAnswer says why an exchange that reached the socket brought back no
// usable answer: client.Call's error without its "talk to <socket>", which
// the message names already.
func noAnswer(err error) error {
	why := errors.Unwrap(err)
	if why == nil {
		why = err
	}
	if errors.Is(why, io.EOF) || errors.Is(why, io.ErrUnexpectedEOF) {
		return errors.New("the connection closed before a whole answer")
	}
	return why
}

// unreachable is what the person (or agent) running as euid reads when
// the socket cannot be reached.
func unreachable(socket string, err error, euid int) *exitError {
	hint := "is the socket enabled? " + rootOnly(euid, "sudo systemctl enable --now aimx-mailboxd.socket")
	if errors.Is(err, syscall.EACCES) {
		hint = "every user must be able to connect (mode 0666, as the socket unit sets it): " + rootOnly(euid, "sudo systemctl restart aimx-mailboxd.socket")
	}
	return &exitError{code: exitUnreachable, msg: fmt.Sprintf("cannot reach aimx-mailboxd at %s: %v", socket, unwrapSyscall(err)), hint: hint}
}

// hints says what to do after an error, by code, in the words of each
// surface: the CLI's flags and the MCP tools' arguments.
var hints = map[wire.Code]struct{ cli, mcp string }{
	wire.NonEmpty: {
		cli: "pass --force to delete the messages together with the mailbox",
		mcp: "call mailbox_delete again with force: true to delete the messages together with the mailbox",
	},
}

// askAdmin starts what an ordinary user is told about a fix that needs
// root: sudo and the system journal are not theirs to use.
const askAdmin = "ask your administrator to "

// rootOnly is a command line that needs root (written with sudo), as the
// caller running as euid can act on it: root runs it; anyone else asks
// the administrator to run it.
func rootOnly(euid int, command string) string {
	if euid == 0 {
		return command
	}
	return askAdmin + "run: " + strings.ReplaceAll(command, "sudo ", "")
}

// logsHint says where the helper's side of a failed exchange is logged,
// as the caller running as euid can use it.
func logsHint(euid int) string {
	if euid == 0 {
		return "journalctl -t aimx-mailboxd -n 20 says why"
	}
	return askAdmin + "look at journalctl -t aimx-mailboxd -n 20, which says why"
}

// plural is n and noun, in the plural unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "x") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func unwrapSyscall(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// plain escapes the control characters of s (C0, DEL, C1, U+2028 and
// U+2029) so that nothing this program prints can drive a terminal: it
// writes no colour and no other escape sequence, whatever the server or
// the command line sent.
func plain(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !isControl(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029
}

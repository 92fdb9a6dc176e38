package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/version"
	"github.com/aimx/aimx-mailboxd/wire"
	"github.com/aimx/aimx-mailboxd/wire/client"
)

// mcpCmd serves the caller's mailboxes to an AI agent over the Model
// Context Protocol, on stdin and stdout. The tools have the names,
// arguments and result shapes of AIMX's own MCP server (aimx mcp), so an
// agent's configuration can switch between the two.
//
// Every tool call is a request on the socket, made by this process, so
// the caller the helper sees (SO_PEERCRED) is the agent's own uid and
// every rule of the server applies unchanged. It never reads the config,
// and, unlike the other commands, root gets no in-process fallback: an
// agent running as root still goes through the socket, where every
// request is logged.
type mcpCmd struct{}

func (cmd *mcpCmd) Run(c *cli) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if isTerminal(c.stdin) {
		fmt.Fprintln(c.stderr, "aimx-mailboxes: mcp speaks the Model Context Protocol on stdin and stdout for an agent host that starts it (see aimx-mailboxes(1), MCP); Ctrl-D ends it")
	}
	t := &mcp.IOTransport{Reader: io.NopCloser(c.stdin), Writer: nopWriteCloser{c.stdout}}
	if err := newMCPServer(c.Socket).Run(ctx, t); err != nil && ctx.Err() == nil {
		return &exitError{code: exitServerError, msg: fmt.Sprintf("mcp: %v", err)}
	}
	return nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// nameSchema states protocol.md's and behavior.md's name rules, so an
// agent learns them before it calls. The pattern is that of behavior.md
// without look-arounds: dot-separated runs of [a-z0-9_-], hence no
// leading or trailing '.' and no '..'. The reserved names are left to the
// server, which says which rule broke.
func nameSchema(what string) *jsonschema.Schema {
	one, max := 1, 64
	return &jsonschema.Schema{
		Type: "string",
		Description: what + " 1 to 64 characters from a-z, 0-9, '.', '_' and '-', " +
			"not starting or ending with '.', without '..'. " +
			"'catchall' and 'aimx-catchall' are reserved, and the host may reserve more (e.g. 'postmaster') for root.",
		MinLength: &one,
		MaxLength: &max,
		Pattern:   `^[a-z0-9_-]+(\.[a-z0-9_-]+)*$`,
	}
}

// strict is an object schema that rejects any argument it does not name.
func strict(props map[string]*jsonschema.Schema, required ...string) *jsonschema.Schema {
	return &jsonschema.Schema{
		Type:                 "object",
		Properties:           props,
		Required:             required,
		AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}},
	}
}

// nameRules is the hint after a name the rules refuse, in the words of
// nameSchema.
const nameRules = "a mailbox name is 1 to 64 characters from a-z, 0-9, '.', '_' and '-', " +
	"not starting or ending with '.', without '..', and not 'catchall' or 'aimx-catchall'"

// args is a tool call's arguments, checked against what the tool takes:
// a JSON object whose keys are among kinds ("string" or "boolean"), with
// every required key present. The SDK would check the same against the
// input schema, in a JSON Schema validator's words; these checks answer
// as every other refusal does, [VALIDATION] with a hint.
type args map[string]json.RawMessage

func parseArgs(tool string, raw json.RawMessage, kinds map[string]string, required ...string) (args, error) {
	a := args{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, validation(fmt.Sprintf("the arguments of %s are not a JSON object", tool), takes(tool, kinds))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if _, ok := kinds[k]; !ok {
			hint := takes(tool, kinds)
			if k == "owner" {
				hint = "a mailbox is always owned by the user this server runs as; " + hint
			}
			return nil, validation(fmt.Sprintf("%s has no argument %q", tool, k), hint)
		}
	}
	for _, k := range required {
		if _, ok := a[k]; !ok {
			return nil, validation(fmt.Sprintf("%s needs the argument %q", tool, k), fmt.Sprintf(`call %s with {"%s": "<mailbox name>"}`, tool, k))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		kind := kinds[k]
		v, ok := a[k]
		if !ok {
			continue
		}
		var err error
		switch kind {
		case "string":
			var s string
			err = json.Unmarshal(v, &s)
		case "boolean":
			var b bool
			err = json.Unmarshal(v, &b)
		}
		if err != nil || string(v) == "null" {
			what := map[string]string{"string": "a string", "boolean": "true or false"}[kind]
			return nil, validation(fmt.Sprintf("argument %q of %s must be %s, not %s", k, tool, what, plain(string(v))), "")
		}
	}
	return a, nil
}

// takes says which arguments tool takes.
func takes(tool string, kinds map[string]string) string {
	if len(kinds) == 0 {
		return tool + " takes no arguments"
	}
	return tool + " takes " + strings.Join(slices.Sorted(maps.Keys(kinds)), " and ")
}

// name returns the argument "name", a valid mailbox name: one the name
// rules refuse is answered here, with the reason the server gives, and
// never sent.
func (a args) name() (string, error) {
	var name string
	json.Unmarshal(a["name"], &name)
	if err := mailbox.ValidateName(name); err != nil {
		return "", validation(plain(err.Error()), nameRules)
	}
	return name, nil
}

func (a args) flag(k string) bool {
	var b bool
	json.Unmarshal(a[k], &b)
	return b
}

func validation(reason, hint string) *toolError {
	return &toolError{msg: fmt.Sprintf("[%s] %s", wire.Validation, reason), hint: hint}
}

// handler makes a tool's handler of h: its text, or the error's text as a
// tool error.
func handler(h func(ctx context.Context, raw json.RawMessage) (string, error)) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		out, err := h(ctx, req.Params.Arguments)
		if err != nil {
			res := &mcp.CallToolResult{}
			res.SetError(err)
			return res, nil
		}
		return text(out), nil
	}
}

// newMCPServer returns the MCP server with the three mailbox tools, each
// a request on socket. The tools take their arguments raw: parseArgs
// checks them, so that a bad one is refused in the words of every other
// refusal; the input schemas state the same rules for the agent.
func newMCPServer(socket string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "aimx-mailboxes", Title: "AIMX mailboxes", Version: version.Get().Tag},
		&mcp.ServerOptions{Instructions: "Manage your own AIMX mailboxes on this host through aimx-mailboxd: " +
			"list them, create one (it is always owned by the user this server runs as), delete one of yours. " +
			"Reading and sending mail is not part of this server."})
	no, yes := false, true

	s.AddTool(&mcp.Tool{
		Name: "mailbox_list",
		Description: "List the mailboxes you own, with their address, folder paths and message counts " +
			"(total, unread, sent_count). Mailboxes of other users are not shown; root sees all. " +
			"Returns the JSON array aimx-mailboxd sent: " +
			`[{"name", "address" (null when the folder has no config entry), "inbox_path", "sent_path", "total", "unread", "sent_count", "registered"}].`,
		InputSchema: strict(map[string]*jsonschema.Schema{}),
		Annotations: &mcp.ToolAnnotations{Title: "List my mailboxes", ReadOnlyHint: true, OpenWorldHint: &no},
	}, handler(func(ctx context.Context, raw json.RawMessage) (string, error) {
		if _, err := parseArgs("mailbox_list", raw, nil); err != nil {
			return "", err
		}
		body, err := mcpCall(ctx, socket, wire.Request{Verb: wire.VerbList})
		return string(body), err
	}))

	s.AddTool(&mcp.Tool{
		Name: "mailbox_create",
		Description: "Create a mailbox owned by you. aimx-mailboxd takes the owner from the kernel (SO_PEERCRED), " +
			"so there is no owner argument: an agent can only create mailboxes for the user it runs as. " +
			"Returns the new mailbox's address.",
		InputSchema: strict(map[string]*jsonschema.Schema{
			"name": nameSchema("Mailbox name, the local part of its address:"),
		}, "name"),
		Annotations: &mcp.ToolAnnotations{Title: "Create a mailbox", DestructiveHint: &no, OpenWorldHint: &no},
	}, handler(func(ctx context.Context, raw json.RawMessage) (string, error) {
		a, err := parseArgs("mailbox_create", raw, map[string]string{"name": "string"}, "name")
		if err != nil {
			return "", err
		}
		name, err := a.name()
		if err != nil {
			return "", err
		}
		if _, err := mcpCall(ctx, socket, wire.Request{Verb: wire.VerbCreate, Name: name}); err != nil {
			return "", err
		}
		// The address holds the config's domain, which only the server
		// reads: ask it, as the caller, like AIMX's own tool does.
		if addr := addressOf(ctx, socket, name); addr != "" {
			return addr, nil
		}
		return fmt.Sprintf("Mailbox '%s' created.", name), nil
	}))

	s.AddTool(&mcp.Tool{
		Name: "mailbox_delete",
		Description: "Delete a mailbox you own. A mailbox that is not yours is answered exactly like one that does not exist. " +
			"Without force, a mailbox that still holds messages is refused with [NONEMPTY]; " +
			"with force true, the messages in its inbox and sent folders are deleted with it.",
		InputSchema: strict(map[string]*jsonschema.Schema{
			"name": nameSchema("Name of the mailbox to delete:"),
			"force": {Type: "boolean", Default: json.RawMessage("false"),
				Description: "Also delete every message in the mailbox's inbox and sent folders. Default false: a mailbox that holds messages is refused."},
		}, "name"),
		Annotations: &mcp.ToolAnnotations{Title: "Delete a mailbox", DestructiveHint: &yes, IdempotentHint: false, OpenWorldHint: &no},
	}, handler(func(ctx context.Context, raw json.RawMessage) (string, error) {
		a, err := parseArgs("mailbox_delete", raw, map[string]string{"name": "string", "force": "boolean"}, "name")
		if err != nil {
			return "", err
		}
		name, err := a.name()
		if err != nil {
			return "", err
		}
		if _, err := mcpCall(ctx, socket, wire.Request{Verb: wire.VerbDelete, Name: name, Force: a.flag("force")}); err != nil {
			return "", err
		}
		return fmt.Sprintf("Mailbox '%s' deleted.", name), nil
	}))
	return s
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

// toolError is a failed call as the agent reads it (the SDK turns it into
// a result with isError): "[CODE] reason", as AIMX's own tools say it,
// and the hint on a line of its own.
type toolError struct{ msg, hint string }

func (e *toolError) Error() string {
	if e.hint == "" {
		return e.msg
	}
	return e.msg + "\nhint: " + e.hint
}

// mcpCall sends req and returns the body of its OK. An AIMX/1 error, an
// unreachable socket or a broken exchange is a *toolError.
func mcpCall(ctx context.Context, socket string, req wire.Request) ([]byte, error) {
	resp, err := client.Call(ctx, socket, req)
	var dialErr *client.DialError
	switch {
	case errors.As(err, &dialErr):
		u := unreachable(socket, err, os.Geteuid())
		return nil, &toolError{msg: u.msg, hint: u.hint}
	case err != nil:
		return nil, &toolError{msg: err.Error()}
	case resp.Err != nil:
		return nil, &toolError{msg: fmt.Sprintf("[%s] %s", resp.Err.Code, resp.Err.Reason), hint: hints[resp.Err.Code].mcp}
	}
	return resp.Body, nil
}

// addressOf returns the address of the caller's mailbox name from a LIST,
// or "" when that fails (the mailbox was created either way).
func addressOf(ctx context.Context, socket, name string) string {
	body, err := mcpCall(ctx, socket, wire.Request{Verb: wire.VerbList})
	if err != nil {
		return ""
	}
	entries, err := wire.DecodeList(body)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if e.Name == name && e.Address != nil {
			return *e.Address
		}
	}
	return ""
}

package main

import (
	"os"

	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/server"
	"github.com/aimx/aimx-mailboxd/wire"
)

// direct is root's in-process fallback when the socket is missing or
// refuses: the helper's own code (server, with its mailbox store and
// authz rules) answers req for caller uid 0, under the same lock, with
// the same flags (--config, --data-dir, --policy). It is the one place
// the CLI reaches server-side code; everything else goes through wire.
func (c *cli) direct(req wire.Request) wire.Response {
	c.inProcess = true
	srv := &server.Server{Store: mailbox.FromEnv(c.Config, c.DataDir), Log: server.NewLogger(os.Stderr), PolicyPath: c.Policy}
	return srv.Handle(authz.Caller{UID: 0, GID: 0, PID: int32(os.Getpid())}, req)
}

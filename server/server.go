// Package server answers AIMX/1 requests on the mailbox socket: one
// request in, one response out, along the path activation → wire → authz
// → mailbox → wire. The helper serves one connection with it and exits;
// the CLI's direct mode for root calls Handle with the same code and the
// same lock.
//
// It promises that every request gets exactly one response (unless the
// client never finished sending one) and exactly one log record.
package server

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/passwd"
	"github.com/aimx/aimx-mailboxd/policy"
	"github.com/aimx/aimx-mailboxd/version"
	"github.com/aimx/aimx-mailboxd/wire"
)

// ReadTimeout is how long a client has to send its whole request.
const ReadTimeout = 30 * time.Second

// WriteTimeout is how long a client has to read its whole response.
const WriteTimeout = 30 * time.Second

// readTimeout is ReadTimeout; a test shortens it.
var readTimeout = ReadTimeout

// Drain bounds: what is read and thrown away of a client's surplus input
// so that it reads its response instead of a reset. After a frame that
// did not parse, only what already arrived is drained (errorDrainWait);
// after a response, until the client's EOF (drainWait).
const (
	drainBytes     = 1 << 20
	drainWait      = time.Second
	errorDrainWait = 20 * time.Millisecond
)

// Server answers requests against one Store and logs each decision.
type Server struct {
	Store *mailbox.Store
	Log   Logger
	// PolicyPath is the policy file; empty means mailboxd.toml beside the
	// config.
	PolicyPath string
}

func (s *Server) policyPath() string {
	if s.PolicyPath != "" {
		return s.PolicyPath
	}
	return policy.PathFor(s.Store.Path())
}

// ErrNoResponse is returned by Serve when the connection ended, or the
// read deadline passed, before a whole request arrived.
var ErrNoResponse = errors.New("no response written")

// Conn is the connection Serve answers on: the helper's is an
// *activation.Conn (a raw socket, its deadlines kept by the kernel); a
// *net.UnixConn is one too.
type Conn interface {
	io.ReadWriteCloser
	// CloseWrite half-closes: the client reads EOF after the answer.
	CloseWrite() error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Serve reads one request from conn, writes one response, and closes
// conn. It returns nil when a response was written.
func (s *Server) Serve(conn Conn, peer activation.Peer) error {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	r := wire.NewReader(conn)
	req, err := wire.ReadRequest(r)
	var resp wire.Response
	var werr *wire.Error
	var rq *request
	switch {
	case errors.As(err, &werr):
		s.log(peer, req, "", authz.Reject, Malformed, werr.Reason)
		resp.Err = werr
		drain(conn, errorDrainWait)
	case err != nil:
		s.log(peer, req, "", authz.Reject, Abandoned, "no request: "+err.Error())
		return fmt.Errorf("%w: read request: %v", ErrNoResponse, err)
	default:
		rq = s.handle(peer, req)
		resp = rq.resp
	}
	conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	werr2 := wire.WriteResponse(conn, resp)
	if werr2 == nil {
		conn.CloseWrite()
	}
	// The answer is out: the client has it and its EOF. What is left
	// (the log record, with the caller's name; emptying the trash
	// outside the lock) no longer delays it.
	rq.after()
	if werr2 == nil {
		drain(conn, drainWait)
	}
	conn.Close()
	if werr2 != nil {
		return fmt.Errorf("%w: %v", ErrNoResponse, werr2)
	}
	return nil
}

// drain reads and discards input until EOF, the wait, or drainBytes.
func drain(conn Conn, wait time.Duration) {
	conn.SetReadDeadline(time.Now().Add(wait))
	io.Copy(io.Discard, io.LimitReader(conn, drainBytes))
}

// request is one request in flight: who asked, and what to log.
type request struct {
	s      *Server
	caller activation.Peer
	req    wire.Request
	policy policy.Policy
	store  mailbox.Store // s.Store with the policy's lock timeout

	// The caller's passwd entry (zero when userErr says why not), looked
	// up on first use (user): a request that needs no name for its answer
	// looks it up for its log record after the answer.
	me      passwd.User
	userErr error
	looked  bool
	resp    wire.Response
	record  *Record     // the request's log record, written by after
	tx      *mailbox.Tx // an edit's: Released, and its trash emptied, after the answer
}

// Handle answers one parsed request from caller and logs its decision.
// Work that may follow the answer (emptying folders a forced DELETE set
// aside) is done before it returns.
func (s *Server) Handle(caller activation.Peer, req wire.Request) wire.Response {
	rq := s.handle(caller, req)
	rq.after()
	return rq.resp
}

func (s *Server) handle(caller activation.Peer, req wire.Request) *request {
	rq := &request{s: s, caller: caller, req: req, store: *s.Store}
	rq.resp = rq.answer()
	return rq
}

// user is the caller's passwd entry, looked up once.
func (rq *request) user() (passwd.User, error) {
	if !rq.looked {
		rq.looked = true
		rq.me, rq.userErr = passwd.LookupUID(rq.caller.UID)
	}
	return rq.me, rq.userErr
}

// after does what may wait until the answer is out: the log record (it
// names the caller, whose passwd entry may only now be looked up),
// freeing what the edit unlinked (Tx.Release), and emptying the trash
// outside the lock.
func (rq *request) after() {
	if rq == nil {
		return
	}
	if r := rq.record; r != nil && rq.s.Log != nil {
		me, _ := rq.user()
		r.User = Escape(me.Name)
		rq.s.Log.Log(*r)
	}
	if rq.tx != nil {
		rq.tx.Release()
		mailbox.EmptyTrash(rq.tx.DataDir)
	}
}

// note keeps the request's log record for after.
func (rq *request) note(d authz.Decision, o Outcome, reason string) {
	r := record(rq.caller, rq.req, "", d, o, reason)
	rq.record = &r
}

func (rq *request) answer() wire.Response {
	switch rq.req.Verb {
	case wire.VerbCreate, wire.VerbDelete, wire.VerbList:
		pol, err := policy.Load(rq.s.policyPath())
		if err != nil {
			return rq.fail(wire.Errorf(wire.IO, "%v", err), "")
		}
		rq.policy, rq.store.LockTimeout = pol, pol.LockTimeout
	}
	switch rq.req.Verb {
	case wire.VerbCreate:
		return rq.create()
	case wire.VerbDelete:
		return rq.delete()
	case wire.VerbList:
		return rq.list()
	case wire.VerbVersion:
		v := version.Get()
		return rq.ok(wire.VersionOK(wire.Version{Tag: v.Tag, GitHash: v.GitHash, Target: v.Target, BuildDate: v.BuildDate}), rq.bypass())
	}
	return rq.fail(wire.Errorf(wire.Protocol, "unknown verb '%s'", rq.req.Verb), "")
}

// bypass is the decision for a request anyone may make.
func (rq *request) bypass() authz.Decision {
	if rq.caller.UID == 0 {
		return authz.RootBypass
	}
	return authz.Accept
}

func (rq *request) ok(resp wire.Response, d authz.Decision) wire.Response {
	rq.note(d, Accepted, "")
	return resp
}

// fail logs a rejection with its internal reason (the wire reason when
// internal is empty) and answers e. The record's outcome follows e's
// code: IO is the service failing, PROTOCOL a frame for another socket,
// anything else a rule refusing the request.
func (rq *request) fail(e *wire.Error, internal string) wire.Response {
	o := Refused
	switch e.Code {
	case wire.IO:
		o = Failed
	case wire.Protocol, wire.Malformed:
		o = Malformed
	}
	return rq.failAs(o, e, internal)
}

func (rq *request) failAs(o Outcome, e *wire.Error, internal string) wire.Response {
	if internal == "" {
		internal = e.Reason
	}
	rq.note(authz.Reject, o, internal)
	return wire.Response{Err: e}
}

// failErr answers err with the code behavior.md gives its kind.
func (rq *request) failErr(err error) wire.Response {
	var (
		nameErr     *mailbox.NameError
		conflictErr *mailbox.ConflictError
		nonEmptyErr *mailbox.NonEmptyError
		busyErr     *mailbox.BusyError
	)
	code := wire.IO
	switch {
	case errors.As(err, &busyErr):
		return rq.failAs(Busy, &wire.Error{Code: wire.IO, Reason: err.Error()}, "")
	case errors.As(err, &nameErr):
		code = wire.Validation
	case errors.Is(err, mailbox.ErrExists):
		return rq.fail(wire.Errorf(wire.Mailbox, "mailbox '%s' already exists", rq.req.Name), "")
	case errors.As(err, &conflictErr):
		code = wire.Conflict
	case errors.As(err, &nonEmptyErr):
		code = wire.NonEmpty
	}
	return rq.fail(&wire.Error{Code: code, Reason: err.Error()}, "")
}

func (rq *request) create() wire.Response {
	name, caller := rq.req.Name, rq.caller.UID
	if err := mailbox.ValidateName(name); err != nil {
		return rq.failErr(err)
	}
	var me passwd.User
	if caller != 0 {
		// Owner: is ignored: the owner is the caller, by its uid.
		var err error
		if me, err = rq.user(); err != nil {
			return rq.fail(wire.Errorf(wire.Validation, "%v", err), "")
		}
	}
	owner, decision, err := authz.CreateOwner(caller, me.Name, name, rq.req.Owner, rq.policy)
	if err != nil {
		return rq.deny(err)
	}

	u, err := me, error(nil) // a non-root caller's entry was looked up once, by uid
	if caller == 0 {
		// Before the lock, which it does not need; its error is answered
		// after the existence check, in behavior.md's order.
		u, err = passwd.LookupName(owner)
	}
	tx, lerr := rq.store.Lock()
	if lerr != nil {
		return rq.failErr(lerr)
	}
	defer tx.Close()
	rq.tx = tx
	if _, ok := tx.Config.Mailbox(name); ok {
		return rq.failErr(mailbox.ErrExists)
	}
	if errors.Is(err, passwd.ErrNoEntry) {
		return rq.fail(wire.Errorf(wire.Validation, "unknown owner '%s'", owner), err.Error())
	}
	if err != nil {
		return rq.failErr(err)
	}
	if caller != 0 && rq.policy.MaxMailboxesPerUser > 0 {
		owned := ownedBy(tx.Config, u, rq.policy.MaxMailboxesPerUser)
		if err := authz.CheckLimit(caller, name, owned, rq.policy); err != nil {
			return rq.deny(err)
		}
	}
	if tx.Config.Domain == "" {
		return rq.fail(wire.Errorf(wire.IO, "config %s has no domain: add a line domain = \"<your mail domain>\"", tx.Config.Path), "")
	}
	st := mailbox.Stanza{Name: name, Address: name + "@" + tx.Config.Domain, Owner: u.Name}
	reclaim := func(folderUID, folderGID uint32) bool { return authz.Reclaim(folderUID, folderGID, u.UID, u.GID) }
	if err := tx.Create(st, u.UID, u.GID, reclaim); err != nil {
		return rq.failErr(err)
	}
	if err := tx.Close(); err != nil { // OK only once the edit is durable
		return rq.failErr(err)
	}
	return rq.ok(wire.Response{}, decision)
}

// ownedBy counts the stanzas of c whose owner resolves to u's uid,
// stopping at limit. Stanzas that name u exactly are counted without a
// look-up; the other owner names are looked up together, only when those
// do not reach the limit already.
func ownedBy(c *mailbox.Config, u passwd.User, limit int) int {
	n := 0
	others := map[string]int{} // owner name → its stanzas
	for st := range c.All() {
		if st.Owner == u.Name {
			n++
		} else {
			others[st.Owner]++
		}
	}
	if n >= limit || len(others) == 0 {
		return n
	}
	names := make([]string, 0, len(others))
	for name := range others {
		names = append(names, name)
	}
	found, _ := passwd.LookupNames(names) // a name that does not resolve is nobody's
	for name, o := range found {
		if o.UID == u.UID {
			n += others[name]
		}
	}
	return n
}

func (rq *request) delete() wire.Response {
	name := rq.req.Name
	if err := mailbox.ValidateName(name); err != nil {
		return rq.failErr(err)
	}
	tx, err := rq.store.Lock()
	if err != nil {
		return rq.failErr(err)
	}
	defer tx.Close()
	rq.tx = tx
	var target *authz.Mailbox
	if st, ok := tx.Config.Mailbox(name); ok {
		target = &authz.Mailbox{Name: name, Owner: st.Owner}
		if rq.caller.UID != 0 { // root may delete any mailbox: its owner decides nothing
			u, err := passwd.LookupName(st.Owner)
			switch {
			case err == nil:
				target.OwnerUID, target.OwnerResolved = u.UID, true
			case !errors.Is(err, passwd.ErrNoEntry):
				return rq.failErr(err)
			}
		}
	}
	if target == nil {
		// A DELETE killed after its config write left its empty folders:
		// repeating it removes them (the answer stays "does not exist").
		caller := rq.caller.UID
		tx.RemoveLeftovers(name, func(folderUID uint32) bool { return authz.RemoveLeftover(caller, folderUID) })
	}
	decision, err := authz.MayDelete(rq.caller.UID, target)
	if err != nil {
		return rq.deny(err)
	}
	if err := tx.Delete(name, rq.req.Force); err != nil {
		return rq.failErr(err)
	}
	if err := tx.Close(); err != nil { // OK only once the edit is durable
		return rq.failErr(err)
	}
	return rq.ok(wire.Response{}, decision)
}

// deny answers an authz denial with its canonical wire reason: for a
// DELETE, byte for byte the answer for a mailbox that does not exist.
func (rq *request) deny(err error) wire.Response {
	var d *authz.Denial
	if !errors.As(err, &d) {
		return rq.failErr(err)
	}
	code := wire.Access
	switch {
	case d.Hidden():
		code = wire.Mailbox
	case d.Invalid():
		code = wire.Validation
	}
	return rq.fail(&wire.Error{Code: code, Reason: d.Public(rq.req.Name)}, d.Error())
}

func (rq *request) list() wire.Response {
	cfg, err := rq.store.Load()
	if err != nil {
		return rq.failErr(err)
	}
	caller := rq.caller.UID
	var owners map[string]passwd.User // every owner name, looked up together
	if caller != 0 {
		names := make([]string, 0, cfg.Len())
		for st := range cfg.All() {
			names = append(names, st.Owner)
		}
		owners, _ = passwd.LookupNames(names) // a name that does not resolve is nobody's
	}
	keep := func(e mailbox.Entry) bool {
		o, ok := owners[e.Owner]
		return authz.Listed(caller, e.Registered, e.Registered && ok, o.UID, e.DirUID)
	}
	entries, err := rq.store.List(cfg, keep)
	if err != nil {
		return rq.failErr(err)
	}
	out := make([]wire.Entry, 0, len(entries))
	for _, e := range entries {
		w := wire.Entry{Name: e.Name, Address: e.Address, InboxPath: e.InboxPath, SentPath: e.SentPath,
			Total: e.Total, Unread: e.Unread, SentCount: e.SentCount, Registered: e.Registered}
		if caller == 0 {
			// Only root's body names owners: anyone else's lists only
			// their own, and stays as protocol.md shows it.
			w.Owner = e.Owner
		}
		out = append(out, w)
	}
	return rq.ok(wire.ListOK(out), rq.bypass())
}

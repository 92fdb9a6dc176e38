// Package server answers AIMX/1 requests on the mailbox socket: one
// request in, one response out. The helper serves one connection with it
// and exits; the CLI's direct mode for root calls Handle with the same
// code and the same lock.
//
// It promises that every request gets exactly one response (unless the
// client never finished sending one) and exactly one log record.
//
// The life of a request, in order:
//
//  1. activation.Accept: the connected socket from systemd and the
//     caller's SO_PEERCRED (cmd/aimx-mailboxd), as an authz.Caller.
//  2. Server.Serve: wire.ReadRequest parses one frame.
//  3. request.answer: policy.Load, then the verb (create, delete, list,
//     VERSION), which resolves users (passwd.Source) and asks authz.
//  4. For CREATE and DELETE, the edit (below).
//  5. wire.WriteResponse, then CloseWrite: the client has its answer.
//  6. request.after: the log record (Logger), Tx.Release, EmptyTrash.
//
// The life of an edit, in order:
//
//  1. Store.Lock: take the config lock (bounded wait), read and check the
//     config (and the checked index).
//  2. Tx.Create or Tx.Delete: the folders and one bounded step on the
//     owner's folder, then Tx.write: the new text to a temporary file,
//     fsync, the unchanged-config check, rename.
//  3. Tx.Close: release the lock, then fsync the folders; only then OK.
//  4. After the answer: Tx.Release frees what the edit unlinked, and
//     EmptyTrash empties what a forced DELETE set aside, within a budget.
package server

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

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
	// Users is the name service users are resolved in; nil means the
	// host's (passwd.System).
	Users *passwd.Source
}

func (s *Server) users() *passwd.Source {
	if s.Users != nil {
		return s.Users
	}
	return passwd.System
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

// Serve reads one request from conn, sent by caller, writes one response,
// and closes conn. It returns nil when a response was written.
func (s *Server) Serve(conn Conn, caller authz.Caller) error {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(readTimeout))
	r := wire.NewReader(conn)
	req, err := wire.ReadRequest(r)
	var werr *wire.Error
	var rq *request
	switch {
	case errors.As(err, &werr):
		rq = s.newRequest(caller, req)
		rq.resp = rq.failAs(Malformed, werr, "")
		drain(conn, errorDrainWait)
	case err != nil:
		rq = s.newRequest(caller, req)
		rq.note(authz.Reject, Abandoned, "no request: "+err.Error())
		rq.after()
		return fmt.Errorf("%w: read request: %v", ErrNoResponse, err)
	default:
		rq = s.handle(caller, req)
	}
	resp := rq.resp
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
	caller authz.Caller
	req    wire.Request
	rules  authz.Rules
	users  *passwd.Source
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
func (s *Server) Handle(caller authz.Caller, req wire.Request) wire.Response {
	rq := s.handle(caller, req)
	rq.after()
	return rq.resp
}

func (s *Server) handle(caller authz.Caller, req wire.Request) *request {
	rq := s.newRequest(caller, req)
	rq.resp = rq.answer()
	return rq
}

func (s *Server) newRequest(caller authz.Caller, req wire.Request) *request {
	return &request{s: s, caller: caller, req: req, store: *s.Store, users: s.users()}
}

// user is the caller's passwd entry, looked up once.
func (rq *request) user() (passwd.User, error) {
	if !rq.looked {
		rq.looked = true
		rq.me, rq.userErr = rq.users.LookupUID(rq.caller.UID)
	}
	return rq.me, rq.userErr
}

// after does what may wait until the answer is out: the log record (it
// names the caller, whose passwd entry may only now be looked up),
// freeing what the edit unlinked (Tx.Release), and emptying the trash
// outside the lock.
func (rq *request) after() {
	if r := rq.record; r != nil && rq.s.Log != nil {
		me, _ := rq.user() // empty for a uid with no entry: the record's reason says so
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
	r := record(rq.caller, rq.req, d, o, reason)
	rq.record = &r
}

func (rq *request) answer() wire.Response {
	switch rq.req.Verb {
	case wire.VerbCreate, wire.VerbDelete, wire.VerbList:
		pol, err := policy.Load(rq.s.policyPath())
		if err != nil {
			return rq.fail(wire.Errorf(wire.IO, "%v", err), "")
		}
		rq.rules, rq.store.LockTimeout = pol.Rules(), pol.LockTimeout
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
		return rq.ok(wire.VersionOK(wire.Version{Tag: v.Tag, GitHash: v.GitHash, Target: v.Target, BuildDate: v.BuildDate}), authz.Decided(rq.caller))
	}
	return rq.fail(wire.Errorf(wire.Protocol, "unknown verb '%s'", rq.req.Verb), "")
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

// failErr answers err with the code docs/BEHAVIOR.md gives its kind.
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
	case errors.As(err, &conflictErr) && !authz.ConflictDetail(rq.caller):
		// Never another user's name or uid (the no-leak rule).
		return rq.fail(wire.Errorf(wire.Conflict, "mailbox name '%s' is taken on disk by a folder that is not yours: ask the operator to move it", rq.req.Name), err.Error())
	case errors.As(err, &conflictErr):
		code = wire.Conflict
	case errors.As(err, &nonEmptyErr):
		code = wire.NonEmpty
	}
	return rq.fail(&wire.Error{Code: code, Reason: err.Error()}, "")
}

// lookupFailed answers a name service that failed (not "no such user"):
// IO naming the look-up, logged as a failure.
func (rq *request) lookupFailed(err error) wire.Response {
	return rq.fail(wire.Errorf(wire.IO, "user look-up failed: %v: the name service (nsswitch.conf: files, sssd, LDAP) is failing; try again, and if it persists the operator must repair it", err), "")
}

func (rq *request) create() wire.Response {
	name, caller := rq.req.Name, rq.caller
	if err := mailbox.ValidateName(name); err != nil {
		return rq.failErr(err)
	}
	var me passwd.User
	if !caller.Root() {
		// Owner: is ignored: the owner is the caller, by its uid.
		var err error
		switch me, err = rq.user(); {
		case errors.Is(err, passwd.ErrNoEntry):
			return rq.fail(wire.Errorf(wire.Validation, "%v", err), "")
		case err != nil:
			return rq.lookupFailed(err)
		}
	}
	owner, decision, err := authz.CreateOwner(caller, me.Name, name, rq.req.Owner, rq.rules)
	if err != nil {
		return rq.deny(err)
	}

	u, err := me, error(nil) // a non-root caller's entry was looked up once, by uid
	if caller.Root() {
		// Before the lock, which it does not need; its error is answered
		// after the existence check, in docs/BEHAVIOR.md's order.
		u, err = rq.users.LookupName(owner)
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
		return rq.lookupFailed(err)
	}
	if authz.Limited(caller, rq.rules) {
		owned, err := rq.owned(tx, u)
		if err != nil {
			return rq.failErr(err)
		}
		if err := authz.CheckLimit(caller, name, owned, rq.rules); err != nil {
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

// owned counts what caller u owns toward its limit: the stanzas whose
// owner resolves to its uid (authz.Owns), then, while under the limit,
// its folders on disk with no stanza (Tx.Leftovers). Stanzas that name u
// exactly are counted without a look-up; the other owner names are
// looked up together, only when those do not reach the limit already.
func (rq *request) owned(tx *mailbox.Tx, u passwd.User) (int, error) {
	limit := rq.rules.MaxPerUser
	n := 0
	others := map[string]int{} // owner name → its stanzas
	for st := range tx.Config.All() {
		if st.Owner == u.Name {
			n++
		} else {
			others[st.Owner]++
		}
	}
	if n < limit && len(others) > 0 {
		names := make([]string, 0, len(others))
		for name := range others {
			names = append(names, name)
		}
		found, err := rq.users.LookupNames(names)
		if err != nil {
			return 0, &lookupError{err}
		}
		for name, o := range found {
			if authz.Owns(rq.caller, true, o.UID) {
				n += others[name]
			}
		}
	}
	if n >= limit {
		return n, nil
	}
	left, err := tx.Leftovers(func(folderUID uint32) bool { return authz.OwnsFolder(rq.caller, folderUID) })
	return n + left, err
}

// lookupError is a name service that failed during a rule's count.
type lookupError struct{ err error }

func (e *lookupError) Error() string { return e.err.Error() }
func (e *lookupError) Unwrap() error { return e.err }

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
		if !rq.caller.Root() { // root may delete any mailbox: its owner decides nothing
			u, err := rq.users.LookupName(st.Owner)
			switch {
			case err == nil:
				target.OwnerUID, target.OwnerResolved = u.UID, true
			case !errors.Is(err, passwd.ErrNoEntry):
				return rq.lookupFailed(err)
			}
		}
	}
	if target == nil {
		// A DELETE killed after its config write left its empty folders:
		// repeating it removes them (the answer stays "does not exist").
		tx.RemoveLeftovers(name, func(folderUID uint32) bool { return authz.RemoveLeftover(rq.caller, folderUID) })
	}
	decision, err := authz.MayDelete(rq.caller, target)
	if err != nil {
		return rq.deny(err)
	}
	if err := tx.Delete(name, rq.req.Force); err != nil {
		var nonEmpty *mailbox.NonEmptyError
		if errors.As(err, &nonEmpty) {
			// The counts for the message, once the lock is released:
			// what the owner stored never makes anyone else wait.
			tx.Close()
			nonEmpty.Count()
		}
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

// parallelList is how many mailboxes a LIST must show to count their
// folders on up to mailbox.CountWorkers CPUs (list).
const parallelList = 500

// list answers MAILBOX-LIST: the mailboxes authz.Listed shows the caller,
// with their counts, and their owners when authz.SeesOwners.
func (rq *request) list() wire.Response {
	cfg, err := rq.store.Load()
	if err != nil {
		return rq.failErr(err)
	}
	caller := rq.caller
	var owners map[string]passwd.User // every owner name, looked up together
	if !caller.Root() {
		if owners, err = rq.users.LookupNames(cfg.Owners()); err != nil { // a name missing from owners is nobody's
			return rq.lookupFailed(err)
		}
	}
	entries, err := rq.store.ListFor(cfg, mailbox.Filter{
		Owner: func(owner string) bool {
			o, ok := owners[owner]
			return authz.Listed(caller, true, ok, o.UID, 0)
		},
		Folder: func(uid uint32) bool { return authz.Listed(caller, false, false, 0, uid) },
		Counting: func(n int) {
			if n >= parallelList {
				// Counting folders is one system call after another: on
				// as many CPUs as count at once, a long list answers
				// sooner (docs/PERFORMANCE.md, "LIST at 10 000
				// mailboxes"). Raised only here, the unit's GOMAXPROCS=1
				// still saves its CPU on every other request.
				runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), min(runtime.NumCPU(), mailbox.CountWorkers)))
			}
		},
	})
	if err != nil {
		return rq.failErr(err)
	}
	out := make([]wire.Entry, 0, len(entries))
	for _, e := range entries {
		w := wire.Entry{Name: e.Name, Address: e.Address, InboxPath: e.InboxPath, SentPath: e.SentPath,
			Total: e.Total, Unread: e.Unread, SentCount: e.SentCount, Registered: e.Registered}
		if authz.SeesOwners(caller) {
			w.Owner = e.Owner
		}
		out = append(out, w)
	}
	return rq.ok(wire.ListOK(out), authz.Decided(caller))
}

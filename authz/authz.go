// Package authz holds every rule of who may do what to which mailbox
// (docs/BEHAVIOR.md, "Who may do what"), as pure functions of the caller,
// the request, what the config and the disk say, and the operator's
// rules. The helper and the CLI's direct mode both ask it; storage code
// never decides.
//
// It does no I/O and imports nothing of this project: the caller resolves
// users (package passwd), reads the config, the folders and the policy
// file, and hands authz plain values.
package authz

import (
	"fmt"
	"slices"
)

// Caller is who asks: the kernel's word for the connection (SO_PEERCRED),
// never anything the frame says. Root is uid 0.
type Caller struct {
	UID uint32
	GID uint32
	PID int32
}

// Root reports whether the caller is root, whom the rules exempt.
func (c Caller) Root() bool { return c.UID == 0 }

// Rules are the operator's settings the rules read (the policy file).
type Rules struct {
	// ReservedNames are the mailbox names only root may create.
	ReservedNames []string
	// MaxPerUser is how many mailboxes one non-root user may own; 0
	// means no limit.
	MaxPerUser int
	// Source names where the rules are set (the policy file), for the
	// reasons that point there.
	Source string
}

// Action is what a caller asks to do to one mailbox.
type Action int

const (
	// Create a mailbox.
	Create Action = iota
	// Delete an existing mailbox.
	Delete
)

func (a Action) String() string {
	if a == Create {
		return "create"
	}
	return "delete"
}

// Mailbox is what the rules know of the mailbox in question.
type Mailbox struct {
	Name          string
	Owner         string // the owner's user name, as the config has it
	OwnerUID      uint32
	OwnerResolved bool // false when Owner has no passwd entry (an orphan)
}

// Decision is how a request was let through; it is logged verbatim.
type Decision string

const (
	Accept     Decision = "accept"      // the caller owns the mailbox
	RootBypass Decision = "root_bypass" // the caller is root
	Reject     Decision = "reject"      // a rule returned a *Denial
)

// Kind says why a request was denied.
type Kind string

const (
	NotRoot       Kind = "not_root"  // only root may do this (delete an orphan's mailbox)
	NotOwner      Kind = "not_owner" // the mailbox belongs to another user
	NoSuchMailbox Kind = "no_such_mailbox"
	MissingOwner  Kind = "missing_owner"  // root's create without an owner
	ReservedName  Kind = "reserved_name"  // a non-root create of one of the operator's reserved names
	ReservedOwner Kind = "reserved_owner" // a create for root, aimx-catchall or the helper's account, whoever asks
	BadOwner      Kind = "bad_owner"      // a create for an account name the AIMX daemon would refuse
	LimitReached  Kind = "limit_reached"  // a non-root create past MaxPerUser
)

// Denial is the error every rule returns. Its Error text is for the log;
// Public is what the wire may say.
type Denial struct {
	Kind    Kind
	Action  Action
	Caller  uint32
	Mailbox Mailbox
	Rules   Rules // for ReservedName and LimitReached: where the rule is set
	Owned   int   // for LimitReached: how many the caller owns
}

func (d *Denial) Error() string {
	switch d.Kind {
	case NotRoot:
		return fmt.Sprintf("uid %d may not %s mailbox '%s': its owner '%s' has no passwd entry, only root may", d.Caller, d.Action, d.Mailbox.Name, d.Mailbox.Owner)
	case NotOwner:
		return fmt.Sprintf("uid %d may not %s mailbox '%s': it is owned by '%s' (uid %d)", d.Caller, d.Action, d.Mailbox.Name, d.Mailbox.Owner, d.Mailbox.OwnerUID)
	case NoSuchMailbox:
		return "no such mailbox"
	}
	return fmt.Sprintf("uid %d may not create mailbox '%s': %s", d.Caller, d.Mailbox.Name, d.Public(d.Mailbox.Name))
}

// Hidden reports whether the wire must answer as if the mailbox did not
// exist (the no-leak rule: every DELETE denial).
func (d *Denial) Hidden() bool { return d.Action == Delete }

// Invalid reports whether the wire answers VALIDATION: the request broke
// a rule about names, owners or limits rather than asking for someone
// else's mailbox.
func (d *Denial) Invalid() bool {
	switch d.Kind {
	case MissingOwner, ReservedName, ReservedOwner, BadOwner, LimitReached:
		return true
	}
	return false
}

// Public is the canonical wire reason for a request about mailbox name:
// NoSuchMailboxReason when Hidden, the rule that broke when Invalid,
// NotAuthorizedReason otherwise.
func (d *Denial) Public(name string) string {
	switch {
	case d.Hidden():
		return NoSuchMailboxReason(name)
	case d.Kind == MissingOwner:
		return fmt.Sprintf("root must name the owner of mailbox '%s': aimx-mailboxes create %s --owner USER", name, name)
	case d.Kind == ReservedName:
		return fmt.Sprintf("mailbox name '%s' is reserved for the operator: only root can create it (reserved_names in %s)", name, d.Rules.Source)
	case d.Kind == ReservedOwner:
		return fmt.Sprintf("owner '%s' is reserved: only a hand edit of the config may give a mailbox to it", d.Mailbox.Owner)
	case d.Kind == BadOwner && d.Caller == 0:
		return fmt.Sprintf("account name '%s' cannot own an AIMX mailbox (AIMX accepts %s): give the mailbox to another account with --owner USER", d.Mailbox.Owner, OwnerRule)
	case d.Kind == BadOwner:
		return fmt.Sprintf("your account name '%s' cannot own an AIMX mailbox (AIMX accepts %s): the operator can create one for another account", d.Mailbox.Owner, OwnerRule)
	case d.Kind == LimitReached:
		mailboxes := "mailboxes"
		if d.Owned == 1 {
			mailboxes = "mailbox"
		}
		return fmt.Sprintf("you already own %d %s, the most one user may have (max_mailboxes_per_user = %d in %s): delete one first, or ask the operator to raise the limit",
			d.Owned, mailboxes, d.Rules.MaxPerUser, d.Rules.Source)
	}
	return NotAuthorizedReason(d.Action, name)
}

// NoSuchMailboxReason is the one reason for a mailbox that does not exist
// or that the caller may not know about.
func NoSuchMailboxReason(name string) string {
	return fmt.Sprintf("mailbox '%s' does not exist", name)
}

// NotAuthorizedReason is the reason for a denial where no no-leak rule
// applies.
func NotAuthorizedReason(a Action, name string) string {
	return fmt.Sprintf("not authorized to %s mailbox '%s'", a, name)
}

// ReservedOwners may never be given a mailbox by a request: only a hand
// edit of the config may. The last is the helper's own account.
var ReservedOwners = []string{"root", "aimx-catchall", "aimx-mailboxd"}

// OwnerRule is the account names the AIMX daemon accepts as an owner
// when it loads the config, as OwnerName checks it.
const OwnerRule = "[a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes"

// OwnerName reports whether s is an account name the AIMX daemon accepts
// as a mailbox's owner (OwnerRule). It is also the wire's rule for the
// Owner: header. A loop, not a package-level regexp, which every helper
// process would compile at start-up.
func OwnerName(s string) bool {
	if len(s) > 32 {
		return false
	}
	s = trimDollar(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-') {
			continue
		}
		return false
	}
	return s != ""
}

func trimDollar(s string) string {
	if len(s) > 0 && s[len(s)-1] == '$' {
		return s[:len(s)-1]
	}
	return s
}

// CreateOwner decides who will own a mailbox that caller (whose own user
// name is callerName) asks to create with the owner requested: root
// names the owner; anyone else creates for itself, and requested is
// ignored. It also applies the rules that need no config: the owner is
// not reserved and is a name the AIMX daemon accepts (whoever asks), and
// a non-root caller does not ask for one of the reserved names. It
// returns the owner's name and the Decision to log, or a *Denial.
func CreateOwner(caller Caller, callerName, name, requested string, r Rules) (string, Decision, error) {
	deny := func(k Kind, owner string) (string, Decision, error) {
		return "", Reject, &Denial{Kind: k, Action: Create, Caller: caller.UID, Mailbox: Mailbox{Name: name, Owner: owner}, Rules: r}
	}
	owner, d := callerName, Accept
	if caller.Root() {
		owner, d = requested, RootBypass
		if owner == "" {
			return deny(MissingOwner, "")
		}
	}
	switch {
	case slices.Contains(ReservedOwners, owner):
		return deny(ReservedOwner, owner)
	case !OwnerName(owner):
		return deny(BadOwner, owner)
	case !caller.Root() && slices.Contains(r.ReservedNames, name):
		return deny(ReservedName, owner)
	}
	return owner, d, nil
}

// Limited reports whether CREATE must count what caller owns: root is
// exempt, and a limit of 0 means none.
func Limited(caller Caller, r Rules) bool {
	return !caller.Root() && r.MaxPerUser > 0
}

// Owns reports whether the caller owns a stanza whose owner resolves
// (resolved) to ownerUID: an owner that does not resolve is nobody's.
func Owns(caller Caller, resolved bool, ownerUID uint32) bool {
	return resolved && ownerUID == caller.UID
}

// OwnsFolder reports whether a folder on disk with no stanza, owned by
// folderUID, is the caller's: it counts toward the caller's limit, so
// that nobody keeps names from everyone past it.
func OwnsFolder(caller Caller, folderUID uint32) bool { return folderUID == caller.UID }

// CheckLimit applies the per-user limit to a CREATE by caller, who owns
// owned mailboxes already (its stanzas, and its folders on disk with no
// stanza). It returns nil or a *Denial.
func CheckLimit(caller Caller, name string, owned int, r Rules) error {
	if !Limited(caller, r) || owned < r.MaxPerUser {
		return nil
	}
	return &Denial{Kind: LimitReached, Action: Create, Caller: caller.UID, Mailbox: Mailbox{Name: name}, Rules: r, Owned: owned}
}

// Reclaim reports whether CREATE may take over a folder already on disk
// for a mailbox owned by ownerUID:ownerGID (CREATE step 6): only when it
// belongs to exactly that uid and gid, so that nobody's folder ever
// passes to another user.
func Reclaim(folderUID, folderGID, ownerUID, ownerGID uint32) bool {
	return folderUID == ownerUID && folderGID == ownerGID
}

// ConflictDetail reports whether a CREATE's ECONFLICT answer may name the
// folder's owner and the fix: root's may; anyone else's never names
// another user or uid (the no-leak rule).
func ConflictDetail(caller Caller) bool { return caller.Root() }

// RemoveLeftover reports whether a DELETE by caller of a name with no
// stanza may remove the empty folder folderUID owns (what a DELETE killed
// between its config write and its rmdir leaves): root any, a user only
// her own.
func RemoveLeftover(caller Caller, folderUID uint32) bool {
	return caller.Root() || OwnsFolder(caller, folderUID)
}

// MayDelete decides whether caller may delete mb; mb is nil when no such
// mailbox exists. It returns the Decision to log, or a *Denial, which the
// wire answers byte for byte like a mailbox that does not exist.
func MayDelete(caller Caller, mb *Mailbox) (Decision, error) {
	if mb == nil {
		return Reject, &Denial{Kind: NoSuchMailbox, Action: Delete, Caller: caller.UID}
	}
	deny := func(k Kind) (Decision, error) {
		return Reject, &Denial{Kind: k, Action: Delete, Caller: caller.UID, Mailbox: *mb}
	}
	switch {
	case caller.Root():
		return RootBypass, nil
	case !mb.OwnerResolved:
		return deny(NotRoot)
	case Owns(caller, true, mb.OwnerUID):
		return Accept, nil
	default:
		return deny(NotOwner)
	}
}

// Listed reports whether LIST shows caller a mailbox (docs/PROTOCOL.md,
// MAILBOX-LIST): root every one; anyone else a registered mailbox it
// owns (its owner resolves, ownerResolved, to the caller's uid,
// ownerUID), and an unregistered folder it owns (dirUID).
func Listed(caller Caller, registered, ownerResolved bool, ownerUID, dirUID uint32) bool {
	switch {
	case caller.Root():
		return true
	case !registered:
		return OwnsFolder(caller, dirUID)
	}
	return Owns(caller, ownerResolved, ownerUID)
}

// SeesOwners reports whether caller's LIST body names each mailbox's
// owner: only root's does; anyone else lists only its own.
func SeesOwners(caller Caller) bool { return caller.Root() }

// Decided is the decision to log for a request anyone may make (LIST,
// VERSION).
func Decided(caller Caller) Decision {
	if caller.Root() {
		return RootBypass
	}
	return Accept
}

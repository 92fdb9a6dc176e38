// Package authz holds every rule of who may do what to which mailbox
// (behavior.md, "Who may do what"), as pure functions of the caller, the
// request, what the config and the disk say, and the policy. The helper
// and the CLI's direct mode both ask it; storage code never decides.
//
// It does no I/O: the caller resolves users (package passwd) and reads
// the config and folders, and hands authz plain values.
package authz

import (
	"fmt"
	"slices"

	"github.com/aimx/aimx-mailboxd/policy"
)

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
	MissingOwner  Kind = "missing_owner"  // root's create without Owner:
	ReservedName  Kind = "reserved_name"  // a non-root create of a name in the policy's reserved_names
	ReservedOwner Kind = "reserved_owner" // a create for root or aimx-catchall, whoever asks
	LimitReached  Kind = "limit_reached"  // a non-root create past max_mailboxes_per_user
)

// Denial is the error every rule returns. Its Error text is for the log;
// Public is what the wire may say.
type Denial struct {
	Kind    Kind
	Action  Action
	Caller  uint32
	Mailbox Mailbox
	Policy  policy.Policy // for ReservedName and LimitReached: where the rule is set
	Owned   int           // for LimitReached: how many the caller owns
}

func (d *Denial) Error() string {
	switch d.Kind {
	case NotRoot:
		return fmt.Sprintf("uid %d may not %s mailbox '%s': its owner '%s' has no passwd entry, only root may", d.Caller, d.Action, d.Mailbox.Name, d.Mailbox.Owner)
	case NotOwner:
		return fmt.Sprintf("uid %d may not %s mailbox '%s': it is owned by '%s' (uid %d)", d.Caller, d.Action, d.Mailbox.Name, d.Mailbox.Owner, d.Mailbox.OwnerUID)
	case MissingOwner, ReservedName, ReservedOwner, LimitReached:
		return fmt.Sprintf("uid %d may not create mailbox '%s': %s", d.Caller, d.Mailbox.Name, d.Public(d.Mailbox.Name))
	}
	return "no such mailbox"
}

// Hidden reports whether the wire must answer as if the mailbox did not
// exist (behavior.md's no-leak rule: every DELETE denial).
func (d *Denial) Hidden() bool { return d.Action == Delete }

// Invalid reports whether the wire answers VALIDATION: the request broke
// a rule about names, owners or limits rather than asking for someone
// else's mailbox.
func (d *Denial) Invalid() bool {
	switch d.Kind {
	case MissingOwner, ReservedName, ReservedOwner, LimitReached:
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
		return fmt.Sprintf("root must name the owner of mailbox '%s': send Owner: <user> (aimx-mailboxes create %s --owner USER)", name, name)
	case d.Kind == ReservedName:
		return fmt.Sprintf("mailbox name '%s' is reserved for the operator: only root can create it (reserved_names in %s)", name, d.Policy.Path)
	case d.Kind == ReservedOwner:
		return fmt.Sprintf("owner '%s' is reserved: only a hand edit of the config may give a mailbox to it", d.Mailbox.Owner)
	case d.Kind == LimitReached:
		return fmt.Sprintf("you already own %d mailboxes, the most one user may have (max_mailboxes_per_user = %d in %s): delete one first, or ask the operator to raise the limit",
			d.Owned, d.Policy.MaxMailboxesPerUser, d.Policy.Path)
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

// ReservedOwners may never be given a mailbox by a request (behavior.md,
// "Who may do what"): only a hand edit of the config may.
var ReservedOwners = []string{"root", "aimx-catchall"}

// CreateOwner decides who will own a mailbox that caller (whose own user
// name is callerName) asks to create with the Owner: header requested:
// root names the owner; anyone else creates for itself, and Owner: is
// ignored. It also applies the rules that need no config: the owner is
// not reserved (whoever asks), and a non-root caller does not ask for one
// of the policy's reserved names. It returns the owner's name and the
// Decision to log, or a *Denial.
func CreateOwner(caller uint32, callerName, name, requested string, p policy.Policy) (string, Decision, error) {
	deny := func(k Kind, owner string) (string, Decision, error) {
		return "", Reject, &Denial{Kind: k, Action: Create, Caller: caller, Mailbox: Mailbox{Name: name, Owner: owner}, Policy: p}
	}
	owner, d := callerName, Accept
	if caller == 0 {
		owner, d = requested, RootBypass
		if owner == "" {
			return deny(MissingOwner, "")
		}
	}
	if slices.Contains(ReservedOwners, owner) {
		return deny(ReservedOwner, owner)
	}
	if caller != 0 && p.Reserved(name) {
		return deny(ReservedName, owner)
	}
	return owner, d, nil
}

// CheckLimit applies the per-user limit to a CREATE by caller, who owns
// owned mailboxes already: root is exempt, and a limit of 0 means none.
// It returns nil or a *Denial.
func CheckLimit(caller uint32, name string, owned int, p policy.Policy) error {
	if caller == 0 || p.MaxMailboxesPerUser == 0 || owned < p.MaxMailboxesPerUser {
		return nil
	}
	return &Denial{Kind: LimitReached, Action: Create, Caller: caller, Mailbox: Mailbox{Name: name}, Policy: p, Owned: owned}
}

// Reclaim reports whether CREATE may take over a folder already on disk
// for a mailbox owned by ownerUID:ownerGID (behavior.md, CREATE step 6):
// only when it belongs to exactly that uid and gid, so that nobody's
// folder ever passes to another user.
func Reclaim(folderUID, folderGID, ownerUID, ownerGID uint32) bool {
	return folderUID == ownerUID && folderGID == ownerGID
}

// RemoveLeftover reports whether a DELETE by caller of a name with no
// stanza may remove the empty folder folderUID owns (what a DELETE killed
// between its config write and its rmdir leaves): root any, a user only
// her own.
func RemoveLeftover(caller, folderUID uint32) bool {
	return caller == 0 || caller == folderUID
}

// MayDelete decides whether caller may delete mb; mb is nil when no such
// mailbox exists. It returns the Decision to log, or a *Denial, which the
// wire answers byte for byte like a mailbox that does not exist.
func MayDelete(caller uint32, mb *Mailbox) (Decision, error) {
	if mb == nil {
		return Reject, &Denial{Kind: NoSuchMailbox, Action: Delete, Caller: caller}
	}
	deny := func(k Kind) (Decision, error) {
		return Reject, &Denial{Kind: k, Action: Delete, Caller: caller, Mailbox: *mb}
	}
	switch {
	case caller == 0:
		return RootBypass, nil
	case !mb.OwnerResolved:
		return deny(NotRoot)
	case mb.OwnerUID == caller:
		return Accept, nil
	default:
		return deny(NotOwner)
	}
}

// Listed reports whether LIST shows caller a mailbox (protocol.md,
// MAILBOX-LIST): root every one; anyone else a registered mailbox whose
// owner resolves to its uid (ownerResolved, ownerUID), and an
// unregistered folder it owns (dirUID).
func Listed(caller uint32, registered, ownerResolved bool, ownerUID, dirUID uint32) bool {
	switch {
	case caller == 0:
		return true
	case !registered:
		return dirUID == caller
	}
	return ownerResolved && ownerUID == caller
}

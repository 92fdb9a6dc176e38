// Package authz holds the one rule of who may do what to which mailbox
// (behavior.md, "Who may do what"), as a pure predicate that the helper
// and the CLI's direct mode both call, plus the passwd look-ups that feed
// it.
package authz

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"

	"github.com/aimx/aimx-mailboxd/policy"
)

// Action is what a caller asks to do to one mailbox.
type Action int

const (
	// Create a mailbox for Mailbox.OwnerUID.
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

// Mailbox is what the predicate knows of the mailbox in question.
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
	Reject     Decision = "reject"      // Authorize returned a *Denial
)

// Kind says why a request was denied.
type Kind string

const (
	NotRoot       Kind = "not_root"       // only root may do this (delete an orphan's mailbox)
	NotOwner      Kind = "not_owner"      // the mailbox belongs to another user
	OwnerMismatch Kind = "owner_mismatch" // a non-root create for an owner other than the caller
	NoSuchMailbox Kind = "no_such_mailbox"
	ReservedName  Kind = "reserved_name"  // a non-root create of a name in the policy's reserved_names
	ReservedOwner Kind = "reserved_owner" // a create for root or aimx-catchall, whoever asks
	LimitReached  Kind = "limit_reached"  // a non-root create past max_mailboxes_per_user
)

// Denial is the error Authorize returns. Its Error text is for the log;
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
	case OwnerMismatch:
		return fmt.Sprintf("uid %d may not %s mailbox '%s' for owner '%s' (uid %d)", d.Caller, d.Action, d.Mailbox.Name, d.Mailbox.Owner, d.Mailbox.OwnerUID)
	case ReservedName, ReservedOwner, LimitReached:
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
	return d.Kind == ReservedName || d.Kind == ReservedOwner || d.Kind == LimitReached
}

// Public is the canonical wire reason for a request about mailbox name:
// NoSuchMailboxReason when Hidden, the rule that broke when Invalid,
// NotAuthorizedReason otherwise.
func (d *Denial) Public(name string) string {
	switch {
	case d.Hidden():
		return NoSuchMailboxReason(name)
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

// ReservedOwners may never be given a mailbox by a request (behavior.md,
// "Who may do what"): only a hand edit of the config may.
var ReservedOwners = []string{"root", "aimx-catchall"}

// CheckCreate applies the rules a CREATE must pass before the config is
// read: the owner is not reserved (whoever asks), and a non-root caller
// does not ask for one of the policy's reserved names. It returns nil or
// a *Denial. It does no I/O.
func CheckCreate(caller uint32, name, owner string, p policy.Policy) error {
	deny := func(k Kind) error {
		return &Denial{Kind: k, Action: Create, Caller: caller, Mailbox: Mailbox{Name: name, Owner: owner}, Policy: p}
	}
	for _, r := range ReservedOwners {
		if owner == r {
			return deny(ReservedOwner)
		}
	}
	if caller != 0 && p.Reserved(name) {
		return deny(ReservedName)
	}
	return nil
}

// CheckLimit applies the per-user limit to a CREATE by caller, who owns
// owned mailboxes already: root is exempt, and a limit of 0 means none.
// It returns nil or a *Denial. It does no I/O.
func CheckLimit(caller uint32, name string, owned int, p policy.Policy) error {
	if caller == 0 || p.MaxMailboxesPerUser == 0 || owned < p.MaxMailboxesPerUser {
		return nil
	}
	return &Denial{Kind: LimitReached, Action: Create, Caller: caller, Mailbox: Mailbox{Name: name}, Policy: p, Owned: owned}
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

// Authorize decides whether caller may take action on mb; mb is nil when
// no such mailbox exists. It returns the Decision to log, or a *Denial.
// It does no I/O.
func Authorize(caller uint32, action Action, mb *Mailbox) (Decision, error) {
	if mb == nil {
		return Reject, &Denial{Kind: NoSuchMailbox, Action: action, Caller: caller}
	}
	deny := func(k Kind) (Decision, error) {
		return Reject, &Denial{Kind: k, Action: action, Caller: caller, Mailbox: *mb}
	}
	switch {
	case caller == 0:
		return RootBypass, nil
	case !mb.OwnerResolved && action == Delete:
		return deny(NotRoot)
	case mb.OwnerResolved && mb.OwnerUID == caller:
		return Accept, nil
	case action == Create:
		return deny(OwnerMismatch)
	default:
		return deny(NotOwner)
	}
}

// User is a passwd entry: a name with its uid and primary gid.
type User struct {
	Name string
	UID  uint32
	GID  uint32
}

// ErrNoPasswdEntry is wrapped by LookupUID and LookupName when the user
// does not exist (as opposed to a failing name service).
var ErrNoPasswdEntry = errors.New("no passwd entry")

// PeerUsername returns the user name of uid, failing with exactly
// "uid <N> has no passwd entry" (wrapping ErrNoPasswdEntry) when there is
// none.
func PeerUsername(uid uint32) (string, error) {
	u, err := LookupUID(uid)
	return u.Name, err
}

// LookupUID resolves uid through the system's name service.
func LookupUID(uid uint32) (User, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	var unknown user.UnknownUserIdError
	if errors.As(err, &unknown) {
		return User{}, &noEntry{fmt.Sprintf("uid %d has no passwd entry", uid)}
	}
	if err != nil {
		return User{}, fmt.Errorf("look up uid %d: %w", uid, err)
	}
	return toUser(u)
}

// LookupName resolves a user name through the system's name service.
func LookupName(name string) (User, error) {
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return User{}, &noEntry{fmt.Sprintf("user '%s' has no passwd entry", name)}
	}
	if err != nil {
		return User{}, fmt.Errorf("look up user '%s': %w", name, err)
	}
	return toUser(u)
}

func toUser(u *user.User) (User, error) {
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user '%s' has a non-numeric uid %q", u.Username, u.Uid)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return User{}, fmt.Errorf("user '%s' has a non-numeric gid %q", u.Username, u.Gid)
	}
	return User{Name: u.Username, UID: uint32(uid), GID: uint32(gid)}, nil
}

type noEntry struct{ msg string }

func (e *noEntry) Error() string        { return e.msg }
func (e *noEntry) Is(target error) bool { return target == ErrNoPasswdEntry }

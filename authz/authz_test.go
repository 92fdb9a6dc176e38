package authz

import (
	"errors"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/policy"
)

const alice, bob = 1001, 1002

var pol = policy.Default("/etc/aimx/mailboxd.toml")

func TestMayDelete(t *testing.T) {
	mine := &Mailbox{Name: "m", Owner: "alice", OwnerUID: alice, OwnerResolved: true}
	orphan := &Mailbox{Name: "o", Owner: "gone"}
	for _, tc := range []struct {
		name   string
		caller uint32
		mb     *Mailbox
		want   Decision
		kind   Kind
	}{
		{"root deletes any", 0, mine, RootBypass, ""},
		{"root deletes an orphan's", 0, orphan, RootBypass, ""},
		{"owner deletes her own", alice, mine, Accept, ""},
		{"another user's", bob, mine, Reject, NotOwner},
		{"a user, an orphan's", alice, orphan, Reject, NotRoot},
		{"a user, missing", alice, nil, Reject, NoSuchMailbox},
		{"root, missing", 0, nil, Reject, NoSuchMailbox},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MayDelete(tc.caller, tc.mb)
			if got != tc.want {
				t.Errorf("decision %q, want %q", got, tc.want)
			}
			var d *Denial
			switch {
			case tc.kind == "" && err != nil:
				t.Errorf("denied: %v", err)
			case tc.kind != "" && (!errors.As(err, &d) || d.Kind != tc.kind):
				t.Errorf("got %v, want a %s denial", err, tc.kind)
			}
		})
	}
}

// No leak: every DELETE denial reads like a missing mailbox.
func TestNoLeak(t *testing.T) {
	banned := []string{"owner", "permission", "EACCES", "root", "authorized", "denied"}
	for _, mb := range []*Mailbox{nil, {Name: "x", Owner: "bob", OwnerUID: bob, OwnerResolved: true}, {Name: "x", Owner: "gone"}} {
		_, err := MayDelete(alice, mb)
		var d *Denial
		if !errors.As(err, &d) || !d.Hidden() || d.Invalid() {
			t.Fatalf("%+v: %v is not a hidden denial", mb, err)
		}
		if got := d.Public("x"); got != "mailbox 'x' does not exist" {
			t.Errorf("%+v: public reason %q", mb, got)
		}
		for _, w := range banned {
			if strings.Contains(d.Public("x"), w) {
				t.Errorf("%+v: public reason leaks %q", mb, w)
			}
		}
	}
}

func TestCreateOwner(t *testing.T) {
	for _, tc := range []struct {
		name           string
		caller         uint32
		callerName     string
		mailbox, owner string
		wantOwner      string
		want           Decision
		kind           Kind // "" when allowed
		public         string
	}{
		{"a user creates her own", alice, "alice", "notes", "", "alice", Accept, "", ""},
		{"a user's Owner: is ignored", alice, "alice", "notes", "bob", "alice", Accept, "", ""},
		{"root names the owner", 0, "root", "notes", "bob", "bob", RootBypass, "", ""},
		{"root without Owner:", 0, "root", "notes", "", "", Reject, MissingOwner,
			"root must name the owner of mailbox 'notes': send Owner: <user> (aimx-mailboxes create notes --owner USER)"},
		{"a user, reserved name", alice, "alice", "postmaster", "", "", Reject, ReservedName,
			"mailbox name 'postmaster' is reserved for the operator: only root can create it (reserved_names in /etc/aimx/mailboxd.toml)"},
		{"root, reserved name", 0, "root", "postmaster", "alice", "alice", RootBypass, "", ""},
		{"root for root", 0, "root", "x", "root", "", Reject, ReservedOwner,
			"owner 'root' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"root for aimx-catchall", 0, "root", "x", "aimx-catchall", "", Reject, ReservedOwner,
			"owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"the user aimx-catchall", 4242, "aimx-catchall", "x", "", "", Reject, ReservedOwner,
			"owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, d, err := CreateOwner(tc.caller, tc.callerName, tc.mailbox, tc.owner, pol)
			if owner != tc.wantOwner || d != tc.want {
				t.Errorf("got owner %q decision %q, want %q %q", owner, d, tc.wantOwner, tc.want)
			}
			checkDenial(t, err, tc.kind, tc.mailbox, tc.public)
		})
	}
}

func TestCheckLimit(t *testing.T) {
	limited := pol
	limited.MaxMailboxesPerUser = 3
	unlimited := pol
	unlimited.MaxMailboxesPerUser = 0
	for _, tc := range []struct {
		name   string
		caller uint32
		owned  int
		p      policy.Policy
		kind   Kind
		public string
	}{
		{"under", alice, 2, limited, "", ""},
		{"at the limit", alice, 3, limited, LimitReached,
			"you already own 3 mailboxes, the most one user may have (max_mailboxes_per_user = 3 in /etc/aimx/mailboxd.toml): delete one first, or ask the operator to raise the limit"},
		{"root is exempt", 0, 50, limited, "", ""},
		{"0 means no limit", alice, 5000, unlimited, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDenial(t, CheckLimit(tc.caller, "m", tc.owned, tc.p), tc.kind, "m", tc.public)
		})
	}
}

func checkDenial(t *testing.T, err error, kind Kind, name, public string) {
	t.Helper()
	if kind == "" {
		if err != nil {
			t.Fatalf("denied: %v", err)
		}
		return
	}
	var d *Denial
	if !errors.As(err, &d) || d.Kind != kind {
		t.Fatalf("got %v, want a %s denial", err, kind)
	}
	if !d.Invalid() || d.Hidden() {
		t.Errorf("a %s denial must answer VALIDATION (Invalid, not Hidden)", kind)
	}
	if got := d.Public(name); got != public {
		t.Errorf("public reason\n got %s\nwant %s", got, public)
	}
	if !strings.Contains(d.Error(), public) {
		t.Errorf("log reason %q lacks the public one", d.Error())
	}
}

func TestReclaim(t *testing.T) {
	for _, tc := range []struct {
		fu, fg uint32
		want   bool
	}{{alice, alice, true}, {alice, 100, false}, {bob, alice, false}, {0, 0, false}} {
		if got := Reclaim(tc.fu, tc.fg, alice, alice); got != tc.want {
			t.Errorf("folder %d:%d for alice: %v, want %v", tc.fu, tc.fg, got, tc.want)
		}
	}
}

func TestRemoveLeftover(t *testing.T) {
	if !RemoveLeftover(0, alice) || !RemoveLeftover(alice, alice) || RemoveLeftover(bob, alice) {
		t.Error("root removes any leftover, a user only her own")
	}
}

func TestListed(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		caller               uint32
		registered, resolved bool
		ownerUID, dirUID     uint32
		want                 bool
	}{
		{"root, anyone's", 0, true, true, bob, 0, true},
		{"root, an orphan's", 0, true, false, 0, 0, true},
		{"root, unregistered", 0, false, false, 0, bob, true},
		{"her own", alice, true, true, alice, 0, true},
		{"another's", alice, true, true, bob, alice, false},
		{"an orphan's", alice, true, false, 0, alice, false},
		{"her unregistered folder", alice, false, false, 0, alice, true},
		{"another's unregistered folder", alice, false, false, 0, bob, false},
	} {
		if got := Listed(tc.caller, tc.registered, tc.resolved, tc.ownerUID, tc.dirUID); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The log reason of every kind of denial names the caller, the action and
// the mailbox, and may say what the wire must not.
func TestDenialLogReasons(t *testing.T) {
	mb := Mailbox{Name: "m", Owner: "bob", OwnerUID: bob, OwnerResolved: true}
	for _, tc := range []struct {
		d    Denial
		want string
	}{
		{Denial{Kind: NotRoot, Action: Delete, Caller: alice, Mailbox: Mailbox{Name: "m", Owner: "gone"}}, "uid 1001 may not delete mailbox 'm': its owner 'gone' has no passwd entry, only root may"},
		{Denial{Kind: NotOwner, Action: Delete, Caller: alice, Mailbox: mb}, "uid 1001 may not delete mailbox 'm': it is owned by 'bob' (uid 1002)"},
		{Denial{Kind: NoSuchMailbox, Action: Delete, Caller: alice}, "no such mailbox"},
		{Denial{Kind: MissingOwner, Action: Create, Caller: 0, Mailbox: Mailbox{Name: "m"}}, "uid 0 may not create mailbox 'm': root must name the owner of mailbox 'm': send Owner: <user> (aimx-mailboxes create m --owner USER)"},
		{Denial{Kind: ReservedOwner, Action: Create, Caller: 0, Mailbox: Mailbox{Name: "m", Owner: "root"}}, "uid 0 may not create mailbox 'm': owner 'root' is reserved: only a hand edit of the config may give a mailbox to it"},
	} {
		if got := tc.d.Error(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.d.Kind, got, tc.want)
		}
	}
	if Create.String() != "create" || Delete.String() != "delete" {
		t.Errorf("actions: %s, %s", Create, Delete)
	}
	// A denial that is neither hidden nor a rule about names, owners or
	// limits reads as not authorized (EACCES on the wire).
	d := &Denial{Kind: NotOwner, Action: Create}
	if got := d.Public("m"); got != "not authorized to create mailbox 'm'" {
		t.Errorf("got %s", got)
	}
}

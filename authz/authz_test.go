package authz

import (
	"errors"
	"fmt"
	"os/user"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/policy"
)

func TestAuthorize(t *testing.T) {
	const alice, bob = 1001, 1002
	mine := &Mailbox{Name: "m", Owner: "alice", OwnerUID: alice, OwnerResolved: true}
	orphan := &Mailbox{Name: "o", Owner: "gone"}
	for _, tc := range []struct {
		name   string
		caller uint32
		action Action
		mb     *Mailbox
		want   Decision
		kind   Kind
	}{
		{"root creates for anyone", 0, Create, mine, RootBypass, ""},
		{"owner creates own", alice, Create, mine, Accept, ""},
		{"other creates for owner", bob, Create, mine, Reject, OwnerMismatch},
		{"root deletes any", 0, Delete, mine, RootBypass, ""},
		{"root deletes orphan", 0, Delete, orphan, RootBypass, ""},
		{"owner deletes own", alice, Delete, mine, Accept, ""},
		{"other deletes another's", bob, Delete, mine, Reject, NotOwner},
		{"user deletes orphan", alice, Delete, orphan, Reject, NotRoot},
		{"user deletes missing", alice, Delete, nil, Reject, NoSuchMailbox},
		{"root deletes missing", 0, Delete, nil, Reject, NoSuchMailbox},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Authorize(tc.caller, tc.action, tc.mb)
			if got != tc.want {
				t.Errorf("decision %q, want %q", got, tc.want)
			}
			var d *Denial
			switch {
			case tc.kind == "" && err != nil:
				t.Errorf("err %v, want none", err)
			case tc.kind != "" && (!errors.As(err, &d) || d.Kind != tc.kind):
				t.Errorf("err %v, want a %s denial", err, tc.kind)
			}
		})
	}
}

func TestNoLeak(t *testing.T) {
	banned := []string{"owner", "permission", "EACCES", "root", "authorized", "denied"}
	for _, mb := range []*Mailbox{nil, {Name: "x", Owner: "bob", OwnerUID: 2, OwnerResolved: true}, {Name: "x", Owner: "gone"}} {
		_, err := Authorize(1, Delete, mb)
		var d *Denial
		if !errors.As(err, &d) || !d.Hidden() {
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
	_, err := Authorize(2, Create, &Mailbox{Name: "x", Owner: "alice", OwnerUID: 1, OwnerResolved: true})
	var d *Denial
	if !errors.As(err, &d) || d.Hidden() || d.Public("x") != "not authorized to create mailbox 'x'" {
		t.Errorf("create denial: %v", err)
	}
}

func TestPeerUsername(t *testing.T) {
	if name, err := PeerUsername(0); err != nil || name != "root" {
		t.Errorf("uid 0: %q, %v", name, err)
	}
	// Find a uid with no passwd entry.
	uid := uint32(4_000_000_000)
	for ; ; uid++ {
		if _, err := user.LookupId(fmt.Sprint(uid)); err != nil {
			break
		}
	}
	_, err := PeerUsername(uid)
	if err == nil || err.Error() != fmt.Sprintf("uid %d has no passwd entry", uid) || !errors.Is(err, ErrNoPasswdEntry) {
		t.Errorf("unknown uid: %v", err)
	}
	if _, err := LookupName("no-such-user-aimx"); !errors.Is(err, ErrNoPasswdEntry) {
		t.Errorf("unknown name: %v", err)
	}
	if u, err := LookupName("root"); err != nil || u != (User{Name: "root"}) {
		t.Errorf("root: %+v, %v", u, err)
	}
}

func TestCheckCreate(t *testing.T) {
	const alice = 1001
	pol := policy.Default("/etc/aimx/mailboxd.toml")
	for _, tc := range []struct {
		name          string
		caller        uint32
		mailbox, user string
		kind          Kind // "" when allowed
		public        string
	}{
		{"user, ordinary name", alice, "notes", "alice", "", ""},
		{"user, reserved name", alice, "postmaster", "alice", ReservedName,
			"mailbox name 'postmaster' is reserved for the operator: only root can create it (reserved_names in /etc/aimx/mailboxd.toml)"},
		{"root, reserved name", 0, "postmaster", "alice", "", ""},
		{"root for root", 0, "x", "root", ReservedOwner,
			"owner 'root' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"root for aimx-catchall", 0, "x", "aimx-catchall", ReservedOwner,
			"owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"a user named aimx-catchall", 4242, "x", "aimx-catchall", ReservedOwner,
			"owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckCreate(tc.caller, tc.mailbox, tc.user, pol)
			checkDenial(t, err, tc.kind, tc.mailbox, tc.public)
		})
	}
}

func TestCheckLimit(t *testing.T) {
	pol := policy.Default("/etc/aimx/mailboxd.toml")
	pol.MaxMailboxesPerUser = 3
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
		{"under", 1001, 2, pol, "", ""},
		{"at the limit", 1001, 3, pol, LimitReached,
			"you already own 3 mailboxes, the most one user may have (max_mailboxes_per_user = 3 in /etc/aimx/mailboxd.toml): delete one first, or ask the operator to raise the limit"},
		{"root is exempt", 0, 50, pol, "", ""},
		{"0 means no limit", 1001, 5000, unlimited, "", ""},
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
}

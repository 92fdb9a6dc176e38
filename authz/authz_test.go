package authz

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

const alice, bob = 1001, 1002

var (
	root   = Caller{}
	aliceC = Caller{UID: alice, GID: alice, PID: 7}
	bobC   = Caller{UID: bob, GID: bob}
	pol    = Rules{ReservedNames: []string{"postmaster", "support"}, MaxPerUser: 32, Source: "/etc/aimx/mailboxd.toml"}
)

func TestMayDelete(t *testing.T) {
	mine := &Mailbox{Name: "m", Owner: "alice", OwnerUID: alice, OwnerResolved: true}
	orphan := &Mailbox{Name: "o", Owner: "gone"}
	for _, tc := range []struct {
		name   string
		caller Caller
		mb     *Mailbox
		want   Decision
		kind   Kind
	}{
		{"root deletes any", root, mine, RootBypass, ""},
		{"root deletes an orphan's", root, orphan, RootBypass, ""},
		{"owner deletes her own", aliceC, mine, Accept, ""},
		{"another user's", bobC, mine, Reject, NotOwner},
		{"a user, an orphan's", aliceC, orphan, Reject, NotRoot},
		{"a user, missing", aliceC, nil, Reject, NoSuchMailbox},
		{"root, missing", root, nil, Reject, NoSuchMailbox},
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
		_, err := MayDelete(aliceC, mb)
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
		caller         Caller
		callerName     string
		mailbox, owner string
		wantOwner      string
		want           Decision
		kind           Kind // "" when allowed
		public         string
	}{
		{"a user creates her own", aliceC, "alice", "notes", "", "alice", Accept, "", ""},
		{"a user's Owner: is ignored", aliceC, "alice", "notes", "bob", "alice", Accept, "", ""},
		{"root names the owner", root, "root", "notes", "bob", "bob", RootBypass, "", ""},
		{"root without Owner:", root, "root", "notes", "", "", Reject, MissingOwner,
			"root must name the owner of mailbox 'notes': aimx-mailboxes create notes --owner USER"},
		{"a user, reserved name", aliceC, "alice", "postmaster", "", "", Reject, ReservedName,
			"mailbox name 'postmaster' is reserved for the operator: only root can create it (reserved_names in /etc/aimx/mailboxd.toml)"},
		{"root, reserved name", root, "root", "postmaster", "alice", "alice", RootBypass, "", ""},
		{"root for root", root, "root", "x", "root", "", Reject, ReservedOwner,
			"owner 'root' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"root for aimx-catchall", root, "root", "x", "aimx-catchall", "", Reject, ReservedOwner,
			"owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"root for the helper's account", root, "root", "x", "aimx-mailboxd", "", Reject, ReservedOwner,
			"owner 'aimx-mailboxd' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"the user aimx-catchall", Caller{UID: 4242}, "aimx-catchall", "x", "", "", Reject, ReservedOwner,
			"owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"the helper's account itself", Caller{UID: 998}, "aimx-mailboxd", "x", "", "", Reject, ReservedOwner,
			"owner 'aimx-mailboxd' is reserved: only a hand edit of the config may give a mailbox to it"},
		{"a dotted account name", Caller{UID: 4243}, "first.last", "x", "", "", Reject, BadOwner,
			"your account name 'first.last' cannot own an AIMX mailbox (AIMX accepts [a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes): the operator can create one for another account"},
		{"an upper-case account name", Caller{UID: 4244}, "Upper", "x", "", "", Reject, BadOwner,
			"your account name 'Upper' cannot own an AIMX mailbox (AIMX accepts [a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes): the operator can create one for another account"},
		{"an account name with @", Caller{UID: 4245}, "u@corp.example", "x", "", "", Reject, BadOwner,
			"your account name 'u@corp.example' cannot own an AIMX mailbox (AIMX accepts [a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes): the operator can create one for another account"},
		{"a 33-byte account name", Caller{UID: 4246}, strings.Repeat("a", 33), "x", "", "", Reject, BadOwner,
			"your account name '" + strings.Repeat("a", 33) + "' cannot own an AIMX mailbox (AIMX accepts [a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes): the operator can create one for another account"},
		{"a 32-byte account name", Caller{UID: 4247}, strings.Repeat("a", 31) + "$", "x", "", strings.Repeat("a", 31) + "$", Accept, "", ""},
		{"root for a dotted name", root, "root", "x", "first.last", "", Reject, BadOwner,
			"account name 'first.last' cannot own an AIMX mailbox (AIMX accepts [a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes): give the mailbox to another account with --owner USER"},
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
	limited.MaxPerUser = 3
	unlimited := pol
	unlimited.MaxPerUser = 0
	for _, tc := range []struct {
		name   string
		caller Caller
		owned  int
		p      Rules
		kind   Kind
		public string
	}{
		{"under", aliceC, 2, limited, "", ""},
		{"at the limit", aliceC, 3, limited, LimitReached,
			"you already own 3 mailboxes, the most one user may have (max_mailboxes_per_user = 3 in /etc/aimx/mailboxd.toml): delete one first, or ask the operator to raise the limit"},
		{"at a limit of one", aliceC, 1, Rules{MaxPerUser: 1, Source: "/p.toml"}, LimitReached,
			"you already own 1 mailbox, the most one user may have (max_mailboxes_per_user = 1 in /p.toml): delete one first, or ask the operator to raise the limit"},
		{"root is exempt", root, 50, limited, "", ""},
		{"0 means no limit", aliceC, 5000, unlimited, "", ""},
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
	if !RemoveLeftover(root, alice) || !RemoveLeftover(aliceC, alice) || RemoveLeftover(bobC, alice) {
		t.Error("root removes any leftover, a user only her own")
	}
}

func TestListed(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		caller               Caller
		registered, resolved bool
		ownerUID, dirUID     uint32
		want                 bool
	}{
		{"root, anyone's", root, true, true, bob, 0, true},
		{"root, an orphan's", root, true, false, 0, 0, true},
		{"root, unregistered", root, false, false, 0, bob, true},
		{"her own", aliceC, true, true, alice, 0, true},
		{"another's", aliceC, true, true, bob, alice, false},
		{"an orphan's", aliceC, true, false, 0, alice, false},
		{"an orphan's whose stale uid is hers", aliceC, true, false, alice, alice, false},
		{"her unregistered folder", aliceC, false, false, 0, alice, true},
		{"another's unregistered folder", aliceC, false, false, 0, bob, false},
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
		{Denial{Kind: MissingOwner, Action: Create, Caller: 0, Mailbox: Mailbox{Name: "m"}}, "uid 0 may not create mailbox 'm': root must name the owner of mailbox 'm': aimx-mailboxes create m --owner USER"},
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

// TestOwnerName: OwnerName accepts exactly the AIMX daemon's pattern for
// an owner, at most 32 bytes, over every string of up to 4 characters of
// an alphabet with each class of character, and at the length boundary.
func TestOwnerName(t *testing.T) {
	pattern := regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`)
	alphabet := []string{"a", "z", "_", "-", "0", "9", "$", "A", "é", " ", ".", "@", "\x00"}
	var check func(s string, depth int)
	check = func(s string, depth int) {
		if got, want := OwnerName(s), pattern.MatchString(s); got != want {
			t.Errorf("OwnerName(%q) = %v, the pattern says %v", s, got, want)
		}
		if depth == 0 {
			return
		}
		for _, c := range alphabet {
			check(s+c, depth-1)
		}
	}
	check("", 4)
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{strings.Repeat("a", 32), true},
		{strings.Repeat("a", 31) + "$", true},
		{strings.Repeat("a", 33), false},
		{strings.Repeat("a", 32) + "$", false},
		{"$", false},
	} {
		if got := OwnerName(tc.s); got != tc.want {
			t.Errorf("OwnerName(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestCallerRules(t *testing.T) {
	if !SeesOwners(root) || SeesOwners(aliceC) {
		t.Error("only root's LIST names owners")
	}
	if !ConflictDetail(root) || ConflictDetail(aliceC) {
		t.Error("only root's ECONFLICT names the folder's owner")
	}
	if Decided(root) != RootBypass || Decided(aliceC) != Accept {
		t.Error("LIST and VERSION: root_bypass for root, accept for anyone else")
	}
	if Limited(root, pol) || !Limited(aliceC, pol) || Limited(aliceC, Rules{}) {
		t.Error("the limit binds a user when it is set, never root")
	}
	if !OwnsFolder(aliceC, alice) || OwnsFolder(aliceC, bob) || OwnsFolder(root, alice) {
		t.Error("a folder with no stanza is its filesystem owner's")
	}
	if !Owns(aliceC, true, alice) || Owns(aliceC, false, alice) || Owns(aliceC, true, bob) {
		t.Error("a user owns a stanza whose owner resolves to her uid, and only that")
	}
}

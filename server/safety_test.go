package server

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/passwd"
)

// users points the fixture's server at a name service of its own: an
// nsswitch.conf, a passwd file, and a getent (a script) for what the file
// does not answer.
func (f *fixture) users(nsswitch, passwdText, getent string) {
	f.t.Helper()
	dir := filepath.Join(f.dir, "nss")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	src := &passwd.Source{NSSwitch: filepath.Join(dir, "nsswitch.conf"), Passwd: filepath.Join(dir, "passwd"), Getent: []string{filepath.Join(dir, "getent")}}
	f.write(src.NSSwitch, nsswitch)
	f.write(src.Passwd, passwdText)
	if err := os.WriteFile(src.Getent[0], []byte(getent), 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.srv.Users = src
}

// TestOwnerAIMXRefuses: a user whose own account name the AIMX daemon
// would refuse as an owner (dots, capitals, '@', over 32 bytes), or that
// is a reserved owner, gets VALIDATION and nothing is written: no config
// this program writes makes the mail daemon refuse it.
func TestOwnerAIMXRefuses(t *testing.T) {
	f := newFixture(t, base)
	long := strings.Repeat("a", 33)
	f.users("passwd: files\n", "first.last:x:4301:4301::/:/bin/sh\nUpper:x:4302:4302::/:/bin/sh\nu@corp.example:x:4303:4303::/:/bin/sh\n"+
		long+":x:4304:4304::/:/bin/sh\naimx-mailboxd:x:4305:4305::/:/usr/sbin/nologin\n", "#!/bin/sh\nexit 2\n")
	const rule = "[a-z_][a-z0-9_-]*, optional trailing '$', at most 32 bytes"
	for uid, name := range map[uint32]string{4301: "first.last", 4302: "Upper", 4303: "u@corp.example", 4304: long} {
		want := aimxtest.Err("VALIDATION", "your account name '"+name+"' cannot own an AIMX mailbox (AIMX accepts "+rule+"): the operator can create one for another account")
		if got := f.do(uid, aimxtest.Create("box", "")); got != want {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
	want := aimxtest.Err("VALIDATION", "owner 'aimx-mailboxd' is reserved: only a hand edit of the config may give a mailbox to it")
	if got := f.do(4305, aimxtest.Create("box", "")); got != want {
		t.Errorf("the helper's account:\n got %q\nwant %q", got, want)
	}
	if got := f.do(0, aimxtest.Create("box", "aimx-mailboxd")); got != want {
		t.Errorf("root for the helper's account:\n got %q\nwant %q", got, want)
	}
	if got := f.config(); got != base {
		t.Errorf("config changed:\n%s", got)
	}
	for _, kind := range []string{"inbox", "sent"} {
		if _, err := os.Lstat(filepath.Join(f.data, kind, "box")); !os.IsNotExist(err) {
			t.Errorf("%s/box made: %v", kind, err)
		}
	}
	if !strings.Contains(f.logs.String(), "caller_uid=4301 caller_pid=4242 caller_user=first.last mailbox=box decision=reject") {
		t.Errorf("no refusal record for first.last in:\n%s", f.logs.String())
	}
}

// TestNameServiceFails: a name service that errs (a broken LDAP or sssd,
// here a getent that exits 1) is never "no such user": every verb that
// needs a look-up answers IO naming it, and the record is a failure at
// err.
func TestNameServiceFails(t *testing.T) {
	f := newFixture(t, base+aimxtest.Stanza("theirs", "ghost"))
	f.users("passwd: files sss\n", "root:x:0:0::/root:/bin/sh\n", "#!/bin/sh\necho 'sss_nss: connection refused' >&2\nexit 1\n")
	for _, tc := range []struct {
		name, frame string
		uid         uint32
		lookup      string
	}{
		{"a user's CREATE", aimxtest.Create("box", ""), 4242, "look up uid 4242"},
		{"root's CREATE", aimxtest.Create("box", "ghost"), 0, "look up user 'ghost'"},
		{"a user's DELETE", aimxtest.Delete("theirs", false), 4242, "look up user 'ghost'"},
		{"a user's LIST", "AIMX/1 MAILBOX-LIST\n\n", 4242, "look up user 'ghost'"},
	} {
		f.logs.Reset()
		got := f.do(tc.uid, tc.frame)
		prefix := "AIMX/1 ERR IO user look-up failed: " + tc.lookup + ": "
		if !strings.HasPrefix(got, prefix) || !strings.Contains(got, "sss_nss: connection refused: the name service (nsswitch.conf: files, sssd, LDAP) is failing; try again, and if it persists the operator must repair it\nCode: IO\n\n") {
			t.Errorf("%s:\n got %q\nwant %s...", tc.name, got, prefix)
		}
		if log := f.logs.String(); !strings.Contains(log, "outcome=failed priority=err") {
			t.Errorf("%s: the record is not a failure at err: %s", tc.name, log)
		}
	}
	if got := f.config(); got != base+aimxtest.Stanza("theirs", "ghost") {
		t.Errorf("config changed:\n%s", got)
	}
	// A uid that the service answers has no entry for is still VALIDATION.
	f.users("passwd: files\n", "root:x:0:0::/root:/bin/sh\n", "#!/bin/sh\nexit 1\n")
	if got, want := f.do(4242, aimxtest.Create("box", "")), aimxtest.Err("VALIDATION", "uid 4242 has no passwd entry"); got != want {
		t.Errorf("no entry:\n got %q\nwant %q", got, want)
	}
}

// TestLeftoversCountTowardLimit: folders a user owns on disk with no
// stanza (what a DELETE leaves when mail arrived before its rmdir) count
// toward her max_mailboxes_per_user, so nobody holds names past it.
func TestLeftoversCountTowardLimit(t *testing.T) {
	f := newFixture(t, base)
	pol := f.policy("max_mailboxes_per_user = 2\n")
	if got := f.do(f.me.UID, aimxtest.Create("m1", "")); got != aimxtest.OK {
		t.Fatalf("m1: %q", got)
	}
	// A leftover: her folder, no stanza (in sent/ only, as well as in both).
	left := filepath.Join(f.data, "sent", "kept")
	if err := os.Mkdir(left, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(left, int(f.me.UID), int(f.me.GID)); err != nil {
		t.Fatal(err)
	}
	want := aimxtest.Err("VALIDATION", "you already own 2 mailboxes, the most one user may have (max_mailboxes_per_user = 2 in "+pol+"): delete one first, or ask the operator to raise the limit")
	if got := f.do(f.me.UID, aimxtest.Create("m2", "")); got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	// Folders that are not hers, or not mailbox names, count for nobody.
	if err := os.Chown(left, 0, 0); err == nil || os.Geteuid() != 0 {
		os.Remove(left)
	}
	os.Mkdir(filepath.Join(f.data, "inbox", ".hidden"), 0o700)
	if got := f.do(f.me.UID, aimxtest.Create("m2", "")); got != aimxtest.OK {
		t.Errorf("under the limit again: %q", got)
	}
	if got := f.do(0, aimxtest.Create("m3", f.me.Name)); got != aimxtest.OK {
		t.Errorf("root is exempt: %q", got)
	}
}

// TestNonEmptyCounts: NONEMPTY's counts are made after the lock is
// released and stop at mailbox.MaxCount ("at least").
func TestNonEmptyCounts(t *testing.T) {
	f := newFixture(t, base)
	if got := f.do(f.me.UID, aimxtest.Create("full", "")); got != aimxtest.OK {
		t.Fatal(got)
	}
	inbox := filepath.Join(f.data, "inbox", "full")
	f.write(filepath.Join(inbox, "one.md"), "x")
	want := aimxtest.Err("NONEMPTY", "mailbox 'full' has 1 file (1 in inbox, 0 in sent); archive or remove them first")
	if got := f.do(f.me.UID, aimxtest.Delete("full", false)); got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	for i := 0; i < mailbox.MaxCount; i++ { // hard links: no new inodes
		if err := os.Link(filepath.Join(inbox, "one.md"), filepath.Join(inbox, "l"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	want = aimxtest.Err("NONEMPTY", "mailbox 'full' has at least 10000 files (10000 in inbox, 0 in sent); archive or remove them first")
	if got := f.do(f.me.UID, aimxtest.Delete("full", false)); got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	if got := f.config(); got != base+aimxtest.Stanza("full", f.me.Name) {
		t.Errorf("config changed:\n%s", got)
	}
}

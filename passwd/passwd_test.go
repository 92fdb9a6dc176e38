package passwd

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// withFiles points the package at nsswitch.conf text (none when "-") and
// a passwd file for one test.
func withFiles(t *testing.T, nsswitch, passwdText string) {
	t.Helper()
	dir := t.TempDir()
	old := System
	System = &Source{NSSwitch: filepath.Join(dir, "nsswitch.conf"), Passwd: filepath.Join(dir, "passwd"), Getent: old.Getent}
	if nsswitch != "-" {
		must(t, os.WriteFile(System.NSSwitch, []byte(nsswitch), 0o644))
	}
	must(t, os.WriteFile(System.Passwd, []byte(passwdText), 0o644))
	t.Cleanup(func() { System = old })
}

// withGetent points System's getent at path for one test.
func withGetent(t *testing.T, path string) {
	old := System
	System = &Source{NSSwitch: old.NSSwitch, Passwd: old.Passwd, Getent: []string{path}}
	t.Cleanup(func() { System = old })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLookup(t *testing.T) {
	if u, err := LookupUID(0); err != nil || u != (User{Name: "root"}) {
		t.Errorf("uid 0: %+v, %v", u, err)
	}
	// A uid with no passwd entry, by the C library's own client.
	uid := uint32(4_000_000_000)
	for exec.Command("getent", "passwd", fmt.Sprint(uid)).Run() == nil {
		uid++
	}
	_, err := LookupUID(uid)
	if err == nil || err.Error() != fmt.Sprintf("uid %d has no passwd entry", uid) || !errors.Is(err, ErrNoEntry) {
		t.Errorf("unknown uid: %v", err)
	}
	if _, err := LookupName("no-such-user-aimx"); err == nil || err.Error() != "user 'no-such-user-aimx' has no passwd entry" || !errors.Is(err, ErrNoEntry) {
		t.Errorf("unknown name: %v", err)
	}
	if u, err := LookupName("root"); err != nil || u != (User{Name: "root"}) {
		t.Errorf("root: %+v, %v", u, err)
	}
}

// TestSameAsLibc: every user the C library's name service knows
// (getent passwd) resolves to the same entry by name and by uid, whether
// /etc/passwd is read directly (the shortcut) or every look-up asks
// getent (no nsswitch.conf).
func TestSameAsLibc(t *testing.T) {
	out, err := exec.Command("getent", "passwd").Output()
	if err != nil {
		t.Skipf("getent passwd: %v", err)
	}
	var all []User
	for _, line := range strings.Split(string(out), "\n") {
		if u, ok := parseEntry(line); ok {
			all = append(all, u)
		}
	}
	if len(all) == 0 {
		t.Fatal("getent passwd listed nobody")
	}
	check := func(mode string) {
		byUID := map[uint32]bool{}
		var names []string
		for _, want := range all {
			names = append(names, want.Name)
			if u, err := LookupName(want.Name); err != nil || u != want {
				t.Errorf("%s: LookupName(%s) = %+v, %v; the C library says %+v", mode, want.Name, u, err, want)
			}
			if byUID[want.UID] {
				continue // the first entry of a uid is the answer
			}
			byUID[want.UID] = true
			if u, err := LookupUID(want.UID); err != nil || u != want {
				t.Errorf("%s: LookupUID(%d) = %+v, %v; the C library says %+v", mode, want.UID, u, err, want)
			}
		}
		found, err := LookupNames(append(names, "no-such-user-aimx"))
		if err != nil || len(found) != len(all) {
			t.Errorf("%s: LookupNames: %d of %d, %v", mode, len(found), len(all), err)
		}
	}
	check("system nsswitch.conf")
	real, err := os.ReadFile("/etc/passwd")
	must(t, err)
	withFiles(t, "-", string(real))
	if nss, _ := System.services(); nss.filesFirst {
		t.Fatal("no nsswitch.conf must mean no shortcut")
	}
	check("getent only")
}

func TestParseNsswitch(t *testing.T) {
	for text, want := range map[string]nss{
		"passwd: files systemd\n":                          {filesFirst: true},
		"passwd:\tfiles\n":                                 {filesFirst: true, onlyFiles: true},
		"# passwd: files\npasswd: sss files\n":             {},
		"passwd: compat\n":                                 {},
		"passwd: files [SUCCESS=continue] ldap\n":          {},
		"passwd: files [NOTFOUND=return] systemd\n":        {filesFirst: true},
		"passwd: files[NOTFOUND=return]\n":                 {filesFirst: true, onlyFiles: true},
		"group: files\n":                                   {},
		"passwd: files # and nothing else\nshadow: sss\n":  {filesFirst: true, onlyFiles: true},
		"passwd:   files   [ UNAVAIL=return ]   sss  \n":   {filesFirst: true},
		"passwd_compat: nis\npasswd: files\n":              {filesFirst: true, onlyFiles: true},
		"":                                                 {},
		"passwd: filesystem\n":                             {},
		"passwd: files [success=continue]\n":               {},
		"passwd: sss [NOTFOUND=return] files\n":            {},
		"hosts: files dns\npasswd: files extrausers\n":     {filesFirst: true},
		"passwd: files systemd\npasswd: sss\n":             {filesFirst: true},
		"passwd: files [NOTFOUND=return SUCCESS=return]\n": {},
	} {
		if got := parseNsswitch(text); got != want {
			t.Errorf("%q: %+v, want %+v", text, got, want)
		}
	}
}

// TestFilesOnly: with files as the only service, /etc/passwd decides:
// the first entry of a name or uid wins, malformed lines are skipped, and
// a name it lacks does not exist (getent is not asked).
func TestFilesOnly(t *testing.T) {
	withFiles(t, "passwd: files\n", strings.Join([]string{
		"# a comment",
		"root:x:0:0:root:/root:/bin/bash",
		"broken line",
		"bad:x:nope:1:::",
		"alice:x:1000:1000:Alice:/home/alice:/bin/sh",
		"alice:x:2000:2000:second alice:/:/bin/sh",
		"twin:x:1000:7:same uid:/:/bin/sh",
		"1234:x:1234:1234:all digits:/:/bin/sh",
		"noeol:x:3000:3001::/:/bin/sh",
	}, "\n"))
	for name, want := range map[string]User{
		"alice": {Name: "alice", UID: 1000, GID: 1000},
		"twin":  {Name: "twin", UID: 1000, GID: 7},
		"1234":  {Name: "1234", UID: 1234, GID: 1234},
		"noeol": {Name: "noeol", UID: 3000, GID: 3001},
	} {
		if u, err := LookupName(name); err != nil || u != want {
			t.Errorf("%s: %+v %v, want %+v", name, u, err, want)
		}
	}
	if u, err := LookupUID(1000); err != nil || u.Name != "alice" {
		t.Errorf("uid 1000: %+v %v, want the first entry (alice)", u, err)
	}
	for _, name := range []string{"bad", "broken line", "root:x", "", "nobody-here"} {
		if _, err := LookupName(name); !errors.Is(err, ErrNoEntry) {
			t.Errorf("%q: %v, want no entry", name, err)
		}
	}
	found, err := LookupNames([]string{"alice", "nobody-here", "root", "alice"})
	if err != nil || len(found) != 2 || found["root"].Name != "root" || found["alice"].UID != 1000 {
		t.Errorf("LookupNames: %+v %v", found, err)
	}
}

// TestGetentFallback: a name that /etc/passwd lacks is asked of getent
// when another service follows files (here: the real getent reads the
// real /etc/passwd, which has root, while our passwd file does not).
func TestGetentFallback(t *testing.T) {
	withFiles(t, "passwd: files systemd\n", "someone:x:4242:4242::/:/bin/sh\n")
	if u, err := LookupName("root"); err != nil || u != (User{Name: "root"}) {
		t.Errorf("root through getent: %+v %v", u, err)
	}
	if u, err := LookupUID(0); err != nil || u.Name != "root" {
		t.Errorf("uid 0 through getent: %+v %v", u, err)
	}
	found, err := LookupNames([]string{"someone", "root", "no-such-user-aimx", "0"})
	if err != nil || len(found) != 2 || found["someone"].UID != 4242 || found["root"].Name != "root" {
		t.Errorf("LookupNames: %+v %v (an all-digit name is never given to getent, which takes it for a uid)", found, err)
	}
	// A getent that fails is an error, not "no such user".
	withGetent(t, filepath.Join(t.TempDir(), "none"))
	if _, err := LookupName("root"); err == nil || errors.Is(err, ErrNoEntry) || !strings.Contains(err.Error(), "getent is not installed") {
		t.Errorf("no getent: %v", err)
	}
	script := filepath.Join(t.TempDir(), "getent")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\necho 'database exploded' >&2\nexit 1\n"), 0o755))
	withGetent(t, script)
	if _, err := LookupName("root"); err == nil || errors.Is(err, ErrNoEntry) || !strings.Contains(err.Error(), "database exploded") {
		t.Errorf("failing getent: %v", err)
	}
}

// TestNSSOnlyUser: a user that only a name service other than files
// knows (a systemd user record, read by nss-systemd) resolves, by name
// and by uid. It runs in a private mount namespace, where /run/userdb is
// a tmpfs holding the record, so the host never sees the user.
func TestNSSOnlyUser(t *testing.T) {
	const name, uid = "aimxnss", 61234
	if os.Getenv("AIMX_PASSWD_NSS_CHILD") != "" {
		u, err := LookupName(name)
		if err != nil || u != (User{Name: name, UID: uid, GID: uid}) {
			t.Errorf("LookupName(%s): %+v %v", name, u, err)
		}
		if u, err := LookupUID(uid); err != nil || u.Name != name {
			t.Errorf("LookupUID(%d): %+v %v", uid, u, err)
		}
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts a tmpfs on /run/userdb in a private mount namespace")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare(1) (util-linux)")
	}
	conf, _ := os.ReadFile("/etc/nsswitch.conf")
	if !strings.Contains(string(conf), "systemd") {
		t.Skip("needs nss-systemd in the passwd line of /etc/nsswitch.conf (apt-get install libnss-systemd)")
	}
	if _, err := LookupName(name); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("%s exists on the host already: %v", name, err)
	}
	record := fmt.Sprintf(`{"userName":%q,"uid":%d,"gid":%d,"disposition":"regular","homeDirectory":"/nonexistent","shell":"/usr/sbin/nologin"}`, name, uid, uid)
	script := `set -e
mkdir -p /run/userdb
mount -t tmpfs -o mode=0755 aimx-test /run/userdb
printf '%s\n' "$1" > /run/userdb/$2.user
ln -s $2.user /run/userdb/$3.user
shift 3
exec "$@"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		record, name, strconv.Itoa(uid), os.Args[0], "-test.run=^TestNSSOnlyUser$", "-test.v")
	cmd.Env = append(os.Environ(), "AIMX_PASSWD_NSS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestNSSOnlyUser") {
		t.Errorf("in the namespace: %v\n%s", err, out)
	}
}

// A name service that fails is never "no such user": an nsswitch.conf or
// a passwd file that exists but cannot be read is an error naming it
// (the faults suite's EIO on the first openat found the old fallback).
func TestUnreadableFilesAreErrors(t *testing.T) {
	withFiles(t, "passwd: files systemd\n", "root:x:0:0::/root:/bin/sh\n")
	must(t, os.Remove(System.Passwd))
	must(t, os.Mkdir(System.Passwd, 0o755)) // read(2) fails: EISDIR
	for _, err := range []error{second(LookupName("root")), second(LookupUID(0))} {
		if err == nil || errors.Is(err, ErrNoEntry) || !strings.Contains(err.Error(), System.Passwd) {
			t.Errorf("unreadable passwd file: %v, want an error naming %s", err, System.Passwd)
		}
	}
	withFiles(t, "passwd: files\n", "root:x:0:0::/root:/bin/sh\n")
	must(t, os.Remove(System.NSSwitch))
	must(t, os.Mkdir(System.NSSwitch, 0o755))
	if _, err := LookupName("root"); err == nil || errors.Is(err, ErrNoEntry) || !strings.Contains(err.Error(), System.NSSwitch) {
		t.Errorf("unreadable nsswitch.conf: %v, want an error naming %s", err, System.NSSwitch)
	}
}

func second(_ User, err error) error { return err }

//go:build vmtest

package guest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// A user that only NSS knows: a systemd userdb drop-in record, which
// nss-systemd (listed after "files" on the image's passwd line) serves,
// and which is in no line of /etc/passwd.
const (
	nssUser = "nssonly"
	nssUID  = 61234
	nssGID  = 61234
)

// Promise 2 for an account outside /etc/passwd: the helper, under its
// real sandbox, finds it through NSS (a miss in files falls through to
// the next service), so it can CREATE, LIST and DELETE its own mailbox,
// and its folders get its uid and gid.
func testNSSUser(t *testing.T) {
	conf, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil {
		t.Fatal(err)
	}
	if line := passwdLine(string(conf)); !strings.HasPrefix(line, "files ") || !strings.Contains(line, " systemd") {
		t.Fatalf("the image must list nss-systemd after files for passwd (libnss-systemd in vmtests/image.sh); nsswitch.conf says passwd: %q", line)
	}
	record := fmt.Sprintf(`{"userName":%q,"uid":%d,"gid":%d,"disposition":"regular","homeDirectory":"/","shell":"/bin/sh"}`+"\n", nssUser, nssUID, nssGID)
	if err := os.MkdirAll("/etc/userdb", 0o755); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join("/etc/userdb", nssUser+".user")
	byUID := filepath.Join("/etc/userdb", fmt.Sprintf("%d.user", nssUID))
	if err := os.WriteFile(rec, []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(nssUser+".user", byUID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(byUID); os.Remove(rec) })

	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(passwd, []byte(nssUser+":")) || bytes.Contains(passwd, []byte(fmt.Sprintf(":%d:", nssUID))) {
		t.Fatalf("%s must not be in /etc/passwd for this step", nssUser)
	}
	want := fmt.Sprintf("%s:x:%d:%d:", nssUser, nssUID, nssGID)
	for _, key := range []string{nssUser, fmt.Sprint(nssUID)} {
		if got := mustRun(t, "getent", "passwd", key); !strings.HasPrefix(got, want) {
			t.Fatalf("getent passwd %s outside the sandbox = %q, want it to start %q", key, got, want)
		}
	}

	const name = "m-nss"
	if got := rawAsUID(t, nssUID, nssGID, "AIMX/1 MAILBOX-CREATE\nName: "+name+"\n\n"); got != "AIMX/1 OK\n" {
		t.Fatalf("promise 2 (an NSS-only user creates its mailbox through the real unit): CREATE %s answered %q, want %q", name, got, "AIMX/1 OK\n")
	}
	if owner := stanzaOwner(t, name); owner != nssUser {
		t.Errorf("promise 2 (the stanza names the NSS-only caller): owner %q, want %q", owner, nssUser)
	}
	checkDirs(t, name, account{nssUID, nssGID})

	list := rawAsUID(t, nssUID, nssGID, "AIMX/1 MAILBOX-LIST\n\n")
	body := fmt.Sprintf(`[{"name":%q,"address":"%s@example.test","inbox_path":"%s","sent_path":"%s","total":0,"unread":0,"sent_count":0,"registered":true}]`,
		name, name, filepath.Join(dataDir, "inbox", name), filepath.Join(dataDir, "sent", name))
	if wantList := fmt.Sprintf("AIMX/1 OK\nContent-Length: %d\n\n%s", len(body), body); list != wantList {
		t.Errorf("promise 2 (an NSS-only user lists exactly its own mailbox): got %q, want %q", list, wantList)
	}
	// Root's root-created mailbox for the same user, by name: the owner
	// name resolves through NSS too.
	if got := raw(t, "root", "AIMX/1 MAILBOX-CREATE\nName: m-nss-root\nOwner: "+nssUser+"\n\n"); got != "AIMX/1 OK\n" {
		t.Errorf("promise 2 (root creates a mailbox for an NSS-only owner): got %q", got)
	} else {
		checkDirs(t, "m-nss-root", account{nssUID, nssGID})
	}

	for _, n := range []string{name, "m-nss-root"} {
		if got := rawAsUID(t, nssUID, nssGID, "AIMX/1 MAILBOX-DELETE\nName: "+n+"\n\n"); got != "AIMX/1 OK\n" {
			t.Errorf("promise 2 (an NSS-only user deletes its own mailbox): DELETE %s answered %q", n, got)
		}
		if owner := stanzaOwner(t, n); owner != "" {
			t.Errorf("promise 2 (DELETE removes the stanza): %s still has owner %q", n, owner)
		}
		for _, sub := range []string{"inbox", "sent"} {
			if _, err := os.Lstat(filepath.Join(dataDir, sub, n)); !os.IsNotExist(err) {
				t.Errorf("promise 2 (DELETE removes the empty folders): %s/%s: %v", sub, n, err)
			}
		}
	}
	noInstances(t, "the NSS-only user's requests")
}

// passwdLine is the services of nsswitch.conf's passwd line.
func passwdLine(conf string) string {
	for _, l := range strings.Split(conf, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "passwd:"); ok {
			return strings.Join(strings.Fields(rest), " ")
		}
	}
	return ""
}

// rawAsUID sends one frame from uid:gid, which need not be in
// /etc/passwd (asUser looks the name up there).
func rawAsUID(t *testing.T, uid, gid uint32, frame string) string {
	t.Helper()
	u := aimxtest.User{Name: fmt.Sprint(uid), UID: uid, GID: gid}
	resp, err := aimxtest.RawAs("/proc/self/exe", &u, userEnv(""), socketPath, frame, hangGuard())
	if err != nil {
		t.Fatalf("raw frame %q as uid %d: %v", frame, uid, err)
	}
	return resp
}

//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCreateNonRootIgnoresOwner(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(&alice, create("a1", bob.name)); got != okFrame {
		t.Fatalf("got %q", got)
	}
	if got, want := e.readConfig(), baseConfig+stanza("a1", alice.name); got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
	assertDir(t, e.path("inbox", "a1"), alice.uid, alice.gid, 0o700)
	assertDir(t, e.path("sent", "a1"), alice.uid, alice.gid, 0o700)
	if !e.logged(fmt.Sprintf("verb=MAILBOX-CREATE caller_uid=%d caller_pid=", alice.uid), "caller_user="+alice.name+" mailbox=a1 decision=accept") {
		t.Errorf("no accept record in the log:\n%s", e.logs)
	}
}

func TestCreateRoot(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(nil, create("b1", bob.name)); got != okFrame {
		t.Fatalf("root create with Owner: got %q", got)
	}
	assertDir(t, e.path("inbox", "b1"), bob.uid, bob.gid, 0o700)
	assertDir(t, e.path("sent", "b1"), bob.uid, bob.gid, 0o700)
	if !e.logged("caller_uid=0", "caller_user=root mailbox=b1 decision=root_bypass") {
		t.Errorf("no root_bypass record:\n%s", e.logs)
	}
	for _, tc := range []struct{ frame, want string }{
		{create("b2", ""), errFrame("VALIDATION", "root must name the owner of mailbox 'b2': send Owner: <user> (aimx-mailboxes create b2 --owner USER)")},
		{create("b2", "nosuchuser"), errFrame("VALIDATION", "unknown owner 'nosuchuser'")},
		{create("b2", "root"), errFrame("VALIDATION", "owner 'root' is reserved: only a hand edit of the config may give a mailbox to it")},
		{create("b2", "aimx-catchall"), errFrame("VALIDATION", "owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it")},
		{create("b1", bob.name), errFrame("MAILBOX", "mailbox 'b1' already exists")},
	} {
		if got := e.raw(nil, tc.frame); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.frame, got, tc.want)
		}
	}
	assertGone(t, e.path("inbox", "b2"))
	if got, want := e.readConfig(), baseConfig+stanza("b1", bob.name); got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
}

func TestNames(t *testing.T) {
	e := newEnv(t, baseConfig)
	for name, rule := range map[string]string{
		"Upper":         "only lower-case letters, digits, '.', '_' and '-' are allowed",
		"a/b":           "only lower-case letters, digits, '.', '_' and '-' are allowed",
		"sp ace":        "only lower-case letters, digits, '.', '_' and '-' are allowed",
		".hidden":       "it must not start with '.'",
		"trailing.":     "it must not end with '.'",
		"a..b":          "it must not contain '..'",
		"catchall":      "it is reserved for the catch-all mailbox",
		"aimx-catchall": "it is reserved for the catch-all mailbox",
	} {
		want := errFrame("VALIDATION", fmt.Sprintf("invalid mailbox name '%s': %s", name, rule))
		if got := e.raw(&alice, create(name, "")); got != want {
			t.Errorf("create %q:\n got %q\nwant %q", name, got, want)
		}
		if got := e.raw(&alice, del(name, false)); got != want {
			t.Errorf("delete %q:\n got %q\nwant %q", name, got, want)
		}
	}
	if got := e.readConfig(); got != baseConfig {
		t.Errorf("config changed:\n%s", got)
	}
	if got := e.raw(&alice, create("ok.name_1-x", "")); got != okFrame {
		t.Errorf("a name with every allowed kind of character: %q", got)
	}
	if !strings.Contains(e.readConfig(), "[mailboxes.\"ok.name_1-x\"]\n") {
		t.Errorf("dotted name not quoted:\n%s", e.readConfig())
	}
}

func TestConfigMissingOrBroken(t *testing.T) {
	e := newEnv(t, "")
	want := errFrame("IO", fmt.Sprintf("config %s does not exist: create it with at least a line domain = \"<your mail domain>\"", e.config))
	for _, f := range []string{create("x", ""), del("x", false), "AIMX/1 MAILBOX-LIST\n\n"} {
		if got := e.raw(&alice, f); got != want {
			t.Errorf("%q:\n got %q\nwant %q", f, got, want)
		}
	}
	if got := e.raw(&alice, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("VERSION without a config: %q", got)
	}
	if _, err := os.Stat(e.config); !os.IsNotExist(err) {
		t.Errorf("the helper created a config")
	}
	must(t, os.WriteFile(e.config, []byte("domain = \"example.test\"\nbad = = 1\n"), 0o640))
	got := e.raw(&alice, create("x", ""))
	if want := fmt.Sprintf("AIMX/1 ERR IO config %s does not parse: line 2, column ", e.config); !strings.HasPrefix(got, want) {
		t.Errorf("unparsable config:\n got %q\nwant prefix %q", got, want)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, n := range []string{"mine", "full"} {
		if got := e.raw(&alice, create(n, "")); got != okFrame {
			t.Fatal(got)
		}
	}
	if got := e.raw(&bob, create("bobs", "")); got != okFrame {
		t.Fatal(got)
	}
	if got := e.raw(nil, create("orphan", alice.name)); got != okFrame {
		t.Fatal(got)
	}
	// Make "orphan" belong to a user that no longer resolves.
	must(t, os.WriteFile(e.config, []byte(strings.Replace(e.readConfig(), "owner = \""+alice.name+"\"\n\n[mailboxes.orphan]", "", 1)), 0o640))
	text := strings.Replace(e.readConfig(), "[mailboxes.orphan]\naddress = \"orphan@example.test\"\nowner = \""+alice.name+"\"", "[mailboxes.orphan]\naddress = \"orphan@example.test\"\nowner = \"gone-user\"", 1)
	must(t, os.WriteFile(e.config, []byte(text), 0o640))

	// No leak: another's, an orphan's and a missing mailbox answer the same bytes.
	for _, name := range []string{"bobs", "orphan", "nothere"} {
		want := errFrame("MAILBOX", fmt.Sprintf("mailbox '%s' does not exist", name))
		got := e.raw(&alice, del(name, true))
		if got != want {
			t.Errorf("alice deletes %s:\n got %q\nwant %q", name, got, want)
		}
		for _, word := range []string{"owner", "permission", "EACCES", "root", "authorized", "denied"} {
			if strings.Contains(got, word) {
				t.Errorf("delete %s leaks %q: %q", name, word, got)
			}
		}
	}
	if !e.logged("mailbox=bobs decision=reject reason=\"uid ", "it is owned by") {
		t.Errorf("the log lacks the internal reason:\n%s", e.logs)
	}
	assertDir(t, e.path("inbox", "bobs"), bob.uid, bob.gid, 0o700)

	// Own and empty: gone, folders too.
	if got := e.raw(&alice, del("mine", false)); got != okFrame {
		t.Errorf("delete own: %q", got)
	}
	assertGone(t, e.path("inbox", "mine"))
	assertGone(t, e.path("sent", "mine"))
	if strings.Contains(e.readConfig(), "[mailboxes.mine]") {
		t.Errorf("stanza left:\n%s", e.readConfig())
	}

	// Non-empty: refused, then forced.
	writeAs(t, alice, e.path("inbox", "full", "m1.md"), "+++\nread = true\n+++\nhi\n")
	writeAs(t, alice, e.path("inbox", "full", "m2.md"), "hello\n")
	writeAs(t, alice, e.path("sent", "full", "s1.md"), "sent\n")
	want := errFrame("NONEMPTY", "mailbox 'full' has 3 files (2 in inbox, 1 in sent); archive or remove them first")
	if got := e.raw(&alice, del("full", false)); got != want {
		t.Errorf("non-empty:\n got %q\nwant %q", got, want)
	}
	if got := e.raw(&alice, del("full", true)); got != okFrame {
		t.Errorf("forced: %q", got)
	}
	assertGone(t, e.path("inbox", "full"))

	// Root deletes anyone's, including the orphan's.
	for _, n := range []string{"bobs", "orphan"} {
		if got := e.raw(nil, del(n, false)); got != okFrame {
			t.Errorf("root deletes %s: %q", n, got)
		}
	}
	if got := e.readConfig(); got != baseConfig {
		t.Errorf("config after deleting everything:\n%q", got)
	}
}

func writeAs(t *testing.T, u user, path, text string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o700))
	must(t, os.WriteFile(path, []byte(text), 0o600))
	must(t, os.Lchown(path, int(u.uid), int(u.gid)))
}

func TestForceDeleteStaysInside(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(&alice, create("trap", "")); got != okFrame {
		t.Fatal(got)
	}
	outside := filepath.Join(e.dir, "outside")
	must(t, os.MkdirAll(filepath.Join(outside, "deep"), 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "deep", "keep.txt"), []byte("keep"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "hard.txt"), []byte("hard"), 0o644))
	in := e.path("inbox", "trap")
	must(t, os.Symlink(outside, filepath.Join(in, "link-dir")))
	must(t, os.Symlink(filepath.Join(outside, "deep", "keep.txt"), filepath.Join(in, "link-file.md")))
	must(t, os.Link(filepath.Join(outside, "hard.txt"), filepath.Join(in, "hard.md")))
	must(t, os.MkdirAll(filepath.Join(in, "a", "b", "c"), 0o700))
	must(t, os.Symlink("../../../../../outside", filepath.Join(in, "a", "b", "c", "up")))
	must(t, os.Symlink(e.path("inbox"), e.path("sent", "trap", "to-inbox")))

	if got := e.raw(&alice, del("trap", true)); got != okFrame {
		t.Fatalf("forced delete: %q", got)
	}
	for _, p := range []string{filepath.Join(outside, "deep", "keep.txt"), filepath.Join(outside, "hard.txt")} {
		if b, err := os.ReadFile(p); err != nil || len(b) != 4 {
			t.Errorf("%s changed: %q %v", p, b, err)
		}
	}
	assertGone(t, in)
	assertGone(t, e.path("sent", "trap"))
	assertDir(t, e.path("inbox"), 0, 0, 0o755)
}

func TestPreexistingFolders(t *testing.T) {
	e := newEnv(t, baseConfig)
	// Wrong owner: ECONFLICT naming the path and the fix; nothing written.
	must(t, os.Mkdir(e.path("inbox", "taken"), 0o700))
	must(t, os.Chown(e.path("inbox", "taken"), int(bob.uid), int(bob.gid)))
	got := e.raw(&alice, create("taken", ""))
	want := errFrame("ECONFLICT", fmt.Sprintf("%s exists and is owned by %d:%d, not by the mailbox owner %d:%d: move it out of the way or run 'chown -R %d:%d %s', then create the mailbox again",
		e.path("inbox", "taken"), bob.uid, bob.gid, alice.uid, alice.gid, alice.uid, alice.gid, e.path("inbox", "taken")))
	if got != want {
		t.Errorf("wrong owner:\n got %q\nwant %q", got, want)
	}
	must(t, os.WriteFile(e.path("sent", "file"), nil, 0o600))
	want = errFrame("ECONFLICT", e.path("sent", "file")+" exists and is not a folder: move it out of the way, then create the mailbox again")
	if got := e.raw(&alice, create("file", "")); got != want {
		t.Errorf("not a folder:\n got %q\nwant %q", got, want)
	}
	assertGone(t, e.path("inbox", "file"))
	if e.readConfig() != baseConfig {
		t.Errorf("config changed")
	}
	// Right owner: kept, and the create converges.
	must(t, os.Mkdir(e.path("inbox", "again"), 0o700))
	must(t, os.Chown(e.path("inbox", "again"), int(alice.uid), int(alice.gid)))
	writeAs(t, alice, e.path("inbox", "again", "old.md"), "old\n")
	if got := e.raw(&alice, create("again", "")); got != okFrame {
		t.Errorf("right owner: %q", got)
	}
	assertDir(t, e.path("sent", "again"), alice.uid, alice.gid, 0o700)
	if _, err := os.Stat(e.path("inbox", "again", "old.md")); err != nil {
		t.Errorf("kept folder lost its mail: %v", err)
	}
}

func TestCallerWithoutPasswdEntry(t *testing.T) {
	e := newEnv(t, baseConfig)
	want := errFrame("VALIDATION", fmt.Sprintf("uid %d has no passwd entry", ghostUID))
	if got := e.raw(ghost, create("g", "")); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := e.raw(ghost, "AIMX/1 MAILBOX-LIST\n\n"); got != "AIMX/1 OK\nContent-Length: 2\n\n[]" {
		t.Errorf("list: %q", got)
	}
}

type entry = mailbox.Entry

func (e *env) list(u *user) []entry {
	e.t.Helper()
	got := e.raw(u, "AIMX/1 MAILBOX-LIST\n\n")
	head, body, ok := strings.Cut(got, "\n\n")
	if !ok || !strings.HasPrefix(head, "AIMX/1 OK\nContent-Length: ") || head != fmt.Sprintf("AIMX/1 OK\nContent-Length: %d", len(body)) {
		e.t.Fatalf("list response %q", got)
	}
	var out []entry
	must(e.t, json.Unmarshal([]byte(body), &out))
	return out
}

func TestList(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, r := range []struct {
		u    *user
		name string
	}{{&alice, "al1"}, {&alice, "al2"}, {&bob, "bo1"}} {
		if got := e.raw(r.u, create(r.name, "")); got != okFrame {
			t.Fatal(got)
		}
	}
	writeAs(t, alice, e.path("inbox", "al1", "read.md"), "+++\nread = true\nsubject = \"x\"\n+++\nbody\n")
	writeAs(t, alice, e.path("inbox", "al1", "unread.md"), "+++\nsubject = \"y\"\n+++\nbody\n")
	writeAs(t, alice, e.path("inbox", "al1", "bundle", "bundle.md"), "no front matter\n")
	writeAs(t, alice, e.path("inbox", "al1", "bundle", "photo.png"), "png")
	writeAs(t, alice, e.path("inbox", "al1", "notes.txt"), "not a message")
	writeAs(t, alice, e.path("inbox", "al1", "emptydir", "other.md"), "not a bundle")
	writeAs(t, alice, e.path("sent", "al1", "s.md"), "sent")
	// An unregistered folder of alice's and one of bob's.
	for _, u := range []user{alice, bob} {
		p := e.path("inbox", "loose-"+u.name)
		must(t, os.Mkdir(p, 0o700))
		must(t, os.Chown(p, int(u.uid), int(u.gid)))
	}

	names := func(es []entry) string {
		var n []string
		for _, x := range es {
			n = append(n, x.Name)
		}
		return strings.Join(n, ",")
	}
	if got, want := names(e.list(nil)), "al1,al2,bo1,loose-"+alice.name+",loose-"+bob.name; got != want {
		t.Errorf("root sees %s, want %s", got, want)
	}
	as := e.list(&alice)
	if got, want := names(as), "al1,al2,loose-"+alice.name; got != want {
		t.Errorf("alice sees %s, want %s", got, want)
	}
	addr := "al1@example.test"
	want := entry{Name: "al1", Address: &addr, InboxPath: e.path("inbox", "al1"), SentPath: e.path("sent", "al1"), Total: 3, Unread: 2, SentCount: 1, Registered: true}
	if g := as[0]; g.Name != want.Name || *g.Address != addr || g.InboxPath != want.InboxPath || g.SentPath != want.SentPath ||
		g.Total != want.Total || g.Unread != want.Unread || g.SentCount != want.SentCount || !g.Registered {
		t.Errorf("al1 = %+v, want %+v", g, want)
	}
	if g := as[2]; g.Address != nil || g.Registered {
		t.Errorf("unregistered folder listed as %+v", g)
	}
	if got, want := names(e.list(&bob)), "bo1,loose-"+bob.name; got != want {
		t.Errorf("bob sees %s, want %s", got, want)
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t, baseConfig)
	got := e.raw(&alice, "AIMX/1 VERSION\n\n")
	head, body, _ := strings.Cut(got, "\n\n")
	var v map[string]string
	if err := json.Unmarshal([]byte(body), &v); err != nil || head != fmt.Sprintf("AIMX/1 OK\nContent-Length: %d", len(body)) {
		t.Fatalf("version %q: %v", got, err)
	}
	if v["tag"] != "v0.0.0-it" || v["target"] == "" || v["git_hash"] == "" || v["build_date"] == "" || len(v) != 4 {
		t.Errorf("version body %v", v)
	}
}

func TestConfigBytesKept(t *testing.T) {
	original := "# AIMX config: hand-edited, keep my comments\r\n" +
		"domain = \"example.test\"   # trailing comment\r\n" +
		"unknown_top = [ 1, 2,\r\n  3 ]\r\n" +
		"\r\n" +
		"[mailboxes.support]\r\n" +
		"address = \"support@example.test\"\r\n" +
		"owner = \"" + "aimxit-bob" + "\"\r\n" +
		"trust = \"verified\"\r\n" +
		"\r\n" +
		"[[mailboxes.support.hooks]]\r\n" +
		"cmd = \"\"\"\r\n[not.a.header]\r\n\"\"\"\r\n"
	e := newEnv(t, original)
	must(t, os.Chown(e.config, 0, int(bob.gid)))
	if got := e.raw(&alice, create("fresh", "")); got != okFrame {
		t.Fatal(got)
	}
	withFresh := original + "\r\n[mailboxes.fresh]\r\naddress = \"fresh@example.test\"\r\nowner = \"" + alice.name + "\"\r\n"
	if got := e.readConfig(); got != withFresh {
		t.Errorf("after create:\n%q\nwant\n%q", got, withFresh)
	}
	checkMode(t, e.config, 0, bob.gid, 0o640)
	if got := e.raw(&alice, del("fresh", false)); got != okFrame {
		t.Fatal(got)
	}
	if got := e.readConfig(); got != original {
		t.Errorf("after delete:\n%q\nwant\n%q", got, original)
	}
	checkMode(t, e.config, 0, bob.gid, 0o640)
	if got := e.raw(&bob, del("support", false)); got != okFrame {
		t.Fatal(got)
	}
	want := "# AIMX config: hand-edited, keep my comments\r\n" +
		"domain = \"example.test\"   # trailing comment\r\n" +
		"unknown_top = [ 1, 2,\r\n  3 ]\r\n"
	if got := e.readConfig(); got != want {
		t.Errorf("after deleting support and its hooks:\n%q\nwant\n%q", got, want)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(e.config), ".config.toml.tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

func checkMode(t *testing.T, path string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != uid || st.Gid != gid || fi.Mode().Perm() != mode {
		t.Errorf("%s is %d:%d %o, want %d:%d %o", path, st.Uid, st.Gid, fi.Mode().Perm(), uid, gid, mode)
	}
}

func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t, baseConfig)
	e.writePolicy("max_mailboxes_per_user = 0 # 60 each here; the limit has its own test\n")
	callers := []*user{&alice, &bob, nil}
	var wg sync.WaitGroup
	errs := make(chan string, 90)
	for ci, u := range callers {
		for i := 0; i < 30; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("c%d-%02d", ci, i)
				owner := ""
				if u == nil {
					owner = alice.name
				}
				if got := e.raw(u, create(name, owner)); got != okFrame {
					errs <- name + ": " + got
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	text := e.readConfig()
	for ci := range callers {
		for i := 0; i < 30; i++ {
			h := fmt.Sprintf("[mailboxes.c%d-%02d]\n", ci, i)
			if n := strings.Count(text, h); n != 1 {
				t.Errorf("%s appears %d times", strings.TrimSpace(h), n)
			}
		}
	}
	if n := strings.Count(text, "[mailboxes."); n != 90 {
		t.Errorf("%d stanzas, want 90", n)
	}
}

// TestFilesystemStepFails: a step that fails answers IO naming the step
// and the path, and leaves the config and the other folder as they were.
func TestFilesystemStepFails(t *testing.T) {
	e := newEnv(t, baseConfig)
	must(t, os.RemoveAll(e.path("sent")))
	must(t, os.WriteFile(e.path("sent"), []byte("a file where the sent folder should be"), 0o644))
	want := errFrame("IO", "lstat "+e.path("sent", "x")+": not a directory")
	if got := e.raw(&alice, create("x", "")); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	assertGone(t, e.path("inbox", "x"))
	must(t, os.RemoveAll(e.data))
	want = errFrame("IO", "open data dir "+e.data+": no such file or directory")
	if got := e.raw(&alice, create("x", "")); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if e.readConfig() != baseConfig {
		t.Errorf("config changed:\n%s", e.readConfig())
	}
}

// TestOneRecordPerRequest: every request, accepted or not, well-formed or
// not, leaves exactly one decision record.
func TestOneRecordPerRequest(t *testing.T) {
	e := newEnv(t, baseConfig)
	frames := []string{create("one", ""), create("one", ""), del("nothere", false), "AIMX/1 MAILBOX-LIST\n\n", "AIMX/1 VERSION\n\n", "garbage\n\n", "AIMX/1 SEND\n\n"}
	for _, f := range frames {
		e.raw(&alice, f)
	}
	// Once every instance has exited and the activator is stopped, the
	// log holds all that was written: count it exactly.
	e.waitNoChildren(t, 30*time.Second)
	e.stop()
	if n := strings.Count(e.logs.String(), " decision="); n != len(frames) {
		t.Errorf("%d decision records for %d requests:\n%s", n, len(frames), e.logs)
	}
	for _, want := range [][]string{
		{"verb=MAILBOX-CREATE", "mailbox=one decision=accept"},
		{"verb=MAILBOX-CREATE", "mailbox=one decision=reject reason=\"mailbox 'one' already exists\""},
		{"verb=MAILBOX-DELETE", "mailbox=nothere decision=reject reason=\"no such mailbox\""},
		{"verb=MAILBOX-LIST", "decision=accept"},
		{"verb=VERSION", "decision=accept"},
		{"verb=\"\"", "decision=reject reason=\"malformed request: request line must start with"},
		{"verb=SEND", "decision=reject reason=\"verb 'SEND' is served by the AIMX mail daemon's socket"},
	} {
		if !e.logged(want...) {
			t.Errorf("no record with %q", want)
		}
	}
}

//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/wire"
)

func TestCreateNonRootIgnoresOwner(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(&alice, aimxtest.Create("a1", bob.Name)); got != aimxtest.OK {
		t.Fatalf("got %q", got)
	}
	if got, want := e.readConfig(), baseConfig+aimxtest.Stanza("a1", alice.Name); got != want {
		t.Errorf("config:\n%s\nwant:\n%s", got, want)
	}
	assertDir(t, e.Path("inbox", "a1"), alice.UID, alice.GID, 0o700)
	assertDir(t, e.Path("sent", "a1"), alice.UID, alice.GID, 0o700)
	if !e.logged(fmt.Sprintf("verb=MAILBOX-CREATE caller_uid=%d caller_pid=", alice.UID), "caller_user="+alice.Name+" mailbox=a1 decision=accept") {
		t.Errorf("no accept record in the log:\n%s", e.logs)
	}
}

func TestCreateRoot(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(nil, aimxtest.Create("b1", bob.Name)); got != aimxtest.OK {
		t.Fatalf("root create with Owner: got %q", got)
	}
	assertDir(t, e.Path("inbox", "b1"), bob.UID, bob.GID, 0o700)
	assertDir(t, e.Path("sent", "b1"), bob.UID, bob.GID, 0o700)
	if !e.logged("caller_uid=0", "caller_user=root mailbox=b1 decision=root_bypass") {
		t.Errorf("no root_bypass record:\n%s", e.logs)
	}
	for _, tc := range []struct{ frame, want string }{
		{aimxtest.Create("b2", ""), aimxtest.Err("VALIDATION", "root must name the owner of mailbox 'b2': aimx-mailboxes create b2 --owner USER")},
		{aimxtest.Create("b2", "nosuchuser"), aimxtest.Err("VALIDATION", "unknown owner 'nosuchuser'")},
		{aimxtest.Create("b2", "root"), aimxtest.Err("VALIDATION", "owner 'root' is reserved: only a hand edit of the config may give a mailbox to it")},
		{aimxtest.Create("b2", "aimx-catchall"), aimxtest.Err("VALIDATION", "owner 'aimx-catchall' is reserved: only a hand edit of the config may give a mailbox to it")},
		{aimxtest.Create("b1", bob.Name), aimxtest.Err("MAILBOX", "mailbox 'b1' already exists")},
	} {
		if got := e.raw(nil, tc.frame); got != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.frame, got, tc.want)
		}
	}
	assertGone(t, e.Path("inbox", "b2"))
	if got, want := e.readConfig(), baseConfig+aimxtest.Stanza("b1", bob.Name); got != want {
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
		want := aimxtest.Err("VALIDATION", fmt.Sprintf("invalid mailbox name '%s': %s", name, rule))
		if got := e.raw(&alice, aimxtest.Create(name, "")); got != want {
			t.Errorf("create %q:\n got %q\nwant %q", name, got, want)
		}
		if got := e.raw(&alice, aimxtest.Delete(name, false)); got != want {
			t.Errorf("delete %q:\n got %q\nwant %q", name, got, want)
		}
	}
	if got := e.readConfig(); got != baseConfig {
		t.Errorf("config changed:\n%s", got)
	}
	if got := e.raw(&alice, aimxtest.Create("ok.name_1-x", "")); got != aimxtest.OK {
		t.Errorf("a name with every allowed kind of character: %q", got)
	}
	if !strings.Contains(e.readConfig(), "[mailboxes.\"ok.name_1-x\"]\n") {
		t.Errorf("dotted name not quoted:\n%s", e.readConfig())
	}
}

func TestConfigMissingOrBroken(t *testing.T) {
	e := newEnv(t, "")
	want := aimxtest.Err("IO", fmt.Sprintf("config %s does not exist: create it with at least a line domain = \"<your mail domain>\"", e.Config))
	for _, f := range []string{aimxtest.Create("x", ""), aimxtest.Delete("x", false), "AIMX/1 MAILBOX-LIST\n\n"} {
		if got := e.raw(&alice, f); got != want {
			t.Errorf("%q:\n got %q\nwant %q", f, got, want)
		}
	}
	if got := e.raw(&alice, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("VERSION without a config: %q", got)
	}
	if _, err := os.Stat(e.Config); !os.IsNotExist(err) {
		t.Errorf("the helper created a config")
	}
	must(t, os.WriteFile(e.Config, []byte("domain = \"example.test\"\nbad = = 1\n"), 0o640))
	got := e.raw(&alice, aimxtest.Create("x", ""))
	if want := fmt.Sprintf("AIMX/1 ERR IO config %s does not parse: line 2, column ", e.Config); !strings.HasPrefix(got, want) {
		t.Errorf("unparsable config:\n got %q\nwant prefix %q", got, want)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, baseConfig)
	for _, n := range []string{"mine", "full"} {
		if got := e.raw(&alice, aimxtest.Create(n, "")); got != aimxtest.OK {
			t.Fatal(got)
		}
	}
	if got := e.raw(&bob, aimxtest.Create("bobs", "")); got != aimxtest.OK {
		t.Fatal(got)
	}
	if got := e.raw(nil, aimxtest.Create("orphan", alice.Name)); got != aimxtest.OK {
		t.Fatal(got)
	}
	// Make "orphan" belong to a user that no longer resolves.
	must(t, os.WriteFile(e.Config, []byte(strings.Replace(e.readConfig(), "owner = \""+alice.Name+"\"\n\n[mailboxes.orphan]", "", 1)), 0o640))
	text := strings.Replace(e.readConfig(), "[mailboxes.orphan]\naddress = \"orphan@example.test\"\nowner = \""+alice.Name+"\"", "[mailboxes.orphan]\naddress = \"orphan@example.test\"\nowner = \"gone-user\"", 1)
	must(t, os.WriteFile(e.Config, []byte(text), 0o640))

	// No leak: another's, an orphan's and a missing mailbox answer the same bytes.
	for _, name := range []string{"bobs", "orphan", "nothere"} {
		want := aimxtest.Err("MAILBOX", fmt.Sprintf("mailbox '%s' does not exist", name))
		got := e.raw(&alice, aimxtest.Delete(name, true))
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
	assertDir(t, e.Path("inbox", "bobs"), bob.UID, bob.GID, 0o700)

	// Own and empty: gone, folders too.
	if got := e.raw(&alice, aimxtest.Delete("mine", false)); got != aimxtest.OK {
		t.Errorf("delete own: %q", got)
	}
	assertGone(t, e.Path("inbox", "mine"))
	assertGone(t, e.Path("sent", "mine"))
	if strings.Contains(e.readConfig(), "[mailboxes.mine]") {
		t.Errorf("stanza left:\n%s", e.readConfig())
	}

	// Non-empty: refused, then forced.
	writeAs(t, alice, e.Path("inbox", "full", "m1.md"), "+++\nread = true\n+++\nhi\n")
	writeAs(t, alice, e.Path("inbox", "full", "m2.md"), "hello\n")
	writeAs(t, alice, e.Path("sent", "full", "s1.md"), "sent\n")
	want := aimxtest.Err("NONEMPTY", "mailbox 'full' has 3 files (2 in inbox, 1 in sent); archive or remove them first")
	if got := e.raw(&alice, aimxtest.Delete("full", false)); got != want {
		t.Errorf("non-empty:\n got %q\nwant %q", got, want)
	}
	if got := e.raw(&alice, aimxtest.Delete("full", true)); got != aimxtest.OK {
		t.Errorf("forced: %q", got)
	}
	assertGone(t, e.Path("inbox", "full"))

	// Root deletes anyone's, including the orphan's.
	for _, n := range []string{"bobs", "orphan"} {
		if got := e.raw(nil, aimxtest.Delete(n, false)); got != aimxtest.OK {
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
	must(t, os.Lchown(path, int(u.UID), int(u.GID)))
}

func TestForceDeleteStaysInside(t *testing.T) {
	e := newEnv(t, baseConfig)
	if got := e.raw(&alice, aimxtest.Create("trap", "")); got != aimxtest.OK {
		t.Fatal(got)
	}
	outside := filepath.Join(e.Dir, "outside")
	must(t, os.MkdirAll(filepath.Join(outside, "deep"), 0o755))
	must(t, os.WriteFile(filepath.Join(outside, "deep", "keep.txt"), []byte("keep"), 0o644))
	must(t, os.WriteFile(filepath.Join(outside, "hard.txt"), []byte("hard"), 0o644))
	in := e.Path("inbox", "trap")
	must(t, os.Symlink(outside, filepath.Join(in, "link-dir")))
	must(t, os.Symlink(filepath.Join(outside, "deep", "keep.txt"), filepath.Join(in, "link-file.md")))
	must(t, os.Link(filepath.Join(outside, "hard.txt"), filepath.Join(in, "hard.md")))
	must(t, os.MkdirAll(filepath.Join(in, "a", "b", "c"), 0o700))
	must(t, os.Symlink("../../../../../outside", filepath.Join(in, "a", "b", "c", "up")))
	must(t, os.Symlink(e.Path("inbox"), e.Path("sent", "trap", "to-inbox")))

	if got := e.raw(&alice, aimxtest.Delete("trap", true)); got != aimxtest.OK {
		t.Fatalf("forced delete: %q", got)
	}
	for _, p := range []string{filepath.Join(outside, "deep", "keep.txt"), filepath.Join(outside, "hard.txt")} {
		if b, err := os.ReadFile(p); err != nil || len(b) != 4 {
			t.Errorf("%s changed: %q %v", p, b, err)
		}
	}
	assertGone(t, in)
	assertGone(t, e.Path("sent", "trap"))
	assertDir(t, e.Path("inbox"), 0, 0, 0o755)
}

func TestPreexistingFolders(t *testing.T) {
	e := newEnv(t, baseConfig)
	// Wrong owner: ECONFLICT; nothing written. A user's answer names no
	// other user or uid; root's names the path, the owner and the fix.
	must(t, os.Mkdir(e.Path("inbox", "taken"), 0o700))
	must(t, os.Chown(e.Path("inbox", "taken"), int(bob.UID), int(bob.GID)))
	hidden := func(name string) string {
		return aimxtest.Err("ECONFLICT", "mailbox name '"+name+"' is taken on disk by a folder that is not yours: ask the operator to move it")
	}
	if got := e.raw(&alice, aimxtest.Create("taken", "")); got != hidden("taken") {
		t.Errorf("wrong owner, alice:\n got %q\nwant %q", got, hidden("taken"))
	}
	got := e.raw(nil, aimxtest.Create("taken", alice.Name))
	want := aimxtest.Err("ECONFLICT", fmt.Sprintf("%s exists and is owned by %d:%d, not by the mailbox owner %d:%d: move it out of the way or run 'chown -R %d:%d %s', then create the mailbox again",
		e.Path("inbox", "taken"), bob.UID, bob.GID, alice.UID, alice.GID, alice.UID, alice.GID, e.Path("inbox", "taken")))
	if got != want {
		t.Errorf("wrong owner:\n got %q\nwant %q", got, want)
	}
	must(t, os.WriteFile(e.Path("sent", "file"), nil, 0o600))
	if got := e.raw(&alice, aimxtest.Create("file", "")); got != hidden("file") {
		t.Errorf("not a folder, alice:\n got %q\nwant %q", got, hidden("file"))
	}
	want = aimxtest.Err("ECONFLICT", e.Path("sent", "file")+" exists and is not a folder: move it out of the way, then create the mailbox again")
	if got := e.raw(nil, aimxtest.Create("file", alice.Name)); got != want {
		t.Errorf("not a folder:\n got %q\nwant %q", got, want)
	}
	assertGone(t, e.Path("inbox", "file"))
	if e.readConfig() != baseConfig {
		t.Errorf("config changed")
	}
	// Right owner: kept, and the create converges.
	must(t, os.Mkdir(e.Path("inbox", "again"), 0o700))
	must(t, os.Chown(e.Path("inbox", "again"), int(alice.UID), int(alice.GID)))
	writeAs(t, alice, e.Path("inbox", "again", "old.md"), "old\n")
	if got := e.raw(&alice, aimxtest.Create("again", "")); got != aimxtest.OK {
		t.Errorf("right owner: %q", got)
	}
	assertDir(t, e.Path("sent", "again"), alice.UID, alice.GID, 0o700)
	if _, err := os.Stat(e.Path("inbox", "again", "old.md")); err != nil {
		t.Errorf("kept folder lost its mail: %v", err)
	}
}

func TestCallerWithoutPasswdEntry(t *testing.T) {
	e := newEnv(t, baseConfig)
	want := aimxtest.Err("VALIDATION", fmt.Sprintf("uid %d has no passwd entry", aimxtest.Ghost.UID))
	if got := e.raw(ghost, aimxtest.Create("g", "")); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := e.raw(ghost, "AIMX/1 MAILBOX-LIST\n\n"); got != "AIMX/1 OK\nContent-Length: 2\n\n[]" {
		t.Errorf("list: %q", got)
	}
}

type entry = wire.Entry

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
		if got := e.raw(r.u, aimxtest.Create(r.name, "")); got != aimxtest.OK {
			t.Fatal(got)
		}
	}
	writeAs(t, alice, e.Path("inbox", "al1", "read.md"), "+++\nread = true\nsubject = \"x\"\n+++\nbody\n")
	writeAs(t, alice, e.Path("inbox", "al1", "unread.md"), "+++\nsubject = \"y\"\n+++\nbody\n")
	writeAs(t, alice, e.Path("inbox", "al1", "bundle", "bundle.md"), "no front matter\n")
	writeAs(t, alice, e.Path("inbox", "al1", "bundle", "photo.png"), "png")
	writeAs(t, alice, e.Path("inbox", "al1", "notes.txt"), "not a message")
	writeAs(t, alice, e.Path("inbox", "al1", "emptydir", "other.md"), "not a bundle")
	writeAs(t, alice, e.Path("sent", "al1", "s.md"), "sent")
	// An unregistered folder of alice's and one of bob's.
	for _, u := range []user{alice, bob} {
		p := e.Path("inbox", "loose-"+u.Name)
		must(t, os.Mkdir(p, 0o700))
		must(t, os.Chown(p, int(u.UID), int(u.GID)))
	}

	names := func(es []entry) string {
		var n []string
		for _, x := range es {
			n = append(n, x.Name)
		}
		return strings.Join(n, ",")
	}
	if got, want := names(e.list(nil)), "al1,al2,bo1,loose-"+alice.Name+",loose-"+bob.Name; got != want {
		t.Errorf("root sees %s, want %s", got, want)
	}
	as := e.list(&alice)
	if got, want := names(as), "al1,al2,loose-"+alice.Name; got != want {
		t.Errorf("alice sees %s, want %s", got, want)
	}
	addr := "al1@example.test"
	want := entry{Name: "al1", Address: &addr, InboxPath: e.Path("inbox", "al1"), SentPath: e.Path("sent", "al1"), Total: 3, Unread: 2, SentCount: 1, Registered: true}
	if g := as[0]; g.Name != want.Name || *g.Address != addr || g.InboxPath != want.InboxPath || g.SentPath != want.SentPath ||
		g.Total != want.Total || g.Unread != want.Unread || g.SentCount != want.SentCount || !g.Registered {
		t.Errorf("al1 = %+v, want %+v", g, want)
	}
	if g := as[2]; g.Address != nil || g.Registered {
		t.Errorf("unregistered folder listed as %+v", g)
	}
	if got, want := names(e.list(&bob)), "bo1,loose-"+bob.Name; got != want {
		t.Errorf("bob sees %s, want %s", got, want)
	}

	// The folders cache (docs/BEHAVIOR.md, "Files"): once inbox/ has not
	// changed for its window, a LIST writes it, a private file owned like
	// the config's folder; a LIST then reads it, and a new folder or a
	// chown is still seen.
	cache := filepath.Join(filepath.Dir(e.Config), ".config.toml.folders")
	cached := func(names ...string) { // alice LISTs until the cache holds names
		t.Helper()
		want := "\n" + strings.Join(names, "\n") + "\n"
		for i := 0; i < 100; i++ {
			if data, _ := os.ReadFile(cache); strings.Contains(string(data), want) {
				return
			}
			time.Sleep(20 * time.Millisecond) // the window is 100 ms after inbox/ last changed
			e.list(&alice)
		}
		data, _ := os.ReadFile(cache)
		t.Fatalf("no folders cache holding %q after 100 LISTs 20 ms apart:\n%s", names, data)
	}
	cached("loose-"+alice.Name, "loose-"+bob.Name)
	var st, dst syscall.Stat_t
	must(t, syscall.Stat(cache, &st))
	must(t, syscall.Stat(filepath.Dir(e.Config), &dst))
	if st.Mode&0o7777 != 0o600 || st.Uid != dst.Uid || st.Gid != dst.Gid {
		t.Errorf("folders cache: mode %o, %d:%d; want 600, %d:%d", st.Mode&0o7777, st.Uid, st.Gid, dst.Uid, dst.Gid)
	}
	p := e.Path("inbox", "loose2-"+alice.Name)
	must(t, os.Mkdir(p, 0o700))
	must(t, os.Chown(p, int(alice.UID), int(alice.GID)))
	if got, want := names(e.list(&alice)), "al1,al2,loose-"+alice.Name+",loose2-"+alice.Name; got != want {
		t.Errorf("after a new folder, alice sees %s, want %s", got, want)
	}
	cached("loose-"+alice.Name, "loose-"+bob.Name, "loose2-"+alice.Name)
	must(t, os.Chown(e.Path("inbox", "loose-"+bob.Name), int(alice.UID), int(alice.GID)))
	if got, want := names(e.list(&alice)), "al1,al2,loose-"+alice.Name+",loose-"+bob.Name+",loose2-"+alice.Name; got != want {
		t.Errorf("after a chown, alice sees %s, want %s", got, want)
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
	must(t, os.Chown(e.Config, 0, int(bob.GID)))
	if got := e.raw(&alice, aimxtest.Create("fresh", "")); got != aimxtest.OK {
		t.Fatal(got)
	}
	withFresh := original + "\r\n[mailboxes.fresh]\r\naddress = \"fresh@example.test\"\r\nowner = \"" + alice.Name + "\"\r\n"
	if got := e.readConfig(); got != withFresh {
		t.Errorf("after create:\n%q\nwant\n%q", got, withFresh)
	}
	checkMode(t, e.Config, 0, bob.GID, 0o640)
	if got := e.raw(&alice, aimxtest.Delete("fresh", false)); got != aimxtest.OK {
		t.Fatal(got)
	}
	if got := e.readConfig(); got != original {
		t.Errorf("after delete:\n%q\nwant\n%q", got, original)
	}
	checkMode(t, e.Config, 0, bob.GID, 0o640)
	if got := e.raw(&bob, aimxtest.Delete("support", false)); got != aimxtest.OK {
		t.Fatal(got)
	}
	want := "# AIMX config: hand-edited, keep my comments\r\n" +
		"domain = \"example.test\"   # trailing comment\r\n" +
		"unknown_top = [ 1, 2,\r\n  3 ]\r\n"
	if got := e.readConfig(); got != want {
		t.Errorf("after deleting support and its hooks:\n%q\nwant\n%q", got, want)
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(e.Config), ".config.toml.tmp-*"))
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
					owner = alice.Name
				}
				if got := e.raw(u, aimxtest.Create(name, owner)); got != aimxtest.OK {
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
	must(t, os.RemoveAll(e.Path("sent")))
	must(t, os.WriteFile(e.Path("sent"), []byte("a file where the sent folder should be"), 0o644))
	want := aimxtest.Err("IO", "open "+e.Path("sent")+": not a directory")
	if got := e.raw(&alice, aimxtest.Create("x", "")); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	assertGone(t, e.Path("inbox", "x"))
	must(t, os.RemoveAll(e.Data))
	want = aimxtest.Err("IO", "open data dir "+e.Data+": no such file or directory")
	if got := e.raw(&alice, aimxtest.Create("x", "")); got != want {
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
	frames := []string{aimxtest.Create("one", ""), aimxtest.Create("one", ""), aimxtest.Delete("nothere", false), "AIMX/1 MAILBOX-LIST\n\n", "AIMX/1 VERSION\n\n", "garbage\n\n", "AIMX/1 SEND\n\n"}
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

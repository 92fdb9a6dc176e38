package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/wire"
)

// These tests run as any user: Handle takes the caller as a value, so a
// row may claim root or another uid. The mailbox owner ("me") is the
// current user, or nobody when the tests run as root, so that every chown
// works without privilege.

// fixture is a config, a policy and a data dir in a temp folder, and the
// server over them.
type fixture struct {
	t    *testing.T
	dir  string
	cfg  string
	data string
	logs bytes.Buffer
	srv  *Server
	me   aimxtest.User
}

const base = aimxtest.BaseConfig

func newFixture(t *testing.T, config string) *fixture {
	t.Helper()
	me, err := aimxtest.Ordinary()
	if err != nil {
		t.Skipf("needs a passwd entry for the test's user: %v", err)
	}
	f := &fixture{t: t, dir: t.TempDir(), me: me}
	f.cfg = filepath.Join(f.dir, "etc", "config.toml")
	f.data = filepath.Join(f.dir, "data")
	for _, d := range []string{filepath.Dir(f.cfg), filepath.Join(f.data, "inbox"), filepath.Join(f.data, "sent")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if config != "" {
		f.write(f.cfg, config)
	}
	f.srv = &Server{Store: &mailbox.Store{ConfigPath: f.cfg, DataDir: f.data}, Log: LogfmtLogger{W: &f.logs}}
	return f
}

func (f *fixture) write(path, text string) {
	f.t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) policy(text string) string {
	p := filepath.Join(filepath.Dir(f.cfg), "mailboxd.toml")
	f.write(p, text)
	return p
}

// do parses frame as the wire would and returns the exact response bytes.
func (f *fixture) do(uid uint32, frame string) string {
	f.t.Helper()
	req, err := wire.ReadRequest(wire.NewReader(strings.NewReader(frame)))
	var resp wire.Response
	if werr, ok := err.(*wire.Error); ok {
		resp.Err = werr
	} else if err != nil {
		f.t.Fatalf("frame %q: %v", frame, err)
	} else {
		resp = f.srv.Handle(authz.Caller{UID: uid, PID: 4242}, req)
	}
	var b bytes.Buffer
	if err := wire.WriteResponse(&b, resp); err != nil {
		f.t.Fatal(err)
	}
	return b.String()
}

func (f *fixture) config() string {
	b, err := os.ReadFile(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func assertDir(t *testing.T, path string, uid, gid uint32, mode os.FileMode) {
	t.Helper()
	if err := aimxtest.CheckDir(path, uid, gid, mode); err != nil {
		t.Error(err)
	}
}

// TestCreate: docs/BEHAVIOR.md "Who may do what", CREATE rows, and every
// VALIDATION, MAILBOX and ECONFLICT reason of CREATE, with the config
// text after each.
func TestCreate(t *testing.T) {
	f := newFixture(t, base)
	me := f.me
	pol := filepath.Join(filepath.Dir(f.cfg), "mailboxd.toml")
	reservedOwner := func(o string) string {
		return aimxtest.Err("VALIDATION", fmt.Sprintf("owner '%s' is reserved: only a hand edit of the config may give a mailbox to it", o))
	}
	for _, tc := range []struct {
		name   string
		caller uint32
		frame  string
		want   string
		adds   string // stanza appended to the config when the answer is OK
	}{
		{"a user creates her own", me.UID, aimxtest.Create("mine", ""), aimxtest.OK, aimxtest.Stanza("mine", me.Name)},
		{"a user's Owner: is ignored", me.UID, aimxtest.Create("also-mine", "root"), aimxtest.OK, aimxtest.Stanza("also-mine", me.Name)},
		{"exists", me.UID, aimxtest.Create("mine", ""), aimxtest.Err("MAILBOX", "mailbox 'mine' already exists"), ""},
		{"root names the owner", 0, aimxtest.Create("given", me.Name), aimxtest.OK, aimxtest.Stanza("given", me.Name)},
		{"root without Owner:", 0, aimxtest.Create("x", ""), aimxtest.Err("VALIDATION", "root must name the owner of mailbox 'x': aimx-mailboxes create x --owner USER"), ""},
		{"root, unknown owner", 0, aimxtest.Create("x", "no-such-user-aimx"), aimxtest.Err("VALIDATION", "unknown owner 'no-such-user-aimx'"), ""},
		{"root for root", 0, aimxtest.Create("x", "root"), reservedOwner("root"), ""},
		{"root for aimx-catchall", 0, aimxtest.Create("x", "aimx-catchall"), reservedOwner("aimx-catchall"), ""},
		{"a user, reserved name", me.UID, aimxtest.Create("postmaster", ""), aimxtest.Err("VALIDATION", "mailbox name 'postmaster' is reserved for the operator: only root can create it (reserved_names in "+pol+")"), ""},
		{"root, reserved name", 0, aimxtest.Create("postmaster", me.Name), aimxtest.OK, aimxtest.Stanza("postmaster", me.Name)},
		{"a uid without passwd entry", aimxtest.Ghost.UID, aimxtest.Create("x", ""), aimxtest.Err("VALIDATION", fmt.Sprintf("uid %d has no passwd entry", aimxtest.Ghost.UID)), ""},
		{"bad name", me.UID, aimxtest.Create("Bad", ""), aimxtest.Err("VALIDATION", "invalid mailbox name 'Bad': only lower-case letters, digits, '.', '_' and '-' are allowed"), ""},
		{"catchall", me.UID, aimxtest.Create("catchall", ""), aimxtest.Err("VALIDATION", "invalid mailbox name 'catchall': it is reserved for the catch-all mailbox"), ""},
		{"65 bytes", me.UID, aimxtest.Create(strings.Repeat("a", 65), ""), aimxtest.Err("VALIDATION", "invalid mailbox name '"+strings.Repeat("a", 65)+"': it must be at most 64 bytes long (it is 65)"), ""},
		{"dots", me.UID, aimxtest.Create("a..b", ""), aimxtest.Err("VALIDATION", "invalid mailbox name 'a..b': it must not contain '..'"), ""},
		{"Force: on CREATE", me.UID, "AIMX/1 MAILBOX-CREATE\nName: x\nForce: true\n\n", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.config()
			got := f.do(tc.caller, tc.frame)
			if tc.want == "" { // a frame the wire refuses: MALFORMED, config untouched
				tc.want = got
				if !strings.HasPrefix(got, "AIMX/1 ERR MALFORMED malformed request: ") {
					t.Errorf("got %q, want MALFORMED", got)
				}
			}
			if got != tc.want {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
			if after := f.config(); after != before+tc.adds {
				t.Errorf("config:\n%s\nwant:\n%s", after, before+tc.adds)
			}
		})
	}
	for _, n := range []string{"mine", "also-mine", "given", "postmaster"} {
		for _, kind := range []string{"inbox", "sent"} {
			assertDir(t, filepath.Join(f.data, kind, n), me.UID, me.GID, 0o700)
		}
	}
	if !strings.Contains(f.logs.String(), "caller_uid=0 caller_pid=4242 caller_user=root mailbox=given decision=root_bypass outcome=accepted priority=info\n") {
		t.Errorf("no root_bypass record in:\n%s", f.logs.String())
	}
}

// TestCreateConflicts: a folder in the way is ECONFLICT; root's answer
// names the path, the owner and the fix, anyone else's never names
// another user or uid (the no-leak rule).
func TestCreateConflicts(t *testing.T) {
	f := newFixture(t, base)
	f.write(filepath.Join(f.data, "inbox", "file"), "not a folder")
	hidden := func(name string) string {
		return aimxtest.Err("ECONFLICT", "mailbox name '"+name+"' is taken on disk by a folder that is not yours: ask the operator to move it")
	}
	if got, want := f.do(f.me.UID, aimxtest.Create("file", "")), hidden("file"); got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	want := aimxtest.Err("ECONFLICT", filepath.Join(f.data, "inbox", "file")+" exists and is not a folder: move it out of the way, then create the mailbox again")
	if got := f.do(0, aimxtest.Create("file", f.me.Name)); got != want {
		t.Errorf("root:\n got %q\nwant %q", got, want)
	}
	if f.config() != base {
		t.Errorf("config changed: %s", f.config())
	}
	if os.Geteuid() == 0 { // a folder of another owner needs root to make
		dir := filepath.Join(f.data, "sent", "taken")
		os.Mkdir(dir, 0o700)
		os.Chown(dir, 0, 0)
		got := f.do(f.me.UID, aimxtest.Create("taken", ""))
		if want := hidden("taken"); got != want {
			t.Errorf("\n got %q\nwant %q", got, want)
		}
		for _, leak := range []string{"0:0", "uid", "root", "chown"} {
			if strings.Contains(got, leak) {
				t.Errorf("a user's ECONFLICT says %q: %q", leak, got)
			}
		}
		want := aimxtest.Err("ECONFLICT", fmt.Sprintf("%s exists and is owned by 0:0, not by the mailbox owner %d:%d: move it out of the way or run 'chown -R %d:%d %s', then create the mailbox again", dir, f.me.UID, f.me.GID, f.me.UID, f.me.GID, dir))
		if got := f.do(0, aimxtest.Create("taken", f.me.Name)); got != want {
			t.Errorf("root:\n got %q\nwant %q", got, want)
		}
		if _, err := os.Stat(filepath.Join(f.data, "inbox", "taken")); !os.IsNotExist(err) {
			t.Errorf("inbox/taken made although the create failed: %v", err)
		}
	}
}

func TestCreateLimit(t *testing.T) {
	f := newFixture(t, base+aimxtest.Stanza("a", "someone-else")+aimxtest.Stanza("b", "nobody-here"))
	pol := f.policy("max_mailboxes_per_user = 2\n")
	for _, n := range []string{"m1", "m2"} {
		if got := f.do(f.me.UID, aimxtest.Create(n, "")); got != aimxtest.OK {
			t.Fatalf("%s: %q", n, got)
		}
	}
	want := aimxtest.Err("VALIDATION", "you already own 2 mailboxes, the most one user may have (max_mailboxes_per_user = 2 in "+pol+"): delete one first, or ask the operator to raise the limit")
	if got := f.do(f.me.UID, aimxtest.Create("m3", "")); got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	if got := f.do(0, aimxtest.Create("m3", f.me.Name)); got != aimxtest.OK {
		t.Errorf("root is exempt: %q", got)
	}
}

// TestDelete: the DELETE rows of "Who may do what", the no-leak rule, and
// NONEMPTY, with the config text after each.
func TestDelete(t *testing.T) {
	other := "root" // resolves, and is never the test's "me"
	f := newFixture(t, base+aimxtest.Stanza("theirs", other)+aimxtest.Stanza("orphan", "no-such-user-aimx"))
	me := f.me
	for _, n := range []string{"mine", "full", "forced"} {
		if got := f.do(me.UID, aimxtest.Create(n, "")); got != aimxtest.OK {
			t.Fatalf("create %s: %q", n, got)
		}
	}
	f.write(filepath.Join(f.data, "inbox", "full", "a.md"), "x")
	f.write(filepath.Join(f.data, "sent", "full", "b.md"), "x")
	f.write(filepath.Join(f.data, "inbox", "forced", "a.md"), "x")
	noLeak := func(n string) string { return aimxtest.Err("MAILBOX", fmt.Sprintf("mailbox '%s' does not exist", n)) }
	for _, tc := range []struct {
		name    string
		caller  uint32
		frame   string
		want    string
		removes string // stanza gone from the config after an OK
	}{
		{"someone else's", me.UID, aimxtest.Delete("theirs", false), noLeak("theirs"), ""},
		{"someone else's, forced, with Owner:", me.UID, "AIMX/1 MAILBOX-DELETE\nName: theirs\nForce: true\nOwner: " + me.Name + "\n\n", noLeak("theirs"), ""},
		{"an orphan's", me.UID, aimxtest.Delete("orphan", true), noLeak("orphan"), ""},
		{"missing", me.UID, aimxtest.Delete("missing", false), noLeak("missing"), ""},
		{"non-empty", me.UID, aimxtest.Delete("full", false), aimxtest.Err("NONEMPTY", "mailbox 'full' has 2 files (1 in inbox, 1 in sent); archive or remove them first"), ""},
		{"own", me.UID, aimxtest.Delete("mine", false), aimxtest.OK, aimxtest.Stanza("mine", me.Name)},
		{"own, forced", me.UID, aimxtest.Delete("forced", true), aimxtest.OK, aimxtest.Stanza("forced", me.Name)},
		{"root, an orphan's", 0, aimxtest.Delete("orphan", false), aimxtest.OK, aimxtest.Stanza("orphan", "no-such-user-aimx")},
		{"root, anyone's", 0, aimxtest.Delete("theirs", false), aimxtest.OK, aimxtest.Stanza("theirs", other)},
		{"bad name", me.UID, aimxtest.Delete("../etc", false), aimxtest.Err("VALIDATION", "invalid mailbox name '../etc': only lower-case letters, digits, '.', '_' and '-' are allowed"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.config()
			if got := f.do(tc.caller, tc.frame); got != tc.want {
				t.Errorf("\n got %q\nwant %q", got, tc.want)
			}
			if after := f.config(); after != strings.Replace(before, tc.removes, "", 1) {
				t.Errorf("config:\n%s", after)
			}
		})
	}
	for _, p := range []string{"inbox/mine", "sent/mine", "inbox/forced", "sent/forced", "inbox/.trash/", "sent/.trash/"} {
		fi, err := os.Lstat(filepath.Join(f.data, p))
		if strings.HasSuffix(p, "/") { // the trash is emptied once the answer is out
			if err != nil {
				t.Errorf("%s: %v", p, err)
			} else if names, _ := os.ReadDir(filepath.Join(f.data, p)); len(names) != 0 {
				t.Errorf("%s holds %v", p, names)
			}
			continue
		}
		if !os.IsNotExist(err) {
			t.Errorf("%s left: %v %v", p, fi, err)
		}
	}
	// What the DELETEs unlinked was freed after each answer (Tx.Release).
	if held, err := aimxtest.OpenUnlinked(f.dir); err != nil || len(held) != 0 {
		t.Errorf("still open after the answers: %q %v", held, err)
	}
	if strings.Contains(f.logs.String(), "\x1b") {
		t.Error("control character in the log")
	}
	for _, want := range []string{
		"mailbox=theirs decision=reject reason=\"uid " + strconv.Itoa(int(me.UID)) + " may not delete mailbox 'theirs': it is owned by 'root' (uid 0)\" outcome=refused priority=notice",
		"mailbox=full decision=reject reason=\"mailbox 'full' has 2 files (1 in inbox, 1 in sent); archive or remove them first\" outcome=refused priority=notice",
	} {
		if !strings.Contains(f.logs.String(), want) {
			t.Errorf("no record %q in:\n%s", want, f.logs.String())
		}
	}
}

// TestList: root sees every mailbox, a user hers (registered, and
// unregistered folders she owns); counts follow docs/PROTOCOL.md.
func TestList(t *testing.T) {
	f := newFixture(t, base+aimxtest.Stanza("theirs", "root"))
	me := f.me
	if got := f.do(me.UID, aimxtest.Create("mine", "")); got != aimxtest.OK {
		t.Fatal(got)
	}
	f.write(filepath.Join(f.data, "inbox", "mine", "1.md"), "+++\nread = true\n+++\n")
	f.write(filepath.Join(f.data, "inbox", "mine", "2.md"), "+++\nsubject = \"hi\"\n+++\n")
	os.Mkdir(filepath.Join(f.data, "inbox", "mine", "3"), 0o700)
	f.write(filepath.Join(f.data, "inbox", "mine", "3", "3.md"), "no front matter")
	f.write(filepath.Join(f.data, "inbox", "mine", "notes.txt"), "not a message")
	unix.Mkfifo(filepath.Join(f.data, "inbox", "mine", "4.md"), 0o600)
	f.write(filepath.Join(f.data, "sent", "mine", "s.md"), "x")
	os.Mkdir(filepath.Join(f.data, "inbox", "loose"), 0o700)
	os.Lchown(filepath.Join(f.data, "inbox", "loose"), int(me.UID), int(me.GID))
	os.Mkdir(filepath.Join(f.data, "inbox", ".hidden"), 0o700)
	mine := fmt.Sprintf(`{"name":"mine","address":"mine@example.test","inbox_path":"%[1]s/inbox/mine","sent_path":"%[1]s/sent/mine","total":3,"unread":2,"sent_count":1,"registered":true}`, f.data)
	loose := fmt.Sprintf(`{"name":"loose","address":null,"inbox_path":"%[1]s/inbox/loose","sent_path":"%[1]s/sent/loose","total":0,"unread":0,"sent_count":0,"registered":false}`, f.data)
	theirs := fmt.Sprintf(`{"name":"theirs","address":"theirs@example.test","inbox_path":"%[1]s/inbox/theirs","sent_path":"%[1]s/sent/theirs","total":0,"unread":0,"sent_count":0,"registered":true}`, f.data)
	body := func(entries ...string) string {
		j := "[" + strings.Join(entries, ",") + "]"
		return fmt.Sprintf("AIMX/1 OK\nContent-Length: %d\n\n%s", len(j), j)
	}
	// Root's body also names the owner of each registered mailbox.
	owned := func(entry, owner string) string {
		return strings.TrimSuffix(entry, "}") + `,"owner":"` + owner + `"}`
	}
	list := "AIMX/1 MAILBOX-LIST\n\n"
	done := make(chan [2]string, 1)
	go func() { done <- [2]string{f.do(0, list), f.do(me.UID, list)} }()
	select {
	case got := <-done:
		rootBody := body(loose, owned(mine, me.Name), owned(theirs, "root"))
		if got[0] != rootBody {
			t.Errorf("root:\n got %s\nwant %s", got[0], rootBody)
		}
		want := body(loose, mine)
		if me.UID == 0 {
			want = rootBody
		}
		if got[1] != want {
			t.Errorf("user:\n got %s\nwant %s", got[1], want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LIST blocked (on the FIFO?)")
	}
	if got := f.do(aimxtest.Ghost.UID, list); got != body() {
		t.Errorf("a uid without passwd entry: %q", got)
	}
}

// TestErrors: VERSION, PROTOCOL, and IO for a missing or broken config or
// policy and for a busy lock.
func TestErrors(t *testing.T) {
	f := newFixture(t, "")
	me := f.me.UID
	missing := aimxtest.Err("IO", "config "+f.cfg+" does not exist: create it with at least a line domain = \"<your mail domain>\"")
	if got := f.do(me, aimxtest.Create("x", "")); got != missing {
		t.Errorf("missing config:\n got %q\nwant %q", got, missing)
	}
	if got := f.do(me, "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\nContent-Length: ") || !strings.Contains(got, `"tag":`) {
		t.Errorf("VERSION without a config: %q", got)
	}
	f.write(f.cfg, "domain = \n")
	broken := aimxtest.Err("IO", "config "+f.cfg+" does not parse: line 1, column 10: expected value but found '\\n' instead")
	if got := f.do(me, aimxtest.Delete("x", false)); got != broken {
		t.Errorf("broken config:\n got %q\nwant %q", got, broken)
	}
	f.write(f.cfg, base)
	if got := f.do(me, "AIMX/1 SEND\n\n"); !strings.HasPrefix(got, "AIMX/1 ERR PROTOCOL ") {
		t.Errorf("SEND: %q", got)
	}
	if got := f.do(me, "AIMX/1 FROB\n\n"); got != aimxtest.Err("PROTOCOL", "unknown verb 'FROB'") {
		t.Errorf("FROB: %q", got)
	}
	pol := f.policy("max_mailboxes_per_user = \"many\"\n")
	badPolicy := aimxtest.Err("IO", "policy file "+pol+", line 1, key max_mailboxes_per_user: must be a whole number, 0 or more (0: no limit), not a string")
	if got := f.do(me, "AIMX/1 MAILBOX-LIST\n\n"); got != badPolicy {
		t.Errorf("broken policy:\n got %q\nwant %q", got, badPolicy)
	}
	f.policy("lock_timeout_seconds = 1\n")
	tx, err := f.srv.Store.Lock()
	if err != nil {
		t.Fatal(err)
	}
	busy := aimxtest.Err("IO", "config "+f.cfg+" is busy: its lock "+f.srv.Store.LockPath()+" was held by another request for more than 1s; nothing was changed, try again")
	if got := f.do(me, aimxtest.Create("x", "")); got != busy {
		t.Errorf("busy:\n got %q\nwant %q", got, busy)
	}
	tx.Close()
	logs := f.logs.String()
	for _, want := range []string{"outcome=failed priority=err", "outcome=busy priority=warning"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the log:\n%s", want, logs)
		}
	}
}

// serve runs Serve on the server end of a real UNIX connection, as the
// helper does (activation's raw descriptor), and returns the client end.
func (f *fixture) serve(t *testing.T) (*net.UnixConn, chan error) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	cf := os.NewFile(uintptr(fds[1]), "client")
	fc, err := net.FileConn(cf)
	cf.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := fc.(*net.UnixConn)
	t.Cleanup(func() { c.Close() })
	s, peer, err := activation.FromFDs(fds[:1]) // the helper's raw connection
	if err != nil {
		t.Fatal(err)
	}
	peer.UID = f.me.UID
	done := make(chan error, 1)
	go func() { done <- f.srv.Serve(s, authz.Caller(peer)) }()
	return c, done
}

func TestServe(t *testing.T) {
	f := newFixture(t, base)
	for _, tc := range []struct{ name, frame, want string }{
		{"a request", aimxtest.Create("served", ""), aimxtest.OK},
		{"a malformed frame", "AIMX/1 MAILBOX-LIST\nName: x\n\n", ""},
		{"junk after the request", "AIMX/1 MAILBOX-DELETE\nName: served\n\ntrailing junk", aimxtest.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, done := f.serve(t)
			io.WriteString(c, tc.frame)
			c.CloseWrite()
			got, _ := io.ReadAll(c)
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if tc.want == "" {
				if !strings.HasPrefix(string(got), "AIMX/1 ERR MALFORMED malformed request: ") {
					t.Errorf("got %q", got)
				}
				// Its record names the caller, as every record does.
				if want := "caller_user=" + f.me.Name + " mailbox=\"\" decision=reject"; !strings.Contains(f.logs.String(), want) {
					t.Errorf("no %q in the log:\n%s", want, f.logs.String())
				}
				return
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// A client that hangs up mid-headers is told so (docs/PROTOCOL.md: EOF in
	// the middle of the headers is malformed).
	c, done := f.serve(t)
	io.WriteString(c, "AIMX/1 MAILBOX-CREATE\nName: half")
	c.CloseWrite()
	want := aimxtest.Err("MALFORMED", "malformed request: connection closed before the blank line that ends the headers")
	if got, _ := io.ReadAll(c); string(got) != want {
		t.Errorf("half a request:\n got %q\nwant %q", got, want)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// One that is gone before its answer is written: no response.
	c, done = f.serve(t)
	io.WriteString(c, "AIMX/1 MAILBOX-LIST\n\n")
	c.Close()
	if err := <-done; err != nil && !errors.Is(err, ErrNoResponse) {
		t.Errorf("Serve: %v", err)
	}
	if !strings.Contains(f.logs.String(), "outcome=malformed priority=notice") {
		t.Errorf("no malformed record:\n%s", f.logs.String())
	}
}

// TestServeClientSendsNothing: a client that sends nothing gets no
// response, only its EOF, at the read deadline (docs/PROTOCOL.md: 30 seconds,
// shortened here); the request is logged as abandoned.
func TestServeClientSendsNothing(t *testing.T) {
	f := newFixture(t, base)
	defer func(d time.Duration) { readTimeout = d }(readTimeout)
	readTimeout = 300 * time.Millisecond
	start := time.Now()
	c, done := f.serve(t)
	got, err := io.ReadAll(c)
	took := time.Since(start)
	if len(got) != 0 || err != nil {
		t.Errorf("silent client read %q, %v; want EOF without a response", got, err)
	}
	if took < 290*time.Millisecond || took > 5*time.Second {
		t.Errorf("closed after %v, want the 300ms read deadline", took)
	}
	if err := <-done; !errors.Is(err, ErrNoResponse) || !strings.HasSuffix(err.Error(), "read request: read: i/o timeout") {
		t.Errorf("Serve: %v, want ErrNoResponse after an i/o timeout", err)
	}
	if want := `reason="no request: read: i/o timeout" outcome=abandoned priority=info`; !strings.Contains(f.logs.String(), want) {
		t.Errorf("log:\n%s\nwant a record with %s", f.logs.String(), want)
	}
}

func TestNewLoggerFallback(t *testing.T) {
	var b bytes.Buffer
	if _, isLogfmt := connect(&b).(LogfmtLogger); isLogfmt {
		// No journal here: NewLogger's first record picks logfmt.
		NewLogger(&b).Log(Record{Verb: "VERSION", Decision: "accept", Outcome: Accepted})
		if b.String() != "verb=VERSION caller_uid=0 caller_pid=0 caller_user=\"\" mailbox=\"\" decision=accept outcome=accepted priority=info\n" {
			t.Errorf("got %q", b.String())
		}
	}
	for o, id := range MessageIDs {
		if len(id) != 32 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Errorf("MESSAGE_ID of %s is %q, want 32 lower-case hex digits", o, id)
		}
	}
}

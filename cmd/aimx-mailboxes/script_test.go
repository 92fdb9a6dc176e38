package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/server"
)

var update = flag.Bool("update", false, "rewrite the expected files that the stories in testdata/script compare with cmp")

// TestScripts runs the stories in testdata/script, one .txtar file each:
// the real CLI (this test binary, run as aimx-mailboxes by TestMain)
// against the real server code on a socket in the script's $WORK, with
// the connection's SO_PEERCRED, as the activated helper gets it.
//
// A story's user is the one running the tests, or nobody when that is
// root (so that root's run checks an ordinary user's stories too, through
// setpriv). Each script starts with:
//
//	$WORK/etc/config.toml   domain = "example.test" (unless the script has one)
//	$WORK/data/{inbox,sent} the data dir, 0711 folders
//	$WORK/mailboxd.sock     the helper, serving (AIMX_MAILBOXD_SOCKET)
//	$ME                     the story's user name
//
// and these commands:
//
//	cli N args...      run aimx-mailboxes as the story's user; its exit code must be N
//	rootcli N args...  the same as root (a story that uses it starts with [!root] skip)
//	helper serve|stop|refuse|answer FILE|count
//	                   the helper serves; stops (the socket is gone); refuses (the
//	                   socket file stays, nobody listens); answers every connection
//	                   with FILE's bytes after reading the request; prints how many
//	                   connections it accepted
//	perm PATH MODE USER  PATH has permissions MODE (octal) and belongs to USER and
//	                   USER's primary group
//	own PATH           root gives PATH to the story's user (others own it already)
//
// and the condition [root].
func TestScripts(t *testing.T) {
	story := theAgent(t)
	var drop []string
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("needs setpriv (util-linux) to run the stories as nobody when run as root: sudo apt-get install util-linux")
		}
		drop = []string{"setpriv", "--reuid=" + strconv.Itoa(int(story.UID)), "--regid=" + strconv.Itoa(int(story.GID)), "--clear-groups"}
	}
	testscript.Run(t, testscript.Params{
		Dir:                "testdata/script",
		WorkdirRoot:        tempDir(t),
		RequireUniqueNames: true,
		UpdateScripts:      *update,
		Setup: func(env *testscript.Env) error {
			if err := setupScript(env, story.Name); err != nil {
				return err
			}
			if drop != nil {
				env.Setenv("GOCOVERDIR", strings.TrimPrefix(coverEnv(t, story), "GOCOVERDIR="))
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cli": func(ts *testscript.TestScript, neg bool, args []string) {
				runCLI(ts, neg, args, drop)
			},
			"rootcli": func(ts *testscript.TestScript, neg bool, args []string) {
				if os.Geteuid() != 0 {
					ts.Fatalf("rootcli needs root: start the story with [!root] skip 'needs root: ...'")
				}
				runCLI(ts, neg, args, nil)
			},
			"helper": cmdHelper,
			"perm":   cmdPerm,
			"own": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: own PATH")
				}
				if os.Geteuid() == 0 {
					ts.Check(os.Lchown(ts.MkAbs(args[0]), int(story.UID), int(story.GID)))
				}
			},
		},
	})
}

// runCLI runs the CLI with args[1:] (prefixed with drop, to change user)
// and checks that it exits with args[0].
func runCLI(ts *testscript.TestScript, neg bool, args []string, drop []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: cli EXIT-CODE [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("usage: cli EXIT-CODE [args...]: %v", err)
	}
	argv := append(append(append([]string{}, drop...), agentBin), args[1:]...)
	err = ts.Exec(argv[0], argv[1:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("run aimx-mailboxes: %v", err)
	}
	if got != want {
		ts.Fatalf("aimx-mailboxes exited %d, want %d", got, want)
	}
}

func setupScript(env *testscript.Env, me string) error {
	work := env.WorkDir
	cfg := filepath.Join(work, "etc", "config.toml")
	data := filepath.Join(work, "data")
	for _, d := range []string{work, filepath.Dir(cfg), data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{filepath.Join(data, mailbox.Inbox), filepath.Join(data, mailbox.Sent)} {
		if err := os.Mkdir(d, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(d, 0o711); err != nil {
			return err
		}
	}
	if _, err := os.Stat(cfg); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(cfg, []byte("# written by script_test.go\ndomain = \"example.test\"\n"), 0o640); err != nil {
			return err
		}
	}
	h := &scriptHelper{sock: filepath.Join(work, "mailboxd.sock"),
		srv: &server.Server{Store: mailbox.FromEnv(cfg, data), Log: server.LogfmtLogger{W: io.Discard}}}
	if err := h.listen(); err != nil {
		return err
	}
	env.Defer(h.close)
	env.Values[helperKey{}] = h
	env.Setenv("AIMX_MAILBOXD_SOCKET", h.sock)
	env.Setenv("AIMX_CONFIG_DIR", filepath.Dir(cfg))
	env.Setenv("AIMX_DATA_DIR", data)
	env.Setenv("ME", me)
	env.Setenv("PATH", filepath.Join(work, "bin")+string(filepath.ListSeparator)+env.Getenv("PATH"))
	env.Setenv(mainEnv, "1")
	return nil
}

type helperKey struct{}

// scriptHelper is the helper of one script: the server code behind a
// socket, or a stand-in that answers fixed bytes.
type scriptHelper struct {
	sock string
	srv  *server.Server

	mu     sync.Mutex
	ln     *net.UnixListener
	fixed  bool   // answer with answer instead of serving
	answer []byte // what to answer when fixed
	n      int    // connections accepted
}

func (h *scriptHelper) listen() error {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: h.sock, Net: "unix"})
	if err != nil {
		return err
	}
	if err := os.Chmod(h.sock, 0o666); err != nil { // as the socket unit sets it
		ln.Close()
		return err
	}
	h.ln = ln
	go func() {
		for {
			conn, err := ln.AcceptUnix()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.n++
			fixed, answer := h.fixed, h.answer
			h.mu.Unlock()
			go h.handle(conn, fixed, answer)
		}
	}()
	return nil
}

func (h *scriptHelper) handle(conn *net.UnixConn, fixed bool, answer []byte) {
	if !fixed {
		var peer activation.Peer
		raw, err := conn.SyscallConn()
		if err == nil {
			cerr := raw.Control(func(fd uintptr) { peer, err = activation.PeerOf(int(fd)) })
			err = errors.Join(err, cerr)
		}
		if err != nil {
			conn.Close()
			return
		}
		h.srv.Serve(conn, authz.Caller(peer))
		return
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for { // the request, up to its blank line
		line, err := r.ReadString('\n')
		if err != nil || line == "\n" {
			break
		}
	}
	conn.Write(answer)
}

func (h *scriptHelper) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln != nil {
		h.ln.Close()
		h.ln = nil
	}
}

func cmdHelper(ts *testscript.TestScript, neg bool, args []string) {
	h := ts.Value(helperKey{}).(*scriptHelper)
	if neg || len(args) == 0 {
		ts.Fatalf("usage: helper serve|stop|refuse|answer FILE|count")
	}
	switch args[0] {
	case "serve":
		h.mu.Lock()
		h.fixed = false
		up := h.ln != nil
		h.mu.Unlock()
		if !up {
			os.Remove(h.sock) // left by refuse
			ts.Check(h.listen())
		}
	case "stop":
		h.close() // the listener removes its socket file
	case "refuse":
		h.close()
		os.Remove(h.sock)
		// A listener closed without unlinking leaves a socket file that
		// refuses every connection.
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: h.sock, Net: "unix"})
		ts.Check(err)
		ln.SetUnlinkOnClose(false)
		ln.Close()
		ts.Check(os.Chmod(h.sock, 0o666))
	case "answer":
		if len(args) != 2 {
			ts.Fatalf("usage: helper answer FILE")
		}
		h.mu.Lock()
		h.fixed, h.answer = true, []byte(ts.ReadFile(args[1]))
		h.mu.Unlock()
	case "count":
		h.mu.Lock()
		fmt.Fprintf(ts.Stdout(), "%d\n", h.n)
		h.mu.Unlock()
	default:
		ts.Fatalf("usage: helper serve|stop|refuse|answer FILE|count")
	}
}

func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: perm PATH MODE USER")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	u, err := user.Lookup(args[2])
	ts.Check(err)
	fi, err := os.Lstat(ts.MkAbs(args[0]))
	ts.Check(err)
	uid, gid := fileOwner(fi)
	if got := uint64(fi.Mode().Perm()); got != want || strconv.Itoa(int(uid)) != u.Uid || strconv.Itoa(int(gid)) != u.Gid {
		ts.Fatalf("%s: mode %04o, owner %d:%d; want %04o, %s:%s (%s)", args[0], got, uid, gid, want, u.Uid, u.Gid, args[2])
	}
}

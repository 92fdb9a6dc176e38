//go:build vmtest

package guest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// The AIMX mail daemon (aimx serve, crate aimx 0.2.0) beside aimx-mailboxd:
// promises 9 to 13 of README.md ("Running beside the AIMX daemon"). The host's build of aimx
// and a stand-in aimx.service (byte for byte what `aimx setup` writes, plus
// a drop-in with its two test switches: no DNS for the DKIM check, SMTP on
// 127.0.0.1:25) come in the payload (vmtests/aimx.mk).
const (
	aimxPayload = "/usr/lib/aimx-vmtest/aimx"
	aimxBin     = "/usr/local/bin/aimx"
	aimxUnit    = "aimx.service"
	aimxSMTP    = "127.0.0.1:25"
	mailDomain  = "example.test"
	// How soon a running aimx.service must know of a change (issue 10):
	// measured 0.65 to 0.85 s in a guest on a quiet host. The guest is
	// emulated (qemu TCG, no KVM), where a change costs a unit start and
	// a few processes, about two requests' cost; so the lane fails only
	// past reloadBoundEmulated() and logs every figure, marking those
	// over reloadBound.
	reloadBound = 2 * time.Second
	// Our drop-in for aimx.service, as the package installs it.
	ourDropIn  = "/usr/lib/systemd/system/aimx.service.d/aimx-mailboxd.conf"
	reloadPath = "aimx-mailboxd-reload.path"
)

func testAIMX(t *testing.T) {
	if !fileExists(filepath.Join(aimxPayload, "aimx")) {
		t.Skip("no aimx binary in the guest payload: `make aimx` skipped on the host (it needs cargo; its message says what to do)")
	}
	// The earlier steps leave dozens of mailboxes (the per-source step
	// alone tries 64 for alice); start from none, so the per-user limit
	// of the policy cannot refuse this step's creates.
	deleteAllMailboxes(t)
	// The bounds of this step derive from the host's speed now.
	measureCost(t)
	since := time.Now()
	// Order matters: the first step runs before aimx.service exists.
	for _, s := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"reload-without-aimx", testReloadWithoutAIMX},
		{"start", testAIMXStart},
		{"socket-survives", testSocketSurvivesAIMX},
		{"deliver", testAIMXDeliver},
		{"aimx-cli", testAIMXCLI},
		{"burst", testReloadBurst},
		{"two-writers", testTwoWriters},
		{"owner-names", testOwnerNames},
	} {
		if !t.Run(s.name, s.fn) && s.name == "start" {
			t.Fatal("aimx.service did not start; the other AIMX steps need it")
		}
	}
	// Promise 10 across the whole step: no error from the reload units,
	// and the mail daemon was never restarted for a mailbox change (the
	// socket-survives step restarts it on purpose, before deliver; its
	// counter is checked there).
	for _, e := range journalSince(t, since, "-p", "err") {
		if strings.Contains(e.unit, "aimx-mailboxd-reload") {
			t.Errorf("promise 10 (reloading never logs an error): %s: %s", e.unit, e.msg)
		}
	}
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-failed", reloadPath).stdout); got == "failed" {
		t.Errorf("promise 10 (the path unit keeps watching): %s is failed", reloadPath)
	}
}

// Promise 10, without the mail daemon: the package enabled the path unit,
// which does not start while no aimx.service is installed (its
// ConditionPathExists=), so a config change starts no reload unit, writes
// at most one journal line about one, and nothing fails.
func testReloadWithoutAIMX(t *testing.T) {
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-enabled", reloadPath).stdout); got != "enabled" {
		t.Errorf("promise 10 (dpkg -i enables %s): is-enabled = %q", reloadPath, got)
	}
	if fileExists("/etc/systemd/system/" + aimxUnit) {
		t.Fatalf("%s exists before this step installs it", aimxUnit)
	}
	if got := strings.Fields(mustRun(t, "systemctl", "show", "-p", "ActiveState", "-p", "ConditionResult", "--value", reloadPath)); strings.Join(got, " ") != "inactive no" {
		t.Errorf("promise 10 (without aimx.service %s does not start: its condition fails): ActiveState, ConditionResult = %q, want inactive no", reloadPath, got)
	}
	waitReloadIdle(t)
	starts := func() string {
		return strings.TrimSpace(mustRun(t, "systemctl", "show", "-p", "InactiveExitTimestampMonotonic", "--value",
			"aimx-mailboxd-reload@changed.service", "aimx-mailboxd-reload@recheck.service", "aimx-mailboxd-reload.timer"))
	}
	before := starts()
	since := time.Now()
	if r := cliAs(t, "alice", "create", "x-noaimx"); r.code != 0 {
		t.Fatalf("alice create x-noaimx: %s", r)
	}
	if r := cliAs(t, "alice", "delete", "x-noaimx", "--yes"); r.code != 0 {
		t.Errorf("alice delete x-noaimx: %s", r)
	}
	// The helper logs a request after its rename: once the DELETE's record
	// is in the journal, so is anything systemd logged for the two changes.
	waitJournalField(t, since, "AIMX_VERB", "MAILBOX-DELETE", "SYSLOG_IDENTIFIER=aimx-mailboxd")
	if after := starts(); after != before {
		t.Errorf("promise 10 (without aimx.service a config change starts no reload unit): start times %q, were %q", after, before)
	}
	var lines []string
	for _, e := range journalSince(t, since) {
		for _, k := range []string{"UNIT", "_SYSTEMD_UNIT", "SYSLOG_IDENTIFIER"} {
			if strings.HasPrefix(field(e.rec, k), "aimx-mailboxd-reload") {
				lines = append(lines, e.unit+": "+e.msg)
				break
			}
		}
	}
	t.Logf("without aimx.service, two config changes wrote %d journal lines about the reload: %q", len(lines), lines)
	if len(lines) > 1 {
		t.Errorf("promise 10 (without aimx.service a config change writes at most one journal line): %d lines: %q", len(lines), lines)
	}
	if out := strings.TrimSpace(run(t, "", "", "systemctl", "list-units", "--failed", "--no-legend", "--plain", "aimx-mailboxd-reload*").stdout); out != "" {
		t.Errorf("promise 10 (no aimx.service is no failure): failed units %q", out)
	}
}

// Installs aimx and the stand-in unit, then starts the mail daemon.
func testAIMXStart(t *testing.T) {
	mustRun(t, "install", "-m", "0755", filepath.Join(aimxPayload, "aimx"), aimxBin)
	mustRun(t, "install", "-m", "0644", filepath.Join(aimxPayload, "aimx.service"), "/etc/systemd/system/"+aimxUnit)
	mustRun(t, "install", "-D", "-m", "0644", filepath.Join(aimxPayload, "aimx-vmtest.conf"), "/etc/systemd/system/aimx.service.d/vmtest.conf")
	t.Logf("%s", strings.TrimSpace(mustRun(t, aimxBin, "--version")))
	// aimx serve refuses to start without a DKIM key.
	if r := run(t, "", "", aimxBin, "dkim-keygen"); r.code != 0 {
		t.Fatalf("aimx dkim-keygen: %s", r)
	}
	mustRun(t, "systemctl", "daemon-reload")
	dropIns := mustRun(t, "systemctl", "show", "-p", "DropInPaths", "--value", aimxUnit)
	if !strings.Contains(dropIns, ourDropIn) {
		t.Errorf("promise 9 (our drop-in applies to the aimx.service that aimx setup writes): DropInPaths=%q", dropIns)
	}
	if got := strings.TrimSpace(mustRun(t, "systemctl", "show", "-p", "RuntimeDirectoryPreserve", "--value", aimxUnit)); got != "yes" {
		t.Errorf("promise 9 (aimx.service keeps /run/aimx): RuntimeDirectoryPreserve=%s", got)
	}
	if r := run(t, "", "", "systemctl", "start", aimxUnit); r.code != 0 {
		t.Fatalf("systemctl start %s: %s\n%s", aimxUnit, r, run(t, "", "", "journalctl", "--no-pager", "-u", aimxUnit, "-n", "30").stdout)
	}
	waitAIMXReady(t)
	t.Logf("aimx serve up as pid %d", aimxMainPID(t))
	socketAnswers(t, "after aimx.service started")
}

// Promise 9: stop, restart or a crash of the mail daemon leaves
// /run/aimx/mailboxd.sock in place and answering.
func testSocketSurvivesAIMX(t *testing.T) {
	mustRun(t, "systemctl", "restart", aimxUnit)
	waitAIMXReady(t)
	socketAnswers(t, "systemctl restart aimx")

	mustRun(t, "systemctl", "stop", aimxUnit)
	socketAnswers(t, "systemctl stop aimx")
	mustRun(t, "systemctl", "start", aimxUnit)
	waitAIMXReady(t)
	socketAnswers(t, "systemctl start aimx after a stop")

	// A crash: SIGKILL, then systemd's Restart=on-failure (RestartSec=
	// later, during which the unit's state does not change: the wait's
	// bound covers it).
	pid := aimxMainPID(t)
	restart := timespan(t, mustRun(t, "systemctl", "show", "-p", "RestartUSec", "--value", aimxUnit))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill aimx serve (pid %d): %v", pid, err)
	}
	waitFor(t, "aimx.service to come back after a SIGKILL", 2+int(restart/cost), func() (bool, string) {
		socketAnswers(t, "aimx serve killed")
		now := aimxMainPID(t)
		return now != pid && now != 0, strings.Join(strings.Fields(mustRun(t, "systemctl", "show", "-p", "ActiveState", "-p", "SubState", "-p", "MainPID", aimxUnit)), " ")
	})
	waitAIMXReady(t)
	socketAnswers(t, "aimx serve restarted after a crash")
}

// socketAnswers: our socket exists and serves alice.
func socketAnswers(t *testing.T, after string) {
	t.Helper()
	fi, err := os.Lstat(socketPath)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("promise 9 (our socket survives the mail daemon): after %s, %s: %v %v", after, socketPath, fi, err)
	}
	if r := cliAs(t, "alice", "list", "--json"); r.code != 0 {
		t.Fatalf("promise 9 (our socket survives the mail daemon): after %s, alice's list: %s", after, r)
	}
}

// Promise 11 (and 10): alice and bob, at once, each create a mailbox with
// our CLI; the running daemon knows it within 2 s; AIMX stores an SMTP
// message in it, owned as AIMX owns delivered mail; our LIST counts it;
// the owner force-deletes it and later mail is refused, not stored.
func testAIMXDeliver(t *testing.T) {
	pid, restarts := aimxMainPID(t), aimxRestarts(t)
	waitReloadIdle(t)
	for _, user := range []string{"alice", "bob"} {
		user := user
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			deliverAs(t, user)
		})
	}
	t.Cleanup(func() {
		if got := aimxMainPID(t); got != pid || aimxRestarts(t) != restarts {
			t.Errorf("promise 10 (a mailbox change never restarts the mail daemon): MainPID %d -> %d, NRestarts %d -> %d", pid, got, restarts, aimxRestarts(t))
		}
	})
}

func deliverAs(t *testing.T, user string) {
	acct := lookup(t, user)
	other := map[string]string{"alice": "bob", "bob": "alice"}[user]
	box := user + "-box"
	addr := box + "@" + mailDomain
	inbox := filepath.Join(dataDir, "inbox", box)

	r := cliAs(t, user, "create", box)
	created := time.Now()
	if r.code != 0 {
		t.Fatalf("promise 11 (%s creates %s with our CLI): %s", user, box, r)
	}
	took := waitRcpt(t, addr, 250, created)
	t.Logf("%s: aimx serve accepted RCPT TO:<%s> %v after the create returned", user, addr, took.Round(time.Millisecond))
	checkReload(t, "the daemon follows a CREATE", took)

	subject := "hello " + user
	if err := sendMail(addr, subject); err != nil {
		t.Fatalf("promise 11 (AIMX accepts a message for %s): %v", addr, err)
	}
	msgs := messages(t, inbox)
	if len(msgs) != 1 {
		t.Fatalf("promise 11 (the message lands in %s): found %v", inbox, msgs)
	}
	fi, err := os.Lstat(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	// aimx chowns delivered mail to the mailbox owner, mode 0600 (ingest.rs).
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || st.Uid != acct.uid || st.Gid != acct.gid {
		t.Errorf("promise 11 (delivered mail is %s:%s 0600, as AIMX owns it): %s is %v uid %d gid %d", user, user, msgs[0], fi.Mode(), st.Uid, st.Gid)
	}
	text, _ := os.ReadFile(msgs[0])
	for _, want := range []string{"+++\n", `mailbox = "` + box + `"`, `subject = "` + subject + `"`, "read = false"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("promise 11 (a message written by AIMX itself): %s lacks %q:\n%s", msgs[0], want, text)
		}
	}

	// Our LIST counts the message AIMX wrote.
	entry, ok := listEntry(t, user, box)
	if !ok || entry.Total != 1 || entry.Unread != 1 || !entry.Registered {
		t.Errorf("promise 11 (%s's list shows total 1, unread 1): %+v (found %v)", user, entry, ok)
	}
	table := cliAs(t, user, "list")
	t.Logf("%s's aimx-mailboxes list:\n%s", user, table.stdout)

	// Isolation: the other user sees nothing of it and cannot reach it.
	if _, seen := listEntry(t, other, box); seen {
		t.Errorf("promise 11 (isolation): %s's list shows %s", other, box)
	}
	if r := run(t, other, "", "ls", inbox); r.code == 0 {
		// Seen once (bookworm, loaded host, both directions at once) and not
		// explained yet: say who ran ls and what the folder looked like.
		t.Errorf("promise 11 (isolation): %s can list %s: %s; folder: %s; ls ran as: %s",
			other, inbox, r, mustRun(t, "stat", "-c", "%A %U:%G", inbox), run(t, other, "", "id").stdout)
	}
	if r := run(t, other, "", "cat", msgs[0]); r.code == 0 {
		t.Errorf("promise 11 (isolation): %s can read %s", other, msgs[0])
	}
	if r := cliAs(t, other, "delete", box, "--force", "--yes"); r.code != 1 || !strings.Contains(r.stderr+r.stdout, "does not exist") {
		t.Errorf("promise 11 (isolation): %s's delete of %s: %s", other, box, r)
	}
	if len(messages(t, inbox)) != 1 {
		t.Errorf("promise 11 (isolation): %s's message is gone after %s's delete", box, other)
	}

	r = cliAs(t, user, "delete", box, "--force", "--yes")
	deleted := time.Now()
	if r.code != 0 {
		t.Fatalf("promise 11 (%s deletes %s --force --yes): %s", user, box, r)
	}
	took = waitRcpt(t, addr, 550, deleted)
	t.Logf("%s: aimx serve refused RCPT TO:<%s> %v after the delete returned", user, addr, took.Round(time.Millisecond))
	checkReload(t, "the daemon follows a DELETE", took)
	if err := sendMail(addr, "after the delete"); err == nil {
		t.Errorf("promise 11 (mail after the delete is not stored under %s): AIMX accepted it", box)
	}
	if fileExists(inbox) {
		t.Errorf("promise 11 (mail after the delete is not stored under %s): %s exists: %v", box, inbox, messages(t, inbox))
	}
}

// Promise 12: AIMX's own CLI, pointed at our socket by AIMX_RUNTIME_DIR,
// creates, lists and deletes through aimx-mailboxd, as root and as alice.
func testAIMXCLI(t *testing.T) {
	dir := "/run/aimx-vmtest-cli"
	mustRun(t, "mkdir", "-p", "-m", "0755", dir)
	os.Remove(filepath.Join(dir, "aimx.sock"))
	if err := os.Symlink(socketPath, filepath.Join(dir, "aimx.sock")); err != nil {
		t.Fatal(err)
	}
	aimxAs := func(user string, args ...string) result {
		t.Helper()
		cmd := asUser(t, user, append([]string{aimxBin}, args...)...)
		cmd.Env = append(cmd.Env, "AIMX_RUNTIME_DIR="+dir, "AIMX_NONINTERACTIVE=1", "NO_COLOR=1")
		return runCmd(t, cmd)
	}
	for _, c := range []struct{ user, box, owner string }{
		{"alice", "c-alice", "alice"},
		{"root", "c-root", "bob"},
	} {
		since := time.Now()
		args := []string{"mailboxes", "create", c.box}
		if c.user == "root" {
			args = append(args, "--owner", c.owner)
		}
		if r := aimxAs(c.user, args...); r.code != 0 {
			t.Errorf("promise 12 (%s: aimx mailboxes create %s through our socket): %s", c.user, c.box, r)
			continue
		}
		if got := stanzaOwner(t, c.box); got != c.owner {
			t.Errorf("promise 12 (the stanza names owner %s): got %q", c.owner, got)
		}
		// Served by aimx-mailboxd, not by the mail daemon: our journal record.
		waitJournalField(t, since, "AIMX_MAILBOX", c.box, "SYSLOG_IDENTIFIER=aimx-mailboxd")
		checkDirs(t, c.box, lookup(t, c.owner))
		if r := aimxAs(c.user, "mailboxes", "list"); r.code != 0 || !strings.Contains(r.stdout, c.box) {
			t.Errorf("promise 12 (%s: aimx mailboxes list shows %s): %s", c.user, c.box, r)
		}
		if r := aimxAs(c.user, "mailboxes", "delete", c.box, "--yes"); r.code != 0 {
			t.Errorf("promise 12 (%s: aimx mailboxes delete %s through our socket): %s", c.user, c.box, r)
		} else {
			t.Logf("%s: aimx mailboxes delete says: %s", c.user, strings.TrimSpace(r.stdout))
		}
		if stanzaOwner(t, c.box) != "" || fileExists(filepath.Join(dataDir, "inbox", c.box)) || fileExists(filepath.Join(dataDir, "sent", c.box)) {
			t.Errorf("promise 12 (the delete removes the stanza and, unlike AIMX's daemon, both empty folders): %s remains", c.box)
		}
	}
	// The mail daemon's socket is untouched by any of this.
	if fi, err := os.Lstat("/run/aimx/aimx.sock"); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("the mail daemon's /run/aimx/aimx.sock: %v %v", fi, err)
	}
}

// Promise 10: 50 changes in a burst cause a bounded number of reloads
// (the reload unit signals at most once a second while changes keep
// coming), and the daemon ends knowing the last of them.
func testReloadBurst(t *testing.T) {
	const n, workers = 50, 8
	pid, restarts := aimxMainPID(t), aimxRestarts(t)
	waitReloadIdle(t)
	burst := func(verb string) {
		start := time.Now()
		var wg sync.WaitGroup
		next := make(chan int)
		var mu sync.Mutex
		var failed []string
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					frame := fmt.Sprintf("AIMX/1 MAILBOX-%s\nName: burst-%d\nOwner: bob\n\n", verb, i)
					if verb == "DELETE" {
						frame = fmt.Sprintf("AIMX/1 MAILBOX-DELETE\nName: burst-%d\n\n", i)
					}
					if got, errText := tryRaw(t, "root", frame); got != "AIMX/1 OK\n" {
						mu.Lock()
						failed = append(failed, fmt.Sprintf("%q %s", got, errText))
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		done := time.Now()
		if len(failed) > 0 {
			t.Fatalf("%d of %d %ss failed, first: %s", len(failed), n, verb, failed[0])
		}
		// The last change is known within the bound...
		want := 250
		if verb == "DELETE" {
			want = 550
		}
		took := waitRcpt(t, fmt.Sprintf("burst-%d@%s", n-1, mailDomain), want, done)
		waitReloadIdle(t)
		reloads := aimxReloads(t, start)
		spread := done.Sub(start)
		// ...and at most one reload per second of burst, plus the first
		// and the recheck's.
		bound := int(spread/time.Second) + 3
		t.Logf("%d %ss over %v: %d reloads (bound %d); last change known %v after the burst", n, verb, spread.Round(time.Millisecond), len(reloads), bound, took.Round(time.Millisecond))
		if len(reloads) == 0 || len(reloads) > bound || len(reloads) >= n {
			t.Errorf("promise 10 (a burst of %d changes causes a bounded number of reloads): %d reloads over %v (bound %d)", n, len(reloads), spread, bound)
		}
		checkReload(t, "the daemon follows the last change of a burst", took)
		for _, i := range []int{0, n / 2} {
			if code := rcptCode(t, fmt.Sprintf("burst-%d@%s", i, mailDomain)); code != want {
				t.Errorf("promise 10 (the daemon follows every change of the burst): RCPT burst-%d got %d, want %d", i, code, want)
			}
		}
	}
	burst("CREATE")
	burst("DELETE")
	if got := aimxMainPID(t); got != pid || aimxRestarts(t) != restarts {
		t.Errorf("promise 10 (a mailbox change never restarts the mail daemon): MainPID %d -> %d, NRestarts %d -> %d", pid, got, restarts, aimxRestarts(t))
	}
}

// Promise 13: the mail daemon serves MAILBOX-CREATE on its own socket and
// then writes its in-memory config back whole. Before it has re-read the
// config, that drops a mailbox created through aimx-mailboxd (its folders
// and mail stay, and creating it again restores it); after the reload it
// keeps it.
func testTwoWriters(t *testing.T) {
	aimxRoot := func(args ...string) result {
		t.Helper()
		cmd := asUser(t, "root", append([]string{aimxBin}, args...)...)
		cmd.Env = append(cmd.Env, "AIMX_NONINTERACTIVE=1", "NO_COLOR=1")
		return runCmd(t, cmd)
	}
	waitReloadIdle(t)

	// Before the reload: hold it back by stopping the path unit.
	mustRun(t, "systemctl", "stop", reloadPath)
	if r := cliAs(t, "alice", "create", "tw-before"); r.code != 0 {
		t.Fatalf("alice create tw-before: %s", r)
	}
	if r := aimxRoot("mailboxes", "create", "tw-daemon", "--owner", "bob"); r.code != 0 {
		t.Fatalf("root: aimx mailboxes create tw-daemon (the mail daemon's own socket): %s", r)
	}
	text, _ := os.ReadFile(configPath)
	lost := stanzaOwner(t, "tw-before") == ""
	mode := "?"
	if fi, err := os.Stat(configPath); err == nil {
		mode = fi.Mode().Perm().String()
	}
	t.Logf("promise 13, before the reload: the daemon's CREATE of tw-daemon rewrote %s (now %s); tw-before stanza kept: %v; file now:\n%s", configPath, mode, !lost, text)
	if !lost {
		t.Errorf("promise 13 (documented: before the reload the daemon's rewrite drops our stanza): tw-before is still there; README and test disagree with AIMX")
	}
	if stanzaOwner(t, "tw-daemon") != "bob" {
		t.Errorf("promise 13: the daemon's own tw-daemon is missing")
	}
	// Nothing of alice's is lost on disk: the folders stay, LIST shows them
	// unregistered, and creating again restores the mailbox.
	checkDirs(t, "tw-before", lookup(t, "alice"))
	if e, ok := listEntry(t, "alice", "tw-before"); !ok || e.Registered {
		t.Errorf("promise 13 (the dropped mailbox shows as unregistered in its owner's list): %+v %v", e, ok)
	}
	mustRun(t, "systemctl", "start", reloadPath)
	r := cliAs(t, "alice", "create", "tw-before")
	again := time.Now()
	if r.code != 0 {
		t.Errorf("promise 13 (creating the dropped mailbox again restores it): %s", r)
	}
	waitRcpt(t, "tw-before@"+mailDomain, 250, again)

	// After the reload: the daemon's memory holds our mailbox, so its
	// rewrite keeps it.
	r = cliAs(t, "alice", "create", "tw-after")
	created := time.Now()
	if r.code != 0 {
		t.Fatalf("alice create tw-after: %s", r)
	}
	waitRcpt(t, "tw-after@"+mailDomain, 250, created)
	waitReloadIdle(t)
	if r := aimxRoot("mailboxes", "create", "tw-daemon2", "--owner", "bob"); r.code != 0 {
		t.Fatalf("root: aimx mailboxes create tw-daemon2: %s", r)
	}
	if stanzaOwner(t, "tw-after") != "alice" || stanzaOwner(t, "tw-before") != "alice" {
		t.Errorf("promise 13 (after the reload the daemon's rewrite keeps our mailboxes): tw-after %q, tw-before %q", stanzaOwner(t, "tw-after"), stanzaOwner(t, "tw-before"))
	}
	for _, box := range []string{"tw-before", "tw-after", "tw-daemon", "tw-daemon2"} {
		if got := raw(t, "root", "AIMX/1 MAILBOX-DELETE\nName: "+box+"\nForce: true\n\n"); got != "AIMX/1 OK\n" {
			t.Errorf("root delete %s: %q", box, got)
		}
	}
	waitReloadIdle(t)
}

// --- helpers -------------------------------------------------------------

func runCmd(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	out, err := cmd.CombinedOutput()
	r := result{stdout: string(out)}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return r
}

func aimxMainPID(t *testing.T) int {
	t.Helper()
	pid, _ := strconv.Atoi(strings.TrimSpace(mustRun(t, "systemctl", "show", "-p", "MainPID", "--value", aimxUnit)))
	return pid
}

func aimxRestarts(t *testing.T) int {
	t.Helper()
	n, _ := strconv.Atoi(strings.TrimSpace(mustRun(t, "systemctl", "show", "-p", "NRestarts", "--value", aimxUnit)))
	return n
}

// waitAIMXReady: the main process handles SIGHUP and SMTP answers.
func waitAIMXReady(t *testing.T) {
	t.Helper()
	// A daemon starting under TCG may show no change for a while (its
	// process is there, not yet catching SIGHUP or listening): ten
	// requests' worth between changes.
	if !tryWaitFor(t, 10, func() (bool, string) {
		pid := aimxMainPID(t)
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		hup := pid != 0 && catchesHUP(string(status))
		if hup {
			if c, err := net.DialTimeout("tcp", aimxSMTP, stallBound(1)); err == nil {
				c.Close()
				return true, ""
			}
		}
		return false, fmt.Sprintf("pid %d, catches SIGHUP %v", pid, hup)
	}) {
		t.Fatalf("aimx.service not ready, and no progress for %v:\n%s", stallBound(10).Round(time.Second), run(t, "", "", "journalctl", "--no-pager", "-u", aimxUnit, "-n", "30").stdout)
	}
}

func catchesHUP(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&1 == 1
		}
	}
	return false
}

// waitReloadIdle waits until no reload unit is running or armed, so the
// next step starts from a daemon that has read the latest config.
func waitReloadIdle(t *testing.T) {
	t.Helper()
	// The reload service looks again every second while the config
	// changes, then arms the timer (1 s): each changes its state.
	waitFor(t, "the reload units to be idle", 4, func() (bool, string) {
		out := run(t, "", "", "systemctl", "is-active", "aimx-mailboxd-reload@changed.service", "aimx-mailboxd-reload@recheck.service", "aimx-mailboxd-reload.timer").stdout
		for _, s := range strings.Fields(out) {
			if s != "inactive" && s != "failed" {
				return false, out
			}
		}
		return true, out
	})
}

// rcptCode is the mail daemon's answer to RCPT TO:<addr>.
func rcptCode(t *testing.T, addr string) int {
	t.Helper()
	c, err := smtp.Dial(aimxSMTP)
	if err != nil {
		t.Fatalf("dial aimx SMTP: %v", err)
	}
	defer c.Close()
	if err := c.Hello("vmtest.invalid"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	if err := c.Mail("sender@remote.invalid"); err != nil {
		t.Fatalf("MAIL FROM: %v", err)
	}
	err = c.Rcpt(addr)
	c.Quit()
	var te *textproto.Error
	switch {
	case err == nil:
		return 250
	case errors.As(err, &te):
		return te.Code
	}
	t.Fatalf("RCPT TO:<%s>: %v", addr, err)
	return 0
}

// waitRcpt asks until RCPT TO:<addr> gets want, and returns how long
// after since that was; the caller judges the time against the promise.
// It gives up (failing) only far past that: the answer does not change
// while it waits, so the wait's bound is a whole deadline, ten times
// reloadBoundEmulated().
func waitRcpt(t *testing.T, addr string, want int, since time.Time) time.Duration {
	t.Helper()
	bound := 10 * reloadBoundEmulated()
	for {
		code := rcptCode(t, addr)
		if code == want {
			return time.Since(since)
		}
		if time.Since(since) > bound {
			t.Fatalf("promise 10 (the mail daemon follows the change): RCPT TO:<%s> still %d after %v, want %d", addr, code, bound.Round(time.Millisecond), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sendMail sends one small message to addr through the mail daemon.
func sendMail(addr, subject string) error {
	msg := fmt.Sprintf("From: sender@remote.invalid\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%d@remote.invalid>\r\nDate: %s\r\n\r\nsent by the VM lane\r\n",
		addr, subject, time.Now().UnixNano(), time.Now().Format(time.RFC1123Z))
	return smtp.SendMail(aimxSMTP, nil, "sender@remote.invalid", []string{addr}, []byte(msg))
}

// messages lists the *.md files directly in dir.
func messages(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	return m
}

type listRow struct {
	Name       string `json:"name"`
	Total      int    `json:"total"`
	Unread     int    `json:"unread"`
	Registered bool   `json:"registered"`
}

func listEntry(t *testing.T, user, box string) (listRow, bool) {
	t.Helper()
	r := cliAs(t, user, "list", "--json")
	if r.code != 0 {
		t.Fatalf("%s's list: %s", user, r)
	}
	var rows []listRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("%s's list JSON %q: %v", user, r.stdout, err)
	}
	for _, row := range rows {
		if row.Name == box {
			return row, true
		}
	}
	return listRow{}, false
}

type journalEntry struct {
	at   time.Time
	unit string
	msg  string
	rec  map[string]any
}

// journalSince returns the journal entries after since, filtered by the
// journalctl arguments given.
func journalSince(t *testing.T, since time.Time, args ...string) []journalEntry {
	t.Helper()
	argv := append([]string{"journalctl", "-o", "json", "--no-pager", fmt.Sprintf("--since=@%d", since.Unix())}, args...)
	out := run(t, "", "", argv...).stdout
	var es []journalEntry
	for _, line := range strings.Split(out, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		us, _ := strconv.ParseInt(field(rec, "__REALTIME_TIMESTAMP"), 10, 64)
		at := time.UnixMicro(us)
		if at.Before(since) {
			continue
		}
		unit := field(rec, "_SYSTEMD_UNIT")
		if unit == "" {
			unit = field(rec, "UNIT")
		}
		es = append(es, journalEntry{at: at, unit: unit, msg: message(rec), rec: rec})
	}
	return es
}

// message is MESSAGE as text; journalctl writes it as an array of bytes
// when it holds control characters (colors).
func message(rec map[string]any) string {
	switch m := rec["MESSAGE"].(type) {
	case string:
		return m
	case []any:
		b := make([]byte, 0, len(m))
		for _, x := range m {
			if f, ok := x.(float64); ok {
				b = append(b, byte(f))
			}
		}
		return string(b)
	}
	return ""
}

// waitJournal waits for the first entry after since (journalctl args)
// whose message holds substr, while such entries keep coming.
func waitJournal(t *testing.T, since time.Time, substr string, args ...string) journalEntry {
	t.Helper()
	var found journalEntry
	if !tryWaitFor(t, 4, func() (bool, string) {
		es := journalSince(t, since, args...)
		for _, e := range es {
			if strings.Contains(e.msg, substr) {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprint(len(es))
	}) {
		t.Fatalf("no journal line with %q (journalctl %v)", substr, args)
	}
	return found
}

func waitJournalField(t *testing.T, since time.Time, key, value string, args ...string) {
	t.Helper()
	if !tryWaitFor(t, 4, func() (bool, string) {
		es := journalSince(t, since, args...)
		for _, e := range es {
			if field(e.rec, key) == value {
				return true, ""
			}
		}
		return false, fmt.Sprint(len(es))
	}) {
		t.Errorf("promise 12 (the request went through aimx-mailboxd): no journal record with %s=%s", key, value)
	}
}

// aimxReloads are the mail daemon's "config reloaded" lines after since.
func aimxReloads(t *testing.T, since time.Time) []time.Time {
	t.Helper()
	var at []time.Time
	for _, e := range journalSince(t, since, "-u", aimxUnit) {
		if strings.Contains(e.msg, "config reloaded from") {
			at = append(at, e.at)
		}
	}
	return at
}

// deleteAllMailboxes force-deletes every registered mailbox as root,
// eight requests at a time.
func deleteAllMailboxes(t *testing.T) {
	t.Helper()
	var rows []struct {
		Name       string `json:"name"`
		Registered bool   `json:"registered"`
	}
	if err := json.Unmarshal([]byte(body(t, raw(t, "root", "AIMX/1 MAILBOX-LIST\n\n"))), &rows); err != nil {
		t.Fatal(err)
	}
	names := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				if got, errText := tryRaw(t, "root", "AIMX/1 MAILBOX-DELETE\nName: "+n+"\nForce: true\n\n"); got != "AIMX/1 OK\n" {
					t.Errorf("root delete %s before the AIMX steps: %q %s", n, got, errText)
				}
			}
		}()
	}
	count := 0
	for _, r := range rows {
		if r.Registered {
			names <- r.Name
			count++
		}
	}
	close(names)
	wg.Wait()
	t.Logf("deleted the %d mailboxes the earlier steps left", count)
}

// reloadBoundEmulated is promise 10's bound as the lane enforces it:
// reloadBound plus six requests' cost (a change costs about two: the
// reload unit's start and its processes), so a busy host lengthens it.
func reloadBoundEmulated() time.Duration {
	return reloadBound + 6*cost
}

// checkReload enforces promise 10's latency in the emulated guest (see
// reloadBound) and logs the figure either way.
func checkReload(t *testing.T, what string, took time.Duration) {
	t.Helper()
	switch emulated := reloadBoundEmulated(); {
	case took > emulated:
		t.Errorf("promise 10 (%s within %v, %v allowed under emulation): took %v", what, reloadBound, emulated.Round(time.Millisecond), took)
	case took > reloadBound:
		t.Logf("promise 10: %s took %v, over %v (emulated guest; enforced at %v)", what, took.Round(time.Millisecond), reloadBound, emulated.Round(time.Millisecond))
	default:
		t.Logf("promise 10: %s took %v", what, took.Round(time.Millisecond))
	}
}

// Account names AIMX refuses as an owner (its rule: [a-z_][a-z0-9_-]*,
// optional trailing '$', at most 32 bytes; config.rs validate_run_as),
// each a real account here: in /etc/passwd (useradd) or known only to NSS
// (a userdb record, as nss_test.go makes one).
var (
	badOwners    = []string{"first.last", "Upper", "u@corp.example", "abcdefghijklmnopqrstuvwxyz0123456"}
	badNSSOwners = []string{"nss.first.last", "NssUpper", "nss@corp.example", "nbcdefghijklmnopqrstuvwxyz0123456"}
)

// Promise 2 for callers whose own name AIMX could not load as an owner:
// a CREATE from such an account, by the CLI or a raw frame, is VALIDATION
// "cannot own an AIMX mailbox", and nothing is written (the config byte
// for byte, no folder). The mail daemon then still reloads the config
// and restarts cleanly. A hand-written stanza with such an owner first
// shows that the reload check can fail.
func testOwnerNames(t *testing.T) {
	for _, long := range []string{badOwners[3], badNSSOwners[3]} {
		if len(long) != 33 {
			t.Fatalf("the long name %q must be 33 bytes, is %d", long, len(long))
		}
	}
	// The check below can fail: AIMX refuses such an owner on reload.
	waitReloadIdle(t)
	before, err := os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	probe := fmt.Sprintf("\n[mailboxes.on-probe]\naddress = \"on-probe@%s\"\nowner = \"first.last\"\n", mailDomain)
	since := time.Now()
	editConfig(t, func(text string) string { return text + probe })
	e := waitJournal(t, since, "config reload failed", "-u", aimxUnit)
	t.Logf("a hand-written owner \"first.last\": %q", e.msg)
	editConfig(t, func(string) string { return string(before) })
	waitReloadIdle(t)

	// The accounts. useradd needs --badname for these (Debian's useradd
	// takes it on bookworm and trixie); a name it still refuses is made
	// by hand in /etc/passwd, as an admin's tool might.
	var callers []aimxtest.User
	for i, name := range badOwners {
		u := addBadUser(t, name, uint32(62000+i))
		callers = append(callers, u)
	}
	for i, name := range badNSSOwners {
		u, ok := addNSSUser(t, name, uint32(62100+i))
		if ok {
			callers = append(callers, u)
		}
	}

	before, err = os.ReadFile(configPath)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range callers {
		box := fmt.Sprintf("on-%d", i)
		resp, errText := aimxtest.RawAs("/proc/self/exe", &u, userEnv(""), socketPath, "AIMX/1 MAILBOX-CREATE\nName: "+box+"\n\n", hangGuard())
		if !strings.HasPrefix(resp, "AIMX/1 ERR VALIDATION ") || !strings.Contains(resp, "cannot own an AIMX mailbox") {
			t.Errorf("promise 2 (an account AIMX cannot load as owner gets VALIDATION): %q (uid %d) CREATE %s answered %q %v", u.Name, u.UID, box, resp, errText)
		} else {
			t.Logf("%q: %q", u.Name, resp)
		}
		// The CLI, as that account (a uid, so NSS-only accounts too).
		cmd := exec.Command(cli, "create", box)
		cmd.Env = userEnv("")
		cmd.SysProcAttr = u.Credential()
		r, err := aimxtest.Run(cmd, "")
		if err != nil {
			t.Fatalf("aimx-mailboxes create as %q: %v", u.Name, err)
		}
		if r.Code != 1 || !strings.Contains(r.Stderr, "cannot own an AIMX mailbox") {
			t.Errorf("promise 2 (aimx-mailboxes create by %q fails saying why): exit %d, stdout %q, stderr %q", u.Name, r.Code, r.Stdout, r.Stderr)
		}
		for _, sub := range []string{"inbox", "sent"} {
			if p := filepath.Join(dataDir, sub, box); fileExists(p) {
				t.Errorf("promise 2 (a refused CREATE makes no folder): %s exists after %q's CREATE", p, u.Name)
			}
		}
	}
	if after, _ := os.ReadFile(configPath); string(after) != string(before) {
		t.Errorf("promise 2 (a refused CREATE leaves the config byte for byte): was\n%s\nnow\n%s", before, after)
	}

	// The mail daemon still loads the config: a reload, then a restart.
	waitReloadIdle(t)
	since = time.Now()
	pid := aimxMainPID(t)
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP aimx serve (pid %d): %v", pid, err)
	}
	e = waitJournal(t, since, "config reload", "-u", aimxUnit)
	t.Logf("after the refused CREATEs: %q", e.msg)
	for _, e := range journalSince(t, since, "-u", aimxUnit) {
		if strings.Contains(e.msg, "config reload failed") {
			t.Errorf("promise 2 (AIMX still reloads the config after the refused CREATEs): %q", e.msg)
		}
	}
	if r := run(t, "", "", "systemctl", "restart", aimxUnit); r.code != 0 {
		t.Fatalf("promise 2 (AIMX restarts on the config after the refused CREATEs): systemctl restart: %s\n%s", r, run(t, "", "", "journalctl", "--no-pager", "-u", aimxUnit, "-n", "30").stdout)
	}
	waitAIMXReady(t)
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-active", aimxUnit).stdout); got != "active" {
		t.Errorf("promise 2 (AIMX restarts cleanly after the refused CREATEs): %s is %q", aimxUnit, got)
	}
	socketAnswers(t, "the refused CREATEs and a restart of aimx")
}

// addBadUser makes the account name with uid (primary group users, 100:
// groupadd has no --badname) and removes it when the test ends.
func addBadUser(t *testing.T, name string, uid uint32) aimxtest.User {
	t.Helper()
	const gid = 100
	id := fmt.Sprint(uid)
	if r := run(t, "", "", "useradd", "--badname", "--uid", id, "--gid", fmt.Sprint(gid), "--no-user-group", "--no-create-home", "--home-dir", "/", "--shell", "/bin/sh", name); r.code == 0 {
		t.Cleanup(func() { run(t, "", "", "userdel", name) })
		t.Logf("useradd --badname %q: done %s", name, strings.TrimSpace(r.stderr))
	} else {
		t.Logf("useradd --badname %q refused (%s); adding it to /etc/passwd by hand", name, strings.TrimSpace(r.stderr))
		appendLine(t, "/etc/passwd", fmt.Sprintf("%s:x:%d:%d::/:/bin/sh", name, uid, gid))
	}
	want := fmt.Sprintf("%s:x:%d:%d:", name, uid, gid)
	if got := mustRun(t, "getent", "passwd", id); !strings.HasPrefix(got, want) {
		t.Fatalf("getent passwd %d = %q, want it to start %q", uid, got, want)
	}
	return aimxtest.User{Name: name, UID: uid, GID: gid}
}

// appendLine adds line to the account file p, and takes it out again
// when the test ends.
func appendLine(t *testing.T, p, line string) {
	t.Helper()
	text, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(text, line+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		now, _ := os.ReadFile(p)
		os.WriteFile(p, []byte(strings.Replace(string(now), line+"\n", "", 1)), 0o644)
	})
}

// addNSSUser makes name an account only NSS knows (a userdb record, as
// testNSSUser does). nss-systemd checks the names of its records itself;
// a shape it will not serve cannot be an NSS-only account at all, which
// is logged, and ok is false.
func addNSSUser(t *testing.T, name string, uid uint32) (u aimxtest.User, ok bool) {
	t.Helper()
	record := fmt.Sprintf(`{"userName":%q,"uid":%d,"gid":%d,"disposition":"regular","homeDirectory":"/","shell":"/bin/sh"}`+"\n", name, uid, uid)
	rec := filepath.Join("/etc/userdb", name+".user")
	byUID := filepath.Join("/etc/userdb", fmt.Sprintf("%d.user", uid))
	if err := os.MkdirAll("/etc/userdb", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Base(rec), byUID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(byUID); os.Remove(rec) })
	r := run(t, "", "", "getent", "passwd", fmt.Sprint(uid))
	if want := fmt.Sprintf("%s:x:%d:%d:", name, uid, uid); !strings.HasPrefix(r.stdout, want) {
		t.Logf("nss-systemd does not serve a userdb record named %q (getent passwd %d: %s): no NSS-only account of this shape", name, uid, r)
		return aimxtest.User{}, false
	}
	return aimxtest.User{Name: name, UID: uid, GID: uid}, true
}

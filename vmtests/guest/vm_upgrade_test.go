//go:build vmtest

package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// Upgrades as an admin meets them (promise 7): every released version and
// the previous build are upgraded to this one while users loop the CLI, and
// not one request may fail.

// upgradeLoopers is how many clients loop `aimx-mailboxes list` at once
// during an upgrade: two keep a request in flight at almost every instant.
const upgradeLoopers = 2

// TestUpgradeRelease upgrades the released 0.1.0 (AIMX_VMTEST_REL, built
// from its commit by make vmtest; its unit ran the helper as root and it
// made no account) to this build (AIMX_VMTEST_V2) under load, then purges.
// It starts from a host that only ever had 0.1.0: no package, no account.
// In a full run it comes after TestVM (its file sorts after vm_test.go),
// which leaves the package purged.
func TestUpgradeRelease(t *testing.T) {
	rel, relName, v2 := os.Getenv("AIMX_VMTEST_REL"), os.Getenv("AIMX_VMTEST_RELDEB"), os.Getenv("AIMX_VMTEST_V2")
	if rel == "" || relName == "" || v2 == "" {
		t.Fatal("AIMX_VMTEST_REL, AIMX_VMTEST_RELDEB and AIMX_VMTEST_V2 must name the released package and this build")
	}
	relDeb := filepath.Join(debDir, relName)
	if !fileExists(relDeb) {
		t.Fatalf("no package %s in the guest", relDeb)
	}
	if fileExists("/var/lib/dpkg/info/aimx-mailboxd.list") {
		purge(t)
	}
	if run(t, "", "", "getent", "passwd", "aimx-mailboxd").code == 0 {
		mustRun(t, "userdel", "aimx-mailboxd")
	}
	if run(t, "", "", "getent", "group", "aimx-mailboxd").code == 0 {
		mustRun(t, "groupdel", "aimx-mailboxd")
	}
	const user = "carol"
	if run(t, "", "", "id", user).code != 0 {
		mustRun(t, "useradd", "--user-group", "--no-create-home", "--shell", "/bin/sh", user)
	}
	if !fileExists(configPath) {
		mustRun(t, "mkdir", "-p", filepath.Dir(configPath))
		if err := os.WriteFile(configPath, []byte("# written by the VM lane\ndomain = \"example.test\"\n"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if r := run(t, "", "", "dpkg", "-i", relDeb); r.code != 0 {
		t.Fatalf("dpkg -i %s: %s", relDeb, r)
	}
	if r := cliAs(t, user, "list", "--json"); r.code != 0 {
		t.Fatalf("the %s helper answers %s before the upgrade: %s", rel, user, r)
	}
	upgradeUnderLoad(t, rel, user, deb(t, v2), v2)

	// A create and a delete make the helper's lock and index, which the
	// purge must take away.
	for _, args := range [][]string{{"create", "u-carol"}, {"delete", "u-carol", "--yes"}} {
		if r := cliAs(t, user, args...); r.code != 0 {
			t.Errorf("%s %v after the upgrade: %s", user, args, r)
		}
	}
	helperFilesExist(t)
	purge(t)
	noLeftovers(t)
}

// testUpgrade is TestVM's step: N to N+1, two builds of this source.
func testUpgrade(t *testing.T, v2 string) {
	upgradeUnderLoad(t, os.Getenv("AIMX_VMTEST_V1"), "bob", deb(t, v2), v2)
}

// loopRequest is one `aimx-mailboxes list` of a looping client.
type loopRequest struct {
	start, end time.Time
	fail       string // what went wrong; "" when it was answered
}

// upgradeUnderLoad runs dpkg -i debPath (version v2 over from) while
// upgradeLoopers clients loop `aimx-mailboxes list --json` as user, each
// request timed. It proves the clients ran during the upgrade (some
// request started after dpkg began unpacking and before the package was
// configured, as dpkg --status-fd reports it) and that none failed; then
// that v2's helper answers, the socket listens and no helper is left.
func upgradeUnderLoad(t *testing.T, from, user, debPath, v2 string) {
	u := as(t, user)
	var (
		mu   sync.Mutex
		reqs []loopRequest
		wg   sync.WaitGroup
	)
	stop := make(chan struct{})
	for i := 0; i < upgradeLoopers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				cmd := exec.Command(cli, "list", "--json")
				cmd.Env = userEnv(user)
				cmd.SysProcAttr = u.Credential()
				req := loopRequest{start: time.Now()}
				r, err := aimxtest.Run(cmd, "")
				req.end = time.Now()
				switch {
				case err != nil:
					req.fail = err.Error()
				case r.Code != 0:
					req.fail = r.String()
				}
				mu.Lock()
				reqs = append(reqs, req)
				mu.Unlock()
			}
		}()
	}
	stopped := false
	stopLoop := func() {
		if !stopped {
			close(stop)
			wg.Wait()
			stopped = true
		}
	}
	defer stopLoop()
	// answeredSince waits until the clients have had upgradeLoopers requests
	// answered that started at or after at.
	answeredSince := func(what string, at time.Time) {
		t.Helper()
		waitFor(t, "requests answered "+what, 4, func() (bool, string) {
			mu.Lock()
			defer mu.Unlock()
			n, fails := 0, 0
			for _, r := range reqs {
				if !r.start.Before(at) {
					if r.fail == "" {
						n++
					} else {
						fails++
					}
				}
			}
			return n >= upgradeLoopers, fmt.Sprintf("%d answered, %d failed", n, fails)
		})
	}
	answeredSince("before the upgrade", time.Time{})

	// dpkg -i, its progress read from --status-fd as it happens.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	dpkg := exec.Command("dpkg", "--status-fd", "3", "-i", debPath)
	dpkg.Env = userEnv("")
	dpkg.ExtraFiles = []*os.File{pw}
	var out strings.Builder
	dpkg.Stdout, dpkg.Stderr = &out, &out
	type mark struct {
		at   time.Time
		line string
	}
	var marks []mark
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			marks = append(marks, mark{time.Now(), sc.Text()})
		}
	}()
	begin := time.Now()
	if err := dpkg.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	dpkgErr := dpkg.Wait()
	end := time.Now()
	pr.Close()
	<-read
	answeredSince("after the upgrade", end)
	stopLoop()

	if dpkgErr != nil {
		t.Fatalf("promise 7 (upgrade installs): dpkg -i %s: %v\n%s", debPath, dpkgErr, out.String())
	}
	// The stages, as dpkg reports them: the package is half-installed
	// from the new preinst through the unpack, unpacked once every file
	// is in place, installed once the postinst is done.
	var unpacking, unpacked, installed time.Time
	var progress []string
	for _, m := range marks {
		progress = append(progress, fmt.Sprintf("+%v %s", m.at.Sub(begin).Round(time.Millisecond), m.line))
		if !strings.HasPrefix(m.line, "status: aimx-mailboxd") {
			continue
		}
		// (dpkg also reports the old version's states first: half-configured
		// and unpacked before its prerm runs.)
		switch {
		case strings.HasSuffix(m.line, ": half-installed") && unpacking.IsZero():
			unpacking = m.at
		case strings.HasSuffix(m.line, ": unpacked") && !unpacking.IsZero() && unpacked.IsZero():
			unpacked = m.at
		case strings.HasSuffix(m.line, ": installed") && !unpacked.IsZero():
			installed = m.at
		}
	}
	t.Logf("dpkg -i %s over %s took %v; dpkg --status-fd:\n%s", v2, from, end.Sub(begin).Round(time.Millisecond), strings.Join(progress, "\n"))
	if unpacking.IsZero() || unpacked.IsZero() || installed.IsZero() {
		t.Fatalf("promise 7 (the upgrade's stages are seen): dpkg --status-fd gave no half-installed, unpacked or installed status for aimx-mailboxd")
	}

	var fails []string
	total, during, unpack, configure := 0, 0, 0, 0
	for _, r := range reqs {
		total++
		if r.fail != "" {
			fails = append(fails, fmt.Sprintf("+%v (%v): %s", r.start.Sub(begin).Round(time.Millisecond), r.end.Sub(r.start).Round(time.Millisecond), r.fail))
		}
		switch {
		case r.start.Before(unpacking) || r.start.After(installed):
		case r.start.Before(unpacked):
			during++
			unpack++
		default:
			during++
			configure++
		}
	}
	t.Logf("%d requests by %d clients as %s: %d started during the upgrade (%d while dpkg unpacked, %d between unpack and configured), %d failed",
		total, upgradeLoopers, user, during, unpack, configure, len(fails))
	if during == 0 {
		t.Errorf("promise 7 (requests ran during the upgrade): none of %d started between half-installed (+%v) and installed (+%v)",
			total, unpacking.Sub(begin).Round(time.Millisecond), installed.Sub(begin).Round(time.Millisecond))
	}
	if len(fails) > 0 {
		if len(fails) > 5 {
			fails = fails[:5]
		}
		t.Errorf("promise 7 (no request fails during an upgrade from %s): %d of %d failed, the first:\n%s", from, len(fails), total, strings.Join(fails, "\n"))
	}
	// Nothing the journal holds for a helper instance went wrong either
	// (the "Failed at step USER spawning").
	for _, e := range journalSince(t, begin, "-p", "err") {
		if strings.HasPrefix(field(e.rec, "UNIT"), "aimx-mailboxd") || strings.HasPrefix(e.unit, "aimx-mailboxd") {
			t.Errorf("promise 7 (no helper fails to start during an upgrade from %s): %s: %s", from, field(e.rec, "UNIT"), e.msg)
		}
	}

	var info struct {
		Tag string `json:"tag"`
	}
	resp := raw(t, user, "AIMX/1 VERSION\n\n")
	if err := json.Unmarshal([]byte(body(t, resp)), &info); err != nil {
		t.Fatalf("VERSION body: %v", err)
	}
	if info.Tag != "v"+v2 {
		t.Errorf("promise 7 (the new binary answers after the upgrade): server tag %q, want %q", info.Tag, "v"+v2)
	}
	if got := strings.TrimSpace(run(t, "", "", "systemctl", "is-active", socketUnit).stdout); got != "active" {
		t.Errorf("promise 7 (socket active after upgrade): %q", got)
	}
	noInstances(t, "the upgrade")
}

// The helper's own files: the lock, index and folders cache beside the
// config.
var helperFiles = []string{"/etc/aimx/.config.toml.lock", "/etc/aimx/.config.toml.index", "/etc/aimx/.config.toml.folders"}

// helperFilesExist checks that requests made the helper's files, so that
// noLeftovers after a purge has something to find. A LIST writes the
// folders cache once inbox/ has not changed for a moment (docs/BEHAVIOR.md,
// "Files"): root LISTs until it is there, each LIST a moment later.
func helperFilesExist(t *testing.T) {
	t.Helper()
	for i := 0; i < 100 && !fileExists(helperFiles[2]); i++ {
		if got := raw(t, "root", "AIMX/1 MAILBOX-LIST\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
			t.Fatalf("root's LIST before the purge: %q", got)
		}
	}
	for _, p := range append(helperFiles, socketPath) {
		if !fileExists(p) {
			t.Errorf("before dpkg -r: %s does not exist; the purge check below would prove nothing", p)
		}
	}
}

// noLeftovers checks, after dpkg -P, that nothing the package's units or
// the helper made is left (promise 7): lock, index, temporary files, the
// socket file, the reload's runtime folder, empty trash folders.
func noLeftovers(t *testing.T) {
	t.Helper()
	left := append([]string{socketPath, "/run/aimx-mailboxd-reload"}, helperFiles...)
	tmps, _ := filepath.Glob("/etc/aimx/.config.toml.tmp-*")
	left = append(left, tmps...)
	for _, kind := range []string{"inbox", "sent"} {
		trash := filepath.Join(dataDir, kind, ".trash")
		if ents, err := os.ReadDir(trash); err == nil && len(ents) == 0 {
			left = append(left, trash)
		}
	}
	for _, p := range left {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("promise 7 (dpkg -P removes what the package and the helper made): %s remains", p)
		}
	}
	ents, _ := os.ReadDir("/etc/aimx")
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	t.Logf("after dpkg -P, /etc/aimx holds %q", names)
}

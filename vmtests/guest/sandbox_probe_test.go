//go:build vmtest

package guest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
)

const (
	// probePath is vmtests/probe, shipped in the payload beside guest.test.
	probePath = "/usr/lib/aimx-vmtest/probe"
	// probeDropIn replaces the instance unit's ExecStart= with the probe
	// and changes nothing else: the probe gets the real unit's sandbox.
	probeDropIn = "/run/systemd/system/aimx-mailboxd@.service.d/zz-vmtest-probe.conf"
	// helperUser is the account the unit runs as (packaging/sysusers.conf).
	helperUser = "aimx-mailboxd"
)

// Escapes the probe must fail at, with what each would have meant.
var probeEscapes = map[string]string{
	"pid1-private-start":               "started a unit through PID 1's private socket",
	"dbus-start":                       "started a unit through D-Bus StartTransientUnit",
	"systemd-run":                      "started a unit with systemd-run",
	"create:/root":                     "wrote in /root",
	"create:/home":                     "wrote in /home",
	"create:/usr":                      "wrote in /usr",
	"create:/usr/local/bin":            "wrote in /usr/local/bin",
	"create:/etc":                      "wrote in /etc outside /etc/aimx",
	"create:/etc/systemd/system":       "wrote a unit file",
	"create:/var/lib":                  "wrote in /var/lib outside /var/lib/aimx",
	"create:/var/spool":                "wrote in /var/spool",
	"create:/run":                      "wrote in /run",
	"create:/run/systemd":              "wrote in /run/systemd",
	"create:/dev/shm":                  "wrote in the host's /dev/shm",
	"create:/dev/mqueue":               "wrote in the host's /dev/mqueue",
	"create:/srv":                      "wrote in /srv",
	"create:/opt":                      "wrote in /opt",
	"open-write:/etc/passwd":           "opened /etc/passwd for writing",
	"open-write:/usr/bin/passwd":       "opened a set-uid binary for writing",
	"open-write:/run/initctl":          "opened PID 1's runlevel FIFO for writing",
	"open-write:/dev/initctl":          "opened PID 1's runlevel FIFO for writing",
	"chown:/usr/lib/aimx-vmtest/probe": "chowned a file under /usr",
	"setuid-0":                         "became uid 0",
	"signal-pid1":                      "may signal PID 1 (SIGRTMIN+5 reboots)",
	"unshare-user":                     "made a user namespace",
}

// What the helper needs from inside the sandbox.
var probeNeeds = map[string]string{
	"create:/etc/aimx":                          "write in /etc/aimx (config, lock, temporary file)",
	"create:/var/lib/aimx":                      "write in the data dir",
	"connect:/run/systemd/journal/socket":       "reach journald",
	"connect:/run/nscd/socket":                  "reach nscd (NSS)",
	"connect:/run/nslcd/socket":                 "reach nslcd (NSS, LDAP)",
	"connect:/run/systemd/userdb/io.aimx.probe": "reach systemd-userdb services (NSS)",
	"connect:/var/lib/sss/pipes/nss":            "reach sssd (NSS)",
	"read:/etc/passwd":                          "read /etc/passwd (NSS files)",
}

// Files the probe must not read; the step plants the ones that are not
// there on a stock guest.
var probeSecrets = []string{
	"/etc/shadow", "/etc/gshadow",
	"/etc/aimx-probe-secret", "/etc/ssl/private/aimx-probe.key",
	"/var/lib/aimx-probe/secret", "/run/aimx-probe/secret",
	"/root/aimx-probe-secret", "/proc/1/environ",
}

// Promise 14: code running as the helper, under the real
// aimx-mailboxd@.service, cannot get out. The probe (vmtests/probe)
// replaces ExecStart= for one connection and tries, reporting each
// attempt on the connection; every escape must fail, every need must
// work, and nothing may show up outside afterwards.
func testSandboxProbe(t *testing.T) {
	if !fileExists(probePath) {
		t.Fatalf("promise 14 (sandbox probe): no probe at %s in the payload", probePath)
	}
	// Without the account the probe still runs (as whatever the unit
	// says), so that its report shows what that account could do.
	var helper *account
	if _, err := user.Lookup(helperUser); err != nil {
		t.Errorf("promise 14 (the package creates the system account %s): %v", helperUser, err)
	} else {
		a := lookup(t, helperUser)
		helper = &a
	}
	for _, p := range probeSecrets {
		plantSecret(t, p)
	}
	for _, p := range []string{"/run/nscd/socket", "/run/nslcd/socket", "/run/systemd/userdb/io.aimx.probe", "/var/lib/sss/pipes/nss"} {
		plantListener(t, p)
	}
	unitsBefore := probeUnits(t)
	// Should the probe get out, stop what it started before later steps.
	t.Cleanup(func() { run(t, "", "", "systemctl", "stop", "aimx-probe-*") })

	if err := os.MkdirAll(filepath.Dir(probeDropIn), 0o755); err != nil {
		t.Fatal(err)
	}
	dropIn := "# Written by the VM lane for one step: the sandbox probe instead of the helper.\n[Service]\nExecStart=\nExecStart=" + probePath + "\n"
	if err := os.WriteFile(probeDropIn, []byte(dropIn), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "systemctl", "daemon-reload")
	restored := false
	restore := func() {
		if restored {
			return
		}
		restored = true
		os.Remove(probeDropIn)
		os.Remove(filepath.Dir(probeDropIn))
		mustRun(t, "systemctl", "daemon-reload")
	}
	defer restore()

	out := raw(t, "alice", "")
	restore()
	t.Logf("the probe's report:\n%s", out)
	report := map[string]probeResult{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) < 2 {
			continue
		}
		d := ""
		if len(f) == 3 {
			d = f[2]
		}
		report[f[0]] = probeResult{f[1] == "ok", d}
	}
	if _, ok := report["end"]; !ok {
		t.Fatalf("promise 14 (the probe runs under the unit and reports): no end line in %q", out)
	}

	// Who it ran as.
	id := report["identity"].detail
	want := []string{
		"CapEff=000000000000000b ", "CapPrm=000000000000000b ", "CapAmb=000000000000000b ", "CapBnd=000000000000000b ",
		"NoNewPrivs=1 ", "Seccomp=2 ", "aimx-mailboxd@",
	}
	for _, w := range want {
		if !strings.Contains(id, w) {
			t.Errorf("promise 14 (the helper runs as %s with only CAP_CHOWN, CAP_DAC_OVERRIDE and CAP_FOWNER, under the unit): identity %q lacks %q", helperUser, id, w)
		}
	}
	switch {
	case helper == nil:
		t.Errorf("promise 14 (the helper runs as %s): identity %q", helperUser, id)
	case !strings.Contains(id, fmt.Sprintf("uid=%d gid=%d euid=%d ", helper.uid, helper.gid, helper.uid)):
		t.Errorf("promise 14 (the helper runs as %s, uid %d gid %d): identity %q", helperUser, helper.uid, helper.gid, id)
	// Supplementary groups: none, or just its own group.
	case !strings.Contains(id, " groups=[] ") && !strings.Contains(id, fmt.Sprintf(" groups=[%d] ", helper.gid)):
		t.Errorf("promise 14 (the helper has no supplementary groups): identity %q", id)
	}

	for name, meaning := range probeEscapes {
		r, found := report[name]
		switch {
		case !found:
			t.Errorf("promise 14 (sandbox probe): no report for %s", name)
		case r.ok:
			t.Errorf("promise 14 (a compromised helper cannot escape): the probe %s (%s: %s)", meaning, name, r.detail)
		}
	}
	for name, meaning := range probeNeeds {
		if r, found := report[name]; !found || !r.ok {
			t.Errorf("promise 14 (the sandbox leaves the helper what it needs): cannot %s (%s: %s)", meaning, name, r.detail)
		}
	}
	for _, p := range append(probeSecrets, "/etc/passwd") {
		r := report["read:"+p]
		host := hostSum(t, p)
		got := r.ok && strings.Contains(r.detail, "sha256="+host) && !strings.HasPrefix(r.detail, "len=0 ")
		switch {
		case p == "/etc/passwd" && !got:
			t.Errorf("promise 14 (the helper reads /etc/passwd as the host has it): %s", r.detail)
		case p != "/etc/passwd" && got:
			t.Errorf("promise 14 (a compromised helper cannot read secrets): the probe read %s (%s)", p, r.detail)
		}
	}

	// Nothing it tried left a trace: no transient unit, no file.
	if after := probeUnits(t); len(after) > len(unitsBefore) {
		t.Errorf("promise 14 (no unit started from the sandbox): now %v, before %v", after, unitsBefore)
	}
	for _, dir := range []string{"/root", "/home", "/usr", "/usr/local/bin", "/etc", "/etc/systemd/system",
		"/var/lib", "/var/spool", "/run", "/run/systemd", "/dev/shm", "/dev/mqueue", "/srv", "/opt", "/tmp", "/var/tmp",
		"/etc/aimx", "/var/lib/aimx"} {
		traces, _ := filepath.Glob(filepath.Join(dir, "aimx-probe-*"))
		for _, p := range traces {
			if strings.HasSuffix(p, "-secret") {
				continue
			}
			t.Errorf("promise 14 (nothing written outside the sandbox's own folders): %s exists", p)
			os.RemoveAll(p)
		}
	}

	// The real helper is back for the steps after this one.
	if got := raw(t, "alice", "AIMX/1 VERSION\n\n"); !strings.HasPrefix(got, "AIMX/1 OK\n") {
		t.Errorf("promise 14 (the real helper answers once the probe drop-in is gone): VERSION got %q", got)
	}
	noInstances(t, "the sandbox probe")
}

// probeResult is one line of the probe's report.
type probeResult struct {
	ok     bool
	detail string
}

// plantSecret makes p a root-only file with unguessable content unless
// it exists, and removes it (and the folders it made) after the step.
func plantSecret(t *testing.T, p string) {
	t.Helper()
	if fileExists(p) {
		return
	}
	made := mkdirs(t, filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(fmt.Sprintf("aimx probe secret %d %s\n", os.Getpid(), t.Name())), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Remove(p)
		removeDirs(made)
	})
}

// plantListener listens on a UNIX socket at p, mode 0666 like the NSS
// daemons' sockets, unless something is there already.
func plantListener(t *testing.T, p string) {
	t.Helper()
	if fileExists(p) {
		return
	}
	made := mkdirs(t, filepath.Dir(p), 0o755)
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o666)
	t.Cleanup(func() {
		l.Close()
		os.Remove(p)
		removeDirs(made)
	})
}

// mkdirs creates dir and any missing parents, returning those it made,
// deepest first.
func mkdirs(t *testing.T, dir string, mode os.FileMode) []string {
	t.Helper()
	var made []string
	for d := dir; !fileExists(d); d = filepath.Dir(d) {
		made = append(made, d)
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	return made
}

func removeDirs(dirs []string) {
	for _, d := range dirs {
		os.Remove(d)
	}
}

func hostSum(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("read %s on the host: %v", p, err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// probeUnits lists units named aimx-probe*, in any state.
func probeUnits(t *testing.T) []string {
	t.Helper()
	out := mustRun(t, "systemctl", "list-units", "--all", "--no-legend", "--plain", "--no-pager", "aimx-probe*")
	var units []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			units = append(units, line)
		}
	}
	return units
}

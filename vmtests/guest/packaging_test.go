//go:build vmtest

package guest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The package as a sysadmin meets it, under real systemd (issue 12):
// runs after "remove", so it starts from a purged package and leaves one.
const (
	socketUnit   = "aimx-mailboxd.socket"
	adminPreset  = "/etc/systemd/system-preset/80-aimx-vmtest.preset"
	socketMask   = "/etc/systemd/system/" + socketUnit
	socketWanted = "/etc/systemd/system/sockets.target.wants/" + socketUnit
)

// completionPaths are where each shell looks for a package's completions.
var completionPaths = []string{
	"/usr/share/bash-completion/completions/aimx-mailboxes",
	"/usr/share/zsh/vendor-completions/_aimx-mailboxes",
	"/usr/share/fish/vendor_completions.d/aimx-mailboxes.fish",
}

// Promise 17: presets decide enablement on a first install; dpkg -r masks
// nothing; completions are where shells look; --version prints the
// package's version offline; doctor is green on a good install and names
// each broken piece.
func testPackaging(t *testing.T, version string) {
	t.Cleanup(func() { os.Remove(adminPreset) })
	if fileExists("/var/lib/dpkg/info/aimx-mailboxd.list") {
		t.Fatal("the package is still installed: this step runs after remove")
	}

	// An admin preset that disables the socket wins over Debian's default.
	if err := os.MkdirAll(filepath.Dir(adminPreset), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(adminPreset, []byte("disable "+socketUnit+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	install(t, version)
	if got := unitState(t, "is-enabled"); got == "enabled" {
		t.Errorf("promise 17 (an admin preset 'disable %s' keeps a first install from enabling it): is-enabled %q", socketUnit, got)
	}
	if got := unitState(t, "is-active"); got == "active" {
		t.Errorf("promise 17 (a socket the preset disabled is not started at install): is-active %q", got)
	}
	doctorFails(t, "preset-disabled socket", "socket-unit", socketUnit+" is disabled and inactive: nobody can create or delete mailboxes (a preset may have disabled it at install)")
	purge(t)
	if err := os.Remove(adminPreset); err != nil {
		t.Fatal(err)
	}

	// Without it, Debian's default preset (enable *) enables and starts it.
	install(t, version)
	if got := unitState(t, "is-enabled"); got != "enabled" {
		t.Errorf("promise 17 (first install enables the socket under Debian's default preset): is-enabled %q", got)
	}
	if got := unitState(t, "is-active"); got != "active" {
		t.Errorf("promise 17 (first install starts the socket): is-active %q", got)
	}
	for _, p := range completionPaths {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o644 {
			t.Errorf("promise 17 (shell completions installed): %s: %v", p, err)
		}
	}
	if r := cliAs(t, "bob", "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "aimx-mailboxes v"+version+" ") {
		t.Errorf("promise 17 (--version prints the package version v%s): %s", version, r)
	}

	if r := run(t, "", "", cli, "doctor"); r.code != 0 {
		t.Errorf("promise 17 (doctor exits 0 on a good install): %s", r)
	}
	t.Run("socket-disabled", func(t *testing.T) {
		mustRun(t, "systemctl", "disable", "--now", socketUnit)
		defer mustRun(t, "systemctl", "enable", "--now", socketUnit)
		doctorFails(t, "socket disabled and stopped", "socket-unit", socketUnit+" is disabled and inactive: nobody can create or delete mailboxes (a preset may have disabled it at install)")
	})
	t.Run("socket-stopped", func(t *testing.T) {
		mustRun(t, "systemctl", "stop", socketUnit)
		defer mustRun(t, "systemctl", "start", socketUnit)
		doctorFails(t, "socket stopped", "socket-unit", socketUnit+" is not listening (unit file state enabled, active state inactive): nobody can create or delete mailboxes")
	})
	t.Run("config-missing", func(t *testing.T) {
		mustRun(t, "mv", configPath, configPath+".vmtest-aside")
		defer mustRun(t, "mv", configPath+".vmtest-aside", configPath)
		doctorFails(t, "config missing", "config", configPath+" does not exist: every request but VERSION fails")
	})
	t.Run("socket-path-removed", func(t *testing.T) {
		mustRun(t, "rm", socketPath)
		defer mustRun(t, "systemctl", "restart", socketUnit)
		doctorFails(t, "socket path removed", "socket-path", socketPath+" does not exist although "+socketUnit+" is listening: something removed it (the AIMX daemon's stop can remove /run/aimx)")
	})
	if r := run(t, "", "", cli, "doctor"); r.code != 0 {
		t.Errorf("promise 17 (doctor exits 0 again once each break is undone): %s", r)
	}

	// dpkg -r stops the socket but masks nothing (debhelper >= 13.10).
	if r := run(t, "", "", "dpkg", "-r", "aimx-mailboxd"); r.code != 0 {
		t.Fatalf("dpkg -r: %s", r)
	}
	if target, err := os.Readlink(socketMask); err == nil {
		t.Errorf("promise 17 (dpkg -r masks nothing): %s -> %s", socketMask, target)
	}
	if got := unitState(t, "is-enabled"); got == "masked" {
		t.Errorf("promise 17 (dpkg -r masks nothing): is-enabled %q", got)
	}
	purge(t)
	if fileExists(socketWanted) || fileExists(socketMask) {
		t.Errorf("promise 17 (dpkg -P forgets the socket's state): %s or %s remains", socketWanted, socketMask)
	}
}

func install(t *testing.T, version string) {
	t.Helper()
	if r := run(t, "", "", "dpkg", "-i", deb(t, version)); r.code != 0 {
		t.Fatalf("dpkg -i %s: %s", version, r)
	}
}

func purge(t *testing.T) {
	t.Helper()
	if r := run(t, "", "", "dpkg", "-P", "aimx-mailboxd"); r.code != 0 {
		t.Fatalf("dpkg -P: %s", r)
	}
	mustRun(t, "systemctl", "daemon-reload")
}

// unitState is systemctl VERB aimx-mailboxd.socket's one word.
func unitState(t *testing.T, verb string) string {
	t.Helper()
	return strings.TrimSpace(run(t, "", "", "systemctl", verb, socketUnit).stdout)
}

// doctorFails checks that `aimx-mailboxes doctor` (as root) exits 1 and
// prints check name's FAIL line with exactly msg.
func doctorFails(t *testing.T, what, name, msg string) {
	t.Helper()
	r := run(t, "", "", cli, "doctor")
	if r.code != 1 {
		t.Errorf("promise 17 (doctor exits 1 when %s): %s", what, r)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == "FAIL" && f[1] == name {
			if got := strings.Join(f[2:], " "); got != msg {
				t.Errorf("promise 17 (doctor names what is wrong when %s): %s line %q, want %q", what, name, got, msg)
			}
			return
		}
	}
	t.Errorf("promise 17 (doctor names what is wrong when %s): no FAIL %s line in %s", what, name, r)
}

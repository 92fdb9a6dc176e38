package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/version"
)

// fakeSystemctl answers doctor's two systemctl questions: the system's
// state (err for is-system-running when set), and one unit's properties
// from units (not-found when absent; showErr instead when set).
type fakeSystemctl struct {
	state      string
	stateErr   error
	units      map[string]string
	showErr    error
	questions  []string
	notPresent bool // systemctl is not installed
}

func (f *fakeSystemctl) run(args ...string) (string, error) {
	f.questions = append(f.questions, strings.Join(args, " "))
	if f.notPresent {
		return "", fmt.Errorf("exec: \"systemctl\": %w", exec.ErrNotFound)
	}
	switch args[0] {
	case "is-system-running":
		return f.state, f.stateErr
	case "show":
		if f.showErr != nil {
			return "", f.showErr
		}
		if u, ok := f.units[args[len(args)-1]]; ok {
			return u, nil
		}
		return "LoadState=not-found\nActiveState=inactive\nUnitFileState=\n", nil
	}
	return "", errors.New("unexpected systemctl " + strings.Join(args, " "))
}

const (
	unitGood     = "LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
	unitDisabled = "LoadState=loaded\nActiveState=inactive\nUnitFileState=disabled\n"
	unitFailed   = "LoadState=loaded\nActiveState=failed\nUnitFileState=enabled\n"
)

// doctorFixture is a good install in a temporary tree, owned by the
// test's own user (who stands in for root), with the real server behind
// the socket and a running systemd that knows every unit.
type doctorFixture struct {
	*helper
	fake *fakeSystemctl
	d    *doctor
}

func newDoctorFixture(t *testing.T) *doctorFixture {
	t.Helper()
	h := startHelper(t, baseConfig)
	for _, d := range []string{mailbox.Inbox, mailbox.Sent} {
		if err := os.Chmod(filepath.Join(h.data, d), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	fake := &fakeSystemctl{state: "running\n", units: map[string]string{
		socketUnit: unitGood, aimxUnit: unitGood, reloadUnit: unitGood,
	}}
	return &doctorFixture{helper: h, fake: fake, d: &doctor{
		socket:    h.sock,
		store:     mailbox.FromEnv(h.config, h.data),
		euid:      0, // root's doctor: the fixes are commands (TestDoctorUserFixes: anyone else's)
		ownerUID:  uint32(os.Geteuid()),
		ownerGID:  uint32(os.Getegid()),
		systemctl: fake.run,
		timeout:   10 * time.Second,
	}}
}

// find returns the check named name, and whether there is one.
func find(r Report, name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func TestDoctorGood(t *testing.T) {
	f := newDoctorFixture(t)
	r := f.d.run()
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
		if c.Status != statusOK || c.Fix != "" {
			t.Errorf("%s: %+v, want ok without a fix", c.Name, c)
		}
	}
	want := []string{"socket-unit", "socket-path", "helper", "config", "domain", "policy", "data-dir", "inbox", "sent", "aimx", "reload-unit"}
	if !slices.Equal(names, want) || !r.OK {
		t.Errorf("checks %v (ok %v), want %v, ok", names, r.OK, want)
	}
	// One question about the system, one about each unit.
	if q := strings.Join(f.fake.questions, "; "); q != "is-system-running; "+
		"show --property=LoadState,ActiveState,UnitFileState aimx-mailboxd.socket; "+
		"show --property=LoadState,ActiveState,UnitFileState aimx.service; "+
		"show --property=LoadState,ActiveState,UnitFileState aimx-mailboxd-reload.path" {
		t.Errorf("asked systemctl: %s", q)
	}
	b, _ := json.Marshal(r)
	if !bytes.HasPrefix(b, []byte(`{"ok":true,"checks":[{"name":"socket-unit","status":"ok","message":"aimx-mailboxd.socket is enabled and listening"},`)) {
		t.Errorf("JSON: %s", b)
	}
}

// TestDoctorBroken breaks one thing at a time and checks the one line
// that says so, its fix, and whether the whole report still passes.
func TestDoctorBroken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, f *doctorFixture)
		check  string // the check that says so; its absence when want is zero
		want   Check
		ok     bool // the report's OK
	}{
		{"systemctl missing", func(t *testing.T, f *doctorFixture) { f.fake.notPresent = true },
			"socket-unit", Check{Status: statusWarn, Message: "cannot check aimx-mailboxd.socket: systemctl is not installed"}, true},
		{"systemd offline", func(t *testing.T, f *doctorFixture) {
			f.fake.state, f.fake.stateErr = "offline\n", errors.New("exit status 1")
		},
			"aimx", Check{Status: statusWarn, Message: "cannot check aimx.service: no running systemd"}, true},
		{"no reload line without systemd", func(t *testing.T, f *doctorFixture) { f.fake.state = "offline\n" },
			"reload-unit", Check{}, true},
		{"systemd unknown", func(t *testing.T, f *doctorFixture) { f.fake.state = "unknown\n" },
			"socket-unit", Check{Status: statusWarn, Message: "cannot check aimx-mailboxd.socket: systemd's state is unknown"}, true},
		{"systemd unreachable", func(t *testing.T, f *doctorFixture) {
			f.fake.state, f.fake.stateErr = "", &exec.ExitError{Stderr: []byte("Failed to connect to bus: No such file or directory\nmore\n")}
		}, "socket-unit", Check{Status: statusWarn, Message: "cannot check aimx-mailboxd.socket: systemctl is-system-running: Failed to connect to bus: No such file or directory"}, true},
		{"degraded systemd is asked", func(t *testing.T, f *doctorFixture) { f.fake.state = "degraded\n" },
			"socket-unit", Check{Status: statusOK, Message: "aimx-mailboxd.socket is enabled and listening"}, true},
		{"show fails", func(t *testing.T, f *doctorFixture) { f.fake.showErr = errors.New("exit status 1") },
			"socket-unit", Check{Status: statusWarn, Message: "cannot check aimx-mailboxd.socket: systemctl show aimx-mailboxd.socket: exit status 1",
				Fix: "run it as root: sudo aimx-mailboxes doctor"}, true},
		{"show says nothing", func(t *testing.T, f *doctorFixture) { f.fake.units[aimxUnit] = "Id=aimx.service\n" },
			"aimx", Check{Status: statusWarn, Message: "cannot check aimx.service: systemctl show aimx.service: no LoadState in its answer"}, true},
		{"socket unit not installed", func(t *testing.T, f *doctorFixture) { delete(f.fake.units, socketUnit) },
			"socket-unit", Check{Status: statusFail, Message: "aimx-mailboxd.socket is not installed", Fix: "install the aimx-mailboxd package"}, false},
		{"socket unit masked", func(t *testing.T, f *doctorFixture) {
			f.fake.units[socketUnit] = "LoadState=masked\nActiveState=inactive\nUnitFileState=masked\n"
		}, "socket-unit", Check{Status: statusFail, Message: "aimx-mailboxd.socket is masked: nobody can create or delete mailboxes",
			Fix: "sudo systemctl unmask aimx-mailboxd.socket && sudo systemctl enable --now aimx-mailboxd.socket"}, false},
		{"socket unit disabled", func(t *testing.T, f *doctorFixture) { f.fake.units[socketUnit] = unitDisabled },
			"socket-unit", Check{Status: statusFail, Message: "aimx-mailboxd.socket is disabled and inactive: nobody can create or delete mailboxes (a preset may have disabled it at install)",
				Fix: "sudo systemctl enable --now aimx-mailboxd.socket"}, false},
		{"socket unit listening, disabled", func(t *testing.T, f *doctorFixture) {
			f.fake.units[socketUnit] = "LoadState=loaded\nActiveState=active\nUnitFileState=disabled\n"
		}, "socket-unit", Check{Status: statusFail, Message: "aimx-mailboxd.socket is listening but disabled: it will not listen after a reboot",
			Fix: "sudo systemctl enable aimx-mailboxd.socket"}, false},
		{"socket unit enabled, failed", func(t *testing.T, f *doctorFixture) { f.fake.units[socketUnit] = unitFailed },
			"socket-unit", Check{Status: statusFail, Message: "aimx-mailboxd.socket is not listening (unit file state enabled, active state failed): nobody can create or delete mailboxes",
				Fix: "sudo systemctl restart aimx-mailboxd.socket; journalctl -u aimx-mailboxd.socket says why it stopped"}, false},
		{"socket unit in no known state", func(t *testing.T, f *doctorFixture) {
			f.fake.units[socketUnit] = "LoadState=loaded\nActiveState=\nUnitFileState=\n"
		}, "socket-unit", Check{Status: statusFail, Message: "aimx-mailboxd.socket is not listening (unit file state unknown, active state unknown): nobody can create or delete mailboxes",
			Fix: "sudo systemctl restart aimx-mailboxd.socket; journalctl -u aimx-mailboxd.socket says why it stopped"}, false},
		{"socket file gone", func(t *testing.T, f *doctorFixture) { os.Remove(f.sock) },
			"socket-path", Check{Status: statusFail, Message: "SOCK does not exist although aimx-mailboxd.socket is listening: something removed it (the AIMX daemon's stop can remove /run/aimx)",
				Fix: "sudo systemctl restart aimx-mailboxd.socket"}, false},
		{"socket file gone, unit stopped", func(t *testing.T, f *doctorFixture) { os.Remove(f.sock); f.fake.units[socketUnit] = unitFailed },
			"socket-path", Check{Status: statusFail, Message: "SOCK does not exist", Fix: "sudo systemctl restart aimx-mailboxd.socket"}, false},
		{"socket not a socket", func(t *testing.T, f *doctorFixture) { os.Remove(f.sock); os.WriteFile(f.sock, nil, 0o666) },
			"socket-path", Check{Status: statusFail, Message: "SOCK is not a socket but a regular file",
				Fix: "sudo rm SOCK && sudo systemctl restart aimx-mailboxd.socket"}, false},
		{"socket not for everyone", func(t *testing.T, f *doctorFixture) { os.Chmod(f.sock, 0o660) },
			"socket-path", Check{Status: statusFail, Message: "SOCK has mode 0660: ordinary users cannot connect",
				Fix: "sudo systemctl restart aimx-mailboxd.socket (the unit sets SocketMode=0666)"}, false},
		{"helper unreachable", func(t *testing.T, f *doctorFixture) { os.Remove(f.sock) },
			"helper", Check{Status: statusFail, Message: "VERSION through SOCK: cannot connect: no such file or directory",
				Fix: "sudo systemctl restart aimx-mailboxd.socket"}, false},
		{"helper hangs up", func(t *testing.T, f *doctorFixture) { f.answer(t, "") },
			"helper", Check{Status: statusFail, Message: "VERSION through SOCK got no usable answer: the connection closed before a whole answer",
				Fix: "journalctl -t aimx-mailboxd -n 20 says why"}, false},
		{"helper refuses", func(t *testing.T, f *doctorFixture) { f.answer(t, "AIMX/1 ERR IO disk on fire\nCode: IO\n\n") },
			"helper", Check{Status: statusFail, Message: "VERSION through SOCK was refused: [IO] disk on fire",
				Fix: "journalctl -t aimx-mailboxd -n 20 says why"}, false},
		{"helper speaks no JSON", func(t *testing.T, f *doctorFixture) { f.answer(t, "AIMX/1 OK\n") },
			"helper", Check{Status: statusFail, Message: "VERSION through SOCK answered something that is not JSON: unexpected end of JSON input",
				Fix: "journalctl -t aimx-mailboxd -n 20 says why"}, false},
		{"helper of another version", func(t *testing.T, f *doctorFixture) {
			body := `{"tag":"v9.9.9","git_hash":"abc1234","target":"linux/amd64","build_date":"2030-01-01"}`
			f.answer(t, fmt.Sprintf("AIMX/1 OK\nContent-Length: %d\n\n%s", len(body), body))
		}, "helper", Check{Status: statusWarn, Message: "aimx-mailboxd v9.9.9 answered through SOCK, but this client is CLIENT_TAG",
			Fix: "install one package version of both: /usr/libexec/aimx-mailboxd and aimx-mailboxes"}, true},
		{"config missing", func(t *testing.T, f *doctorFixture) { os.Remove(f.config) },
			"config", Check{Status: statusFail, Message: "CONFIG does not exist: every request but VERSION fails",
				Fix: `run sudo aimx setup (AIMX writes it), or create it with at least a line domain = "<your mail domain>"`}, false},
		{"no domain line without a config", func(t *testing.T, f *doctorFixture) { os.Remove(f.config) },
			"domain", Check{}, false},
		{"config a folder", func(t *testing.T, f *doctorFixture) { os.Remove(f.config); os.Mkdir(f.config, 0o755) },
			"config", Check{Status: statusFail, Message: "CONFIG is not a regular file but a directory"}, false},
		{"config writable by all", func(t *testing.T, f *doctorFixture) { os.Chmod(f.config, 0o666) },
			"config", Check{Status: statusFail, Message: "CONFIG has mode 0666: any user can write it and give themselves any mailbox",
				Fix: "sudo chmod o-w CONFIG"}, false},
		{"config broken", func(t *testing.T, f *doctorFixture) { os.WriteFile(f.config, []byte("domain = \n"), 0o640) },
			"config", Check{Status: statusFail, Message: "config CONFIG does not parse: line 1, column 10: expected value but found '\\n' instead",
				Fix: "correct CONFIG there; until then every request but VERSION fails"}, false},
		{"no domain", func(t *testing.T, f *doctorFixture) { os.WriteFile(f.config, []byte("# nothing\n"), 0o640) },
			"domain", Check{Status: statusFail, Message: "CONFIG sets no domain: every create fails",
				Fix: `add a line domain = "<your mail domain>" to CONFIG`}, false},
		{"policy unknown key", func(t *testing.T, f *doctorFixture) { f.write(t, "mailboxd.toml", "max_mailboxes = 3\n") },
			"policy", Check{Status: statusFail, Message: "policy file POLICY, line 1, key max_mailboxes: unknown key; the keys are reserved_names, max_mailboxes_per_user and lock_timeout_seconds",
				Fix: "correct it, or remove it to use the defaults; until then every request but VERSION fails"}, false},
		{"policy set", func(t *testing.T, f *doctorFixture) {
			f.write(t, "mailboxd.toml", "reserved_names = [\"abuse\"]\nmax_mailboxes_per_user = 5\nlock_timeout_seconds = 2\n")
		}, "policy", Check{Status: statusOK, Message: "POLICY parses: 1 reserved name, at most 5 mailboxes per user, lock wait 2s"}, true},
		{"policy without limit", func(t *testing.T, f *doctorFixture) { f.write(t, "mailboxd.toml", "max_mailboxes_per_user = 0\n") },
			"policy", Check{Status: statusOK, Message: "POLICY parses: 20 reserved names, no per-user limit, lock wait 10s"}, true},
		{"policy elsewhere", func(t *testing.T, f *doctorFixture) { f.d.policyPath = filepath.Join(f.data, "p.toml") },
			"policy", Check{Status: statusOK, Message: "DATA/p.toml is not there: the defaults apply"}, true},
		{"data dir missing", func(t *testing.T, f *doctorFixture) { f.d.store.DataDir = filepath.Join(f.data, "none") },
			"data-dir", Check{Status: statusFail, Message: "DATA/none does not exist", Fix: "sudo install -d -o ME -g GROUP -m 0755 DATA/none"}, false},
		{"no inbox line without a data dir", func(t *testing.T, f *doctorFixture) { f.d.store.DataDir = filepath.Join(f.data, "none") },
			"inbox", Check{}, false},
		{"data dir a file", func(t *testing.T, f *doctorFixture) { f.d.store.DataDir = f.config },
			"data-dir", Check{Status: statusFail, Message: "CONFIG is not a directory but a regular file",
				Fix: "sudo mv CONFIG CONFIG.aside && sudo install -d -o ME -g GROUP -m 0755 CONFIG"}, false},
		{"data dir writable by all", func(t *testing.T, f *doctorFixture) { os.Chmod(f.data, 0o777) },
			"data-dir", Check{Status: statusFail, Message: "DATA has mode 0777: users other than root can replace what is in it",
				Fix: "sudo chown ME:GROUP DATA && sudo chmod 0755 DATA"}, false},
		{"data dir of another owner", func(t *testing.T, f *doctorFixture) { f.d.ownerUID++ },
			"data-dir", Check{Status: statusFail, Message: "DATA is owned by ME:GROUP, not OTHER:GROUP",
				Fix: "sudo chown OTHER:GROUP DATA && sudo chmod 0755 DATA"}, false},
		{"data dir from the config", func(t *testing.T, f *doctorFixture) {
			f.d.store.DataDir = ""
			os.WriteFile(f.config, []byte(baseConfig+"data_dir = \""+f.data+"\"\n"), 0o640)
		}, "data-dir", Check{Status: statusOK, Message: "DATA is ME:GROUP 0755"}, true},
		{"inbox listable", func(t *testing.T, f *doctorFixture) { os.Chmod(filepath.Join(f.data, "inbox"), 0o755) },
			"inbox", Check{Status: statusFail, Message: "DATA/inbox has mode 0755, not 0711: every user can list the mailbox names",
				Fix: "sudo chown ME:GROUP DATA/inbox && sudo chmod 0711 DATA/inbox"}, false},
		{"inbox writable", func(t *testing.T, f *doctorFixture) { os.Chmod(filepath.Join(f.data, "inbox"), 0o733) },
			"inbox", Check{Status: statusFail, Message: "DATA/inbox has mode 0733, not 0711: users other than root can add or remove mailbox folders",
				Fix: "sudo chown ME:GROUP DATA/inbox && sudo chmod 0711 DATA/inbox"}, false},
		{"inbox closed", func(t *testing.T, f *doctorFixture) { os.Chmod(filepath.Join(f.data, "inbox"), 0o700) },
			"inbox", Check{Status: statusFail, Message: "DATA/inbox has mode 0700, not 0711: owners cannot reach their own folders",
				Fix: "sudo chown ME:GROUP DATA/inbox && sudo chmod 0711 DATA/inbox"}, false},
		{"inbox odd", func(t *testing.T, f *doctorFixture) { os.Chmod(filepath.Join(f.data, "inbox"), 0o751) },
			"inbox", Check{Status: statusFail, Message: "DATA/inbox has mode 0751, not 0711: not what the helper creates",
				Fix: "sudo chown ME:GROUP DATA/inbox && sudo chmod 0711 DATA/inbox"}, false},
		{"sent a symlink", func(t *testing.T, f *doctorFixture) {
			os.Remove(filepath.Join(f.data, "sent"))
			os.Symlink("/tmp", filepath.Join(f.data, "sent"))
		}, "sent", Check{Status: statusFail, Message: "DATA/sent is not a directory but a symbolic link",
			Fix: "sudo mv DATA/sent DATA/sent.aside && sudo install -d -o ME -g GROUP -m 0711 DATA/sent"}, false},
		{"sent missing", func(t *testing.T, f *doctorFixture) { os.Remove(filepath.Join(f.data, "sent")) },
			"sent", Check{Status: statusFail, Message: "DATA/sent does not exist", Fix: "sudo install -d -o ME -g GROUP -m 0711 DATA/sent"}, false},
		{"aimx not installed", func(t *testing.T, f *doctorFixture) { delete(f.fake.units, aimxUnit) },
			"aimx", Check{Status: statusWarn, Message: "aimx.service is not installed: mailboxes can be managed, but no mail arrives in them without the AIMX daemon",
				Fix: "install AIMX, then: sudo systemctl enable --now aimx.service"}, true},
		{"aimx stopped", func(t *testing.T, f *doctorFixture) { f.fake.units[aimxUnit] = unitFailed },
			"aimx", Check{Status: statusWarn, Message: "aimx.service is failed: no mail arrives until it runs",
				Fix: "sudo systemctl start aimx.service; journalctl -u aimx.service says why it stopped"}, true},
		{"reload unit not installed", func(t *testing.T, f *doctorFixture) { delete(f.fake.units, reloadUnit) },
			"reload-unit", Check{}, true},
		{"reload unit failed", func(t *testing.T, f *doctorFixture) { f.fake.units[reloadUnit] = unitFailed },
			"reload-unit", Check{Status: statusFail, Message: "aimx-mailboxd-reload.path has failed: the AIMX daemon no longer learns of new mailboxes",
				Fix: "sudo systemctl reset-failed aimx-mailboxd-reload.path && sudo systemctl enable --now aimx-mailboxd-reload.path"}, false},
		{"reload unit disabled", func(t *testing.T, f *doctorFixture) { f.fake.units[reloadUnit] = unitDisabled },
			"reload-unit", Check{Status: statusFail, Message: "aimx-mailboxd-reload.path is disabled and inactive: the AIMX daemon does not learn of new mailboxes until it restarts",
				Fix: "sudo systemctl enable --now aimx-mailboxd-reload.path"}, false},
		{"reload unit unknown", func(t *testing.T, f *doctorFixture) {
			f.fake.units[socketUnit] = unitGood
			f.fake.units[reloadUnit] = "Id=x\n"
		}, "reload-unit", Check{Status: statusWarn, Message: "cannot check aimx-mailboxd-reload.path: systemctl show aimx-mailboxd-reload.path: no LoadState in its answer"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDoctorFixture(t)
			tc.mutate(t, f)
			r := f.d.run()
			got, ok := find(r, tc.check)
			want := tc.want
			if want != (Check{}) {
				want.Name = tc.check
				want.Message, want.Fix = f.expand(want.Message), f.expand(want.Fix)
			}
			if got != want {
				t.Errorf("%s:\n got %+v\nwant %+v", tc.check, got, want)
			}
			if want == (Check{}) && ok {
				t.Errorf("a %s line, want none", tc.check)
			}
			if r.OK != tc.ok {
				t.Errorf("report ok = %v, want %v: %+v", r.OK, tc.ok, r.Checks)
			}
		})
	}
}

// TestDoctorUserFixes: an ordinary user's doctor never tells them to run
// sudo or read the system journal: in each broken state below, every fix
// asks the administrator instead.
func TestDoctorUserFixes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, f *doctorFixture)
		check  string
		fix    string
	}{
		{"socket unit disabled", func(t *testing.T, f *doctorFixture) { f.fake.units[socketUnit] = unitDisabled },
			"socket-unit", "ask your administrator to run: systemctl enable --now aimx-mailboxd.socket"},
		{"socket unit failed", func(t *testing.T, f *doctorFixture) { f.fake.units[socketUnit] = unitFailed },
			"socket-unit", "ask your administrator to run: systemctl restart aimx-mailboxd.socket (journalctl -u aimx-mailboxd.socket says why it stopped)"},
		{"socket unit not installed", func(t *testing.T, f *doctorFixture) { delete(f.fake.units, socketUnit) },
			"socket-unit", "ask your administrator to install the aimx-mailboxd package"},
		{"helper hangs up", func(t *testing.T, f *doctorFixture) { f.answer(t, "") },
			"helper", "ask your administrator to look at journalctl -t aimx-mailboxd -n 20, which says why"},
		{"config missing", func(t *testing.T, f *doctorFixture) { os.Remove(f.config) },
			"config", `ask your administrator to run aimx setup (AIMX writes it), or to create it with at least a line domain = "<your mail domain>"`},
		{"inbox mode", func(t *testing.T, f *doctorFixture) { os.Chmod(filepath.Join(f.data, "inbox"), 0o755) },
			"inbox", "ask your administrator to run: chown ME:GROUP DATA/inbox && chmod 0711 DATA/inbox"},
		{"aimx stopped", func(t *testing.T, f *doctorFixture) { f.fake.units[aimxUnit] = unitFailed },
			"aimx", "ask your administrator to run: systemctl start aimx.service (journalctl -u aimx.service says why it stopped)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newDoctorFixture(t)
			f.d.euid = 65534
			tc.mutate(t, f)
			r := f.d.run()
			if got, _ := find(r, tc.check); got.Fix != f.expand(tc.fix) {
				t.Errorf("%s: fix %q, want %q", tc.check, got.Fix, f.expand(tc.fix))
			}
			for _, c := range r.Checks {
				if c.Fix != "" && (!strings.HasPrefix(c.Fix, "ask your administrator to ") || strings.Contains(c.Fix, "sudo")) {
					t.Errorf("%s: fix %q tells an ordinary user to do what needs root", c.Name, c.Fix)
				}
			}
		})
	}
}

// TestDoctorTrash: folders left in inbox/.trash and sent/.trash are one
// warning line that names at most five of them, and the command that
// removes those; nothing left, no line.
func TestDoctorTrash(t *testing.T) {
	f := newDoctorFixture(t)
	mk := func(path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(f.data, path), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	mk("inbox/.trash")
	mk("sent/.trash")
	// The emptier's back-off file, in a trash it could not finish.
	if err := os.WriteFile(filepath.Join(f.data, "sent/.trash/.retry"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := find(f.d.run(), "trash"); ok {
		t.Errorf("a trash line with both trashes empty")
	}

	mk("inbox/.trash/a.0000000000000001/cur")
	r := f.d.run()
	want := Check{Name: "trash", Status: statusWarn,
		Message: f.expand("1 folder that forced deletes set aside, not emptied yet: DATA/inbox/.trash/a.0000000000000001"),
		Fix:     f.expand("sudo rm -rf --one-file-system -- DATA/inbox/.trash/a.0000000000000001")}
	if got, _ := find(r, "trash"); got != want || !r.OK {
		t.Errorf("trash:\n got %+v\nwant %+v (report ok %v, want true)", got, want, r.OK)
	}
	if got := r.Checks[len(r.Checks)-3]; got.Name != "trash" {
		t.Errorf("the trash line comes after sent, before aimx: %v", r.Checks)
	}

	for _, p := range []string{"inbox/.trash/b.0000000000000002", "inbox/.trash/c.0000000000000003", "sent/.trash/a.0000000000000001",
		"sent/.trash/b.0000000000000002", "sent/.trash/c.0000000000000003", "sent/.trash/d.0000000000000004"} {
		mk(p)
	}
	named := "DATA/inbox/.trash/a.0000000000000001 DATA/inbox/.trash/b.0000000000000002 DATA/inbox/.trash/c.0000000000000003 " +
		"DATA/sent/.trash/a.0000000000000001 DATA/sent/.trash/b.0000000000000002"
	want = Check{Name: "trash", Status: statusWarn,
		Message: f.expand("7 folders that forced deletes set aside, not emptied yet: " + strings.ReplaceAll(named, " ", ", ") + " and 2 more"),
		Fix:     f.expand("sudo rm -rf --one-file-system -- " + named)}
	if got, _ := find(f.d.run(), "trash"); got != want {
		t.Errorf("trash:\n got %+v\nwant %+v", got, want)
	}
	// Anyone else who can look is told whom to ask.
	f.d.euid = 65534
	want.Fix = f.expand("ask your administrator to run: rm -rf --one-file-system -- " + named)
	if got, _ := find(f.d.run(), "trash"); got != want {
		t.Errorf("trash, not root:\n got %+v\nwant %+v", got, want)
	}
}

// TestDoctorTrashUnreadable: a user who may not look in the trash (it is
// root's, 0700) gets no trash line.
func TestDoctorTrashUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every folder: needs an ordinary user")
	}
	f := newDoctorFixture(t)
	f.d.euid = os.Geteuid()
	trash := filepath.Join(f.data, "inbox", ".trash")
	if err := os.MkdirAll(filepath.Join(trash, "a.0000000000000001"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(trash, 0)
	t.Cleanup(func() { os.Chmod(trash, 0o700) })
	if c, ok := find(f.d.run(), "trash"); ok {
		t.Errorf("trash line %+v for a user who cannot look", c)
	}
}

// answer replaces the server behind the socket with one that answers
// every request with text.
func (f *doctorFixture) answer(t *testing.T, text string) {
	t.Helper()
	os.Remove(f.sock)
	h := &scriptHelper{sock: f.sock, fixed: true, answer: []byte(text)}
	if err := h.listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.close)
}

func (f *doctorFixture) write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(f.config), name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expand replaces the fixture's placeholders: SOCK, CONFIG, POLICY,
// DATA, ME, GROUP (the test's user and group) and OTHER (the uid after
// it), CLIENT_TAG (this build's version).
func (f *doctorFixture) expand(s string) string {
	return strings.NewReplacer("SOCK", f.sock, "CONFIG", f.config, "POLICY", filepath.Join(filepath.Dir(f.config), "mailboxd.toml"),
		"DATA", f.data, "ME", userName(uint32(os.Geteuid())), "GROUP", groupName(uint32(os.Getegid())),
		"OTHER", userName(uint32(os.Geteuid())+1), "CLIENT_TAG", version.Get().Tag).Replace(s)
}

// TestDoctorUnreadable: a file an ordinary user may not read is a
// warning that says what doctor could see, and how to see the rest.
func TestDoctorUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file: needs an ordinary user")
	}
	f := newDoctorFixture(t)
	f.d.euid = os.Geteuid()
	os.Chmod(f.config, 0)
	f.write(t, "mailboxd.toml", "")
	os.Chmod(filepath.Join(filepath.Dir(f.config), "mailboxd.toml"), 0)
	f.d.store.DataDir = ""
	r := f.d.run()
	me, group := userName(uint32(os.Geteuid())), groupName(uint32(os.Getegid()))
	for name, want := range map[string]Check{
		"config": {Name: "config", Status: statusWarn, Message: fmt.Sprintf("%s exists (%s:%s, mode 0000); as %s, doctor cannot read it (the helper reads it as root)", f.config, me, group, me),
			Fix: "ask your administrator to run aimx-mailboxes doctor as root: it checks what the file says"},
		"policy": {Name: "policy", Status: statusWarn, Message: fmt.Sprintf("%s exists (%s:%s, mode 0000); as %s, doctor cannot read it (the helper reads it as root)", f.expand("POLICY"), me, group, me),
			Fix: "ask your administrator to run aimx-mailboxes doctor as root: it checks what the file says"},
	} {
		if got, _ := find(r, name); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	if got, _ := find(r, "data-dir"); !strings.HasPrefix(got.Message, mailbox.DefaultDataDir+" ") ||
		!strings.HasSuffix(got.Message, " (the default: the config could not be read for its data_dir)") {
		t.Errorf("data-dir: %+v, want the default, said so", got)
	}
}

// TestDoctorPrint: one line per check, the fix under it, upper-case words
// for what is wrong.
func TestDoctorPrint(t *testing.T) {
	var out bytes.Buffer
	Report{Checks: []Check{
		{Name: "a", Status: statusOK, Message: "fine"},
		{Name: "longer", Status: statusFail, Message: "broken \x1b[31m", Fix: "mend it"},
		{Name: "b", Status: statusWarn, Message: "hm"},
	}}.print(&cli{stdout: &out})
	want := "ok    a       fine\n" +
		"FAIL  longer  broken \\x1b[31m\n" +
		"              fix: mend it\n" +
		"WARN  b       hm\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

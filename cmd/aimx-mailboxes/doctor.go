package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/policy"
	"github.com/aimx/aimx-mailboxd/version"
	"github.com/aimx/aimx-mailboxd/wire"
	"github.com/aimx/aimx-mailboxd/wire/client"
)

// doctorCmd checks what aimx-mailboxd needs to work, one line per check,
// each failure with the command that fixes it. It changes nothing.
type doctorCmd struct {
	JSON bool `name:"json" help:"Print the checks as one JSON object."`
}

// Status is the outcome of one check: ok, warn (worth knowing, not
// broken) or fail (requests fail until it is fixed).
type Status string

const (
	statusOK   Status = "ok"
	statusWarn Status = "warn"
	statusFail Status = "fail"
)

// Check is one line of the doctor's report; its JSON is documented in
// aimx-mailboxes(1).
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Report is the doctor's whole answer: OK when no check failed.
type Report struct {
	OK     bool    `json:"ok"`
	Checks []Check `json:"checks"`
}

func (cmd *doctorCmd) Run(c *cli) error {
	d := &doctor{
		socket:     c.Socket,
		store:      mailbox.FromEnv(c.Config, c.DataDir),
		policyPath: c.Policy,
		euid:       os.Geteuid(),
		systemctl:  runSystemctl,
		timeout:    10 * time.Second,
	}
	r := d.run()
	if cmd.JSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetEscapeHTML(false) // fixes hold "<your mail domain>"
		enc.Encode(r)
	} else {
		r.print(c)
	}
	var failed, warned int
	for _, ch := range r.Checks {
		switch ch.Status {
		case statusFail:
			failed++
		case statusWarn:
			warned++
		}
	}
	if failed > 0 {
		return &exitError{code: exitServerError, msg: fmt.Sprintf("doctor: %d of %d checks failed, %s", failed, len(r.Checks), plural(warned, "warning"))}
	}
	return nil
}

// print writes one line per check and, under a failed or warned one, the
// fix. Status words are upper-case when something is wrong: there is no
// colour.
func (r Report) print(c *cli) {
	width := 0
	for _, ch := range r.Checks {
		width = max(width, len(ch.Name))
	}
	for _, ch := range r.Checks {
		word := strings.ToUpper(string(ch.Status))
		if ch.Status == statusOK {
			word = "ok"
		}
		fmt.Fprintf(c.stdout, "%-4s  %-*s  %s\n", word, width, ch.Name, plain(ch.Message))
		if ch.Fix != "" {
			fmt.Fprintf(c.stdout, "%-4s  %-*s  fix: %s\n", "", width, "", plain(ch.Fix))
		}
	}
}

// doctor holds what the checks look at, so that a test can point it at a
// temporary tree and a fake systemctl.
type doctor struct {
	socket     string
	store      *mailbox.Store
	policyPath string // empty: mailboxd.toml beside the config
	euid       int
	// owner is who must own the data dir and its inbox/ and sent/ folders
	// (root:root; a test: itself).
	ownerUID, ownerGID uint32
	// systemctl runs systemctl with args and returns its standard output.
	systemctl func(args ...string) (string, error)
	timeout   time.Duration // for the VERSION round trip

	cfg      *mailbox.Config // the parsed config, once the config check read it
	noSystem string          // why systemd cannot be asked; "" when it can
	units    map[string]unitState
}

func runSystemctl(args ...string) (string, error) {
	out, err := exec.Command("systemctl", args...).Output()
	return string(out), err
}

// run runs every check, in the order a request needs them.
func (d *doctor) run() Report {
	d.noSystem = d.systemdAbsent()
	var checks []Check
	add := func(c ...Check) { checks = append(checks, c...) }
	add(d.checkSocketUnit(), d.checkSocketPath(), d.checkHelper())
	add(d.checkConfig()...)
	add(d.checkPolicy())
	add(d.checkDataDir()...)
	add(d.checkAIMX())
	if c, ok := d.checkReload(); ok {
		add(c)
	}
	r := Report{OK: true, Checks: checks}
	for _, c := range checks {
		if c.Status == statusFail {
			r.OK = false
		}
	}
	return r
}

const (
	socketUnit = "aimx-mailboxd.socket"
	aimxUnit   = "aimx.service"
	reloadUnit = "aimx-mailboxd-reload.path"
)

// systemdAbsent says why systemd cannot be asked about units, or "" when
// it can: systemctl is-system-running prints "offline" when PID 1 is not
// systemd (a container, a chroot).
func (d *doctor) systemdAbsent() string {
	out, err := d.systemctl("is-system-running")
	state := strings.TrimSpace(out)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return "systemctl is not installed"
	case state == "offline":
		return "no running systemd"
	case state == "" && err != nil:
		return "systemctl is-system-running: " + cmdError(err)
	case state == "unknown":
		return "systemd's state is unknown"
	}
	return ""
}

// cmdError is a failed command's error with what it said on stderr.
func cmdError(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return strings.TrimSpace(strings.SplitN(string(ee.Stderr), "\n", 2)[0])
	}
	return err.Error()
}

// unitState is what systemctl show says of a unit.
type unitState struct {
	load, active, file string // LoadState, ActiveState, UnitFileState
}

func (u unitState) enabled() bool {
	return u.file == "enabled" || u.file == "enabled-runtime"
}

func (d *doctor) unit(name string) (unitState, error) {
	if u, ok := d.units[name]; ok {
		return u, nil
	}
	out, err := d.systemctl("show", "--property=LoadState,ActiveState,UnitFileState", name)
	if err != nil {
		return unitState{}, fmt.Errorf("systemctl show %s: %s", name, cmdError(err))
	}
	var u unitState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "LoadState":
			u.load = v
		case "ActiveState":
			u.active = v
		case "UnitFileState":
			u.file = v
		}
	}
	if u.load == "" {
		return unitState{}, fmt.Errorf("systemctl show %s: no LoadState in its answer", name)
	}
	if d.units == nil {
		d.units = map[string]unitState{}
	}
	d.units[name] = u
	return u, nil
}

func (d *doctor) checkSocketUnit() Check {
	c := Check{Name: "socket-unit"}
	if d.noSystem != "" {
		return c.warn("cannot check "+socketUnit+": "+d.noSystem, "")
	}
	u, err := d.unit(socketUnit)
	switch {
	case err != nil:
		return c.warn("cannot check "+socketUnit+": "+err.Error(), d.ask("run it as root: sudo aimx-mailboxes doctor", "run aimx-mailboxes doctor as root"))
	case u.load == "not-found":
		return c.fail(socketUnit+" is not installed", d.ask("install the aimx-mailboxd package", "install the aimx-mailboxd package"))
	case u.load == "masked" || u.file == "masked":
		return c.fail(socketUnit+" is masked: nobody can create or delete mailboxes",
			d.cmd("sudo systemctl unmask "+socketUnit+" && sudo systemctl enable --now "+socketUnit))
	case u.enabled() && u.active == "active":
		return c.ok(socketUnit + " is enabled and listening")
	case u.active == "active":
		return c.fail(fmt.Sprintf("%s is listening but %s: it will not listen after a reboot", socketUnit, orUnknown(u.file)),
			d.cmd("sudo systemctl enable "+socketUnit))
	case !u.enabled() && (u.active == "inactive" || u.active == "failed"):
		return c.fail(fmt.Sprintf("%s is %s and %s: nobody can create or delete mailboxes (a preset may have disabled it at install)", socketUnit, orUnknown(u.file), u.active),
			d.cmd("sudo systemctl enable --now "+socketUnit))
	}
	return c.fail(fmt.Sprintf("%s is not listening (unit file state %s, active state %s): nobody can create or delete mailboxes", socketUnit, orUnknown(u.file), orUnknown(u.active)),
		d.ask("sudo systemctl restart "+socketUnit+"; journalctl -u "+socketUnit+" says why it stopped",
			"run: systemctl restart "+socketUnit+" (journalctl -u "+socketUnit+" says why it stopped)"))
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (d *doctor) checkSocketPath() Check {
	c := Check{Name: "socket-path"}
	restart := "sudo systemctl restart " + socketUnit
	restartFix := d.cmd(restart)
	fi, err := os.Lstat(d.socket)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg := d.socket + " does not exist"
		if u, ok := d.units[socketUnit]; ok && u.active == "active" {
			msg += " although " + socketUnit + " is listening: something removed it (the AIMX daemon's stop can remove /run/aimx)"
		}
		return c.fail(msg, restartFix)
	case err != nil:
		return c.fail(fmt.Sprintf("cannot look at %s: %v", d.socket, unwrapSyscall(err)),
			d.ask("every folder above it must be searchable by everyone (mode 0755)", "make every folder above it searchable by everyone (mode 0755)"))
	case fi.Mode().Type() != fs.ModeSocket:
		return c.fail(fmt.Sprintf("%s is not a socket but a %s", d.socket, kind(fi)), d.cmd("sudo rm "+d.socket+" && "+restart))
	case fi.Mode().Perm()&0o002 == 0:
		return c.fail(fmt.Sprintf("%s has mode %04o: ordinary users cannot connect", d.socket, fi.Mode().Perm()),
			d.cmd(restart)+" (the unit sets SocketMode=0666)")
	}
	return c.ok(d.socket + " is a socket any user may connect to")
}

// kind names the type of a file that should have been something else.
func kind(fi fs.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case fi.IsDir():
		return "directory"
	case t == fs.ModeSymlink:
		return "symbolic link"
	case t == 0:
		return "regular file"
	case t == fs.ModeSocket:
		return "socket"
	default:
		return "special file"
	}
}

// checkHelper asks the helper for its VERSION through the socket: the
// whole path a request takes, with nothing changed.
func (d *doctor) checkHelper() Check {
	c := Check{Name: "helper"}
	logs := logsHint(d.euid)
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	resp, err := client.Call(ctx, d.socket, wire.Request{Verb: wire.VerbVersion})
	var dialErr *client.DialError
	switch {
	case errors.As(err, &dialErr):
		return c.fail(fmt.Sprintf("VERSION through %s: cannot connect: %v", d.socket, unwrapSyscall(err)),
			d.cmd("sudo systemctl restart "+socketUnit))
	case err != nil:
		return c.fail(fmt.Sprintf("VERSION through %s got no usable answer: %v", d.socket, noAnswer(err)), logs)
	case resp.Err != nil:
		return c.fail(fmt.Sprintf("VERSION through %s was refused: [%s] %s", d.socket, resp.Err.Code, resp.Err.Reason), logs)
	}
	v, err := wire.DecodeVersion(resp.Body)
	if err != nil {
		return c.fail(fmt.Sprintf("VERSION through %s answered something that is not JSON: %v", d.socket, errors.Unwrap(err)), logs)
	}
	if mine := version.Get().Tag; v.Tag != mine {
		return c.warn(fmt.Sprintf("aimx-mailboxd %s answered through %s, but this client is %s", v.Tag, d.socket, mine),
			d.ask("install one package version of both: /usr/libexec/aimx-mailboxd and aimx-mailboxes",
				"install one package version of both /usr/libexec/aimx-mailboxd and aimx-mailboxes"))
	}
	return c.ok(fmt.Sprintf("aimx-mailboxd %s (%s) answered VERSION through %s", v.Tag, v.GitHash, d.socket))
}

// checkConfig checks the config file and, once it parses, its domain.
func (d *doctor) checkConfig() []Check {
	c := Check{Name: "config"}
	path := d.store.Path()
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []Check{c.fail(path+" does not exist: every request but VERSION fails",
			d.ask(`run sudo aimx setup (AIMX writes it), or create it with at least a line domain = "<your mail domain>"`,
				`run aimx setup (AIMX writes it), or to create it with at least a line domain = "<your mail domain>"`))}
	case err != nil:
		return []Check{d.unreadable(c, path, err)}
	case !fi.Mode().IsRegular():
		return []Check{c.fail(fmt.Sprintf("%s is not a regular file but a %s", path, kind(fi)), "")}
	case fi.Mode().Perm()&0o002 != 0:
		return []Check{c.fail(fmt.Sprintf("%s has mode %04o: any user can write it and give themselves any mailbox", path, fi.Mode().Perm()),
			d.cmd("sudo chmod o-w "+path))}
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return []Check{d.unreadable(c, path, err)}
	}
	cfg, err := mailbox.ParseConfig(path, text)
	if err != nil {
		return []Check{c.fail(err.Error(), d.ask("correct "+path+" there", "correct "+path+" there")+"; until then every request but VERSION fails")}
	}
	d.cfg = cfg
	checks := []Check{c.ok(fmt.Sprintf("%s parses: %s", path, plural(cfg.Len(), "mailbox")))}
	dom := Check{Name: "domain"}
	if cfg.Domain == "" {
		return append(checks, dom.fail(path+" sets no domain: every create fails", d.ask(`add a line domain = "<your mail domain>" to `+path, `add a line domain = "<your mail domain>" to `+path)))
	}
	return append(checks, dom.ok("mailboxes get addresses @"+cfg.Domain))
}

// unreadable is the check of a file this process may not read: for an
// ordinary user that is how it should be (only the helper, as root, reads
// it), so it says what it could see and how to see the rest.
func (d *doctor) unreadable(c Check, path string, err error) Check {
	if errors.Is(err, fs.ErrPermission) && d.euid != 0 {
		what := ""
		if fi, err := os.Stat(path); err == nil {
			what = fmt.Sprintf(" (%s, mode %04o)", ownerOf(fi), fi.Mode().Perm())
		}
		return c.warn(fmt.Sprintf("%s exists%s; as %s, doctor cannot read it (the helper reads it as root)", path, what, userName(uint32(d.euid))),
			"ask your administrator to run aimx-mailboxes doctor as root: it checks what the file says")
	}
	return c.fail(fmt.Sprintf("cannot read %s: %v", path, unwrapSyscall(err)), "")
}

func (d *doctor) checkPolicy() Check {
	c := Check{Name: "policy"}
	path := d.policyPath
	if path == "" {
		path = policy.PathFor(d.store.Path())
	}
	text, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c.ok(path + " is not there: the defaults apply")
	case err != nil:
		return d.unreadable(c, path, err)
	}
	p, err := policy.Parse(path, text)
	if err != nil {
		return c.fail(err.Error(), d.ask("correct it, or remove it to use the defaults", "correct it, or to remove it to use the defaults")+"; until then every request but VERSION fails")
	}
	limit := fmt.Sprintf("at most %s per user", plural(p.MaxMailboxesPerUser, "mailbox"))
	if p.MaxMailboxesPerUser == 0 {
		limit = "no per-user limit"
	}
	return c.ok(fmt.Sprintf("%s parses: %s, %s, lock wait %s", path, plural(len(p.ReservedNames), "reserved name"), limit, p.LockTimeout))
}

// checkDataDir checks the data dir and its inbox/ and sent/: root's, and
// inbox/ and sent/ mode 0711, so that owners reach their own folder by
// name and nobody can list the names.
func (d *doctor) checkDataDir() []Check {
	dir := d.store.DataDirFor(d.cfg)
	top := d.folder(Check{Name: "data-dir"}, dir, 0o755, os.Stat)
	if d.cfg == nil && d.store.DataDir == "" {
		top.Message += " (the default: the config could not be read for its data_dir)"
	}
	if top.Status == statusFail {
		return []Check{top}
	}
	checks := []Check{top,
		d.folder(Check{Name: "inbox"}, filepath.Join(dir, mailbox.Inbox), 0o711, os.Lstat),
		d.folder(Check{Name: "sent"}, filepath.Join(dir, mailbox.Sent), 0o711, os.Lstat),
	}
	if c, ok := d.checkTrash(dir); ok {
		checks = append(checks, c)
	}
	return checks
}

// trashNamed is how many set-aside folders the trash line names; the rest
// it counts.
const trashNamed = 5

// checkTrash looks for folders that forced DELETEs set aside in
// inbox/.trash and sent/.trash and that are still there: emptied after
// each answer, one too big to finish within a request's budget stays for
// a while, and one a killed helper left stays until a later request. ok
// is false when there are none, or when this user may not look (the
// trash is root's, 0700): then there is no line.
func (d *doctor) checkTrash(dir string) (Check, bool) {
	c := Check{Name: "trash"}
	var paths []string
	for _, kind := range []string{mailbox.Inbox, mailbox.Sent} {
		trash := filepath.Join(dir, kind, mailbox.Trash)
		entries, err := os.ReadDir(trash)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission):
			continue
		case err != nil:
			return c.warn(fmt.Sprintf("cannot look in %s: %v", trash, unwrapSyscall(err)), ""), true
		}
		for _, e := range entries {
			// A dot name is the emptier's own (its .retry file); what
			// it sets aside is "<name>.<hex>" or "deep.<hex>".
			if !strings.HasPrefix(e.Name(), ".") {
				paths = append(paths, filepath.Join(trash, e.Name()))
			}
		}
	}
	if len(paths) == 0 {
		return c, false
	}
	named := paths[:min(len(paths), trashNamed)]
	what := strings.Join(named, ", ")
	if more := len(paths) - len(named); more > 0 {
		what += fmt.Sprintf(" and %d more", more)
	}
	words := make([]string, len(named))
	for i, p := range named {
		words[i] = shellWord(p)
	}
	return c.warn(fmt.Sprintf("%s that forced deletes set aside, not emptied yet: %s", plural(len(paths), "folder"), what),
		d.cmd("sudo rm -rf --one-file-system -- "+strings.Join(words, " "))), true
}

// shellWord is s as one word of a shell command line: as it is when it
// holds nothing the shell reads specially, else single-quoted.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+,:@=") == "" {
		return s
	}
	return shQuote(s)
}

// folder checks that path is a directory owned by d's owner with mode
// want. The data dir itself may be wider than 0755 towards nobody: only
// group and others' write bits fail it.
func (d *doctor) folder(c Check, path string, want fs.FileMode, stat func(string) (fs.FileInfo, error)) Check {
	u, g := userName(d.ownerUID), groupName(d.ownerGID)
	owner := u + ":" + g
	create := fmt.Sprintf("sudo install -d -o %s -g %s -m %04o %s", u, g, want, path)
	fi, err := stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c.fail(path+" does not exist", d.cmd(create))
	case err != nil:
		return c.fail(fmt.Sprintf("cannot look at %s: %v", path, unwrapSyscall(err)), "")
	case !fi.IsDir():
		return c.fail(fmt.Sprintf("%s is not a directory but a %s", path, kind(fi)), d.cmd("sudo mv "+path+" "+path+".aside && "+create))
	}
	uid, gid := fileOwner(fi)
	perm := fi.Mode().Perm()
	chown := d.cmd(fmt.Sprintf("sudo chown %s %s && sudo chmod %04o %s", owner, path, want, path))
	switch {
	case uid != d.ownerUID || gid != d.ownerGID:
		return c.fail(fmt.Sprintf("%s is owned by %s, not %s", path, ownerOf(fi), owner), chown)
	case want == 0o711 && perm != want:
		return c.fail(fmt.Sprintf("%s has mode %04o, not 0711: %s", path, perm, modeProblem(perm)), chown)
	case want != 0o711 && perm&0o022 != 0:
		return c.fail(fmt.Sprintf("%s has mode %04o: users other than root can replace what is in it", path, perm), chown)
	}
	return c.ok(fmt.Sprintf("%s is %s %04o", path, owner, perm))
}

func modeProblem(perm fs.FileMode) string {
	switch {
	case perm&0o022 != 0:
		return "users other than root can add or remove mailbox folders"
	case perm&0o004 != 0:
		return "every user can list the mailbox names"
	case perm&0o001 == 0:
		return "owners cannot reach their own folders"
	}
	return "not what the helper creates"
}

func fileOwner(fi fs.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return ^uint32(0), ^uint32(0)
}

// ownerOf is "user:group" of fi, with numbers where there are no names.
func ownerOf(fi fs.FileInfo) string {
	uid, gid := fileOwner(fi)
	return userName(uid) + ":" + groupName(gid)
}

// userName is the name of uid, or the number when it has none.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// groupName is the name of gid, or the number when it has none.
func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}

func (d *doctor) checkAIMX() Check {
	c := Check{Name: "aimx"}
	if d.noSystem != "" {
		return c.warn("cannot check "+aimxUnit+": "+d.noSystem, "")
	}
	u, err := d.unit(aimxUnit)
	switch {
	case err != nil:
		return c.warn("cannot check "+aimxUnit+": "+err.Error(), "")
	case u.load == "not-found":
		return c.warn(aimxUnit+" is not installed: mailboxes can be managed, but no mail arrives in them without the AIMX daemon",
			d.ask("install AIMX, then: sudo systemctl enable --now "+aimxUnit, "install AIMX, then run: systemctl enable --now "+aimxUnit))
	case u.active == "active":
		return c.ok(aimxUnit + " is active")
	}
	return c.warn(fmt.Sprintf("%s is %s: no mail arrives until it runs", aimxUnit, orUnknown(u.active)),
		d.ask("sudo systemctl start "+aimxUnit+"; journalctl -u "+aimxUnit+" says why it stopped",
			"run: systemctl start "+aimxUnit+" (journalctl -u "+aimxUnit+" says why it stopped)"))
}

// checkReload checks the unit that makes the AIMX daemon re-read the
// config after each change; ok is false when the unit is not installed
// (or systemd cannot be asked), and then there is no line for it.
func (d *doctor) checkReload() (Check, bool) {
	c := Check{Name: "reload-unit"}
	if d.noSystem != "" {
		return c, false
	}
	u, err := d.unit(reloadUnit)
	switch {
	case err != nil:
		return c.warn("cannot check "+reloadUnit+": "+err.Error(), ""), true
	case u.load == "not-found":
		return c, false
	case u.enabled() && u.active == "active":
		return c.ok(reloadUnit + " is enabled and watching the config: the AIMX daemon re-reads it after each change"), true
	case u.active == "failed":
		return c.fail(reloadUnit+" has failed: the AIMX daemon no longer learns of new mailboxes",
			d.cmd("sudo systemctl reset-failed "+reloadUnit+" && sudo systemctl enable --now "+reloadUnit)), true
	}
	return c.fail(fmt.Sprintf("%s is %s and %s: the AIMX daemon does not learn of new mailboxes until it restarts", reloadUnit, orUnknown(u.file), orUnknown(u.active)),
		d.cmd("sudo systemctl enable --now "+reloadUnit)), true
}

// cmd is the fix that is the command line command (with sudo): for root,
// the command; for anyone else, who can run it.
func (d *doctor) cmd(command string) string {
	return rootOnly(d.euid, command)
}

// ask is the fix that only root can make: root reads forRoot; anyone else
// is asked to have the administrator do task ("... to " task).
func (d *doctor) ask(forRoot, task string) string {
	if d.euid == 0 {
		return forRoot
	}
	return askAdmin + task
}

func (c Check) ok(msg string) Check {
	c.Status, c.Message = statusOK, msg
	return c
}

func (c Check) warn(msg, fix string) Check {
	c.Status, c.Message, c.Fix = statusWarn, msg, fix
	return c
}

func (c Check) fail(msg, fix string) Check {
	c.Status, c.Message, c.Fix = statusFail, msg, fix
	return c
}

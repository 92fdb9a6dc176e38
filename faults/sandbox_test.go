//go:build faults

package faults

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// A scenario is one request against a prepared sandbox.
type scenario struct {
	op     string
	desc   string // what the sandbox holds before the request, for the report
	create bool   // a CREATE (else a DELETE)
	name   string // the mailbox the request is about
	frame  string
	prep   func(t *testing.T, sb *sandbox)
}

const baseConfig = `# Operator's config: every byte of it must survive.
domain   =   "example.test"   # the domain
data_dir = "/nonexistent"     # overridden by --data-dir

[mailboxes.keep]
address = "keep@example.test"
owner = "nobody"
trust = "verified"

[mailboxes.keep.hooks]
on_receive = "notify"
`

const goneStanza = `
# the mailbox that goes
[mailboxes.gone]
address = "gone@example.test"
owner = "nobody"

[[mailboxes.gone.hooks]]
cmd = "archive"
`

var (
	createFrame = aimxtest.Create("fresh", "nobody")
	deleteFrame = aimxtest.Delete("gone", false)
	forceFrame  = aimxtest.Delete("gone", true)
)

// The first three are the first request on a config folder without a
// lock file: each creates it (openat O_CREAT, then fchmod and fchown to
// the folder's owner 0:configGID) before it flocks it. The last two find
// what a killed forced DELETE leaves: a lock file, and folders set aside
// in the trash that nobody emptied.
var scenarios = []scenario{
	{op: "CREATE", desc: "no lock file yet", create: true, name: "fresh", frame: createFrame},
	{op: "DELETE", desc: "no lock file yet", name: "gone", frame: deleteFrame, prep: prepGone(false)},
	{op: "DELETE Force", desc: "no lock file yet; the mailbox holds messages, a deep tree, symlinks and a hard link out of it", name: "gone", frame: forceFrame, prep: prepGone(true)},
	{op: "CREATE after crash", desc: "lock file 0600 0:4242; set-aside folders of a killed DELETE in inbox/.trash and sent/.trash", create: true, name: "fresh", frame: createFrame,
		prep: both(prepLock(0o600, configGID), prepStaleTrash)},
	{op: "DELETE Force after crash", desc: "lock file 0644 0:0 (made by hand: mode and owner to fix); set-aside folders of a killed DELETE; the mailbox as for DELETE Force", name: "gone", frame: forceFrame,
		prep: both(prepLock(0o644, 0), prepStaleTrash, prepGone(true))},
}

func both(preps ...func(t *testing.T, sb *sandbox)) func(t *testing.T, sb *sandbox) {
	return func(t *testing.T, sb *sandbox) {
		for _, p := range preps {
			p(t, sb)
		}
	}
}

// lockName is the lock file beside the config (docs/BEHAVIOR.md, Locking).
const lockName = ".config.toml.lock"

// prepLock puts an empty lock file with mode and group gid (owner root)
// beside the config.
func prepLock(mode os.FileMode, gid int) func(t *testing.T, sb *sandbox) {
	return func(t *testing.T, sb *sandbox) {
		p := filepath.Join(sb.root, "etc", lockName)
		must(t, os.WriteFile(p, nil, mode))
		must(t, os.Chown(p, 0, gid))
		must(t, os.Chmod(p, mode))
	}
}

// prepStaleTrash leaves what a forced DELETE of "old" killed after its
// renames leaves: both folders set aside in the trash, full of the
// owner's files, a symlink out of the folder among them.
func prepStaleTrash(t *testing.T, sb *sandbox) {
	for _, kind := range []string{"inbox", "sent"} {
		trash := filepath.Join(sb.data, kind, ".trash")
		must(t, os.Mkdir(trash, 0o700))
		must(t, os.Chmod(trash, 0o700))
		d := filepath.Join(trash, "old.0123456789abcdef")
		must(t, os.MkdirAll(filepath.Join(d, "bundle"), 0o700))
		sb.file(t, filepath.Join(d, "m.md"), "set aside\n")
		sb.file(t, filepath.Join(d, "bundle", "bundle.md"), "set aside\n")
		must(t, os.Symlink(filepath.Join(sb.root, "outside"), filepath.Join(d, "to-outside")))
		must(t, filepath.WalkDir(d, func(p string, _ fs.DirEntry, err error) error {
			if err == nil {
				err = os.Lchown(p, int(owner.UID), int(owner.GID))
			}
			return err
		}))
	}
}

// prepGone registers mailbox "gone" with its folders; full fills them
// with messages, a deep tree, symlinks out of the folder and a hard link
// to a file outside it.
func prepGone(full bool) func(t *testing.T, sb *sandbox) {
	return func(t *testing.T, sb *sandbox) {
		sb.appendConfig(t, goneStanza)
		in, sent := sb.mkdirOwned(t, "data/inbox/gone"), sb.mkdirOwned(t, "data/sent/gone")
		if !full {
			return
		}
		sb.file(t, filepath.Join(in, "a.md"), "+++\nread = true\n+++\nhello\n")
		deep := filepath.Join(in, "bundle", "deep", "er")
		must(t, os.MkdirAll(deep, 0o700))
		sb.file(t, filepath.Join(deep, "b.md"), "deep\n")
		must(t, os.Symlink(filepath.Join(sb.root, "outside"), filepath.Join(in, "to-outside")))
		must(t, os.Symlink(filepath.Join(sb.root, "outside", "secret.md"), filepath.Join(in, "secret.md")))
		must(t, os.Link(filepath.Join(sb.root, "outside", "hard.md"), filepath.Join(in, "hard.md")))
		sb.file(t, filepath.Join(sent, "c.md"), "sent\n")
		must(t, filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err == nil && p != filepath.Join(in, "hard.md") {
				err = os.Lchown(p, int(owner.UID), int(owner.GID))
			}
			return err
		}))
		must(t, os.Lchown(filepath.Join(sent, "c.md"), int(owner.UID), int(owner.GID)))
	}
}

// sandbox is one config, data dir and outside folder.
type sandbox struct {
	root, config, data string
}

func newSandbox(t *testing.T, sc scenario) *sandbox {
	t.Helper()
	root, err := os.MkdirTemp("", "aimx-faults-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	sb := &sandbox{root: root, config: filepath.Join(root, "etc", "config.toml"), data: filepath.Join(root, "data")}
	for _, d := range []string{"etc", "data/inbox", "data/sent", "outside/dir"} {
		must(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	// The config's folder is 0:configGID, so that the lock file, owned
	// like it, must be chowned after it is made.
	must(t, os.Chown(filepath.Join(root, "etc"), 0, configGID))
	sb.file(t, filepath.Join(root, "etc", "other.conf"), "the operator's other file\n")
	sb.file(t, filepath.Join(root, "outside", "secret.md"), "not the mailbox's\n")
	sb.file(t, filepath.Join(root, "outside", "hard.md"), "hard-linked into the mailbox\n")
	sb.file(t, filepath.Join(root, "outside", "dir", "x.md"), "x\n")
	sb.mkdirOwned(t, "data/inbox/keep")
	sb.mkdirOwned(t, "data/sent/keep")
	sb.file(t, filepath.Join(sb.data, "inbox", "keep", "m.md"), "kept\n")
	must(t, os.WriteFile(sb.config, []byte(baseConfig), 0o640))
	must(t, os.Chown(sb.config, 0, configGID))
	must(t, os.Chmod(sb.config, 0o640))
	if sc.prep != nil {
		sc.prep(t, sb)
	}
	return sb
}

func (sb *sandbox) file(t *testing.T, path, text string) {
	t.Helper()
	must(t, os.WriteFile(path, []byte(text), 0o644))
}

func (sb *sandbox) mkdirOwned(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(sb.root, rel)
	must(t, os.Mkdir(p, 0o700))
	must(t, os.Chown(p, int(owner.UID), int(owner.GID)))
	return p
}

func (sb *sandbox) appendConfig(t *testing.T, text string) {
	t.Helper()
	f, err := os.OpenFile(sb.config, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = io.WriteString(f, text)
	must(t, err)
	must(t, f.Close())
}

func (sb *sandbox) readConfig() string {
	b, _ := os.ReadFile(sb.config)
	return string(b)
}

package mailbox

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
)

// The two folders every mailbox has under the data dir.
const (
	Inbox = "inbox"
	Sent  = "sent"
)

// ErrExists is wrapped by Create when the config already has the mailbox.
var ErrExists = errors.New("mailbox already exists")

// ConflictError is a mailbox folder that is already there with the wrong
// owner, or is not a folder (CREATE step 6).
type ConflictError struct {
	Path    string
	Problem string
	Fix     string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Path, e.Problem, e.Fix)
}

// NonEmptyError is a DELETE without force of a mailbox whose folders hold
// entries.
type NonEmptyError struct {
	Name        string
	Inbox, Sent int
}

func (e *NonEmptyError) Error() string {
	return fmt.Sprintf("mailbox '%s' has %d files (%d in inbox, %d in sent); archive or remove them first",
		e.Name, e.Inbox+e.Sent, e.Inbox, e.Sent)
}

// StepError is a filesystem step of CREATE or DELETE that failed; the
// request answers IO with it. Committed reports whether the config had
// already been replaced when it failed.
type StepError struct {
	Err       error
	Committed bool
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// Create adds mailbox st owned by uid:gid: it keeps a folder already on
// disk when reclaim (the rule, authz.Reclaim) allows it, and sets it
// 0700; creates the missing ones 0700 uid:gid; then appends the stanza to
// the config. On failure it removes only the folders it created (unless
// the config was already replaced) and returns a *StepError, a
// *ConflictError, an *EditError, or ErrExists.
func (t *Tx) Create(st Stanza, uid, gid uint32, reclaim func(folderUID, folderGID uint32) bool) error {
	if _, ok := t.Config.Mailbox(st.Name); ok {
		return fmt.Errorf("mailbox '%s': %w", st.Name, ErrExists)
	}
	text, err := t.Config.WithStanza(st)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(t.DataDir)
	if err != nil {
		return &StepError{Err: fsError("open data dir", t.DataDir, err)}
	}
	defer root.Close()

	var missing []string
	for _, kind := range []string{Inbox, Sent} {
		rel := filepath.Join(kind, st.Name)
		fi, err := root.Lstat(rel)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, rel)
		case err != nil:
			return &StepError{Err: fsError("lstat", t.path(rel), err)}
		case !fi.IsDir():
			return &ConflictError{Path: t.path(rel), Problem: "exists and is not a folder",
				Fix: "move it out of the way, then create the mailbox again"}
		default:
			if u, g := owner(fi); !reclaim(u, g) {
				return &ConflictError{Path: t.path(rel),
					Problem: fmt.Sprintf("exists and is owned by %d:%d, not by the mailbox owner %d:%d", u, g, uid, gid),
					Fix:     fmt.Sprintf("move it out of the way or run 'chown -R %d:%d %s', then create the mailbox again", uid, gid, t.path(rel))}
			}
		}
	}

	var created []string
	rollback := func(err error) error {
		for i := len(created) - 1; i >= 0; i-- {
			root.Remove(created[i])
		}
		return &StepError{Err: err}
	}
	for _, kind := range []string{Inbox, Sent} {
		rel := filepath.Join(kind, st.Name)
		if !slices.Contains(missing, rel) {
			// Reclaimed: owner-only, as AIMX's daemon keeps it.
			if err := setMode(root, rel, 0o700); err != nil {
				return rollback(fsError("chmod", t.path(rel), err))
			}
			continue
		}
		made, err := makeParent(root, kind, t.path)
		if err != nil {
			return rollback(err)
		}
		if err := makeFolder(root, rel, "."+st.Name+".new", uid, gid, t.path); err != nil {
			return rollback(err)
		}
		created = append(created, rel)
		// The new entries are made durable by Close, after the lock:
		// the folder's in kind/, and kind/'s own in the data dir.
		if made {
			t.unsynced = append(t.unsynced, t.DataDir)
		}
		t.unsynced = append(t.unsynced, t.path(kind))
	}
	if err := t.write(text); err != nil {
		return rollback(err)
	}
	return nil
}

// Delete removes mailbox name. With force it first renames both folders
// aside into the folder's trash (Trash, a name no mailbox can have),
// where EmptyTrash empties them later, outside the lock; without force it
// refuses with a *NonEmptyError while either folder holds an entry. It
// then removes the stanza from the config and, without force, removes
// each folder that is empty (a folder that is not stays, so no mail is
// lost). When the config write fails, folders set aside are put back. It
// returns a *NonEmptyError, *StepError or *EditError.
func (t *Tx) Delete(name string, force bool) error {
	root, err := os.OpenRoot(t.DataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &StepError{Err: fsError("open data dir", t.DataDir, err)}
	}
	if root != nil {
		defer root.Close()
	}
	text, err := t.Config.WithoutStanza(name)
	if err != nil {
		return err
	}
	count := map[string]int{}
	var aside [][2]string // {rel, trash rel}: put back if the write fails
	putBack := func() {
		for _, a := range aside {
			root.Rename(a[1], a[0])
		}
	}
	for _, kind := range []string{Inbox, Sent} {
		if root == nil {
			break
		}
		rel := filepath.Join(kind, name)
		fi, err := root.Lstat(rel)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir() {
			continue // nothing of the mailbox's here; left alone
		}
		if err != nil {
			putBack()
			return &StepError{Err: fsError("lstat", t.path(rel), err)}
		}
		if force {
			to, err := t.setAside(root, kind, name)
			if err != nil {
				putBack()
				return &StepError{Err: err}
			}
			aside = append(aside, [2]string{rel, to})
			continue
		}
		mb, err := root.OpenRoot(rel)
		if err == nil {
			count[kind], err = countEntries(mb, t.path(rel))
			mb.Close()
		}
		if err != nil {
			return &StepError{Err: fsError("open", t.path(rel), err)}
		}
	}
	if count[Inbox]+count[Sent] > 0 {
		return &NonEmptyError{Name: name, Inbox: count[Inbox], Sent: count[Sent]}
	}
	if err := t.write(text); err != nil {
		putBack()
		return &StepError{Err: err}
	}
	for _, kind := range []string{Inbox, Sent} {
		if root == nil || force {
			break
		}
		removeIfEmpty(root, filepath.Join(kind, name))
	}
	return nil
}

// Trash is the folder inside inbox/ and sent/ where a forced DELETE sets
// a mailbox's folders aside, under the lock, to be emptied after the
// answer. Its name starts with '.', so it is never a mailbox.
const Trash = ".trash"

// setAside renames kind/name into kind/.trash/ under a fresh name and
// returns that name. The trash is made 0700 with the owner of kind/ when
// missing.
func (t *Tx) setAside(root *os.Root, kind, name string) (string, error) {
	trash := filepath.Join(kind, Trash)
	switch err := root.Mkdir(trash, 0o700); {
	case err == nil:
		if err := ownLike(root, trash, kind); err != nil {
			return "", fsError("chown", t.path(trash), err)
		}
	case !errors.Is(err, fs.ErrExist):
		return "", fsError("mkdir", t.path(trash), err)
	}
	// A name no other request picks: 64 bits from the runtime's generator
	// (seeded from the kernel's randomness); uniqueness is all it needs.
	to := filepath.Join(trash, fmt.Sprintf("%s.%016x", name, rand.Uint64()))
	if err := root.Rename(filepath.Join(kind, name), to); err != nil {
		return "", fsError("rename", t.path(filepath.Join(kind, name))+" to "+t.path(to), err)
	}
	return to, nil
}

// EmptyTrash removes everything in inbox/.trash and sent/.trash of
// dataDir: the folders that forced DELETEs set aside, including
// any left by a helper killed before it emptied them. It runs outside the
// lock. A mailbox owner may have planted symlinks, hard links, FIFOs or
// deep trees there: removal goes through a handle on the trash, never
// follows a symlink out of it and touches nothing outside it. Failures
// are left for a later call.
func EmptyTrash(dataDir string) {
	root, err := os.OpenRoot(dataDir)
	if err != nil {
		return
	}
	defer root.Close()
	for _, kind := range []string{Inbox, Sent} {
		trash, err := root.OpenRoot(filepath.Join(kind, Trash))
		if err != nil {
			continue
		}
		if names, err := readNames(trash, ""); err == nil {
			for _, n := range names {
				trash.RemoveAll(n)
			}
		}
		trash.Close()
	}
}

// RemoveLeftovers removes inbox/<name> and sent/<name> of a mailbox that
// is not in the config, each only when it is an empty folder whose owner
// may (the rule, authz.RemoveLeftover) says yes to. Those are what a DELETE leaves when it is
// killed between its config write and its rmdir, or when that rmdir
// fails: repeating the DELETE then converges to the end state of an
// uninterrupted one. Anything else is left as it is, and nothing is
// reported, so the answer to the caller does not depend on it.
func (t *Tx) RemoveLeftovers(name string, may func(folderUID uint32) bool) {
	if _, ok := t.Config.Mailbox(name); ok || ValidateName(name) != nil {
		return
	}
	root, err := os.OpenRoot(t.DataDir)
	if err != nil {
		return
	}
	defer root.Close()
	for _, kind := range []string{Inbox, Sent} {
		rel := filepath.Join(kind, name)
		if fi, err := root.Lstat(rel); err == nil && fi.IsDir() {
			if u, _ := owner(fi); may(u) {
				removeIfEmpty(root, rel)
			}
		}
	}
}

// removeIfEmpty removes folder rel if it is an empty folder, and leaves
// anything else as it is: a folder that mail reached after the count
// stays (and LIST shows it as unregistered), so nothing is ever lost. It
// reports whether rel is gone.
func removeIfEmpty(root *os.Root, rel string) bool {
	fi, err := root.Lstat(rel)
	if err != nil || !fi.IsDir() {
		return errors.Is(err, fs.ErrNotExist)
	}
	return root.Remove(rel) == nil // never recursive: ENOTEMPTY keeps it
}

// makeParent makes inbox/ or sent/ (kind) when missing: mode 0711 with
// the owner of the data dir (root:root 0711 on a real host), so that each
// owner reaches its own folder by name and nobody can list the names. It
// reports whether it made it.
func makeParent(root *os.Root, kind string, path func(string) string) (made bool, err error) {
	err = root.Mkdir(kind, 0o711)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err == nil {
		// Mode first, whatever the umask, while the folder is still ours.
		err = root.Chmod(kind, 0o711)
		if err == nil {
			err = ownLike(root, kind, ".")
		}
		if err != nil {
			root.Remove(kind)
		}
	}
	if err != nil {
		return false, fsError("make", path(kind), err)
	}
	return true, nil
}

// ownLike gives rel the owner of folder like, when it differs.
func ownLike(root *os.Root, rel, like string) error {
	want, err := root.Lstat(like)
	if err != nil {
		return err
	}
	got, err := root.Lstat(rel)
	if err != nil {
		return err
	}
	wu, wg := owner(want)
	if gu, gg := owner(got); gu == wu && gg == wg {
		return nil
	}
	return root.Lchown(rel, int(wu), int(wg))
}

// setMode sets rel's permission bits to mode unless they already are.
func setMode(root *os.Root, rel string, mode os.FileMode) error {
	fi, err := root.Lstat(rel)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == mode && fi.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky) == 0 {
		return nil
	}
	return root.Chmod(rel, mode)
}

// makeFolder makes folder rel 0700 uid:gid. The folder appears under
// its name only once it has that owner and mode: it is made under the
// temporary name tmp beside it (never a valid mailbox name, so LIST skips
// it), then renamed into place. A helper killed half-way therefore never
// leaves a root-owned folder that would block the next CREATE with
// ECONFLICT; the next CREATE of the name removes a stale tmp. On failure
// tmp is removed and the error names the step and the final path.
func makeFolder(root *os.Root, rel, tmp string, uid, gid uint32, path func(string) string) error {
	tmp = filepath.Join(filepath.Dir(rel), tmp)
	if err := root.RemoveAll(tmp); err != nil {
		return fsError("remove stale", path(tmp), err)
	}
	if err := root.Mkdir(tmp, 0o700); err != nil {
		return fsError("mkdir", path(rel), err)
	}
	// Mode first, while the folder is still ours: chmod after chown
	// would need CAP_FOWNER.
	err := root.Chmod(tmp, 0o700)
	if err != nil {
		err = fsError("chmod", path(rel), err)
	} else if err = root.Lchown(tmp, int(uid), int(gid)); err != nil {
		err = fsError("chown", path(rel), err)
	} else if err = root.Rename(tmp, rel); err != nil {
		err = fsError("rename", path(rel), err)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}

func (t *Tx) path(rel string) string { return filepath.Join(t.DataDir, rel) }

// errNotFolder is returned by openMailboxDir for a path that is not a
// folder (a file, or a symlink, which is never followed).
var errNotFolder = errors.New("not a folder")

// openMailboxDir opens rel as a root of its own, refusing a symlink.
func openMailboxDir(root *os.Root, rel string) (*os.Root, error) {
	fi, err := root.Lstat(rel)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w (%s)", errNotFolder, fi.Mode().Type())
	}
	return root.OpenRoot(rel)
}

func countEntries(mb *os.Root, path string) (int, error) {
	names, err := readNames(mb, path)
	return len(names), err
}

func readNames(mb *os.Root, path string) ([]string, error) {
	d, err := mb.Open(".")
	if err != nil {
		return nil, fsError("open", path, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fsError("read dir", path, err)
	}
	return names, nil
}

package mailbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// Create adds mailbox st owned by uid:gid: it keeps a folder that already
// belongs to exactly uid:gid, creates the missing ones 0700 uid:gid, then
// appends the stanza to the config. On failure it removes only the
// folders it created (unless the config was already replaced) and returns
// a *StepError, a *ConflictError, an *EditError, or ErrExists.
func (t *Tx) Create(st Stanza, uid, gid uint32) error {
	if _, ok := t.Config.Mailboxes[st.Name]; ok {
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
			if u, g := owner(fi); u != uid || g != gid {
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
	for _, rel := range missing {
		switch err := root.Mkdir(filepath.Dir(rel), 0o755); {
		case err == nil:
			// Every owner must reach its folder through it, whatever the umask.
			if err := root.Chmod(filepath.Dir(rel), 0o755); err != nil {
				return rollback(fsError("chmod", t.path(filepath.Dir(rel)), err))
			}
		case !errors.Is(err, fs.ErrExist):
			return rollback(fsError("mkdir", t.path(filepath.Dir(rel)), err))
		}
		if err := makeFolder(root, rel, "."+st.Name+".new", uid, gid, t.path); err != nil {
			return rollback(err)
		}
		created = append(created, rel)
	}
	if renamed, err := t.write(text); err != nil {
		if renamed {
			return &StepError{Err: err, Committed: true}
		}
		return rollback(err)
	}
	return nil
}

// Delete removes mailbox name: with force it first empties both folders
// (never following a symlink out of them), refuses with a *NonEmptyError
// while any entry is left, removes the stanza from the config, then
// removes each folder that is empty (a folder that is not stays, so no
// mail is lost). It returns a *NonEmptyError, *StepError or *EditError.
func (t *Tx) Delete(name string, force bool) error {
	root, err := os.OpenRoot(t.DataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &StepError{Err: fsError("open data dir", t.DataDir, err)}
	}
	if root != nil {
		defer root.Close()
	}
	count := map[string]int{}
	for _, kind := range []string{Inbox, Sent} {
		if root == nil {
			break
		}
		rel := filepath.Join(kind, name)
		mb, err := openMailboxDir(root, rel)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotFolder) {
			continue // nothing of the mailbox's here; left alone
		}
		if err != nil {
			return &StepError{Err: fsError("open", t.path(rel), err)}
		}
		if force {
			err = wipe(mb, t.path(rel))
		}
		if err == nil {
			count[kind], err = countEntries(mb, t.path(rel))
		}
		mb.Close()
		if err != nil {
			return &StepError{Err: err}
		}
	}
	if count[Inbox]+count[Sent] > 0 {
		return &NonEmptyError{Name: name, Inbox: count[Inbox], Sent: count[Sent]}
	}
	text, err := t.Config.WithoutStanza(name)
	if err != nil {
		return err
	}
	if renamed, err := t.write(text); err != nil {
		return &StepError{Err: err, Committed: renamed}
	}
	for _, kind := range []string{Inbox, Sent} {
		if root == nil {
			break
		}
		removeIfEmpty(root, filepath.Join(kind, name))
	}
	return nil
}

// RemoveLeftovers removes inbox/<name> and sent/<name> of a mailbox that
// is not in the config, each only when it is an empty folder owned by uid
// (by anyone when uid is 0). Those are what a DELETE leaves when it is
// killed between its config write and its rmdir, or when that rmdir
// fails: repeating the DELETE then converges to the end state of an
// uninterrupted one. Anything else is left as it is, and nothing is
// reported, so the answer to the caller does not depend on it.
func (t *Tx) RemoveLeftovers(name string, uid uint32) {
	if _, ok := t.Config.Mailboxes[name]; ok || ValidateName(name) != nil {
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
			if u, _ := owner(fi); uid == 0 || u == uid {
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

// wipe removes every entry inside mb, not mb itself. Through the handle a
// symlink is removed, never followed, and a hard link loses only its name
// here.
func wipe(mb *os.Root, path string) error {
	names, err := readNames(mb, path)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := mb.RemoveAll(n); err != nil {
			return fsError("remove", filepath.Join(path, n), err)
		}
	}
	return nil
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

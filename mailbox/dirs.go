package mailbox

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/aimx/aimx-mailboxd/rawio"
	"golang.org/x/sys/unix"
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
// entries. Delete decides only that, under the lock; Count fills in the
// counts for the message after the lock is released.
type NonEmptyError struct {
	Name        string
	Inbox, Sent int
	// AtLeast: a folder held more than MaxCount entries, so its count
	// stopped there.
	AtLeast bool
	counted bool
	dataDir string
}

// MaxCount bounds how many entries of one folder NonEmptyError.Count
// reads: a user may hold millions of hard links in her own folder.
const MaxCount = 10_000

func (e *NonEmptyError) Error() string {
	if !e.counted {
		return fmt.Sprintf("mailbox '%s' is not empty; archive or remove its files first", e.Name)
	}
	atLeast := ""
	if e.AtLeast {
		atLeast = "at least "
	}
	return fmt.Sprintf("mailbox '%s' has %s%s (%d in inbox, %d in sent); archive or remove them first",
		e.Name, atLeast, files(e.Inbox+e.Sent), e.Inbox, e.Sent)
}

func files(n int) string {
	if n == 1 {
		return "1 file"
	}
	return fmt.Sprintf("%d files", n)
}

// Count counts the entries of the mailbox's two folders, at most
// MaxCount each, for the message. It runs after the lock is released:
// its cost follows what the owner stored, and only the owner waits on it.
func (e *NonEmptyError) Count() {
	e.counted = true
	data, err := rawio.OpenDir(unix.AT_FDCWD, e.dataDir, false)
	if err != nil {
		return
	}
	defer unix.Close(data)
	for _, k := range []struct {
		kind string
		n    *int
	}{{Inbox, &e.Inbox}, {Sent, &e.Sent}} {
		n, more := countEntries(data, filepath.Join(k.kind, e.Name), MaxCount)
		*k.n, e.AtLeast = n, e.AtLeast || more
	}
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
//
// Every step is a system call on a descriptor of the data dir, inbox/ or
// sent/, each opened once and never through a symlink.
func (t *Tx) Create(st Stanza, uid, gid uint32, reclaim func(folderUID, folderGID uint32) bool) error {
	if _, ok := t.Config.Mailbox(st.Name); ok {
		return fmt.Errorf("mailbox '%s': %w", st.Name, ErrExists)
	}
	added, err := t.Config.stanzaAdded(st)
	if err != nil {
		return err
	}
	data, err := rawio.OpenDir(unix.AT_FDCWD, t.DataDir, false)
	if err != nil {
		return &StepError{Err: fsError("open data dir", t.DataDir, err)}
	}
	kinds := [2]string{Inbox, Sent}
	kindFD := [2]int{-1, -1}
	handed := [2]bool{} // kindFD[i] went to syncSoon: Close closes it
	defer func() {
		if data >= 0 {
			unix.Close(data)
		}
		for i, fd := range kindFD {
			if fd >= 0 && !handed[i] {
				unix.Close(fd)
			}
		}
	}()
	var missing [2]bool
	for i, kind := range kinds {
		rel := filepath.Join(kind, st.Name)
		fd, err := rawio.OpenDir(data, kind, true)
		if err == unix.ENOENT {
			missing[i] = true
			continue
		}
		if err != nil {
			return &StepError{Err: fsError("open", t.path(kind), err)}
		}
		kindFD[i] = fd
		var fi unix.Stat_t
		switch err := unix.Fstatat(fd, st.Name, &fi, unix.AT_SYMLINK_NOFOLLOW); {
		case err == unix.ENOENT:
			missing[i] = true
		case err != nil:
			return &StepError{Err: fsError("lstat", t.path(rel), err)}
		case fi.Mode&unix.S_IFMT != unix.S_IFDIR:
			return &ConflictError{Path: t.path(rel), Problem: "exists and is not a folder",
				Fix: "move it out of the way, then create the mailbox again"}
		case !reclaim(fi.Uid, fi.Gid):
			return &ConflictError{Path: t.path(rel),
				Problem: fmt.Sprintf("exists and is owned by %d:%d, not by the mailbox owner %d:%d", fi.Uid, fi.Gid, uid, gid),
				Fix:     fmt.Sprintf("move it out of the way or run 'chown -R %d:%d %s', then create the mailbox again", uid, gid, t.path(rel))}
		}
	}

	var created []int // the kinds whose folder this call made
	madeParent := false
	rollback := func(err error) error {
		for i := len(created) - 1; i >= 0; i-- {
			k := created[i]
			unix.Unlinkat(kindFD[k], st.Name, unix.AT_REMOVEDIR)
		}
		return &StepError{Err: err}
	}
	for i, kind := range kinds {
		rel := filepath.Join(kind, st.Name)
		if !missing[i] {
			// Reclaimed: owner-only, as AIMX's daemon keeps it.
			if err := setMode(kindFD[i], st.Name, 0o700); err != nil {
				return rollback(fsError("chmod", t.path(rel), err))
			}
			continue
		}
		if kindFD[i] < 0 {
			fd, err := makeParent(data, kind)
			if err != nil {
				return rollback(fsError("make", t.path(kind), err))
			}
			kindFD[i] = fd
			madeParent = true
		}
		if err := makeFolder(kindFD[i], st.Name, "."+st.Name+".new", uid, gid, t.path(rel)); err != nil {
			return rollback(err)
		}
		created = append(created, i)
	}
	// The new entries are made durable now, while the config is
	// written: each folder's in its kind/, and a new kind/'s in the data
	// dir. Close waits for those fsyncs and closes the descriptors.
	if madeParent {
		t.syncSoon(data, t.DataDir)
		data = -1
	}
	for _, i := range created {
		t.syncSoon(kindFD[i], t.path(kinds[i]))
		handed[i] = true
	}
	if err := t.write(t.Config.text, added); err != nil {
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
	data, err := rawio.OpenDir(unix.AT_FDCWD, t.DataDir, false)
	if err != nil && err != unix.ENOENT {
		return &StepError{Err: fsError("open data dir", t.DataDir, err)}
	}
	var open []int // every descriptor opened here, closed on return
	defer func() {
		for _, fd := range open {
			unix.Close(fd)
		}
	}()
	if data >= 0 {
		open = append(open, data)
	}
	text, err := t.Config.WithoutStanza(name)
	if err != nil {
		return err
	}
	nonEmpty := false
	type moved struct {
		from, to int // descriptors of kind/ and of its trash
		name     string
	}
	var aside []moved // put back if the write fails
	putBack := func() {
		for _, a := range aside {
			unix.Renameat(a.to, a.name, a.from, name)
		}
	}
	type folder struct{ kind, self int } // kind/ and the mailbox's folder in it
	var present []folder
	for _, kind := range []string{Inbox, Sent} {
		if data < 0 {
			break
		}
		rel := filepath.Join(kind, name)
		kfd, err := rawio.OpenDir(data, kind, true)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			continue // no kind/ folder: nothing of the mailbox's here
		}
		if err != nil {
			putBack()
			return &StepError{Err: fsError("open", t.path(kind), err)}
		}
		open = append(open, kfd)
		var fi unix.Stat_t
		err = unix.Fstatat(kfd, name, &fi, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.ENOENT || err == nil && fi.Mode&unix.S_IFMT != unix.S_IFDIR {
			continue // nothing of the mailbox's here; left alone
		}
		if err != nil {
			putBack()
			return &StepError{Err: fsError("lstat", t.path(rel), err)}
		}
		if force {
			trash, to, err := t.setAside(kfd, kind, name)
			if trash >= 0 {
				open = append(open, trash)
			}
			if err != nil {
				putBack()
				return &StepError{Err: err}
			}
			aside = append(aside, moved{from: kfd, to: trash, name: to})
			continue
		}
		// Only "empty or not" under the lock: one bounded read, whatever
		// the owner stored (the counts come after the release: Count).
		fd, err := rawio.OpenDir(kfd, name, true)
		if err != nil {
			return &StepError{Err: fsError("open", t.path(rel), err)}
		}
		present = append(present, folder{kind: kfd, self: fd})
		empty, err := rawio.IsEmptyDir(fd)
		if err != nil {
			return &StepError{Err: fsError("read", t.path(rel), err)}
		}
		nonEmpty = nonEmpty || !empty
	}
	defer func() {
		for _, f := range present {
			if f.self >= 0 {
				unix.Close(f.self)
			}
		}
	}()
	if nonEmpty {
		return &NonEmptyError{Name: name, dataDir: t.DataDir}
	}
	if err := t.write(text, nil); err != nil {
		putBack()
		return &StepError{Err: err}
	}
	for i, f := range present {
		if removeIfEmpty(f.kind, name) {
			// Freed when Release closes it, after the lock and the answer.
			t.held, present[i].self = append(t.held, f.self), -1
		}
	}
	return nil
}

// removeIfEmpty removes entry name of folder dir if it is an empty
// folder, and leaves anything else as it is: a folder that mail reached
// after the count stays (and LIST shows it as unregistered), so nothing
// is ever lost. It reports whether name is gone.
func removeIfEmpty(dir int, name string) bool {
	err := unix.Unlinkat(dir, name, unix.AT_REMOVEDIR) // never recursive: ENOTEMPTY keeps it
	return err == nil || err == unix.ENOENT
}

// setAside renames kind/name (kfd is kind/) into kind/.trash/ under a
// fresh name, and returns the trash's descriptor and that name. The
// trash is made 0700 with the owner of kind/ when missing, and is never
// reached through a symlink.
func (t *Tx) setAside(kfd int, kind, name string) (int, string, error) {
	trashPath := t.path(filepath.Join(kind, Trash))
	switch err := unix.Mkdirat(kfd, Trash, 0o700); {
	case err == nil:
		if err := ownLike(kfd, Trash); err != nil {
			return -1, "", fsError("chown", trashPath, err)
		}
	case err != unix.EEXIST:
		return -1, "", fsError("mkdir", trashPath, err)
	}
	trash, err := rawio.OpenDir(kfd, Trash, true)
	if err != nil {
		return -1, "", fsError("open", trashPath, err)
	}
	// A name no other request picks: 64 bits from the runtime's generator
	// (seeded from the kernel's randomness); uniqueness is all it needs.
	to := fmt.Sprintf("%s.%016x", name, rand.Uint64())
	if err := unix.Renameat(kfd, name, trash, to); err != nil {
		return trash, "", fsError("rename", t.path(filepath.Join(kind, name))+" to "+filepath.Join(trashPath, to), err)
	}
	return trash, to, nil
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
	data, err := rawio.OpenDir(unix.AT_FDCWD, t.DataDir, false)
	if err != nil {
		return
	}
	defer unix.Close(data)
	for _, kind := range []string{Inbox, Sent} {
		kfd, err := rawio.OpenDir(data, kind, true)
		if err != nil {
			continue
		}
		var fi unix.Stat_t
		if unix.Fstatat(kfd, name, &fi, unix.AT_SYMLINK_NOFOLLOW) == nil && fi.Mode&unix.S_IFMT == unix.S_IFDIR && may(fi.Uid) {
			removeIfEmpty(kfd, name)
		}
		unix.Close(kfd)
	}
}

// Leftovers counts the names that have a folder under inbox/ or sent/
// but no stanza in the config, and whose owner's uid owns (the rule,
// authz.OwnsFolder) says yes to: what a DELETE leaves when mail reached
// a folder before its rmdir. Only folders with a valid mailbox name
// count; a name with both folders counts once.
func (t *Tx) Leftovers(owns func(folderUID uint32) bool) (int, error) {
	data, err := rawio.OpenDir(unix.AT_FDCWD, t.DataDir, false)
	if err == unix.ENOENT {
		return 0, nil
	}
	if err != nil {
		return 0, &StepError{Err: fsError("open data dir", t.DataDir, err)}
	}
	defer unix.Close(data)
	seen := map[string]bool{}
	for _, kind := range []string{Inbox, Sent} {
		kfd, err := rawio.OpenDir(data, kind, true)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			return 0, &StepError{Err: fsError("open", t.path(kind), err)}
		}
		err = rawio.Batches(kfd, func(batch []rawio.Entry) bool {
			for _, e := range batch {
				if seen[e.Name] || ValidateName(e.Name) != nil {
					continue
				}
				if _, ok := t.Config.Mailbox(e.Name); ok {
					continue
				}
				var fi unix.Stat_t
				if unix.Fstatat(kfd, e.Name, &fi, unix.AT_SYMLINK_NOFOLLOW) == nil && fi.Mode&unix.S_IFMT == unix.S_IFDIR && owns(fi.Uid) {
					seen[e.Name] = true
				}
			}
			return true
		})
		unix.Close(kfd)
		if err != nil {
			return 0, &StepError{Err: fsError("read", t.path(kind), err)}
		}
	}
	return len(seen), nil
}

// makeParent makes inbox/ or sent/ (kind) in the data dir data: mode
// 0711 with the owner of the data dir (root:root 0711 on a real host),
// so that each owner reaches its own folder by name and nobody can list
// the names. It returns the new folder's descriptor. A kind/ that
// another request made meanwhile is opened as it is.
func makeParent(data int, kind string) (int, error) {
	err := unix.Mkdirat(data, kind, 0o711)
	if err == unix.EEXIST {
		return rawio.OpenDir(data, kind, true)
	}
	if err != nil {
		return -1, err
	}
	fd, err := rawio.OpenDir(data, kind, true)
	if err == nil {
		// Mode first, whatever the umask, while the folder is still ours.
		if err = unix.Fchmod(fd, 0o711); err == nil {
			err = ownLike(data, kind)
		}
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		unix.Unlinkat(data, kind, unix.AT_REMOVEDIR)
		return -1, err
	}
	return fd, nil
}

// ownLike gives entry name of folder dir the owner of dir, when it
// differs.
func ownLike(dir int, name string) error {
	var want, got unix.Stat_t
	if err := unix.Fstat(dir, &want); err != nil {
		return err
	}
	if err := unix.Fstatat(dir, name, &got, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if got.Uid == want.Uid && got.Gid == want.Gid {
		return nil
	}
	return unix.Fchownat(dir, name, int(want.Uid), int(want.Gid), unix.AT_SYMLINK_NOFOLLOW)
}

// setMode sets the permission bits of folder name in dir to mode unless
// they already are.
func setMode(dir int, name string, mode uint32) error {
	fd, err := rawio.OpenDir(dir, name, true)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if uint32(st.Mode)&0o7777 == mode {
		return nil
	}
	return unix.Fchmod(fd, mode)
}

// makeFolder makes folder name in kind/ (descriptor kfd) 0700 uid:gid.
// The folder appears under its name only once it has that owner and
// mode: it is made under the temporary name tmp beside it (never a valid
// mailbox name, so LIST skips it), then renamed into place. A helper
// killed half-way therefore never leaves a root-owned folder that would
// block the next CREATE with ECONFLICT; the next CREATE of the name
// removes a stale tmp. On failure tmp is removed and the error names the
// step and the final path.
func makeFolder(kfd int, name, tmp string, uid, gid uint32, path string) error {
	err := unix.Mkdirat(kfd, tmp, 0o700)
	if err == unix.EEXIST {
		if err := removeStale(kfd, tmp, filepath.Dir(path)); err != nil {
			return fsError("remove stale", filepath.Join(filepath.Dir(path), tmp), err)
		}
		err = unix.Mkdirat(kfd, tmp, 0o700)
	}
	if err != nil {
		return fsError("mkdir", path, err)
	}
	fd, err := rawio.OpenDir(kfd, tmp, true)
	if err != nil {
		err = fsError("open", path, err)
	} else {
		// Mode first, while the folder is still ours: chmod after chown
		// would need CAP_FOWNER.
		if err = unix.Fchmod(fd, 0o700); err != nil {
			err = fsError("chmod", path, err)
		} else if err = unix.Fchown(fd, int(uid), int(gid)); err != nil {
			err = fsError("chown", path, err)
		}
		unix.Close(fd)
	}
	if err == nil {
		if err = renameNoReplace(kfd, tmp, name); err != nil {
			err = fsError("rename", path, err)
		}
	}
	if err != nil {
		unix.Unlinkat(kfd, tmp, unix.AT_REMOVEDIR)
	}
	return err
}

// removeStale removes entry tmp of folder kfd (at path dirPath) if a
// helper killed half-way left it: an empty folder, as it usually is, with
// one rmdir; anything else through a handle on the folder that never
// follows a symlink out of it.
func removeStale(kfd int, tmp, dirPath string) error {
	switch err := unix.Unlinkat(kfd, tmp, unix.AT_REMOVEDIR); err {
	case nil, unix.ENOENT:
		return nil
	case unix.ENOTDIR:
		return unix.Unlinkat(kfd, tmp, 0)
	}
	root, err := os.OpenRoot(dirPath)
	if err != nil {
		return err
	}
	defer root.Close()
	return root.RemoveAll(tmp)
}

// renameNoReplace renames from to to in folder dir, failing with EEXIST
// rather than replacing anything there (an empty folder would be
// replaced silently by rename(2)). A file system without
// RENAME_NOREPLACE gets a check, then rename(2): under the lock nothing
// of ours races it.
func renameNoReplace(dir int, from, to string) error {
	err := renameExclusive(dir, from, to)
	if err != unix.EINVAL && err != unix.ENOSYS {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dir, to, &st, unix.AT_SYMLINK_NOFOLLOW); err != unix.ENOENT {
		if err == nil {
			return unix.EEXIST
		}
		return err
	}
	return unix.Renameat(dir, from, dir, to)
}

func (t *Tx) path(rel string) string { return filepath.Join(t.DataDir, rel) }

// countEntries counts the entries of folder rel under the data dir data,
// opened without following a symlink, reading at most max of them; more
// reports that it stopped there. A folder it cannot read counts 0.
func countEntries(data int, rel string, max int) (n int, more bool) {
	kind, name := filepath.Split(rel)
	kfd, err := rawio.OpenDir(data, filepath.Clean(kind), true)
	if err != nil {
		return 0, false
	}
	fd, err := rawio.OpenDir(kfd, name, true)
	unix.Close(kfd)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	rawio.Batches(fd, func(batch []rawio.Entry) bool {
		n += len(batch)
		return n < max
	})
	if n >= max {
		return max, true
	}
	return n, false
}

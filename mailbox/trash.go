package mailbox

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aimx/aimx-mailboxd/rawio"
	"golang.org/x/sys/unix"
)

// Trash is the folder inside inbox/ and sent/ where a forced DELETE sets
// a mailbox's folders aside, under the lock, to be emptied after the
// answer. Its name starts with '.', so it is never a mailbox.
const Trash = ".trash"

// How EmptyTrash bounds its work (docs/BEHAVIOR.md, DELETE step 7):
const (
	// trashBudget is the time one request spends emptying, after its
	// answer; what is left waits for a later request.
	trashBudget = time.Second
	// trashDepth is how many folders of one tree are open at once; a
	// folder deeper than that is moved up into the trash as a tree of
	// its own, so neither open files nor memory grow with depth.
	trashDepth = 16
	// retryFile, in the trash, says when the next try may start (its
	// mtime) and how many tries in a row ran out of time having removed
	// nothing (its size). A try that runs out of time makes the next wait
	// retryMin when it made progress, twice as long as the last wait when
	// it made none, up to retryMax. A try stopped by an error (an entry
	// that will not go) sets no wait: the next request tries again, and
	// gets as far as that entry at the cost of the path to it.
	retryFile = ".retry"
	retryMin  = 10 * time.Second
	retryMax  = time.Hour
)

// EmptyTrash removes what forced DELETEs set aside in inbox/.trash and
// sent/.trash of dataDir, including what a helper killed before it
// emptied them left. It runs outside the lock, after the answer.
//
// A mailbox owner may have planted symlinks, hard links, FIFOs or deep
// and wide trees there: removal goes down from descriptors of the trash
// only, never follows a symlink, never climbs through "..", and touches
// nothing outside the trash. It keeps at most trashDepth folders open and
// one read buffer, whatever the tree's shape, and stops at trashBudget:
// what it removed stays removed, and a trash it could not finish in time
// is left alone for a while (the retry file), so that a tree too big for
// one request is not walked by every request. Two requests emptying the
// same trash at once each take what is left (an entry the other removed
// is gone, not an error). Failures are left for a later call.
func EmptyTrash(dataDir string) {
	data, err := rawio.OpenDir(unix.AT_FDCWD, dataDir, false)
	if err != nil {
		return
	}
	defer unix.Close(data)
	deadline := time.Now().Add(trashBudget)
	buf := make([]byte, 32<<10)
	for _, kind := range []string{Inbox, Sent} {
		emptyTrash(data, kind, deadline, buf)
	}
}

// emptyTrash empties kind/.trash under the data dir data.
func emptyTrash(data int, kind string, deadline time.Time, buf []byte) {
	kfd, err := rawio.OpenDir(data, kind, true)
	if err != nil {
		return
	}
	trash, err := rawio.OpenDir(kfd, Trash, true)
	unix.Close(kfd)
	if err != nil {
		return
	}
	defer unix.Close(trash)
	if empty, err := onlyRetry(trash, buf); err != nil || empty {
		return
	}
	tries, waitUntil := retryState(trash)
	if time.Now().Before(waitUntil) {
		return
	}
	e := &emptier{trash: trash, buf: buf, deadline: deadline}
	switch {
	case e.run():
		unix.Unlinkat(trash, retryFile, 0)
	case !e.timedOut: // an entry would not go: no wait
	case e.removed > 0:
		setRetry(trash, 1)
	default:
		setRetry(trash, tries+1)
	}
}

// onlyRetry reports whether the trash holds nothing but the retry file:
// the usual case, one read.
func onlyRetry(trash int, buf []byte) (bool, error) {
	unix.Seek(trash, 0, 0)
	batch, err := rawio.ReadBatch(trash, buf)
	if err != nil {
		return false, err
	}
	return len(batch) == 0 || len(batch) == 1 && batch[0].Name == retryFile, nil
}

// retryState reads the retry file: how many tries in a row did not
// finish, and when the next may start.
func retryState(trash int) (int, time.Time) {
	var st unix.Stat_t
	if unix.Fstatat(trash, retryFile, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, time.Time{}
	}
	return int(st.Size), time.Unix(st.Mtim.Unix())
}

// setRetry records tries (1 after a try that ran out of time having made
// progress, more after each that made none) and the wait before the next.
func setRetry(trash int, tries int) {
	wait := retryMax
	if tries < 20 {
		wait = min(retryMin<<(tries-1), retryMax)
	}
	fd, err := unix.Openat(trash, retryFile, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	unix.Ftruncate(fd, int64(tries))
	next := unix.NsecToTimespec(time.Now().Add(wait).UnixNano())
	unix.UtimesNanoAt(trash, retryFile, []unix.Timespec{next, next}, unix.AT_SYMLINK_NOFOLLOW)
}

// emptier removes the entries of one trash folder within a deadline.
type emptier struct {
	trash    int
	buf      []byte
	deadline time.Time
	ops      int
	removed  int  // entries removed (or moved up) so far
	timedOut bool // the deadline stopped it
}

// gone counts one entry removed when err is nil, and reports whether the
// entry is gone: removed now, or already (ENOENT: another request took
// it).
func (e *emptier) gone(err error) bool {
	if err == nil {
		e.removed++
	}
	return err == nil || err == unix.ENOENT
}

// late reports, every few hundred calls, whether the deadline passed.
func (e *emptier) late() bool {
	e.ops++
	if e.ops%256 == 0 && time.Now().After(e.deadline) {
		e.timedOut = true
	}
	return e.timedOut
}

// run removes every entry of the trash but the retry file; it reports
// whether the trash is empty.
func (e *emptier) run() bool {
	for {
		unix.Seek(e.trash, 0, 0)
		batch, err := rawio.ReadBatch(e.trash, e.buf)
		if err != nil {
			return false
		}
		todo := 0
		for _, ent := range batch {
			if ent.Name == retryFile {
				continue
			}
			todo++
			if !e.remove(e.trash, ent.Name, ent.Type) {
				return false
			}
		}
		if todo == 0 {
			return true
		}
	}
}

// remove removes entry name of folder dir (of type typ, as the folder
// says), at any depth. It reports false when it stopped: the deadline,
// or an entry that would not go.
func (e *emptier) remove(dir int, name string, typ uint8) bool {
	if typ != unix.DT_DIR && typ != unix.DT_UNKNOWN {
		return e.gone(unix.Unlinkat(dir, name, 0))
	}
	if err := unix.Unlinkat(dir, name, unix.AT_REMOVEDIR); err == nil || err == unix.ENOENT {
		return e.gone(err)
	} else if err == unix.ENOTDIR {
		return e.gone(unix.Unlinkat(dir, name, 0))
	}
	type frame struct {
		fd     int
		parent int
		name   string
	}
	fd, err := rawio.OpenDir(dir, name, true)
	if err != nil {
		return err == unix.ENOENT
	}
	stack := []frame{{fd: fd, parent: dir, name: name}}
	defer func() {
		for _, f := range stack {
			unix.Close(f.fd)
		}
	}()
	for len(stack) > 0 {
		if e.late() {
			return false
		}
		top := stack[len(stack)-1]
		unix.Seek(top.fd, 0, 0)
		batch, err := rawio.ReadBatch(top.fd, e.buf)
		if err != nil {
			return false
		}
		if len(batch) == 0 { // emptied: close it and remove it from its parent
			unix.Close(top.fd)
			stack = stack[:len(stack)-1]
			if !e.gone(unix.Unlinkat(top.parent, top.name, unix.AT_REMOVEDIR)) {
				return false
			}
			continue
		}
		for _, ent := range batch {
			if e.late() {
				return false
			}
			if ent.Type != unix.DT_DIR && ent.Type != unix.DT_UNKNOWN {
				if !e.gone(unix.Unlinkat(top.fd, ent.Name, 0)) {
					return false
				}
				continue
			}
			err := unix.Unlinkat(top.fd, ent.Name, unix.AT_REMOVEDIR)
			switch {
			case err == nil || err == unix.ENOENT:
				e.gone(err)
				continue
			case err == unix.ENOTDIR:
				if !e.gone(unix.Unlinkat(top.fd, ent.Name, 0)) {
					return false
				}
				continue
			case len(stack) >= trashDepth:
				// Too deep to go on: move it up into the trash, where it
				// is a tree of its own.
				to := fmt.Sprintf("deep.%016x", rand.Uint64())
				if !e.gone(unix.Renameat(top.fd, ent.Name, e.trash, to)) {
					return false
				}
				continue
			}
			child, err := rawio.OpenDir(top.fd, ent.Name, true)
			if err == unix.ENOENT {
				continue
			}
			if err != nil {
				return false
			}
			stack = append(stack, frame{fd: child, parent: top.fd, name: ent.Name})
			break // into the child; this folder is read again afterwards
		}
	}
	return true
}

// Package mailbox holds the mailboxes themselves: the config file with its
// byte-preserving edits, the cross-process lock, the durable write, and
// the inbox and sent folders on disk.
//
// It promises docs/BEHAVIOR.md's "Files", "Locking", "CREATE, in order" (steps
// 4 and 6 to 9), "DELETE, in order" (steps 4 to 7) and "Crash safety":
// the config on disk is always the old file or the new one, whole, with
// its mode and owner; folders under the data dir are reached only through
// a handle on it, never through a path a symlink could redirect. Who may
// do what is not its business: the caller decides between Lock and the
// edit.
package mailbox

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aimx/aimx-mailboxd/rawio"
	"golang.org/x/sys/unix"
)

// Store names the config file and data dir that requests work on.
type Store struct {
	ConfigPath string // config.toml; DefaultConfigPath when empty
	DataDir    string // overrides the config's data_dir when not empty
	// LockTimeout bounds the wait for the config lock (the policy's
	// lock_timeout_seconds); zero means DefaultLockTimeout.
	LockTimeout time.Duration
}

// DefaultLockTimeout is the wait for the lock when the Store names none
// (the policy file's default).
const DefaultLockTimeout = 10 * time.Second

func (s *Store) lockTimeout() time.Duration {
	if s.LockTimeout <= 0 {
		return DefaultLockTimeout
	}
	return s.LockTimeout
}

// Path is the config file in force.
func (s *Store) Path() string { return s.configPath() }

func (s *Store) configPath() string {
	if s.ConfigPath == "" {
		return DefaultConfigPath
	}
	return s.ConfigPath
}

// LockPath is the lock file of the config: .<config name>.lock beside it.
func (s *Store) LockPath() string {
	path := s.configPath()
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".lock")
}

// BusyError is a lock that another request held for longer than the
// Store's LockTimeout. Nothing was changed.
type BusyError struct {
	Config, Lock string
	Waited       time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("config %s is busy: its lock %s was held by another request for more than %s; nothing was changed, try again",
		e.Config, e.Lock, e.Waited)
}

// DataDirFor is the data dir in force for config c: Store.DataDir, else
// the config's data_dir, else DefaultDataDir.
func (s *Store) DataDirFor(c *Config) string {
	switch {
	case s.DataDir != "":
		return s.DataDir
	case c != nil && c.DataDir != "":
		return c.DataDir
	}
	return DefaultDataDir
}

// IndexPath is the config's checked index: .<config name>.index beside
// it (index.go).
func (s *Store) IndexPath() string {
	path := s.configPath()
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".index")
}

// Load reads the config without the lock (a reader sees the old file or
// the new one, whole) for a request that only reads it. Through an index
// that describes exactly these bytes, the Config holds the index and not
// the text: the text is hashed as it is read, in pieces, and not kept
// (rawio.ReadPieces). Without a trusted index, or when it describes other
// bytes, the text is read whole and parsed. It fails with a
// *ConfigError.
func (s *Store) Load() (*Config, error) {
	path := s.configPath()
	if x := s.indexBeside(path); x != nil {
		h := sha256.New()
		if err := rawio.ReadPieces(unix.AT_FDCWD, path, 0, make([]byte, hashPiece), func(b []byte) { h.Write(b) }); err != nil {
			return nil, &ConfigError{Path: path, Err: err}
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		if x.Sum == sum {
			return fromIndex(path, nil, x), nil
		}
	}
	text, _, err := rawio.ReadFile(unix.AT_FDCWD, path, 0)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	return ParseConfig(path, text)
}

// indexBeside is the index beside the config at path, as readIndex
// trusts it (nil when there is none it trusts).
func (s *Store) indexBeside(path string) *Index {
	dir, err := rawio.OpenDir(unix.AT_FDCWD, filepath.Dir(path), false)
	if err != nil {
		return nil
	}
	defer unix.Close(dir)
	var dst unix.Stat_t
	if unix.Fstat(dir, &dst) != nil {
		return nil
	}
	return s.readIndex(dir, dst.Uid)
}

// hashPiece is how much of the config Load reads at a time.
const hashPiece = 64 << 10

// Tx is the config read under the exclusive lock. Create and Delete edit
// it; Close releases the lock. A Tx serves one edit.
type Tx struct {
	Config  *Config
	DataDir string

	store   *Store
	lock    int         // the flocked lock file's descriptor
	dir     int         // the config's folder, fsynced after rename; -1 once closed
	dirPath string      // its path, for messages
	dirStat unix.Stat_t // its fstat when Lock opened it: whose the lock and index files are
	mode    os.FileMode
	uid     uint32
	gid     uint32
	rebuilt *Index // an index built by Lock, written by Close unless an edit replaced the config
	read    fileID // the config as Lock read it
	// What Close fsyncs after the lock is released: the config's folder
	// after the rename (renamed), and the folders under the data dir that
	// CREATE made an entry in (unsynced: inbox/, sent/, the data dir;
	// their descriptors, which Close closes).
	renamed  bool
	unsynced []*syncDir
	syncs    sync.WaitGroup
	// held: descriptors of what this edit may unlink or replace (the
	// config as read; a mailbox folder DELETE removed), closed by
	// Release. The last close of an unlinked file frees its inode and
	// blocks, and on a file system mounted with discard that close waits
	// for the device to discard them: an inode kept open here is freed
	// after the lock and the answer instead of in the rename or rmdir.
	held []int
}

// syncDir is a folder being fsynced: its open descriptor, its path, and
// the fsync's error.
type syncDir struct {
	fd   int
	path string
	err  error
}

// syncSoon starts fsyncing folder fd (at path) now, on its own goroutine,
// so that it overlaps the config's write; Close waits for it, reports its
// error and closes fd.
func (t *Tx) syncSoon(fd int, path string) {
	d := &syncDir{fd: fd, path: path}
	t.unsynced = append(t.unsynced, d)
	t.syncs.Add(1)
	go func() {
		defer t.syncs.Done()
		if err := unix.Fsync(d.fd); err != nil {
			d.err = fsError("fsync", d.path, err)
		}
	}()
}

// fileID tells one version of a file from another: a writer that does
// not take our lock (the AIMX daemon rewrites the config from memory)
// replaces the inode or changes its size, mtime or ctime.
type fileID struct {
	dev, ino   uint64
	size       int64
	mtim, ctim unix.Timespec
}

// ChangedError is a config that another program replaced or changed
// while this request held the lock and edited it: writing would undo
// that program's change, so nothing was written.
type ChangedError struct{ Path string }

func (e *ChangedError) Error() string {
	return fmt.Sprintf("config %s changed while this request was editing it (a program that does not take %s wrote it, such as the AIMX daemon serving its own mailbox request); nothing was changed, try again",
		e.Path, "."+filepath.Base(e.Path)+".lock")
}

// Lock takes the exclusive flock(2) on the config's lock file (LockPath:
// a regular file 0600 with the owner of the config's folder, made on
// first use, never a path a symlink could redirect), waiting at most
// LockTimeout; removes any temporary file a crashed writer left; and
// reads the config. It fails with a *BusyError when the wait ran out, and
// with a *ConfigError when the config is missing or does not parse; the
// lock is then released.
func (s *Store) Lock() (*Tx, error) {
	path := s.configPath()
	dirPath := filepath.Dir(path)
	dir, err := rawio.OpenDir(unix.AT_FDCWD, dirPath, false)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: &fs.PathError{Op: "open", Path: dirPath, Err: err}}
	}
	tx := &Tx{store: s, dir: dir, dirPath: dirPath, lock: -1}
	if err := unix.Fstat(dir, &tx.dirStat); err != nil {
		tx.Close()
		return nil, fsError("stat", dirPath, err)
	}
	if tx.lock, err = s.openLock(dir, tx.dirStat.Uid, tx.dirStat.Gid); err != nil {
		tx.Close()
		return nil, err
	}
	if err := lockWithin(tx.lock, s.lockTimeout()); err != nil {
		if errors.Is(err, errLockTimeout) {
			err = &BusyError{Config: path, Lock: s.LockPath(), Waited: s.lockTimeout()}
		} else {
			err = fsError("flock", s.LockPath(), err)
		}
		tx.lock = -1 // lockWithin closed it
		tx.Close()
		return nil, err
	}
	if err := tx.sweep(); err != nil {
		tx.Close()
		return nil, err
	}
	text, st, fd, err := rawio.ReadOpen(unix.AT_FDCWD, path, 0)
	if fd >= 0 {
		tx.held = append(tx.held, fd)
	}
	if err != nil {
		tx.Close()
		tx.Release()
		return nil, &ConfigError{Path: path, Err: err}
	}
	var sum [sha256.Size]byte
	var hashed []byte
	x := s.readIndex(dir, tx.dirStat.Uid)
	if x != nil {
		sum, hashed = textHash(text)
	}
	if x != nil && x.Sum == sum {
		tx.Config = fromIndex(path, text, x)
		tx.Config.hashed = hashed
	} else {
		if tx.Config, err = BuildIndex(path, text); err != nil {
			tx.Close()
			tx.Release()
			return nil, err
		}
		tx.rebuilt = tx.Config.index
	}
	tx.mode = os.FileMode(st.Mode & 0o777)
	tx.uid, tx.gid = st.Uid, st.Gid
	tx.read = idOf(&st)
	tx.DataDir = s.DataDirFor(tx.Config)
	return tx, nil
}

// Close writes the index that Lock built, if no edit replaced the config
// since, releases the lock, and then makes the edit durable: it fsyncs
// the config's folder after a rename, and inbox/ and sent/ after a
// mailbox folder was made in them. A request answers OK only after Close
// returned nil. When an fsync fails the edit is in place but its
// durability is in doubt: Close returns a *StepError with Committed set.
// A second Close does nothing. Release follows it, when the answer is
// out.
//
// The fsyncs come after the lock is released, so the next writer does
// not wait on them (docs/BEHAVIOR.md, Locking): the config on disk is
// still always a whole file, old or new, and no OK is sent before its
// edit is durable.
func (t *Tx) Close() error {
	if t.rebuilt != nil && t.lock >= 0 {
		t.writeIndex(t.rebuilt.file())
		t.rebuilt = nil
	}
	if t.lock >= 0 {
		unix.Close(t.lock)
		t.lock = -1
	}
	errs := []error{nil}
	if t.renamed && t.dir >= 0 {
		if err := unix.Fsync(t.dir); err != nil {
			errs[0] = fsError("fsync", t.dirPath, err)
		}
	}
	t.syncs.Wait()
	for _, d := range t.unsynced {
		errs = append(errs, d.err)
		unix.Close(d.fd)
	}
	t.renamed, t.unsynced = false, nil
	var err error
	for _, e := range errs {
		if e != nil {
			err = &StepError{Err: e, Committed: true}
			break
		}
	}
	if t.dir >= 0 {
		unix.Close(t.dir)
		t.dir = -1
	}
	return err
}

// Release closes what the edit kept open past Close (held): where the
// file system frees what the edit unlinked. It runs after the answer; a
// second Release does nothing.
func (t *Tx) Release() {
	for _, fd := range t.held {
		unix.Close(fd)
	}
	t.held = nil
}

// openLock opens (making it on first use) the lock file in the config's
// folder dir (owned duid:dgid) without following a symlink, and makes it
// a regular file 0600 owned like dir: nobody but the folder's owner can
// open it, so nobody else can hold it. A lock file it cannot bring to
// that state is refused rather than used.
func (s *Store) openLock(dir int, duid, dgid uint32) (int, error) {
	path := s.LockPath()
	fd, err := unix.Openat(dir, filepath.Base(path), unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o600)
	if err != nil {
		return -1, fsError("open lock file", path, err)
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	switch {
	case err != nil:
		err = fsError("stat", path, err)
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		err = fmt.Errorf("lock file %s is not a regular file: remove it (it is made again on the next request)", path)
	case st.Mode&0o7777 != 0o600 || st.Uid != duid || st.Gid != dgid:
		// Mode first, while the file may still be ours (as when this
		// request just made it): chmod after chown would need CAP_FOWNER.
		if err = unix.Fchmod(fd, 0o600); err == nil {
			err = unix.Fchown(fd, int(duid), int(dgid))
		}
		if err != nil {
			err = fmt.Errorf("lock file %s must be mode 0600 and owned by %d:%d like its folder (it is %04o %d:%d), and fixing it failed: %w; run 'chown %d:%d %s && chmod 0600 %s'",
				path, duid, dgid, st.Mode&0o7777, st.Uid, st.Gid, err, duid, dgid, path, path)
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

var errLockTimeout = errors.New("lock wait timed out")

// lockWithin takes an exclusive flock on fd, waiting at most d. On any
// failure fd is closed; a lock granted after the wait gave up is released
// at once (its descriptor is closed as soon as the kernel grants it).
func lockWithin(fd int, d time.Duration) error {
	err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		unix.Close(fd)
		return err
	}
	done := make(chan error, 1)
	go func() {
		for {
			err := unix.Flock(fd, unix.LOCK_EX)
			if !errors.Is(err, unix.EINTR) {
				done <- err
				return
			}
		}
	}()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			unix.Close(fd)
		}
		return err
	case <-timer.C:
		go func() { <-done; unix.Close(fd) }()
		return errLockTimeout
	}
}

func (t *Tx) tempPrefix() string { return "." + filepath.Base(t.store.configPath()) + ".tmp-" }

// sweep removes temporary files that a writer killed mid-write left
// beside the config. Only a lock holder writes them, so under the lock
// every one is stale.
func (t *Tx) sweep() error {
	entries, err := rawio.ReadDir(t.dir)
	if err != nil {
		return fsError("read dir", t.dirPath, err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name, t.tempPrefix()) {
			if err := unix.Unlinkat(t.dir, e.Name, 0); err != nil && err != unix.ENOENT {
				return fsError("remove stale temporary file", filepath.Join(t.dirPath, e.Name), err)
			}
		}
	}
	return nil
}

// createTemp makes a new temporary file beside the config, 0600, never
// through a symlink, and returns its name and descriptor.
func (t *Tx) createTemp() (string, int, error) {
	for {
		name := fmt.Sprintf("%s%016x", t.tempPrefix(), rand.Uint64())
		fd, err := unix.Openat(t.dir, name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != unix.EEXIST && err != unix.EINTR {
			return name, fd, err
		}
	}
}

// write replaces the config with text followed by added: a temporary
// file in the same folder with the config's mode, uid and gid, fsync,
// rename over the config; Close fsyncs the folder after the lock. On
// failure the temporary file is removed and the config is left as it
// was. A CREATE passes the text Lock read and what it appends; a DELETE
// the whole new text.
func (t *Tx) write(text, added []byte) (err error) {
	path := t.store.configPath()
	base := filepath.Base(path)
	name, fd, err := t.createTemp()
	if err != nil {
		return fsError("create temporary file in", t.dirPath, err)
	}
	tmp := filepath.Join(t.dirPath, name)
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
		if err != nil {
			unix.Unlinkat(t.dir, name, 0)
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fsError("stat", tmp, err)
	}
	// Mode first, while the file is still ours: chmod after chown would
	// need CAP_FOWNER.
	if err := unix.Fchmod(fd, uint32(t.mode)); err != nil {
		return fsError("chmod", tmp, err)
	}
	if st.Uid != t.uid || st.Gid != t.gid {
		if err := unix.Fchown(fd, int(t.uid), int(t.gid)); err != nil {
			return fsError("chown", tmp, err)
		}
	}
	if _, err := rawio.WriteAll(fd, text, added); err != nil {
		return fsError("write", tmp, err)
	}
	if err := unix.Fsync(fd); err != nil {
		return fsError("fsync", tmp, err)
	}
	err, fd = unix.Close(fd), -1
	if err != nil {
		return fsError("close", tmp, err)
	}
	// The last check before the rename: the config is still the file
	// read under the lock. (A writer without the lock can still land in
	// the moment between this check and the rename; it only narrows.)
	var now unix.Stat_t
	if err := unix.Fstatat(t.dir, base, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fsError("stat", path, err)
	}
	if idOf(&now) != t.read {
		return &ChangedError{Path: path}
	}
	if err := unix.Renameat(t.dir, name, t.dir, base); err != nil {
		return fsError("rename", tmp+" to "+path, err)
	}
	t.rebuilt = nil  // it describes the old text
	t.renamed = true // the folder's fsync waits for Close, after the lock
	if next := t.Config.next; next != nil {
		// A CREATE appended to the text Lock read: its hash goes on from
		// that text's state instead of reading it all again. (Were text
		// another, the index would name a hash the config does not have,
		// and the next request would build it again.)
		sum, ok := [sha256.Size]byte{}, false
		if len(added) > 0 && len(text) == len(t.Config.text) {
			sum, ok = extendHash(t.Config.hashed, added)
		}
		if !ok {
			h := sha256.New()
			h.Write(text)
			h.Write(added)
			h.Sum(sum[:0])
		}
		t.writeIndex(next.marshal(sum))
	}
	return nil
}

// readIndex returns the index beside the config in folder dir, or nil
// when the file is not trusted (readCache: it says who owns each
// mailbox) or is flawed (UnmarshalIndex). The caller uses it only if its
// Sum is the config's hash.
func (s *Store) readIndex(dir int, dirUID uint32) *Index {
	data, ok := readCache(dir, dirUID, filepath.Base(s.IndexPath()))
	if !ok {
		return nil
	}
	x, err := UnmarshalIndex(data)
	if err != nil {
		return nil
	}
	return x
}

// writeIndex replaces the index with f (writeCache).
func (t *Tx) writeIndex(f indexFile) {
	writeCache(t.dir, &t.dirStat, filepath.Base(t.store.IndexPath()), f)
}

// readCache returns the bytes of the cache file name (the checked index,
// the folders cache) in the config's folder dir, trusted only as a
// regular file (never through a symlink) owned by the folder's owner
// (dirUID) and readable and writable by nobody else.
func readCache(dir int, dirUID uint32, name string) ([]byte, bool) {
	data, st, err := rawio.ReadFile(dir, name, unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != dirUID || st.Mode&0o077 != 0 {
		return nil, false
	}
	return data, true
}

// writeCache replaces the cache file name in the config's folder dir
// (whose fstat is dst) with f. It rewrites the file in place (a regular
// file 0600 owned like the folder, opened without following a symlink),
// with no temporary file and no fsync: every cache file carries its own
// checksum and the hash of the config it describes, so a torn, lost or
// stale one is never trusted, only built again; and a new file per edit
// would cost an inode allocation, which is what makes a file creation
// expensive. Failures are ignored for the same reason.
func writeCache(dir int, dst *unix.Stat_t, name string, f indexFile) {
	du, dg := dst.Uid, dst.Gid
	fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return
	}
	if st.Mode&0o7777 != 0o600 || st.Uid != du || st.Gid != dg {
		// Mode first, while the file may still be ours (as when this
		// request made it): chmod after chown would need CAP_FOWNER.
		if unix.Fchmod(fd, 0o600) != nil || unix.Fchown(fd, int(du), int(dg)) != nil {
			return
		}
	}
	off, err := rawio.WriteAll(fd, f...)
	if err != nil {
		unix.Ftruncate(fd, 0) // never leave a file that reads as another cache
		return
	}
	unix.Ftruncate(fd, int64(off))
}

// FromEnv returns the Store for the --config and --data-dir flags in
// docs/BEHAVIOR.md's order: a flag wins over the environment (AIMX_CONFIG_DIR,
// the folder of config.toml; AIMX_DATA_DIR), the environment over the
// config file.
func FromEnv(config, dataDir string) *Store {
	if config == "" {
		if dir := os.Getenv("AIMX_CONFIG_DIR"); dir != "" {
			config = filepath.Join(dir, "config.toml")
		}
	}
	if dataDir == "" {
		dataDir = os.Getenv("AIMX_DATA_DIR")
	}
	return &Store{ConfigPath: config, DataDir: dataDir}
}

// fsError names the failing step and the whole path once: the *PathError
// of os and os.Root would repeat the path, relative to a handle.
func fsError(op, path string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("%s %s: %w", op, path, err)
}

// Package mailbox holds the mailboxes themselves: the config file with its
// byte-preserving edits, the cross-process lock, the durable write, and
// the inbox and sent folders on disk.
//
// It promises behavior.md's "Files", "Locking", "CREATE, in order" (steps
// 4 and 6 to 9), "DELETE, in order" (steps 4 to 7) and "Crash safety":
// the config on disk is always the old file or the new one, whole, with
// its mode and owner; folders under the data dir are reached only through
// a handle on it, never through a path a symlink could redirect. Who may
// do what is not its business: the caller decides between Lock and the
// edit.
package mailbox

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

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

// Load reads and parses the config without the lock (a reader sees the
// old file or the new one, whole), through its index when the index
// describes exactly these bytes. It fails with a *ConfigError.
func (s *Store) Load() (*Config, error) {
	path := s.configPath()
	text, _, err := readFile(unix.AT_FDCWD, path, 0)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	if dir, err := unix.Open(filepath.Dir(path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		x, _ := s.readIndex(dir, text)
		unix.Close(dir)
		if x != nil {
			return fromIndex(path, text, x), nil
		}
	}
	return ParseConfig(path, text)
}

// Tx is the config read under the exclusive lock. Create and Delete edit
// it; Close releases the lock. A Tx serves one edit.
type Tx struct {
	Config  *Config
	DataDir string

	store   *Store
	lock    int      // the flocked lock file's descriptor
	dir     *os.File // the config's folder, fsynced after rename
	mode    os.FileMode
	uid     uint32
	gid     uint32
	rebuilt *Index // an index built by Lock, written by Close unless an edit replaced the config
	read    fileID // the config as Lock read it
	// What Close fsyncs after the lock is released: the config's folder
	// after the rename (renamed), and the folders under the data dir that
	// CREATE made an entry in (unsynced: inbox/, sent/, the data dir).
	renamed  bool
	unsynced []string
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
	dir, err := os.Open(dirPath)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	tx := &Tx{store: s, dir: dir, lock: -1}
	if tx.lock, err = s.openLock(dir); err != nil {
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
	text, st, err := readFile(unix.AT_FDCWD, path, 0)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFREG {
		err = errors.New("not a regular file")
	}
	if err != nil {
		tx.Close()
		return nil, &ConfigError{Path: path, Err: err}
	}
	if x, hashed := s.readIndex(int(dir.Fd()), text); x != nil {
		tx.Config = fromIndex(path, text, x)
		tx.Config.hashed = hashed
	} else {
		if tx.Config, err = BuildIndex(path, text); err != nil {
			tx.Close()
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
// A second Close does nothing.
//
// The fsyncs come after the lock is released, so the next writer does
// not wait on them (behavior.md asks for them under the lock; README,
// "Where this differs from the spec", says why this is as safe): the
// config on disk is still always a whole file, old or new, and no OK is
// sent before its edit is durable.
func (t *Tx) Close() error {
	if t.rebuilt != nil && t.lock >= 0 {
		t.writeIndex(MarshalIndex(t.rebuilt))
		t.rebuilt = nil
	}
	if t.lock >= 0 {
		unix.Close(t.lock)
		t.lock = -1
	}
	// The folders at once: after the first fsync commits the journal,
	// each other one waits only for a cache flush, and the block layer
	// merges flushes that are pending together.
	errs := make([]error, len(t.unsynced)+1)
	var wg sync.WaitGroup
	for i, p := range t.unsynced {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i+1] = fsyncDir(p); errs[i+1] != nil {
				errs[i+1] = fsError("fsync", p, errs[i+1])
			}
		}()
	}
	if t.renamed && t.dir != nil {
		if errs[0] = t.dir.Sync(); errs[0] != nil {
			errs[0] = fsError("fsync", t.dir.Name(), errs[0])
		}
	}
	wg.Wait()
	t.renamed, t.unsynced = false, nil
	var err error
	for _, e := range errs {
		if e != nil {
			err = &StepError{Err: e, Committed: true}
			break
		}
	}
	if t.dir != nil {
		t.dir.Close()
		t.dir = nil
	}
	return err
}

// openLock opens (making it on first use) the lock file in the config's
// folder dir without following a symlink, and makes it a regular file
// 0600 owned like dir: nobody but the folder's owner can open it, so
// nobody else can hold it. A lock file it cannot bring to that state is
// refused rather than used.
func (s *Store) openLock(dir *os.File) (int, error) {
	path := s.LockPath()
	dfi, err := dir.Stat()
	if err != nil {
		return -1, fsError("stat", dir.Name(), err)
	}
	duid, dgid := owner(dfi)
	fd, err := unix.Openat(int(dir.Fd()), filepath.Base(path), unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0o600)
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
	names, err := t.dir.Readdirnames(-1)
	if _, serr := t.dir.Seek(0, io.SeekStart); err == nil {
		err = serr
	}
	if err != nil {
		return fsError("read dir", t.dir.Name(), err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, t.tempPrefix()) {
			p := filepath.Join(t.dir.Name(), n)
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fsError("remove stale temporary file", p, err)
			}
		}
	}
	return nil
}

// write replaces the config with text: a temporary file in the same
// folder with the config's mode, uid and gid, fsync, rename over the
// config; Close fsyncs the folder after the lock. On failure the
// temporary file is removed and the config is left as it was.
func (t *Tx) write(text []byte) (err error) {
	path := t.store.configPath()
	f, err := os.CreateTemp(t.dir.Name(), t.tempPrefix()+"*")
	if err != nil {
		return fsError("create temporary file in", t.dir.Name(), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return fsError("stat", tmp, err)
	}
	// Mode first, while the file is still ours: chmod after chown would
	// need CAP_FOWNER.
	if err := f.Chmod(t.mode); err != nil {
		return fsError("chmod", tmp, err)
	}
	if uid, gid := owner(fi); uid != t.uid || gid != t.gid {
		if err := f.Chown(int(t.uid), int(t.gid)); err != nil {
			return fsError("chown", tmp, err)
		}
	}
	if _, err := f.Write(text); err != nil {
		return fsError("write", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fsError("fsync", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fsError("close", tmp, err)
	}
	// The last check before the rename: the config is still the file
	// read under the lock. (A writer without the lock can still land in
	// the moment between this check and the rename; it only narrows.)
	var now unix.Stat_t
	if err := unix.Lstat(path, &now); err != nil {
		return fsError("stat", path, err)
	}
	if idOf(&now) != t.read {
		return &ChangedError{Path: path}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fsError("rename", tmp+" to "+path, err)
	}
	t.rebuilt = nil  // it describes the old text
	t.renamed = true // the folder's fsync waits for Close, after the lock
	if next := t.Config.next; next != nil {
		// A CREATE appended to the old text: its hash goes on from the
		// old one's state instead of reading the whole text again.
		old := t.Config.text
		sum, ok := [sha256.Size]byte{}, false
		if len(text) >= len(old) && bytes.Equal(text[:len(old)], old) {
			sum, ok = extendHash(t.Config.hashed, text[len(old):])
		}
		if !ok {
			sum = sha256.Sum256(text)
		}
		t.writeIndex(next.marshal(sum))
	}
	return nil
}

// readIndex returns the index beside the config in folder dir when it
// describes exactly text, else nil. The index is trusted only as a
// regular file (never through a symlink), owned by the folder's owner and
// readable and writable by nobody else: it says who owns each mailbox.
func (s *Store) readIndex(dir int, text []byte) (*Index, []byte) {
	var dst unix.Stat_t
	if unix.Fstat(dir, &dst) != nil {
		return nil, nil
	}
	data, st, err := readFile(dir, filepath.Base(s.IndexPath()), unix.O_NOFOLLOW|unix.O_NONBLOCK)
	if err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != dst.Uid || st.Mode&0o077 != 0 {
		return nil, nil
	}
	x, err := UnmarshalIndex(data)
	if err != nil {
		return nil, nil
	}
	sum, state := textHash(text)
	if x.Sum != sum {
		return nil, nil
	}
	return x, state
}

// fsyncDir fsyncs folder path, opened with plain system calls (an
// os.File would try to register it with the runtime's poller first).
func fsyncDir(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsync(fd)
}

// maxRead bounds what readFile reads: no config or index is near it.
const maxRead = 1 << 30

// readFile reads file name (relative to folder descriptor dir, or a path
// with unix.AT_FDCWD) whole, opened read-only with flags added, and
// returns it with its fstat. A file that is not a regular file is not
// read (a FIFO would block). It uses the system calls directly: a
// regular file gains nothing from the runtime's poller, which os.File
// would try to register it with on every open.
func readFile(dir int, name string, flags int) ([]byte, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return nil, st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, st, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, st, nil
	}
	if st.Size > maxRead {
		return nil, st, fmt.Errorf("%d bytes, more than %d", st.Size, maxRead)
	}
	buf := make([]byte, 0, st.Size+1) // one more, to see the end in one read
	for {
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, st, err
		}
		if n == 0 {
			return buf, st, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			if len(buf) > maxRead {
				return nil, st, fmt.Errorf("more than %d bytes", maxRead)
			}
			buf = append(buf, 0)[:len(buf)] // the file grew: make room
		}
	}
}

// writeIndex replaces the index with x. It rewrites the file in place
// (a regular file 0600 owned like the folder, opened without following a
// symlink), with no temporary file and no fsync: every index carries its
// own checksum and the hash of the config it describes, so a torn, lost
// or stale one is never trusted, only built again; and a new file per
// edit would cost an inode allocation, which is what makes a file
// creation expensive. Failures are ignored for the same reason.
func (t *Tx) writeIndex(data []byte) {
	dfi, err := t.dir.Stat()
	if err != nil {
		return
	}
	du, dg := owner(dfi)
	name := filepath.Base(t.store.IndexPath())
	fd, err := unix.Openat(int(t.dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
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
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(fd, data[off:], int64(off))
		if err != nil {
			unix.Ftruncate(fd, 0) // never leave a file that reads as another index
			return
		}
		off += n
	}
	unix.Ftruncate(fd, int64(len(data)))
}

func owner(fi os.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return 0, 0
}

// FromEnv returns the Store for the --config and --data-dir flags in
// behavior.md's order: a flag wins over the environment (AIMX_CONFIG_DIR,
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

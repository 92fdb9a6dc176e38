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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Store names the config file and data dir that requests work on.
type Store struct {
	ConfigPath string // config.toml; DefaultConfigPath when empty
	DataDir    string // overrides the config's data_dir when not empty
}

func (s *Store) configPath() string {
	if s.ConfigPath == "" {
		return DefaultConfigPath
	}
	return s.ConfigPath
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

// Load reads and parses the config without the lock (a reader sees the
// old file or the new one, whole). It fails with a *ConfigError.
func (s *Store) Load() (*Config, error) {
	path := s.configPath()
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	return ParseConfig(path, text)
}

// Tx is the config read under the exclusive lock. Create and Delete edit
// it; Close releases the lock. A Tx serves one edit.
type Tx struct {
	Config  *Config
	DataDir string

	store *Store
	dir   *os.File // the config's folder: holds the flock, fsynced after rename
	mode  os.FileMode
	uid   uint32
	gid   uint32
}

// Lock takes the exclusive flock(2) on the config's folder, removes any
// temporary file a crashed writer left there, and reads the config. It
// fails with a *ConfigError when the config is missing or does not parse
// (the lock is then released).
func (s *Store) Lock() (*Tx, error) {
	path := s.configPath()
	dirPath := filepath.Dir(path)
	dir, err := os.Open(dirPath)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	tx := &Tx{store: s, dir: dir}
	if err := flock(dir); err != nil {
		tx.Close()
		return nil, fsError("flock", dirPath, err)
	}
	if err := tx.sweep(); err != nil {
		tx.Close()
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		tx.Close()
		return nil, &ConfigError{Path: path, Err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = errors.New("not a regular file")
	}
	var text []byte
	if err == nil {
		text, err = io.ReadAll(f)
	}
	if err != nil {
		tx.Close()
		return nil, &ConfigError{Path: path, Err: err}
	}
	if tx.Config, err = ParseConfig(path, text); err != nil {
		tx.Close()
		return nil, err
	}
	tx.mode = fi.Mode().Perm()
	tx.uid, tx.gid = owner(fi)
	tx.DataDir = s.DataDirFor(tx.Config)
	return tx, nil
}

// Close releases the lock.
func (t *Tx) Close() error { return t.dir.Close() }

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
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

// write replaces the config with text durably: a temporary file in the
// same folder with the config's mode, uid and gid, fsync, rename over the
// config, fsync of the folder. On failure the temporary file is removed
// and the config is left as it was. renamed reports whether the new text
// is in place (only the folder fsync can fail after that).
func (t *Tx) write(text []byte) (renamed bool, err error) {
	path := t.store.configPath()
	f, err := os.CreateTemp(t.dir.Name(), t.tempPrefix()+"*")
	if err != nil {
		return false, fsError("create temporary file in", t.dir.Name(), err)
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
		return false, fsError("stat", tmp, err)
	}
	// Mode first, while the file is still ours: chmod after chown would
	// need CAP_FOWNER.
	if err := f.Chmod(t.mode); err != nil {
		return false, fsError("chmod", tmp, err)
	}
	if uid, gid := owner(fi); uid != t.uid || gid != t.gid {
		if err := f.Chown(int(t.uid), int(t.gid)); err != nil {
			return false, fsError("chown", tmp, err)
		}
	}
	if _, err := f.Write(text); err != nil {
		return false, fsError("write", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return false, fsError("fsync", tmp, err)
	}
	if err := f.Close(); err != nil {
		return false, fsError("close", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return false, fsError("rename", tmp+" to "+path, err)
	}
	if err := t.dir.Sync(); err != nil {
		// The new config is in place; only its durability is in doubt.
		return true, fsError("fsync", t.dir.Name(), err)
	}
	return true, nil
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

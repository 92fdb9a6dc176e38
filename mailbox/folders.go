package mailbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aimx/aimx-mailboxd/rawio"
	"golang.org/x/sys/unix"
)

// The folders cache, .<config name>.folders beside the config
// (docs/BEHAVIOR.md, "Files"): the names of the folders under inbox/
// that have no stanza, so that a LIST finds the few a caller may own
// without reading all of inbox/ (docs/PERFORMANCE.md, "LIST at 10 000
// mailboxes").
//
// Like the checked index it is never a second source of truth. It is
// trusted only as readCache trusts a file, when its own checksum holds,
// and only for the config whose SHA-256 it records and the inbox/ whose
// device, inode, size and times it records. Making, removing or renaming an
// entry of inbox/ sets inbox/'s ctime to the clock, and nothing but the
// clock sets a ctime; so a cache is written only when inbox/'s ctime was
// well older than the clock before inbox/ was read (racy): a change
// during or after that read then leaves another ctime. A folder's owner
// is read again on every use: a chown changes the folder's ctime, not
// inbox/'s.

const foldersMagic = "aimx-mailboxd folders 1"

// racy reports whether inbox/'s ctime is too recent, by the clock read
// before inbox/ was, for a scan of inbox/ to be written to the cache.
// Two changes within one tick of the clock file systems stamp times with
// (at most 10 ms), or within one second where times are kept to the
// second, can leave the same ctime: so within 100 ms, or 2 s where the
// ctime's nanoseconds are 0.
func racy(ctim unix.Timespec, before time.Time) bool {
	window := 100 * time.Millisecond
	if ctim.Nsec == 0 {
		window = 2 * time.Second
	}
	return !time.Unix(ctim.Unix()).Before(before.Add(-window))
}

// folder is a folder under inbox/ without a stanza: its name, and the uid
// that owns it.
type folder struct {
	name string
	uid  uint32
}

// FoldersPath is the folders cache: .<config name>.folders beside the
// config.
func (s *Store) FoldersPath() string {
	path := s.configPath()
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".folders")
}

// foldersKey is what a folders cache describes: the config's SHA-256 and
// inbox/ (device, inode, size, mtime, ctime).
type foldersKey struct {
	sum   [sha256.Size]byte
	inbox fileID
}

// unregistered returns the folders under inbox/ (descriptor inbox) whose
// names are mailbox names without a stanza in c, from the folders cache
// when it describes c and inbox/ as they are, else by reading inbox/
// whole (and then writing the cache, when inbox/ is old enough). Only a
// config read through its index has its SHA-256 at hand.
func (s *Store) unregistered(c *Config, inbox int) []folder {
	before := time.Now()
	var ist unix.Stat_t
	if c.index == nil || c.mailboxes != nil || !ctimeKnown || unix.Fstat(inbox, &ist) != nil {
		return scanFolders(c, inbox)
	}
	key := foldersKey{sum: c.index.Sum, inbox: idOf(&ist)}
	dir, err := rawio.OpenDir(unix.AT_FDCWD, filepath.Dir(s.configPath()), false)
	if err != nil {
		return scanFolders(c, inbox)
	}
	defer unix.Close(dir)
	var dst unix.Stat_t
	if unix.Fstat(dir, &dst) != nil {
		return scanFolders(c, inbox)
	}
	name := filepath.Base(s.FoldersPath())
	if data, ok := readCache(dir, dst.Uid, name); ok {
		if names, ok := parseFolders(data, key); ok {
			return statFolders(inbox, names)
		}
	}
	found := scanFolders(c, inbox)
	if !racy(key.inbox.ctim, before) {
		writeCache(dir, &dst, name, marshalFolders(key, found))
	}
	return found
}

// scanFolders reads inbox/ whole for its folders that are mailbox names
// without a stanza in c, sorted by name.
func scanFolders(c *Config, inbox int) []folder {
	var out []folder
	registered := c.names()
	rawio.Batches(inbox, func(des []rawio.Entry) bool {
		for _, de := range des {
			if registered.has(de.Name) || ValidateName(de.Name) != nil {
				continue
			}
			if uid, ok := folderUID(inbox, de.Name); ok {
				out = append(out, folder{de.Name, uid})
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b folder) int { return strings.Compare(a.name, b.name) })
	return out
}

// statFolders returns those of names that are folders under inbox/ now,
// with their owners.
func statFolders(inbox int, names []string) []folder {
	out := make([]folder, 0, len(names))
	for _, name := range names {
		if uid, ok := folderUID(inbox, name); ok {
			out = append(out, folder{name, uid})
		}
	}
	return out
}

// folderUID returns the owner of inbox/<name> when it is a folder (not
// through a symlink).
func folderUID(inbox int, name string) (uint32, bool) {
	var fi unix.Stat_t
	if unix.Fstatat(inbox, name, &fi, unix.AT_SYMLINK_NOFOLLOW) != nil || fi.Mode&unix.S_IFMT != unix.S_IFDIR {
		return 0, false
	}
	return fi.Uid, true
}

// marshalFolders is the cache's file form: the magic line, the key, the
// number of names, a name per line (fs is sorted by name), and withEnd's
// checksum.
func marshalFolders(key foldersKey, fs []folder) indexFile {
	b := append([]byte(foldersMagic), "\nsum "...)
	b = hex.AppendEncode(b, key.sum[:])
	b = append(b, "\ninbox "...)
	id := key.inbox
	for i, v := range []int64{int64(id.dev), int64(id.ino), id.size, id.mtim.Sec, id.mtim.Nsec, id.ctim.Sec, id.ctim.Nsec} {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	b = append(b, "\nfolders "...)
	b = strconv.AppendInt(b, int64(len(fs)), 10)
	b = append(b, '\n')
	for _, f := range fs {
		b = append(append(b, f.name...), '\n')
	}
	return withEnd(b)
}

// parseFolders returns the names a cache's file form holds when its
// checksum holds and it describes key; any flaw is a miss.
func parseFolders(data []byte, key foldersKey) ([]string, bool) {
	body, ok := checkEnd(data)
	if !ok {
		return nil, false
	}
	want := marshalFolders(key, nil)[0] // the lines up to "folders 0\n"
	head := want[:bytes.LastIndex(want, []byte("folders "))+len("folders ")]
	rest, ok := bytes.CutPrefix(body, head)
	if !ok {
		return nil, false
	}
	i := bytes.IndexByte(rest, '\n')
	n, err := strconv.Atoi(string(rest[:max(i, 0)]))
	if i < 0 || err != nil || n < 0 || n > len(rest) || strconv.Itoa(n) != string(rest[:i]) {
		return nil, false
	}
	names := make([]string, 0, n)
	for l := range bytes.Lines(rest[i+1:]) {
		name := string(l[:len(l)-1])
		if ValidateName(name) != nil || len(names) > 0 && name <= names[len(names)-1] {
			return nil, false // sorted, no duplicates
		}
		names = append(names, name)
	}
	return names, len(names) == n
}

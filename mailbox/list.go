package mailbox

import (
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aimx/aimx-mailboxd/internal/rawio"
	"golang.org/x/sys/unix"
)

// Entry is one mailbox as storage finds it: what the server turns into a
// MAILBOX-LIST entry (wire.Entry), and what the LIST filter reads.
type Entry struct {
	Name       string
	Address    *string // nil for a folder with no stanza
	InboxPath  string
	SentPath   string
	Total      int
	Unread     int
	SentCount  int
	Registered bool

	// Owner is the stanza's owner (registered mailboxes): the LIST filter
	// reads it, and root's LIST body carries it. DirUID is the filesystem
	// owner of inbox/<name> (unregistered ones), for the filter only.
	Owner  string
	DirUID uint32
}

// maxFrontMatter bounds what is read of a message to find its front matter.
const maxFrontMatter = 64 << 10

// List returns the mailboxes of config c, registered or only on disk
// under inbox/, sorted by name, with their message counts. keep is asked
// about each before its folders are read, and drops the ones it refuses.
func (s *Store) List(c *Config, keep func(Entry) bool) ([]Entry, error) {
	dataDir := s.DataDirFor(c)
	data, err := rawio.OpenDir(unix.AT_FDCWD, dataDir, false)
	if err != nil && err != unix.ENOENT {
		return nil, &StepError{Err: fsError("open data dir", dataDir, err)}
	}
	kindFD := [2]int{-1, -1} // inbox/, sent/
	if data >= 0 {
		for i, kind := range []string{Inbox, Sent} {
			kindFD[i], _ = rawio.OpenDir(data, kind, true)
		}
		unix.Close(data)
	}
	defer func() {
		for _, fd := range kindFD {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()

	var entries []Entry
	for st := range c.All() {
		e := Entry{Name: st.Name, Address: &st.Address, Registered: true, Owner: st.Owner}
		entries = append(entries, e)
	}
	if inbox := kindFD[0]; inbox >= 0 {
		des, _ := rawio.ReadDir(inbox)
		for _, de := range des {
			if _, ok := c.Mailbox(de.Name); ok || ValidateName(de.Name) != nil {
				continue
			}
			var fi unix.Stat_t
			if unix.Fstatat(inbox, de.Name, &fi, unix.AT_SYMLINK_NOFOLLOW) != nil || fi.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
			entries = append(entries, Entry{Name: de.Name, DirUID: fi.Uid})
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })

	buf := make([]byte, maxFrontMatter) // one for every message read
	out := entries[:0]
	for _, e := range entries {
		if !keep(e) {
			continue
		}
		e.InboxPath = filepath.Join(dataDir, Inbox, e.Name)
		e.SentPath = filepath.Join(dataDir, Sent, e.Name)
		e.Total, e.Unread = countMessages(kindFD[0], e.Name, buf)
		e.SentCount, _ = countMessages(kindFD[1], e.Name, nil)
		out = append(out, e)
	}
	return out, nil
}

// countMessages counts the messages in folder name of kind/ (descriptor
// kfd; -1 when there is none): a *.md file, or a bundle folder <stem>/
// holding <stem>.md, and how many are unread (buf, of maxFrontMatter
// bytes, holds what is read of each; nil counts without reading). A
// folder that cannot be read counts as empty. Reads stay inside the folder and never follow a
// symlink: its owner may have planted them.
func countMessages(kfd int, name string, buf []byte) (total, unread int) {
	if kfd < 0 {
		return 0, 0
	}
	mb, err := rawio.OpenDir(kfd, name, true)
	if err != nil {
		return 0, 0
	}
	defer unix.Close(mb)
	des, _ := rawio.ReadDir(mb)
	for _, de := range des {
		typ := de.Type
		if typ == unix.DT_UNKNOWN {
			var fi unix.Stat_t
			if unix.Fstatat(mb, de.Name, &fi, unix.AT_SYMLINK_NOFOLLOW) != nil {
				continue
			}
			if fi.Mode&unix.S_IFMT == unix.S_IFDIR {
				typ = unix.DT_DIR
			}
		}
		var regular, read bool
		switch {
		case typ == unix.DT_DIR:
			regular, read = readBundle(mb, de.Name, buf)
		case strings.HasSuffix(de.Name, ".md"):
			regular, read = readMessage(mb, de.Name, buf)
		default:
			continue
		}
		if !regular {
			continue
		}
		total++
		if !read {
			unread++
		}
	}
	return total, unread
}

// readBundle reads the message <stem>/<stem>.md of bundle folder stem in
// mb, never through a symlink.
func readBundle(mb int, stem string, buf []byte) (regular, read bool) {
	dir, err := rawio.OpenDir(mb, stem, true)
	if err != nil {
		return false, false
	}
	defer unix.Close(dir)
	return readMessage(dir, stem+".md", buf)
}

// readMessage opens message name in folder dir without following a
// symlink and without blocking (a FIFO planted in place of a message must
// not stall the answer), and reports whether it is a regular file and,
// if so, whether its front matter says read = true (read into buf; a nil
// buf reads nothing).
func readMessage(dir int, name string, buf []byte) (regular, read bool) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, false
	}
	return true, buf != nil && isRead(fdReader(fd), buf)
}

// fdReader reads a descriptor with plain read(2).
type fdReader int

func (r fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(r), p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// isRead reports whether a message's front matter (between its first two
// "+++" lines) says read = true, by a line scan (docs/PROTOCOL.md,
// MAILBOX-LIST): a line `read = true` (spaces, and a trailing # comment,
// allowed) before any [table] line, which is what AIMX's own TOML decode
// sees in the files AIMX writes. It reads at most maxFrontMatter bytes
// of f, into buf (of that size), and decodes nothing: its time and memory
// are linear in what it reads, whatever a user stored. A front matter
// that does not close within the cap is unread.
func isRead(f io.Reader, buf []byte) bool {
	buf = buf[:maxFrontMatter]
	n, start := 0, 0 // bytes read; where the next unscanned line starts
	inside, read, tables := false, false, false
	for n < len(buf) {
		m, err := f.Read(buf[n:])
		n += m
		for {
			i := bytes.IndexByte(buf[start:n], '\n')
			if i < 0 {
				break
			}
			line := bytes.TrimRight(buf[start:start+i], "\r")
			start += i + 1
			t := bytes.Trim(line, " \t")
			switch {
			case string(t) == "+++" && inside:
				return read
			case string(t) == "+++":
				inside = true
			case !inside || tables:
			case len(t) > 0 && t[0] == '[':
				tables = true
			case readTrue(t):
				read = true
			}
		}
		if err != nil || m == 0 {
			break
		}
	}
	return false
}

// readTrue reports whether the trimmed front-matter line t is the key
// read set to true, with an optional # comment after it.
func readTrue(t []byte) bool {
	rest, ok := bytes.CutPrefix(t, []byte("read"))
	if !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	if rest, ok = bytes.CutPrefix(rest, []byte("=")); !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	if rest, ok = bytes.CutPrefix(rest, []byte("true")); !ok {
		return false
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '#'
}

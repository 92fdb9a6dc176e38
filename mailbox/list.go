package mailbox

import (
	"bufio"
	"bytes"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
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

	out := entries[:0]
	for _, e := range entries {
		if !keep(e) {
			continue
		}
		e.InboxPath = filepath.Join(dataDir, Inbox, e.Name)
		e.SentPath = filepath.Join(dataDir, Sent, e.Name)
		e.Total, e.Unread = countMessages(kindFD[0], e.Name)
		e.SentCount, _ = countMessages(kindFD[1], e.Name)
		out = append(out, e)
	}
	return out, nil
}

// countMessages counts the messages in folder name of kind/ (descriptor
// kfd; -1 when there is none): a *.md file, or a bundle folder <stem>/
// holding <stem>.md, and how many are unread. A folder that cannot be
// read counts as empty. Reads stay inside the folder and never follow a
// symlink: its owner may have planted them.
func countMessages(kfd int, name string) (total, unread int) {
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
			regular, read = readBundle(mb, de.Name)
		case strings.HasSuffix(de.Name, ".md"):
			regular, read = readMessage(mb, de.Name)
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
func readBundle(mb int, stem string) (regular, read bool) {
	dir, err := rawio.OpenDir(mb, stem, true)
	if err != nil {
		return false, false
	}
	defer unix.Close(dir)
	return readMessage(dir, stem+".md")
}

// readMessage opens message name in folder dir without following a
// symlink and without blocking (a FIFO planted in place of a message must
// not stall the answer), and reports whether it is a regular file and,
// if so, whether its front matter says read = true.
func readMessage(dir int, name string) (regular, read bool) {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return false, false
	}
	return true, isRead(fdReader(fd))
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

// isRead reports whether a message's TOML front matter (between the first
// two "+++" lines) says read = true.
func isRead(f io.Reader) bool {
	sc := bufio.NewScanner(io.LimitReader(f, maxFrontMatter))
	var fm bytes.Buffer
	inside := false
	for sc.Scan() {
		line := sc.Bytes()
		if string(bytes.TrimSpace(line)) == "+++" {
			if inside {
				if !bytes.Contains(fm.Bytes(), []byte("read")) {
					return false
				}
				var meta struct{ Read bool }
				_, err := toml.Decode(fm.String(), &meta)
				return err == nil && meta.Read
			}
			inside = true
			continue
		}
		if inside {
			fm.Write(line)
			fm.WriteByte('\n')
		}
	}
	return false
}

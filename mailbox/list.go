package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
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
	root, err := os.OpenRoot(dataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, &StepError{Err: err}
	}
	if root != nil {
		defer root.Close()
	}

	var entries []Entry
	for st := range c.All() {
		e := Entry{Name: st.Name, Address: &st.Address, Registered: true, Owner: st.Owner}
		entries = append(entries, e)
	}
	if root != nil {
		if d, err := root.Open(Inbox); err == nil {
			des, _ := d.ReadDir(-1)
			d.Close()
			for _, de := range des {
				if _, ok := c.Mailbox(de.Name()); ok || !de.IsDir() || ValidateName(de.Name()) != nil {
					continue
				}
				e := Entry{Name: de.Name()}
				if fi, err := de.Info(); err == nil {
					e.DirUID, _ = owner(fi)
				}
				entries = append(entries, e)
			}
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
		if root != nil {
			e.Total, e.Unread = countMessages(root, filepath.Join(Inbox, e.Name))
			e.SentCount, _ = countMessages(root, filepath.Join(Sent, e.Name))
		}
		out = append(out, e)
	}
	return out, nil
}

// countMessages counts the messages in folder rel (a *.md file, or a
// bundle folder <stem>/ holding <stem>.md) and how many are unread. A
// folder that cannot be read counts as empty. Reads stay inside the
// folder: its owner may have planted symlinks.
func countMessages(root *os.Root, rel string) (total, unread int) {
	mb, err := openMailboxDir(root, rel)
	if err != nil {
		return 0, 0
	}
	defer mb.Close()
	d, err := mb.Open(".")
	if err != nil {
		return 0, 0
	}
	des, _ := d.ReadDir(-1)
	d.Close()
	for _, de := range des {
		var msg string
		switch name := de.Name(); {
		case strings.HasSuffix(name, ".md") && !de.IsDir():
			msg = name
		case de.IsDir():
			msg = filepath.Join(name, name+".md")
		default:
			continue
		}
		regular, read := readMessage(mb, msg)
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

// readMessage opens message name inside mb without following a symlink
// and without blocking (a FIFO planted in place of a message must not
// stall the answer), and reports whether it is a regular file and, if so,
// whether its front matter says read = true.
func readMessage(mb *os.Root, name string) (regular, read bool) {
	f, err := mb.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return false, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false, false
	}
	return true, isRead(f)
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

package mailbox

import (
	"bytes"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aimx/aimx-mailboxd/rawio"
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

// Filter is whom a LIST is for, as the rules decide it (authz.Listed):
// storage asks it and never decides. Both functions must answer the same
// for the same argument within one List.
type Filter struct {
	// Owner reports whether a registered mailbox whose stanza names owner
	// is listed. ListFor asks it once per distinct owner name.
	Owner func(owner string) bool
	// Folder reports whether an unregistered folder under inbox/ that
	// uid owns is listed.
	Folder func(uid uint32) bool
	// Counting, when not nil, is told how many mailboxes are listed just
	// before their folders are counted (by as many goroutines as
	// GOMAXPROCS, at most CountWorkers).
	Counting func(n int)
}

// ListFor returns the mailboxes of config c that f keeps, registered or
// only on disk under inbox/, sorted by name, with their message counts.
// A registered mailbox whose owner f refuses costs a look at its owner
// in the config and nothing more: no decode of its stanza, no folder
// opened (docs/PERFORMANCE.md, "LIST at 10 000 mailboxes").
func (s *Store) ListFor(c *Config, f Filter) ([]Entry, error) {
	asked := map[string]bool{} // f.Owner's answers, by owner name
	owner := func(o string) bool {
		ok, seen := asked[o]
		if !seen {
			ok = f.Owner(o)
			asked[o] = ok
		}
		return ok
	}
	keep := func(e Entry) bool { return e.Registered && owner(e.Owner) || !e.Registered && f.Folder(e.DirUID) }
	return s.list(c, owner, keep, f.Counting)
}

// list is List and ListFor: owner, when not nil, drops registered
// mailboxes by their owner before their stanza is decoded; keep decides
// on what is left; counting (nil: none) is Filter.Counting.
func (s *Store) list(c *Config, owner func(string) bool, keep func(Entry) bool, counting func(int)) ([]Entry, error) {
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

	entries := c.listed(owner, keep)
	if inbox := kindFD[0]; inbox >= 0 {
		n := len(entries)
		for _, f := range s.unregistered(c, inbox) {
			if e := (Entry{Name: f.name, DirUID: f.uid}); keep(e) {
				entries = append(entries, e)
			}
		}
		if len(entries) > n { // folders with no stanza: merge them in
			slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
		}
	}

	inboxes, sents := pathPrefix(dataDir, Inbox), pathPrefix(dataDir, Sent)
	for i := range entries {
		e := &entries[i]
		e.InboxPath, e.SentPath = inboxes(e.Name), sents(e.Name)
	}
	if counting != nil {
		counting(len(entries))
	}
	countAll(entries, kindFD)
	return entries, nil
}

// listed is c's registered mailboxes that owner (nil: all) and then keep
// accept, sorted by name.
func (c *Config) listed(owner func(string) bool, keep func(Entry) bool) []Entry {
	var entries []Entry
	add := func(st Stanza) {
		e := Entry{Name: st.Name, Address: &st.Address, Registered: true, Owner: st.Owner}
		if keep(e) {
			entries = append(entries, e)
		}
	}
	x := c.index
	if c.mailboxes != nil || x == nil {
		for st := range c.All() {
			if owner == nil || owner(st.Owner) {
				add(st)
			}
		}
		return entries
	}
	var last []byte // the owner field of the row before, and owner's answer
	lastOK := false
	for i := range x.Len() {
		if owner != nil {
			switch o := x.field(i, 3); {
			case last != nil && bytes.Equal(o, last):
			case bytes.IndexByte(o, '\\') >= 0:
				last, lastOK = o, owner(x.at(i).Owner)
			default:
				last, lastOK = o, owner(string(o)) // no copy: the memo's lookup
			}
			if !lastOK {
				continue
			}
		}
		add(x.at(i).Stanza)
	}
	return entries
}

// Owners returns the distinct owner names of c's mailboxes, in no order.
func (c *Config) Owners() []string {
	seen := map[string]bool{}
	var out []string
	add := func(o string) {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	x := c.index
	if c.mailboxes != nil || x == nil {
		for _, st := range c.mailboxes {
			add(st.Owner)
		}
		return out
	}
	var last []byte // the owner field of the row before: rows of one owner often follow each other
	for i := range x.Len() {
		o := x.field(i, 3)
		switch {
		case last != nil && bytes.Equal(o, last):
		case bytes.IndexByte(o, '\\') >= 0:
			add(x.at(i).Owner)
		case !seen[string(o)]:
			add(string(o))
		}
		last = o
	}
	return out
}

// names answers whether a name is one of c's mailboxes. An indexed
// config's names are found by their hash, so that the set costs no copy
// of every name.
type names struct {
	c      *Config
	byHash map[uint64]int32 // the row of each name's hash; -1: more than one row
	name   [][]byte         // each row's name, unescaped
}

func (c *Config) names() names {
	x := c.index
	if c.mailboxes != nil || x == nil {
		return names{c: c}
	}
	n := names{c: c, byHash: make(map[uint64]int32, x.Len()), name: make([][]byte, x.Len())}
	for i := range x.Len() {
		f := x.field(i, 1)
		if bytes.IndexByte(f, '\\') >= 0 {
			f = []byte(x.nameAt(i))
		}
		n.name[i] = f
		h := fnv1a(f)
		if _, dup := n.byHash[h]; dup {
			n.byHash[h] = -1
		} else {
			n.byHash[h] = int32(i)
		}
	}
	return n
}

// has reports whether name is one of the config's mailboxes.
func (n names) has(name string) bool {
	if n.byHash == nil {
		_, ok := n.c.mailboxes[name]
		return ok
	}
	i, ok := n.byHash[fnv1a(name)]
	switch {
	case !ok:
		return false
	case i < 0: // a hash shared by two names
		_, found := n.c.index.search(name)
		return found
	}
	return string(n.name[i]) == name
}

// fnv1a is the 64-bit FNV-1a hash of s.
func fnv1a[T string | []byte](s T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// pathPrefix returns what filepath.Join(dataDir, kind, name) returns,
// without cleaning the same prefix again for every name that needs no
// cleaning (every valid name does not).
func pathPrefix(dataDir, kind string) func(name string) string {
	prefix := filepath.Join(dataDir, kind) + string(filepath.Separator)
	return func(name string) string {
		if name == "" || name == "." || name == ".." || strings.ContainsRune(name, filepath.Separator) {
			return filepath.Join(dataDir, kind, name)
		}
		return prefix + name
	}
}

// CountWorkers bounds the goroutines that count folders at once; each
// holds at most three descriptors and its own buffers.
const CountWorkers = 4

// countChunk is how many mailboxes a counting goroutine takes at a time.
const countChunk = 64

// countAll fills in the message counts of entries from inbox/ and sent/
// (kindFD). As many goroutines as the runtime runs at once (GOMAXPROCS,
// at most CountWorkers) share the work: counting is one system call
// after another, and they run side by side only on CPUs of their own.
func countAll(entries []Entry, kindFD [2]int) {
	workers := min(runtime.GOMAXPROCS(0), CountWorkers, (len(entries)+countChunk-1)/countChunk)
	var next atomic.Int64
	work := func() {
		b := newCounter()
		for {
			end := int(next.Add(countChunk))
			start := end - countChunk
			if start >= len(entries) {
				return
			}
			for i := start; i < min(end, len(entries)); i++ {
				e := &entries[i]
				e.Total, e.Unread = b.count(kindFD[0], e.Name, true)
				e.SentCount, _ = b.count(kindFD[1], e.Name, false)
			}
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// counter holds one counting goroutine's buffers: one for the folder
// entries it reads, one for what it reads of a message.
type counter struct {
	dents, front []byte
}

func newCounter() *counter {
	return &counter{dents: make([]byte, 32<<10), front: make([]byte, maxFrontMatter)}
}

// count counts the messages in folder name of kind/ (descriptor kfd; -1
// when there is none): a *.md file, or a bundle folder <stem>/ holding
// <stem>.md, and, when unread is set, how many are unread (each message
// read into b.front; otherwise none is read). A folder that cannot be
// read counts as empty. Reads stay inside the folder and never follow a
// symlink: its owner may have planted them.
func (b *counter) count(kfd int, name string, unread bool) (total, unreadN int) {
	if kfd < 0 {
		return 0, 0
	}
	mb, err := rawio.OpenDir(kfd, name, true)
	if err != nil {
		return 0, 0
	}
	defer unix.Close(mb)
	buf := b.front
	if !unread {
		buf = nil
	}
	for {
		des, err := rawio.ReadBatch(mb, b.dents)
		if err != nil || len(des) == 0 {
			return total, unreadN
		}
		for _, de := range des {
			regular, read := countEntry(mb, de, buf)
			if !regular {
				continue
			}
			total++
			if !read {
				unreadN++
			}
		}
	}
}

// countEntry reports whether folder entry de of mb is a message (a
// regular *.md file, or a bundle folder holding one) and, reading it
// into buf (nil: not read), whether it is read.
func countEntry(mb int, de rawio.Entry, buf []byte) (regular, read bool) {
	typ := de.Type
	if typ == unix.DT_UNKNOWN {
		var fi unix.Stat_t
		if unix.Fstatat(mb, de.Name, &fi, unix.AT_SYMLINK_NOFOLLOW) != nil {
			return false, false
		}
		if fi.Mode&unix.S_IFMT == unix.S_IFDIR {
			typ = unix.DT_DIR
		}
	}
	switch {
	case typ == unix.DT_DIR:
		return readBundle(mb, de.Name, buf)
	case strings.HasSuffix(de.Name, ".md"):
		return readMessage(mb, de.Name, buf)
	}
	return false, false
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

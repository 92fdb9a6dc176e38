// Package passwd resolves users as the system's name service (NSS)
// does, so that LDAP, sssd and systemd-userdb accounts work, without
// linking the C library into the helper: every connection starts a new
// helper, and cgo's dynamic loading and thread start-up cost each of them
// more than the rest of its start-up together. It is the one effect the
// rules in authz need; authz itself does no I/O.
//
// How: when /etc/nsswitch.conf lists "files" first for passwd (Debian's,
// Fedora's and Ubuntu's default), a user found in /etc/passwd is the
// answer NSS would give, and it is read directly. Anything else — a user
// that is not in /etc/passwd, or a system whose passwd line starts with
// another service or has no nsswitch.conf — is asked of getent(1), the C
// library's own NSS client, in a child process; several names at once
// take one getent.
//
// It promises that a user who does not exist is an error wrapping
// ErrNoEntry, told apart from a name service that fails.
package passwd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aimx/aimx-mailboxd/rawio"
	"golang.org/x/sys/unix"
)

// User is a passwd entry: a name with its uid and primary gid.
type User struct {
	Name string
	UID  uint32
	GID  uint32
}

// ErrNoEntry is wrapped by LookupUID and LookupName when the user
// does not exist (as opposed to a failing name service).
var ErrNoEntry = errors.New("no passwd entry")

// Source is a name service to resolve users in: the files it reads and
// the getent(1) it may run. System is the host's; LookupUID asks it.
type Source struct {
	NSSwitch string   // nsswitch.conf(5)
	Passwd   string   // the passwd file
	Getent   []string // where getent(1) may be; the first regular file wins

	once sync.Once // reads NSSwitch once
	conf nss
	err  error
}

// System is the host's name service.
var System = &Source{NSSwitch: "/etc/nsswitch.conf", Passwd: "/etc/passwd", Getent: []string{"/usr/bin/getent", "/bin/getent"}}

// LookupUID resolves uid in System.
func LookupUID(uid uint32) (User, error) { return System.LookupUID(uid) }

// GetentTimeout bounds one getent run (a name service that hangs).
const GetentTimeout = 10 * time.Second

// LookupUID resolves uid: an error wrapping ErrNoEntry when it has no
// entry, another error when the name service fails.
func (src *Source) LookupUID(uid uint32) (User, error) {
	key := strconv.FormatUint(uint64(uid), 10)
	found, err := src.lookup([]string{key}, func(string) bool { return true },
		func(u User) (string, bool) { return key, u.UID == uid })
	if err != nil {
		return User{}, fmt.Errorf("look up uid %d: %w", uid, err)
	}
	u, ok := found[key]
	if !ok {
		return User{}, &noEntry{fmt.Sprintf("uid %d has no passwd entry", uid)}
	}
	return u, nil
}

// LookupName resolves a user name: an error wrapping ErrNoEntry when it
// has no entry, another error when the name service fails.
func (src *Source) LookupName(name string) (User, error) {
	found, err := src.LookupNames([]string{name})
	if err != nil {
		return User{}, err
	}
	u, ok := found[name]
	if !ok {
		return User{}, &noEntry{fmt.Sprintf("user '%s' has no passwd entry", name)}
	}
	return u, nil
}

// LookupNames resolves several user names at once (at most one getent
// run for all that /etc/passwd does not answer). The map holds the names
// that exist; a name missing from it has no passwd entry.
func (src *Source) LookupNames(names []string) (map[string]User, error) {
	var keys []string
	want := map[string]bool{}
	for _, n := range names {
		if !want[n] {
			want[n] = true
			keys = append(keys, n)
		}
	}
	found, err := src.lookup(keys, askable, func(u User) (string, bool) { return u.Name, want[u.Name] })
	if err != nil {
		if len(keys) == 1 {
			return nil, fmt.Errorf("look up user '%s': %w", keys[0], err)
		}
		return nil, fmt.Errorf("look up users: %w", err)
	}
	return found, nil
}

// askable: a name that getent can be asked for. A name with ':', a
// newline or NUL can not be in the database; an all-digit one getent
// would take for a uid.
func askable(n string) bool {
	if n == "" || strings.ContainsAny(n, ":\n\x00") {
		return false
	}
	for _, c := range []byte(n) {
		if c < '0' || c > '9' {
			return true
		}
	}
	return false
}

// lookup finds the entries for keys: match reports, for an entry, which
// key it answers and whether it is wanted; ask, whether a key that
// /etc/passwd does not answer may be asked of getent.
func (src *Source) lookup(keys []string, ask func(string) bool, match func(User) (string, bool)) (map[string]User, error) {
	found := map[string]User{}
	if len(keys) == 0 {
		return found, nil
	}
	nss, err := src.services()
	if err != nil {
		return nil, err
	}
	if nss.filesFirst {
		err := scan(src.Passwd, func(u User) bool {
			if k, ok := match(u); ok {
				if _, dup := found[k]; !dup { // the first entry wins, as in NSS
					found[k] = u
				}
			}
			return len(found) == len(keys)
		})
		switch {
		case err != nil:
			// A passwd file that cannot be read is a failing name
			// service, never "no such user".
			return nil, err
		case len(found) == len(keys) || nss.onlyFiles:
			return found, nil
		}
	}
	var rest []string
	for _, k := range keys {
		if _, ok := found[k]; !ok && ask(k) {
			rest = append(rest, k)
		}
	}
	more, err := getent(src.Getent, rest, match)
	if err != nil {
		return nil, err
	}
	for k, u := range more {
		found[k] = u
	}
	return found, nil
}

// nss is what the passwd line of nsswitch.conf says, as far as this
// package cares.
type nss struct {
	filesFirst bool // "files" is the first service, with no action on its success
	onlyFiles  bool // and the only one
}

// services reads nsswitch.conf once. A missing file means no shortcut
// (every look-up asks getent); a file that exists but cannot be read is
// an error: guessing then could answer "no such user" for one that
// exists.
func (src *Source) services() (nss, error) {
	src.once.Do(func() {
		text, err := readFile(src.NSSwitch)
		switch {
		case err == nil:
			src.conf = parseNsswitch(text)
		case !errors.Is(err, fs.ErrNotExist):
			src.err = err
		}
	})
	return src.conf, src.err
}

// parseNsswitch reads the passwd line of nsswitch.conf(5): its services
// in order, each optionally followed by [STATUS=ACTION ...].
func parseNsswitch(text string) nss {
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		db, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(db) != "passwd" {
			continue
		}
		var svcs []string
		firstActions := ""
		for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
			if rest[0] == '[' {
				j := strings.IndexByte(rest, ']')
				if j < 0 {
					j = len(rest) - 1
				}
				if len(svcs) == 1 {
					firstActions += rest[:j+1]
				}
				rest = rest[j+1:]
				continue
			}
			j := strings.IndexAny(rest, " \t[")
			if j < 0 {
				j = len(rest)
			}
			svcs = append(svcs, rest[:j])
			rest = rest[j:]
		}
		first := len(svcs) > 0 && svcs[0] == "files" && !strings.Contains(strings.ToUpper(firstActions), "SUCCESS")
		return nss{filesFirst: first, onlyFiles: first && len(svcs) == 1}
	}
	return nss{}
}

// scan calls each for every well-formed entry of a passwd file, in order,
// until it returns true.
func scan(path string, each func(User) bool) error {
	text, err := readFile(path)
	if err != nil {
		return err
	}
	for len(text) > 0 {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if u, ok := parseEntry(line); ok && each(u) {
			return nil
		}
	}
	return nil
}

// readFile reads a small file whole with plain system calls (os.ReadFile
// would try to add it to the runtime's poller first).
func readFile(path string) (string, error) {
	text, _, err := rawio.ReadFile(unix.AT_FDCWD, path, 0)
	if err != nil {
		return "", &os.PathError{Op: "open", Path: path, Err: err}
	}
	return string(text), nil
}

// parseEntry parses name:password:uid:gid:gecos:home:shell.
func parseEntry(line string) (User, bool) {
	f := strings.SplitN(line, ":", 7)
	if len(f) != 7 || f[0] == "" || line[0] == '#' {
		return User{}, false
	}
	uid, err1 := strconv.ParseUint(f[2], 10, 32)
	gid, err2 := strconv.ParseUint(f[3], 10, 32)
	if err1 != nil || err2 != nil {
		return User{}, false
	}
	return User{Name: f[0], UID: uint32(uid), GID: uint32(gid)}, true
}

// getent asks the C library's name service, through getent(1), for keys
// (names or one uid) and returns the wanted entries by key.
func getent(getentPaths, keys []string, match func(User) (string, bool)) (map[string]User, error) {
	found := map[string]User{}
	if len(keys) == 0 {
		return found, nil
	}
	bin := ""
	for _, p := range getentPaths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			bin = p
			break
		}
	}
	if bin == "" {
		return nil, fmt.Errorf("getent is not installed (looked for %s; it comes with the C library: libc-bin or glibc-common)", strings.Join(getentPaths, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), GetentTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"passwd", "--"}, keys...)...)
	cmd.Env = []string{} // nothing of ours (LD_PRELOAD, say) reaches the C library
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("%s passwd did not answer within %s", bin, GetentTimeout)
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		// One or more keys not found; the others are printed.
	case err != nil:
		return nil, fmt.Errorf("%s passwd: %v: %s", bin, err, strings.TrimSpace(stderr.String()))
	}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if u, ok := parseEntry(line); ok {
			if k, ok := match(u); ok {
				if _, dup := found[k]; !dup {
					found[k] = u
				}
			}
		}
	}
	return found, nil
}

type noEntry struct{ msg string }

func (e *noEntry) Error() string        { return e.msg }
func (e *noEntry) Is(target error) bool { return target == ErrNoEntry }

// Package policy reads the operator's policy file, mailboxd.toml beside
// the config (docs/BEHAVIOR.md, "The policy file"): the names only root may
// create, how many mailboxes one user may own, and how long a request
// waits for the config lock.
//
// It promises that a missing file means the defaults, and that a file
// that does not parse, has an unknown key or a value of the wrong type is
// an *Error naming the path, the line and the key: a request never runs
// under a policy the operator did not write.
package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/mailbox"
	"github.com/aimx/aimx-mailboxd/rawio"
	"golang.org/x/sys/unix"
)

// FileName is the policy file's name beside the config.
const FileName = "mailboxd.toml"

// Policy is the operator's policy.
type Policy struct {
	// ReservedNames are mailbox names only root may create.
	ReservedNames []string
	// MaxMailboxesPerUser is how many mailboxes one non-root user may
	// own; 0 means no limit.
	MaxMailboxesPerUser int
	// LockTimeout bounds the wait for the config lock.
	LockTimeout time.Duration
	// Path is the file the policy came from (the default path when the
	// file is missing); errors and hints name it.
	Path string
}

// DefaultReservedNames are RFC 2142's role addresses, the addresses
// certificate authorities use to validate a domain, and the system
// accounts' mail.
var DefaultReservedNames = []string{"abuse", "admin", "administrator", "ftp", "hostmaster",
	"info", "mailer-daemon", "marketing", "news", "noc", "nobody",
	"postmaster", "root", "sales", "security", "support", "usenet",
	"uucp", "webmaster", "www"}

// Defaults of the other keys.
const (
	DefaultMaxMailboxesPerUser = 32
	DefaultLockTimeout         = 10 * time.Second // mailbox.DefaultLockTimeout
)

// Default is the policy in force when the file is missing.
func Default(path string) Policy {
	return Policy{
		ReservedNames:       slices.Clone(DefaultReservedNames),
		MaxMailboxesPerUser: DefaultMaxMailboxesPerUser,
		LockTimeout:         DefaultLockTimeout,
		Path:                path,
	}
}

// PathFor is the policy file beside config file configPath.
func PathFor(configPath string) string {
	return filepath.Join(filepath.Dir(configPath), FileName)
}

// Rules are the settings the authorization rules read.
func (p Policy) Rules() authz.Rules {
	return authz.Rules{ReservedNames: p.ReservedNames, MaxPerUser: p.MaxMailboxesPerUser, Source: p.Path}
}

// Error is a policy file that cannot be used. Line and Key are zero when
// the problem is not tied to one key (an unreadable file).
type Error struct {
	Path string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "policy file %s", e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, ", key %s", e.Key)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// Load reads the policy file at path: the defaults when it does not
// exist, else the file parsed by Parse.
func Load(path string) (Policy, error) {
	// Plain system calls: os.ReadFile would try to add the file to the
	// runtime's poller first, which costs a helper instance more than the
	// read.
	text, _, err := rawio.ReadFile(unix.AT_FDCWD, path, 0)
	if err == unix.ENOENT {
		return Default(path), nil
	}
	if err != nil {
		return Policy{}, &Error{Path: path, Msg: (&os.PathError{Op: "open", Path: path, Err: err}).Error()}
	}
	return Parse(path, text)
}

// packaged is the policy file the packages install (mailboxd.toml here,
// the one copy): every key at its default, so that these exact bytes mean
// the defaults. Parse returns them without decoding the TOML, which costs
// each request of a fresh helper process about 0.1 ms of CPU
// (docs/PERFORMANCE.md, "Decisions that stand").
//
//go:embed mailboxd.toml
var packaged []byte

// Parse decodes policy text; keys it does not set keep their defaults.
// It fails with an *Error for text that is not TOML, an unknown key, or
// a value of the wrong type or range. The packaged file's exact text is
// the defaults, not decoded again.
func Parse(path string, text []byte) (Policy, error) {
	if bytes.Equal(text, packaged) {
		return Default(path), nil
	}
	return decode(path, text)
}

// decode is Parse of any text, the packaged file's included.
func decode(path string, text []byte) (Policy, error) {
	p := Default(path)
	var raw map[string]any
	if _, err := toml.Decode(string(text), &raw); err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Policy{}, &Error{Path: path, Line: perr.Position.Line, Key: perr.LastKey, Msg: perr.Message}
		}
		return Policy{}, &Error{Path: path, Msg: err.Error()}
	}
	fail := func(key, format string, args ...any) (Policy, error) {
		return Policy{}, &Error{Path: path, Line: lineOf(text, key), Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		v := raw[key]
		switch key {
		case "reserved_names":
			list, ok := v.([]any)
			if !ok {
				return fail(key, "must be an array of mailbox names, not %s", typeName(v))
			}
			p.ReservedNames = make([]string, 0, len(list))
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return fail(key, "must be an array of mailbox names, but holds %s", typeName(e))
				}
				if err := mailbox.ValidateName(s); err != nil {
					return fail(key, "%q is not a mailbox name, so it reserves nothing: %v", s, err)
				}
				p.ReservedNames = append(p.ReservedNames, s)
			}
		case "max_mailboxes_per_user":
			n, ok := v.(int64)
			if !ok || n < 0 {
				return fail(key, "must be a whole number, 0 or more (0: no limit), not %s", describe(v))
			}
			p.MaxMailboxesPerUser = int(n)
		case "lock_timeout_seconds":
			n, ok := v.(int64)
			if !ok || n < 1 || n > 3600 {
				return fail(key, "must be a whole number of seconds from 1 to 3600, not %s", describe(v))
			}
			p.LockTimeout = time.Duration(n) * time.Second
		default:
			return fail(key, "unknown key; the keys are reserved_names, max_mailboxes_per_user and lock_timeout_seconds")
		}
	}
	return p, nil
}

// lineOf is the line on which top-level key (or a table of that name) is
// first written, or 0.
func lineOf(text []byte, key string) int {
	space := func(s string) string { return strings.TrimLeft(s, " \t\r\f") }
	for i, line := range strings.Split(string(text), "\n") {
		rest := space(line)
		if strings.HasPrefix(rest, "[") {
			rest = space(strings.TrimLeft(rest, "["))
		}
		for _, k := range []string{key, `"` + key + `"`, "'" + key + "'"} {
			if r, ok := strings.CutPrefix(rest, k); ok {
				if r = space(r); r != "" && strings.ContainsRune("=.]", rune(r[0])) {
					return i + 1
				}
			}
		}
	}
	return 0
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return "a date or time"
}

func describe(v any) string {
	if n, ok := v.(int64); ok {
		return fmt.Sprint(n)
	}
	return typeName(v)
}

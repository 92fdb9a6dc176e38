package mailbox

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"sort"

	"github.com/BurntSushi/toml"
)

// DefaultConfigPath and DefaultDataDir are behavior.md's defaults.
const (
	DefaultConfigPath = "/etc/aimx/config.toml"
	DefaultDataDir    = "/var/lib/aimx"
)

// Stanza is one [mailboxes.<name>] table of the config.
type Stanza struct {
	Name    string
	Address string
	Owner   string
}

// Config is the parsed config file: the fields this program reads, the
// exact text it came from, and the decoded meaning of that text (against
// which every edit is checked).
type Config struct {
	Path      string
	Domain    string
	DataDir   string // empty when the file does not set data_dir
	Mailboxes map[string]Stanza

	text    []byte
	meaning map[string]any
}

// ConfigError is a config that is missing, unreadable or does not parse.
// Every request but VERSION answers it with IO.
type ConfigError struct {
	Path string
	Err  error
}

func (e *ConfigError) Error() string {
	var perr toml.ParseError
	if errors.As(e.Err, &perr) {
		return fmt.Sprintf("config %s does not parse: line %d, column %d: %s",
			e.Path, perr.Position.Line, perr.Position.Col, perr.Message)
	}
	if errors.Is(e.Err, os.ErrNotExist) {
		return fmt.Sprintf("config %s does not exist: create it with at least a line domain = \"<your mail domain>\"", e.Path)
	}
	return fmt.Sprintf("config %s: %v", e.Path, e.Err)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// ParseConfig decodes config text. It fails with a *ConfigError for text
// that is not TOML or whose fields have the wrong types.
func ParseConfig(path string, text []byte) (*Config, error) {
	meaning, err := decode(text)
	if err != nil {
		return nil, &ConfigError{Path: path, Err: err}
	}
	c := &Config{Path: path, text: text, meaning: meaning, Mailboxes: map[string]Stanza{}}
	str := func(m map[string]any, key, where string) (string, error) {
		v, ok := m[key]
		if !ok {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", &ConfigError{Path: path, Err: fmt.Errorf("%s%s must be a string", where, key)}
		}
		return s, nil
	}
	if c.Domain, err = str(meaning, "domain", ""); err != nil {
		return nil, err
	}
	if c.DataDir, err = str(meaning, "data_dir", ""); err != nil {
		return nil, err
	}
	mbs, ok := meaning["mailboxes"]
	if !ok {
		return c, nil
	}
	tables, ok := mbs.(map[string]any)
	if !ok {
		return nil, &ConfigError{Path: path, Err: errors.New("mailboxes must be a table")}
	}
	for name, v := range tables {
		t, ok := v.(map[string]any)
		if !ok {
			return nil, &ConfigError{Path: path, Err: fmt.Errorf("mailboxes.%s must be a table", name)}
		}
		st := Stanza{Name: name}
		where := "mailboxes." + name + "."
		if st.Address, err = str(t, "address", where); err != nil {
			return nil, err
		}
		if st.Owner, err = str(t, "owner", where); err != nil {
			return nil, err
		}
		c.Mailboxes[name] = st
	}
	return c, nil
}

// Names returns the mailbox names of the config, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Mailboxes))
	for n := range c.Mailboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Text returns the exact bytes the config was parsed from.
func (c *Config) Text() []byte { return c.text }

func decode(text []byte) (map[string]any, error) {
	m := map[string]any{}
	if _, err := toml.Decode(string(text), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// withMailbox returns the meaning of c with mailbox name set to stanza, or
// removed when stanza is nil; the maps of c are not changed.
func (c *Config) withMailbox(name string, stanza map[string]any) map[string]any {
	out := maps.Clone(c.meaning)
	mbs, _ := out["mailboxes"].(map[string]any)
	mbs = maps.Clone(mbs)
	if mbs == nil {
		mbs = map[string]any{}
	}
	if stanza == nil {
		delete(mbs, name)
	} else {
		mbs[name] = stanza
	}
	out["mailboxes"] = mbs
	return out
}

// sameMeaning compares two decoded configs. An empty mailboxes table is
// the same as none, and NaN equals NaN (a float the operator wrote).
func sameMeaning(a, b map[string]any) bool {
	norm := func(m map[string]any) map[string]any {
		if mbs, ok := m["mailboxes"].(map[string]any); ok && len(mbs) == 0 {
			m = maps.Clone(m)
			delete(m, "mailboxes")
		}
		return m
	}
	return equal(norm(a), norm(b))
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any, []map[string]any: // arrays, and arrays of tables
		av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
		if av.Type() != bv.Type() || av.Len() != bv.Len() {
			return false
		}
		for i := range av.Len() {
			if !equal(av.Index(i).Interface(), bv.Index(i).Interface()) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	return reflect.DeepEqual(a, b)
}

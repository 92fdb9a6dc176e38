package mailbox

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"os"
	"reflect"
	"sort"

	"github.com/BurntSushi/toml"
)

// DefaultConfigPath and DefaultDataDir are docs/BEHAVIOR.md's defaults.
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
// exact text it came from, and either the decoded meaning of that text
// or the trusted index that describes it (index.go); every edit is checked
// against one of them.
type Config struct {
	Path    string
	Domain  string
	DataDir string // empty when the file does not set data_dir

	mailboxes map[string]Stanza // of a decoded config; an indexed one reads its index

	text    []byte
	meaning map[string]any // nil until the text is decoded
	index   *Index         // the facts of text, when known
	slow    bool           // tests: always check an edit by decoding the whole new text
	fast    bool           // the last edit was checked by its fast path
	next    *indexEdit     // after a fast edit: the index of the new text
	hashed  []byte         // SHA-256 state after text, when text was hashed (textHash)
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
	return fromMeaning(path, text, meaning)
}

// fromMeaning is the Config of text, whose decoded meaning is meaning.
func fromMeaning(path string, text []byte, meaning map[string]any) (*Config, error) {
	var err error
	c := &Config{Path: path, text: text, meaning: meaning, mailboxes: map[string]Stanza{}}
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
		c.mailboxes[name] = st
	}
	return c, nil
}

// Mailbox returns the stanza of mailbox name, if the config has it.
func (c *Config) Mailbox(name string) (Stanza, bool) {
	if c.mailboxes == nil && c.index != nil {
		e, ok := c.index.entry(name)
		return e.Stanza, ok
	}
	st, ok := c.mailboxes[name]
	return st, ok
}

// Len is the number of mailboxes.
func (c *Config) Len() int {
	if c.mailboxes == nil && c.index != nil {
		return c.index.Len()
	}
	return len(c.mailboxes)
}

// All yields every mailbox's stanza, sorted by name. (A config read
// through its index is not copied into a map: at 10 000 mailboxes that
// map cost a CREATE about a millisecond.)
func (c *Config) All() iter.Seq[Stanza] {
	return func(yield func(Stanza) bool) {
		if c.mailboxes == nil && c.index != nil {
			for i := range c.index.Len() {
				if !yield(c.index.at(i).Stanza) {
					return
				}
			}
			return
		}
		for _, n := range c.Names() {
			if !yield(c.mailboxes[n]) {
				return
			}
		}
	}
}

// Names returns the mailbox names of the config, sorted.
func (c *Config) Names() []string {
	if c.mailboxes == nil && c.index != nil {
		names := make([]string, c.index.Len())
		for i := range names {
			names[i] = c.index.nameAt(i)
		}
		return names
	}
	names := make([]string, 0, len(c.mailboxes))
	for n := range c.mailboxes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func decode(text []byte) (map[string]any, error) {
	m := map[string]any{}
	if _, err := toml.Decode(string(text), &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decoded is the meaning of c's text, decoded on first use.
func (c *Config) decoded() (map[string]any, error) {
	if c.meaning == nil {
		m, err := decode(c.text)
		if err != nil {
			return nil, &ConfigError{Path: c.Path, Err: err}
		}
		c.meaning = m
	}
	return c.meaning, nil
}

// withMailbox returns meaning with mailbox name set to stanza, or
// removed when stanza is nil; the maps of meaning are not changed.
func withMailbox(meaning map[string]any, name string, stanza map[string]any) map[string]any {
	out := maps.Clone(meaning)
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

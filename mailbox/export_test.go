package mailbox

import "bytes"

// What the tests reach that the program itself does not.

// Text returns the exact bytes the config was parsed from.
func (c *Config) Text() []byte { return c.text }

// WithStanza is the whole text a CREATE of st writes (stanzaAdded).
func (c *Config) WithStanza(st Stanza) ([]byte, error) {
	added, err := c.stanzaAdded(st)
	if err != nil {
		return nil, err
	}
	return append(c.text[:len(c.text):len(c.text)], added...), nil
}

// bytes is the file form in one piece.
func (f indexFile) bytes() []byte { return bytes.Join(f, nil) }

// MarshalIndex is the file form of x.
func MarshalIndex(x *Index) []byte { return x.file().bytes() }

// List is ListFor with keep asked about every mailbox, registered or not,
// before its folders are read.
func (s *Store) List(c *Config, keep func(Entry) bool) ([]Entry, error) {
	return s.list(c, nil, keep, nil)
}

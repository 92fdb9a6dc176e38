package mailbox

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/edit")

// editCases: each edit of a file in testdata/edit, and its golden result.
var editCases = []struct {
	file   string
	create string // name to create (owner "carol"), or
	delete string // name to delete
}{
	{file: "minimal.toml", create: "new"},
	{file: "operator.toml", create: "new"},
	{file: "operator.toml", create: "with.dot"},
	{file: "operator.toml", delete: "support"},
	{file: "operator.toml", delete: "sales"},
	{file: "operator.toml", delete: "supportive"},
	{file: "crlf.toml", create: "three"},
	{file: "crlf.toml", delete: "one"},
	{file: "crlf.toml", delete: "two"},
	{file: "no-final-newline.toml", create: "next"},
	{file: "no-final-newline.toml", delete: "last"},
	{file: "quoted.toml", delete: "dotted.name"},
	{file: "quoted.toml", delete: "spaced"},
	{file: "quoted.toml", delete: "escaped"},
	{file: "dotted-keys.toml", delete: "plain"},
}

func loadCase(t *testing.T, file string) *Config {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", "edit", file))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(file, text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEditGolden(t *testing.T) {
	for _, tc := range editCases {
		name := strings.TrimSuffix(tc.file, ".toml")
		c := loadCase(t, tc.file)
		var got []byte
		var err error
		if tc.create != "" {
			name += ".create-" + tc.create
			got, err = c.WithStanza(Stanza{Name: tc.create, Address: tc.create + "@example.com", Owner: "carol"})
		} else {
			name += ".delete-" + tc.delete
			got, err = c.WithoutStanza(tc.delete)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		golden := filepath.Join("testdata", "edit", name+".golden")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./mailbox -update)", name, err)
		}
		if string(got) != string(want) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
}

// TestCreateDeleteRoundTrip: a create then a delete of the same mailbox
// gives back the file byte for byte.
func TestCreateDeleteRoundTrip(t *testing.T) {
	for _, file := range []string{"minimal.toml", "operator.toml", "crlf.toml", "quoted.toml"} {
		c := loadCase(t, file)
		added, err := c.WithStanza(Stanza{Name: "rt", Address: "rt@example.com", Owner: "carol"})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		c2, err := ParseConfig(file, added)
		if err != nil {
			t.Fatal(err)
		}
		back, err := c2.WithoutStanza("rt")
		if err != nil || string(back) != string(c.Text()) {
			t.Errorf("%s: round trip gave %q, %v", file, back, err)
		}
	}
}

// TestEditRefused: text this program cannot edit exactly is refused.
func TestEditRefused(t *testing.T) {
	var ee *EditError
	if _, err := loadCase(t, "dotted-keys.toml").WithoutStanza("dotted"); !errors.As(err, &ee) {
		t.Errorf("delete of a dotted-key stanza: %v, want an *EditError", err)
	}
	if _, err := loadCase(t, "inline.toml").WithStanza(Stanza{Name: "x", Address: "x@example.com", Owner: "carol"}); !errors.As(err, &ee) {
		t.Errorf("create beside an inline mailboxes table: %v, want an *EditError", err)
	}
	if _, err := loadCase(t, "inline.toml").WithoutStanza("inline"); !errors.As(err, &ee) {
		t.Errorf("delete from an inline mailboxes table: %v, want an *EditError", err)
	}
}

func TestNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"a": true, "support": true, "a.b": true, "a-b_c.9": true, "0": true,
		"": false, "A": false, "a b": false, "a/b": false, ".a": false, "a.": false, "a..b": false,
		"catchall": false, "aimx-catchall": false, "é": false, "a\x00": false, "../x": false,
	} {
		err := ValidateName(name)
		var ne *NameError
		if ok != (err == nil) || !ok && !errors.As(err, &ne) {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	for text, want := range map[string]string{
		"domain = \ndata_dir = 1\n":                   "config c.toml does not parse: line 1, column",
		"domain = 1\n":                                "config c.toml: domain must be a string",
		"domain = \"x\"\nmailboxes = 3\n":             "config c.toml: mailboxes must be a table",
		"domain = \"x\"\n[mailboxes]\nx = 1\n":        "config c.toml: mailboxes.x must be a table",
		"domain = \"x\"\n[mailboxes.x]\nowner = 1\n":  "config c.toml: mailboxes.x.owner must be a string",
		"domain = \"x\"\n[mailboxes.x]\naddress = []": "config c.toml: mailboxes.x.address must be a string",
	} {
		_, err := ParseConfig("c.toml", []byte(text))
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q…", text, err, want)
		}
	}
}

// FuzzEdit: for config text and a mailbox name, a create or delete either
// yields text that decodes to exactly the old meaning plus or minus that
// mailbox, or is refused; it never panics.
func FuzzEdit(f *testing.F) {
	for _, tc := range editCases {
		text, _ := os.ReadFile(filepath.Join("testdata", "edit", tc.file))
		f.Add(text, tc.create+tc.delete, tc.create != "")
	}
	f.Fuzz(func(t *testing.T, text []byte, name string, create bool) {
		c, err := ParseConfig("f.toml", text)
		if err != nil || ValidateName(name) != nil {
			return
		}
		var out []byte
		if create {
			if _, ok := c.Mailboxes[name]; ok {
				return
			}
			out, err = c.WithStanza(Stanza{Name: name, Address: name + "@x", Owner: "o"})
		} else {
			out, err = c.WithoutStanza(name)
		}
		if err != nil {
			var ee *EditError
			if !errors.As(err, &ee) {
				t.Fatalf("refused with %T %v", err, err)
			}
			return
		}
		got, err := ParseConfig("f.toml", out)
		if err != nil {
			t.Fatalf("edited text does not parse: %v\n%q", err, out)
		}
		_, had := c.Mailboxes[name]
		_, has := got.Mailboxes[name]
		if has != create || len(got.Mailboxes) != len(c.Mailboxes)+map[bool]int{true: 1, false: 0}[create]-map[bool]int{true: 1, false: 0}[had && !create] {
			t.Fatalf("create=%v: %d mailboxes before, %d after", create, len(c.Mailboxes), len(got.Mailboxes))
		}
	})
}

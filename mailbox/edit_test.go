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

// TestEditGolden: each edit gives its golden text, and the index's fast
// path gives the same bytes as the full decode (editBoth, fuzz_test.go).
// Every golden edit takes the fast path (the dotted-key and inline
// refusals are in TestEditRefused).
func TestEditGolden(t *testing.T) {
	for _, tc := range editCases {
		name := strings.TrimSuffix(tc.file, ".toml")
		text, err := os.ReadFile(filepath.Join("testdata", "edit", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		var fast bool
		if tc.create != "" {
			name += ".create-" + tc.create
			got, fast, err = editBoth(t, text, Stanza{Name: tc.create, Address: tc.create + "@example.com", Owner: "carol"}, true)
		} else {
			name += ".delete-" + tc.delete
			got, fast, err = editBoth(t, text, Stanza{Name: tc.delete}, false)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !fast {
			t.Errorf("%s: the full decode checked it, want the fast path", name)
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
		back, fast, err := editBoth(t, added, Stanza{Name: "rt"}, false)
		if err != nil || string(back) != string(c.Text()) || !fast {
			t.Errorf("%s: round trip gave %q, %v (fast path: %v)", file, back, err, fast)
		}
	}
}

// TestEditRefused: text this program cannot edit exactly is refused, by
// the fast path and the full decode alike.
func TestEditRefused(t *testing.T) {
	for _, tc := range []struct {
		file   string
		create bool
		name   string
	}{
		{"dotted-keys.toml", false, "dotted"},
		{"inline.toml", true, "x"},
		{"inline.toml", false, "inline"},
	} {
		text, err := os.ReadFile(filepath.Join("testdata", "edit", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = editBoth(t, text, Stanza{Name: tc.name, Address: tc.name + "@example.com", Owner: "carol"}, tc.create)
		var ee *EditError
		if !errors.As(err, &ee) {
			t.Errorf("%s create=%v %s: %v, want an *EditError", tc.file, tc.create, tc.name, err)
		}
	}
}

// TestCommentInsideString: a line that starts inside a multi-line string
// or array is never taken for a comment or blank line of the document, so
// a DELETE does not cut the value, on either path.
func TestCommentInsideString(t *testing.T) {
	for _, text := range []string{
		"domain = \"x\"\n[other]\ns = \"\"\"\n#\"\"\"\n[mailboxes.a]\naddress = \"a@x\"\nowner = \"o\"\n",
		"domain = \"x\"\n[other]\ns = '''\n#'''\n\n[mailboxes.a]\naddress = \"a@x\"\nowner = \"o\"\n",
		"domain = \"x\"\n[mailboxes.a]\naddress = \"a@x\"\nowner = \"o\"\ns = '''\n#'''\n[other]\n",
		"domain = \"x\"\n[mailboxes.a]\naddress = \"a@x\"\nowner = \"o\"\ns = \"\"\"\n\n\"\"\"\n[other]\n",
		"domain = \"x\"\n[mailboxes.a]\naddress = \"a@x\"\nowner = \"o\"\nv = [\n# in the array\n]\n\n[mailboxes.b]\naddress = \"b@x\"\nowner = \"o\"\n",
	} {
		out, _, err := editBoth(t, []byte(text), Stanza{Name: "a"}, false)
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		c, err := ParseConfig("c.toml", out)
		if err != nil {
			t.Errorf("%q: delete gave text that does not parse: %v\n%s", text, err, out)
		} else if _, ok := c.Mailbox("a"); ok {
			t.Errorf("%q: a still there:\n%s", text, out)
		}
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
// mailbox, or is refused; it never panics; and the index's fast path
// gives the same bytes and decision as the full decode, and whatever it
// accepts the full decode confirms (editBoth).
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
			if _, ok := c.Mailbox(name); ok {
				return
			}
			out, _, err = editBoth(t, text, Stanza{Name: name, Address: name + "@x", Owner: "o"}, true)
		} else {
			out, _, err = editBoth(t, text, Stanza{Name: name}, false)
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
		_, had := c.Mailbox(name)
		_, has := got.Mailbox(name)
		if has != create || got.Len() != c.Len()+map[bool]int{true: 1, false: 0}[create]-map[bool]int{true: 1, false: 0}[had && !create] {
			t.Fatalf("create=%v: %d mailboxes before, %d after", create, c.Len(), got.Len())
		}
	})
}

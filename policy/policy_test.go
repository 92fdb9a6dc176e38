package policy

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMissingFileMeansDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxMailboxesPerUser != 32 || p.LockTimeout != 10*time.Second || !slices.Equal(p.ReservedNames, DefaultReservedNames) || p.Path != path {
		t.Errorf("defaults: %+v", p)
	}
	for _, n := range []string{"postmaster", "abuse", "hostmaster", "admin", "webmaster", "security", "root", "mailer-daemon"} {
		if !slices.Contains(p.Rules().ReservedNames, n) {
			t.Errorf("%s is not reserved by default", n)
		}
	}
}

// TestPackagedMeansDefaults: the file the packages install, decoded as
// TOML, is exactly the defaults; its exact bytes are taken for them
// without a decode (a handful of allocations, where the decode makes
// about a hundred), and a byte more is decoded again.
func TestPackagedMeansDefaults(t *testing.T) {
	const path = "/etc/aimx/mailboxd.toml"
	decoded, err := decode(path, packaged)
	if err != nil || !reflect.DeepEqual(decoded, Default(path)) {
		t.Fatalf("the packaged file decodes to %+v (%v), not the defaults", decoded, err)
	}
	p, err := Parse(path, slices.Clone(packaged))
	if err != nil || !reflect.DeepEqual(p, Default(path)) {
		t.Fatalf("Parse of the packaged file: %+v, %v", p, err)
	}
	if n := testing.AllocsPerRun(20, func() { Parse(path, packaged) }); n > 5 {
		t.Errorf("Parse of the packaged file: %.0f allocations, so it decoded the TOML", n)
	}
	edited := append(slices.Clone(packaged), "max_mailboxes_per_user = 3\n"...)
	if _, err := Parse(path, edited); err == nil || !strings.Contains(err.Error(), "line") {
		t.Errorf("the packaged file with a key set twice: %v, want the decode's error", err)
	}
}

func TestParse(t *testing.T) {
	p, err := Parse("p.toml", []byte("# operator\nreserved_names = [\"boss\"]\nmax_mailboxes_per_user = 0\nlock_timeout_seconds = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.ReservedNames, []string{"boss"}) || p.MaxMailboxesPerUser != 0 || p.LockTimeout != 3*time.Second {
		t.Errorf("got %+v", p)
	}
	if r := p.Rules(); r.MaxPerUser != 0 || r.Source != "p.toml" || !slices.Equal(r.ReservedNames, []string{"boss"}) {
		t.Errorf("rules: %+v", r)
	}
	// A key left out keeps its default.
	p, err = Parse("p.toml", []byte("lock_timeout_seconds = 1\n"))
	if err != nil || p.MaxMailboxesPerUser != 32 || !slices.Contains(p.Rules().ReservedNames, "postmaster") {
		t.Errorf("got %+v, %v", p, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"\nmax_mailboxes = 3\n", "policy file /etc/aimx/mailboxd.toml, line 2, key max_mailboxes: unknown key; the keys are reserved_names, max_mailboxes_per_user and lock_timeout_seconds"},
		{"# c\n\nmax_mailboxes_per_user = \"ten\"\n", "policy file /etc/aimx/mailboxd.toml, line 3, key max_mailboxes_per_user: must be a whole number, 0 or more (0: no limit), not a string"},
		{"max_mailboxes_per_user = -1\n", "policy file /etc/aimx/mailboxd.toml, line 1, key max_mailboxes_per_user: must be a whole number, 0 or more (0: no limit), not -1"},
		{"lock_timeout_seconds = 0\n", "policy file /etc/aimx/mailboxd.toml, line 1, key lock_timeout_seconds: must be a whole number of seconds from 1 to 3600, not 0"},
		{"lock_timeout_seconds = 2.5\n", "policy file /etc/aimx/mailboxd.toml, line 1, key lock_timeout_seconds: must be a whole number of seconds from 1 to 3600, not a float"},
		{"reserved_names = \"postmaster\"\n", "policy file /etc/aimx/mailboxd.toml, line 1, key reserved_names: must be an array of mailbox names, not a string"},
		{"reserved_names = [\"a\", 1]\n", "policy file /etc/aimx/mailboxd.toml, line 1, key reserved_names: must be an array of mailbox names, but holds an integer"},
		{"reserved_names = [\"Billing\", \" payroll\"]\n", "policy file /etc/aimx/mailboxd.toml, line 1, key reserved_names: \"Billing\" is not a mailbox name, so it reserves nothing: invalid mailbox name 'Billing': only lower-case letters, digits, '.', '_' and '-' are allowed"},
		{"reserved_names = [\"payroll\", \" payroll\"]\n", "policy file /etc/aimx/mailboxd.toml, line 1, key reserved_names: \" payroll\" is not a mailbox name, so it reserves nothing: invalid mailbox name ' payroll': only lower-case letters, digits, '.', '_' and '-' are allowed"},
		{"reserved_names = [\"\"]\n", "policy file /etc/aimx/mailboxd.toml, line 1, key reserved_names: \"\" is not a mailbox name, so it reserves nothing: invalid mailbox name '': it must not be empty"},
		{"[limits]\nx = 1\n", "policy file /etc/aimx/mailboxd.toml, line 1, key limits: unknown key; the keys are reserved_names, max_mailboxes_per_user and lock_timeout_seconds"},
		{"a = 1\nlock_timeout_seconds = \n", "policy file /etc/aimx/mailboxd.toml, line 2, key lock_timeout_seconds: expected value but found '\\n' instead"},
	} {
		_, err := Parse("/etc/aimx/mailboxd.toml", []byte(tc.text))
		var perr *Error
		if !errors.As(err, &perr) || err.Error() != tc.want {
			t.Errorf("%q:\n got %v\nwant %s", tc.text, err, tc.want)
		}
	}
}

func TestUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.Mkdir(path, 0o755); err != nil { // a folder in its place
		t.Fatal(err)
	}
	_, err := Load(path)
	var perr *Error
	if !errors.As(err, &perr) || perr.Path != path {
		t.Errorf("got %v", err)
	}
}

func TestPathFor(t *testing.T) {
	if got := PathFor("/etc/aimx/config.toml"); got != "/etc/aimx/mailboxd.toml" {
		t.Errorf("got %s", got)
	}
}

// TestLineOf: lineOf finds the line the pattern
// ^\s*(\[+\s*)?(key|"key"|'key')\s*[=.\]] finds, over many small texts.
func TestLineOf(t *testing.T) {
	key := "lock_timeout_seconds"
	re := regexp.MustCompile(`^\s*(?:\[+\s*)?(?:` + key + `|"` + key + `"|'` + key + `')\s*[=.\]]`)
	want := func(text string) int {
		for i, line := range strings.Split(text, "\n") {
			if re.MatchString(line) {
				return i + 1
			}
		}
		return 0
	}
	parts := []string{"", " ", "\t", "[", "[[", key, `"` + key + `"`, "'" + key + "'", "=", ".", "]", "x", "\n", "#", key + "s"}
	var check func(text string, depth int)
	check = func(text string, depth int) {
		if got, w := lineOf([]byte(text), key), want(text); got != w {
			t.Errorf("lineOf(%q) = %d, want %d", text, got, w)
		}
		if depth > 0 {
			for _, p := range parts {
				check(text+p, depth-1)
			}
		}
	}
	check("", 4)
}

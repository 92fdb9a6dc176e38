package mailbox

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aimx/aimx-mailboxd/authz"
)

// aimxBinary is the AIMX mail daemon's binary (crate aimx 0.2.0), built
// once per machine by `make aimx`, or "" when this machine has none.
func aimxBinary() string {
	if p := os.Getenv("AIMX_BIN"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	for _, p := range []string{
		filepath.Join(cache, "aimx-mailboxd", "aimx-0.2.0", "bin", "aimx"),
		filepath.Join("..", "vmtests", ".cache", "aimx-0.2.0", "bin", "aimx"),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// TestAIMXLoadsWhatWeWrite: every config this program writes is one the
// AIMX daemon loads. Names that ValidateName accepts and owners that
// authz accepts (authz.OwnerName, not reserved), at every boundary and
// at random, go into stanzas exactly as CREATE appends them
// (Config.WithStanza); AIMX's own loader must accept the result: `aimx
// serve` loads the config first and stops at its first complaint, and
// with no DKIM key in the test's config folder it goes no further than
// that key, so it never listens.
func TestAIMXLoadsWhatWeWrite(t *testing.T) {
	aimx := aimxBinary()
	if aimx == "" {
		t.Skip("needs the AIMX daemon's binary: run 'make aimx' (builds crate aimx 0.2.0 once per machine) or set AIMX_BIN")
	}
	const nameChars, ownerFirst, ownerRest = "abcdefghijklmnopqrstuvwxyz0123456789._-", "abcdefghijklmnopqrstuvwxyz_", "abcdefghijklmnopqrstuvwxyz0123456789_-"
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	pick := func(set string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = set[r.IntN(len(set))]
		}
		return string(b)
	}
	names := []string{"a", "0", "-", "_", "a-", "-a", "_a", "a_", "a.b", "a-b.c_d", strings.Repeat("z", MaxNameLen), "9" + strings.Repeat(".9", 31), "x-" + strings.Repeat("-", 62)}
	for len(names) < 250 {
		if n := pick(nameChars, 1+r.IntN(MaxNameLen)); ValidateName(n) == nil {
			names = append(names, n)
		}
	}
	owners := []string{"a", "_", "a$", "_$", "a-", "a_", "a0", "z9-_", strings.Repeat("a", 32), strings.Repeat("b", 31) + "$", "_" + strings.Repeat("-", 31)}
	for len(owners) < 250 {
		o := pick(ownerFirst, 1) + pick(ownerRest, r.IntN(32))
		if r.IntN(4) == 0 && len(o) < 32 {
			o += "$"
		}
		if authz.OwnerName(o) && len(o) <= 32 {
			owners = append(owners, o)
		}
	}
	text := []byte("domain = \"example.com\"\n")
	seen := map[string]bool{}
	for i, n := range names {
		if seen[n] {
			continue
		}
		seen[n] = true
		o := owners[i%len(owners)]
		if _, _, err := authz.CreateOwner(authz.Caller{}, "root", n, o, authz.Rules{}); err != nil {
			continue // a reserved owner: never written
		}
		c, err := ParseConfig("config.toml", text)
		if err != nil {
			t.Fatal(err)
		}
		if text, err = c.WithStanza(Stanza{Name: n, Address: n + "@example.com", Owner: o}); err != nil {
			t.Fatalf("stanza %s owned by %s: %v", n, o, err)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	full := "data_dir = \"" + data + "\"\n" + string(text) // on top: after the stanzas it would be the last one's
	out := aimxServe(t, aimx, dir, full)
	if !strings.Contains(out, "Failed to load DKIM private key") || strings.Contains(out, "Error: mailbox") {
		t.Fatalf("AIMX refused a config this program wrote (%d stanzas):\n%s", len(seen), firstLines(out, 5))
	}
	t.Logf("AIMX loaded %d stanzas (names and owners at every boundary and at random)", len(seen))
	// And the check can fail: an owner AIMX refuses is refused.
	bad := full + "\n[mailboxes.dotted]\naddress = \"dotted@example.com\"\nowner = \"first.last\"\n"
	if out := aimxServe(t, aimx, dir, bad); !strings.Contains(out, "invalid owner 'first.last'") {
		t.Errorf("aimx serve did not refuse owner first.last:\n%s", firstLines(out, 5))
	}
}

// aimxServe writes config text to dir/config.toml and returns what `aimx
// serve` prints of it (it stops at a missing DKIM key at the latest).
func aimxServe(t *testing.T, aimx, dir, text string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // past the DKIM key it would serve: stop it
	defer cancel()
	cmd := exec.CommandContext(ctx, aimx, "serve")
	cmd.Env = append(os.Environ(), "AIMX_CONFIG_DIR="+dir, "AIMX_DATA_DIR="+filepath.Join(dir, "data"))
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// Package packaging holds no Go code: its tests run the packages' shell
// pieces (packaging/scripts) on real files in a temporary root.
package packaging

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// seedAdvice ends every line aimx_seed_config prints when it writes no config.
const seedAdvice = "; every request fails until you write it (domain = \"example.org\"), then check with: aimx-mailboxes doctor\n"

// TestSeedConfig runs aimx_seed_config (scripts/config-seed.sh, as the deb
// postinst and the rpm %post carry it) under DPKG_ROOT=a temporary root,
// with the environment and /etc/mailname of each case, and checks the
// config it leaves and the exact text on stderr: nothing when it wrote a
// config or one was there, one line naming the file, why, and doctor
// when it wrote none.
func TestSeedConfig(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs sh: runs the maintainer scripts' function")
	}
	seeded := func(domain string) string {
		return "# Written by the aimx-mailboxd package on first install; edit freely.\ndomain = \"" + domain + "\"\n"
	}
	const existing = "domain = \"kept.example\"\n"
	for _, tc := range []struct {
		name     string
		env      string // AIMX_DOMAIN; "-" leaves it unset
		mailname string // "" means no /etc/mailname
		config   string // an existing config.toml
		want     string // config.toml afterwards; "" means none
		stderr   string
		status   int
	}{
		{name: "AIMX_DOMAIN", env: "mail.example.org", want: seeded("mail.example.org")},
		{name: "AIMX_DOMAIN over mailname", env: "a.example", mailname: "b.example\n", want: seeded("a.example")},
		{name: "mailname", env: "-", mailname: " mx.example.net \nsecond line\n", want: seeded("mx.example.net")},
		{name: "empty AIMX_DOMAIN, mailname", env: "", mailname: "mx.example.net\n", want: seeded("mx.example.net")},
		{name: "config exists", env: "mail.example.org", config: existing, want: existing},
		{name: "config exists, no domain", env: "-", config: existing, want: existing},
		{name: "no domain", env: "-", status: 1,
			stderr: "aimx-mailboxd: /etc/aimx/config.toml not written: no mail domain is known (AIMX_DOMAIN is empty and /etc/mailname is missing)" + seedAdvice},
		{name: "bad AIMX_DOMAIN, good mailname", env: "bad..example", mailname: "mx.example.net\n", status: 1,
			stderr: "aimx-mailboxd: /etc/aimx/config.toml not written: AIMX_DOMAIN is 'bad..example', not a domain name" + seedAdvice},
		{name: "AIMX_DOMAIN with a quote and a newline", env: "ex\"ample.org\nx", status: 1,
			stderr: "aimx-mailboxd: /etc/aimx/config.toml not written: AIMX_DOMAIN is 'ex?ample.org?x', not a domain name" + seedAdvice},
		{name: "bad mailname", env: "-", mailname: "-not a domain\n", status: 1,
			stderr: "aimx-mailboxd: /etc/aimx/config.toml not written: /etc/mailname is '-notadomain', not a domain name" + seedAdvice},
		{name: "empty mailname", env: "-", mailname: "\n", status: 1,
			stderr: "aimx-mailboxd: /etc/aimx/config.toml not written: /etc/mailname is '', not a domain name" + seedAdvice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			cfg := filepath.Join(root, "etc/aimx/config.toml")
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.mailname != "" {
				if err := os.WriteFile(filepath.Join(root, "etc/mailname"), []byte(tc.mailname), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.config != "" {
				if err := os.MkdirAll(filepath.Dir(cfg), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cfg, []byte(tc.config), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("sh", "-c", `. ./scripts/config-seed.sh && aimx_seed_config`)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DPKG_ROOT=" + root}
			if tc.env != "-" {
				cmd.Env = append(cmd.Env, "AIMX_DOMAIN="+tc.env)
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			status := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || stdout.String() != "" || stderr.String() != tc.stderr {
				t.Errorf("aimx_seed_config: status %d, stdout %q, stderr\n%q\nwant status %d, no stdout, stderr\n%q", status, stdout.String(), stderr.String(), tc.status, tc.stderr)
			}
			got, err := os.ReadFile(cfg)
			switch {
			case tc.want == "" && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("config.toml: %q, %v; want none", got, err)
			case tc.want != "" && string(got) != tc.want:
				t.Errorf("config.toml: %q, %v; want %q", got, err, tc.want)
			}
			if tc.want != "" && tc.config == "" {
				if fi, err := os.Stat(cfg); err != nil || fi.Mode().Perm() != 0o640 {
					t.Errorf("seeded config.toml: %v, %v; want mode 0640", fi.Mode(), err)
				}
				if fi, err := os.Stat(filepath.Dir(cfg)); err != nil || fi.Mode().Perm() != 0o755 {
					t.Errorf("/etc/aimx: %v, %v; want mode 0755", fi.Mode(), err)
				}
			}
			// Nothing but the config (and nothing at all when none was written).
			ents, _ := os.ReadDir(filepath.Dir(cfg))
			for _, e := range ents {
				if e.Name() != "config.toml" {
					t.Errorf("left %s in /etc/aimx", e.Name())
				}
			}
		})
	}
}

package aimxtest

import (
	"os"
	"path/filepath"

	"github.com/aimx/aimx-mailboxd/units"
)

// Sandbox is what one helper serves: a config, a data dir with inbox/
// and sent/, and a socket path, all in one folder.
type Sandbox struct {
	Dir    string
	Config string // Dir/etc/config.toml
	Data   string // Dir/data
	Sock   string // Dir/mailboxd.sock
}

// NewSandbox makes the folders under dir (which must exist), each 0755
// whatever the umask, so that any user's helper and client reach them,
// and writes config there (0640) unless it is "".
func NewSandbox(dir, config string) (*Sandbox, error) {
	sb := &Sandbox{Dir: dir, Config: filepath.Join(dir, "etc", "config.toml"),
		Data: filepath.Join(dir, "data"), Sock: filepath.Join(dir, "mailboxd.sock")}
	for _, d := range []string{dir, filepath.Dir(sb.Config), sb.Data, sb.Path("inbox"), sb.Path("sent")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, err
		}
	}
	if config != "" {
		if err := os.WriteFile(sb.Config, []byte(config), 0o640); err != nil {
			return nil, err
		}
	}
	return sb, nil
}

// Serve starts an activator on the sandbox's socket running argv, with
// the helper's --config and --data-dir for this sandbox appended (a
// wrapper such as bench/rsswrap passes them on to the helper it runs).
func (sb *Sandbox) Serve(argv ...string) (*Activator, error) {
	return Activate(sb.Sock, append(argv, "--config", sb.Config, "--data-dir", sb.Data)...)
}

// ReadConfig returns the config's text.
func (sb *Sandbox) ReadConfig() (string, error) {
	b, err := os.ReadFile(sb.Config)
	return string(b), err
}

// Path is a path under the data dir.
func (sb *Sandbox) Path(rel ...string) string {
	return filepath.Join(append([]string{sb.Data}, rel...)...)
}

// ServeHelper is Serve for the helper (argv: the helper, or a wrapper
// that runs it), in the environment its unit gives it
// (aimx-mailboxd@.service's Environment=), so that what runs here is
// what is deployed.
func (sb *Sandbox) ServeHelper(argv ...string) (*Activator, error) {
	var args []string
	for _, kv := range units.HelperEnvironment() {
		args = append(args, "-E", kv)
	}
	return sb.Serve(append(args, argv...)...)
}

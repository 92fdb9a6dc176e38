// Package units holds the systemd units as the package installs them,
// for the programs that must run the helper the way its unit does:
// the test harness, the benches and the flood (bench/flood).
package units

import (
	_ "embed"
	"strings"
)

// HelperService is aimx-mailboxd@.service, byte for byte.
//
//go:embed aimx-mailboxd@.service
var HelperService string

// Environment is the K=V list of a unit's Environment= lines, in order
// (quotes around a K=V taken off).
func Environment(unit string) []string {
	var env []string
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Environment="); ok {
			for _, kv := range strings.Fields(v) {
				env = append(env, strings.Trim(kv, `"`))
			}
		}
	}
	return env
}

// HelperEnvironment is what the helper's unit sets in its environment.
func HelperEnvironment() []string { return Environment(HelperService) }

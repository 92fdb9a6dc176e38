// Package version holds the build metadata that the VERSION verb and the
// CLI's `version` command report. The Makefile stamps it at link time;
// a plain `go build` falls back to what the Go toolchain recorded.
package version

import (
	"runtime"
	"runtime/debug"
)

// Stamped with -ldflags "-X github.com/aimx/aimx-mailboxd/version.Tag=...".
var (
	Tag       = ""
	GitHash   = ""
	BuildDate = ""
)

// Info is the VERSION body of docs/PROTOCOL.md.
type Info struct {
	Tag       string `json:"tag"`
	GitHash   string `json:"git_hash"`
	Target    string `json:"target"`
	BuildDate string `json:"build_date"`
}

// Get returns this binary's build metadata, falling back to
// debug.ReadBuildInfo for fields the linker did not stamp.
func Get() Info {
	info := Info{Tag: Tag, GitHash: GitHash, BuildDate: BuildDate, Target: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Tag == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Tag = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && info.GitHash == "":
				info.GitHash = s.Value[:min(7, len(s.Value))]
			case s.Key == "vcs.time" && info.BuildDate == "" && len(s.Value) >= 10:
				info.BuildDate = s.Value[:10]
			}
		}
	}
	for _, f := range []*string{&info.Tag, &info.GitHash, &info.BuildDate} {
		if *f == "" {
			*f = "unknown"
		}
	}
	return info
}

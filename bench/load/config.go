//go:build linux

package main

import (
	"errors"
	"flag"
	"time"
)

// mode is which run: make bench, make vmbench or make bench-aimx.
type mode int

const (
	modeLocal   mode = iota // make bench: our helper under systemd-socket-activate
	modeSockets             // make vmbench: sockets that already listen (-socket)
	modeAIMX                // make bench-aimx: AIMX's daemon, our helper and the floor (-aimx)
	modeProfile             // make bench-list-profile: two builds' LISTs under perf (-profile-base)
)

// target names the make target of a mode, for the report.
func (m mode) target() string {
	return map[mode]string{modeLocal: "bench", modeSockets: "vmbench", modeAIMX: "bench-aimx", modeProfile: "bench-list-profile"}[m]
}

// config is the command line.
type config struct {
	mode mode

	helper, floor, wrap string // the binaries
	out                 string // the markdown; "" prints it
	policy              string // the policy file the helper's configs get beside them
	pairs               int
	secs                time.Duration

	// make vmbench: sockets that already listen (real systemd units).
	socket, floorSocket, configPath, floorSandboxed string

	// make bench-aimx.
	aimx, floorAB, floorList         string // the floor (a+b) and floor (list) binaries
	rounds, scaleCreates, memCreates int
	listRoot, listUser               int // LIST rounds at 10 000 mailboxes: root's, the user's

	// make bench-list-profile: the build before (-helper is the one
	// after), and how the report names each.
	profileBase, profileBaseName, helperName string
}

// parseFlags reads the command line and checks that each mode has what
// it needs.
func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.StringVar(&c.helper, "helper", "", "the helper binary")
	fs.StringVar(&c.floor, "floor", "", "the floor (a) binary")
	fs.StringVar(&c.wrap, "wrap", "", "the rsswrap binary")
	fs.StringVar(&c.out, "out", "", "write the markdown results here")
	fs.StringVar(&c.policy, "policy", "", "the policy file to put beside each of the helper's configs, as the packages install one (policy/mailboxd.toml); none by default")
	fs.IntVar(&c.pairs, "pairs", 500, "sequential CREATE+DELETE pairs per caller")
	fs.DurationVar(&c.secs, "throughput-time", 10*time.Second, "time per concurrency level")
	fs.StringVar(&c.socket, "socket", "", "measure the sequential pairs through this listening socket instead of starting the helper (needs -floor-socket and -config)")
	fs.StringVar(&c.floorSocket, "floor-socket", "", "with -socket: the listening socket of floor (a)")
	fs.StringVar(&c.configPath, "config", "", "with -socket: the helper's config file (its size, and its folder for floor (b))")
	fs.StringVar(&c.floorSandboxed, "floor-sandboxed-socket", "", "with -socket, optional: floor (a) behind a copy of the helper's sandboxed instance unit")
	fs.StringVar(&c.aimx, "aimx", "", "compare: the aimx binary (crate aimx); enables the comparison run")
	fs.StringVar(&c.floorAB, "floorab", "", "compare: the floor (a+b) binary (bench/floor built with -tags floorab), a fourth target of the throughput runs")
	fs.StringVar(&c.floorList, "floorlist", "", "compare: the floor (list) binary (bench/floor built with -tags floorlist), beside the user's LISTs at 10 000 mailboxes")
	fs.IntVar(&c.rounds, "rounds", 200, "compare: sequential requests of each kind per target")
	fs.IntVar(&c.scaleCreates, "scale-creates", 40, "compare: CREATEs per target at each config size")
	fs.IntVar(&c.listRoot, "list-root", 21, "compare: root's LISTs per target at 10 000 mailboxes")
	fs.IntVar(&c.listUser, "list-user", 51, "compare: the bench user's LISTs per target at 10 000 mailboxes")
	fs.IntVar(&c.memCreates, "mem-creates", 5, "compare: CREATEs through rsswrap at 10 000 mailboxes, for the helper's peak RSS")
	fs.StringVar(&c.profileBase, "profile-base", "", "profile: the helper build before, beside -helper's (make bench-list-profile)")
	fs.StringVar(&c.profileBaseName, "base-name", "", "profile: how the report names -profile-base")
	fs.StringVar(&c.helperName, "helper-name", "", "profile: how the report names -helper")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case c.profileBase != "":
		c.mode = modeProfile
		if c.helper == "" {
			return c, errors.New("-profile-base needs -helper")
		}
	case c.socket != "":
		c.mode = modeSockets
		if c.floorSocket == "" || c.configPath == "" {
			return c, errors.New("-socket needs -floor-socket and -config")
		}
	case c.aimx != "":
		c.mode = modeAIMX
		if c.helper == "" || c.floor == "" || c.floorAB == "" || c.floorList == "" || c.wrap == "" {
			return c, errors.New("-aimx needs -helper, -floor, -floorab, -floorlist and -wrap")
		}
	case c.helper == "" || c.floor == "" || c.wrap == "":
		return c, errors.New("needs -helper, -floor and -wrap (or -socket, or -aimx)")
	}
	return c, nil
}

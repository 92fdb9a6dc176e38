//go:build linux

// Command load is make bench's load generator: it talks AIMX/1 over the
// mailbox socket to the real helper under systemd-socket-activate
// --accept, as root and as a real user, measures latency, throughput,
// config scaling, peak RSS and the two floors (process per connection;
// durable write), and writes the markdown that docs/PERFORMANCE.md
// carries. It needs root: it creates the user aimxbench and chowns.
//
//	load -helper BIN -floor BIN -wrap BIN -out FILE
//
// With -socket it starts no activator: it measures only the sequential
// CREATE+DELETE pairs through that already listening socket (make
// vmbench: the packaged aimx-mailboxd.socket under real systemd in a
// qemu guest), floor (a) through -floor-socket (bench/floor behind a
// second Accept=yes socket unit) and floor (b) beside the helper's
// -config file.
//
//	load -socket PATH -floor-socket PATH -config FILE -pairs N -out FILE
//
// With -aimx (make bench-aimx) it compares, alternating request by
// request, AIMX's own daemon (aimx serve), the helper and the floor
// program at 10, 1 000 and 10 000 mailboxes (aimx.go).
//
//	load -aimx BIN -helper BIN -floor BIN -wrap BIN -out FILE
//
// With -profile-base (make bench-list-profile) it profiles, under perf,
// LISTs at 10 000 mailboxes by two builds of the helper, alternating
// (profile.go).
//
//	load -profile-base BIN -helper BIN -out FILE
//
// The files: config.go (flags), loop.go (the requests and their timing,
// shared by every mode), stats.go (percentiles, the machine, the
// report), local.go (make bench), sockets.go (make vmbench), aimx.go
// (make bench-aimx), profile.go (make bench-list-profile). The sandboxes, activators, users and the step run
// as the bench user are internal/aimxtest's.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

const benchUser = "aimxbench"

// bench is one run: its flags, its report, and when it started.
type bench struct {
	cfg   config
	rep   report
	start time.Time
}

func main() {
	if code, ok := aimxtest.Child(map[string]aimxtest.Step{clientStep: client, listStep: lists}); ok {
		os.Exit(code)
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "load: needs root: creates the user %s and runs the helper for it\n", benchUser)
		os.Exit(1)
	}
	if cfg.policy != "" {
		if helperPolicy, err = os.ReadFile(cfg.policy); err != nil {
			fmt.Fprintf(os.Stderr, "load: %v\n", err)
			os.Exit(2)
		}
	}
	b := &bench{cfg: cfg, start: time.Now()}
	run := map[mode]func() error{modeLocal: b.local, modeSockets: b.sockets, modeAIMX: b.compare, modeProfile: b.profileList}[cfg.mode]
	if err := b.withUser(run); err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(1)
	}
	if cfg.out == "" {
		fmt.Print(b.rep.String())
		return
	}
	if err := os.WriteFile(cfg.out, []byte(b.rep.String()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "load: %v\n", err)
		os.Exit(1)
	}
}

// withUser runs run with the bench user present, creating it first when
// missing and removing it afterwards when it did.
func (b *bench) withUser(run func() error) error {
	_, made, err := aimxtest.EnsureUser(benchUser)
	if err != nil {
		return err
	}
	if made {
		defer aimxtest.RemoveUser(benchUser)
	}
	return run()
}

// logf is a progress line on stderr (the report goes to -out).
func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

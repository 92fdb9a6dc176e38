//go:build linux

package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// sockets is make vmbench's run: the sequential pairs through the
// already listening -socket, as root and as the user, then the floors.
func (b *bench) sockets() error {
	c := b.cfg
	b.machine()
	rootC, rootD, err := sequential(c.socket, c.pairs, "root", benchUser)
	if err != nil {
		return err
	}
	logf("load: %d pairs as root after %s", c.pairs, time.Since(b.start).Round(time.Second))
	userC, userD, err := sequentialAs(c.socket, c.pairs)
	if err != nil {
		return err
	}
	logf("load: %d pairs as %s after %s", c.pairs, benchUser, time.Since(b.start).Round(time.Second))
	cfg, err := os.ReadFile(c.configPath)
	if err != nil {
		return err
	}
	floorA, err := repeat("floor", c.floorSocket, aimxtest.Version, aimxtest.OK, c.pairs)
	if err != nil {
		return err
	}
	logf("load: floor (a) after %s", time.Since(b.start).Round(time.Second))
	var floorS []time.Duration
	if c.floorSandboxed != "" {
		if floorS, err = repeat("sandboxed floor", c.floorSandboxed, aimxtest.Version, aimxtest.OK, c.pairs); err != nil {
			return err
		}
	}
	floorB, err := durableWrites(filepath.Dir(c.configPath), len(cfg), c.pairs)
	if err != nil {
		return err
	}
	b.sequentialTables(rootC, rootD, userC, userD, floorA, floorB, len(cfg),
		"`bench/floor` (reads SO_PEERCRED, answers `AIMX/1 OK`) as the instance of a second socket unit with `Accept=yes` and no sandbox")
	if len(floorS) > 0 {
		// The same table, one more row: where the ratio goes.
		s, fb := pct(floorS, 50), pct(floorB, 50)
		b.rep.f("| (a') the same program under a copy of the installed `aimx-mailboxd@.service` (its whole sandbox; only `ExecStart=` changed) | %s | %s | %s |\n", ms(s), ms(pct(floorS, 90)), ms(pct(floorS, 99)))
		b.rep.f("| (a')+(b) | %s | | |\n", ms(s+fb))
		b.rep.f("\nRatio of p50 to (a')+(b), which leaves out what the sandbox costs systemd per instance: ")
		for i, row := range []struct {
			label string
			d     []time.Duration
		}{{"root CREATE", rootC}, {"root DELETE", rootD}, {benchUser + " CREATE", userC}, {benchUser + " DELETE", userD}} {
			sep := ", "
			if i == 0 {
				sep = ""
			}
			b.rep.f("%s%s %.2f", sep, row.label, float64(pct(row.d, 50))/float64(s+fb))
		}
		b.rep.f(". The sandbox alone, (a') over (a): %.2f.\n", float64(s)/float64(pct(floorA, 50)))
	}
	b.rep.f("\nTotal bench time: %s.\n", time.Since(b.start).Round(time.Second))
	return nil
}

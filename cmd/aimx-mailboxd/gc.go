package main

import (
	"math"
	"os"
	"runtime/debug"
)

// memoryLimit is the heap size at which the garbage collector starts
// when GOMEMLIMIT names none (and GOGC is unset), the unit's value too:
// below the limit in force the helper never collects, since it exits
// after one request anyway. A request that finds the config unindexed
// decodes it in full, and that one peaks highest; docs/PERFORMANCE.md
// ("Decisions that stand") has the figures behind this value.
const memoryLimit = 24 << 20

// tuneGC sets the collector for a process that answers one request and
// exits: no collection below the memory limit in force (the unit's
// GOMEMLIMIT, else memoryLimit); GOGC or GOMEMLIMIT=off in the
// environment keep the runtime's own pacing.
func tuneGC() {
	if os.Getenv("GOGC") != "" {
		return
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	if debug.SetMemoryLimit(-1) < math.MaxInt64 {
		debug.SetGCPercent(-1)
	}
}

//go:build faults

package faults

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

func writeReport(t *testing.T, total time.Duration) {
	var b strings.Builder
	mode := "full"
	if *quick {
		mode = "quick"
	}
	fmt.Fprintf(&b, "Run: `make faults` (%s), %s, %d CPUs, %s, total %s.\n\n", mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"), numCPU(), kernel(), total.Round(time.Second))
	fmt.Fprintf(&b, "| Operation | FS/fd syscalls after exec | Kill points run | hit as targeted | Error injections run | hit as targeted | Helper runs under strace (retries incl.) | Violations |\n|---|---|---|---|---|---|---|---|\n")
	sort.Slice(allStats, func(i, j int) bool { return allStats[i].order < allStats[j].order })
	var kills, errs, viol int
	for _, s := range allStats {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d |\n", s.op, s.syscalls, s.killRuns, s.killHit, s.errRuns, s.errHit, s.attempts, len(s.violations))
		kills += s.killRuns
		errs += s.errRuns
		viol += len(s.violations)
	}
	fmt.Fprintf(&b, "| **total** | | **%d** | | **%d** | | | **%d** |\n\n", kills, errs, viol)
	b.WriteString("What each operation's sandbox held before the request:\n\n")
	for _, s := range allStats {
		fmt.Fprintf(&b, "- %s: %s\n", s.op, s.desc)
	}
	b.WriteString("\nThe kill points and error injections by step of the request (the steps issue #8 added first):\n\n")
	b.WriteString("| Step | Operation | Syscalls targeted | Kill points | Error injections | Violations |\n|---|---|---|---|---|---|\n")
	for _, ph := range phaseOrder {
		for _, s := range allStats {
			p := s.phases[ph]
			if p == nil {
				continue
			}
			calls := make([]string, 0, len(p.calls))
			for c := range p.calls {
				calls = append(calls, c)
			}
			sort.Strings(calls)
			fmt.Fprintf(&b, "| %s | %s | %s | %d | %d | %d |\n", ph, s.op, strings.Join(calls, ", "), p.kills, p.errs, p.bad)
		}
	}
	b.WriteString("\n")
	b.WriteString("Outcomes of the faulted runs:\n\n")
	for _, s := range allStats {
		fmt.Fprintf(&b, "- %s (%s): %s\n", s.op, s.elapsed.Round(time.Second), strings.Join(counts(s.outcomes, "%s: %d"), "; "))
	}
	b.WriteString("\nThe steps that `ERR IO` answers named (count of answers):\n\n")
	for _, s := range allStats {
		fmt.Fprintf(&b, "- %s: %s\n", s.op, strings.Join(counts(s.steps, "`%s` %d"), ", "))
	}
	var missed []string
	for _, s := range allStats {
		missed = append(missed, s.missed...)
	}
	if len(missed) > 0 {
		sort.Strings(missed)
		fmt.Fprintf(&b, "\nInjections that landed on another call than targeted after every retry (another thread made that call first; each run was still checked): %d\n", len(missed))
		for i, m := range missed {
			if i == 20 {
				fmt.Fprintf(&b, "- … %d more\n", len(missed)-20)
				break
			}
			fmt.Fprintf(&b, "- %s\n", m)
		}
	}
	var vs []string
	for _, s := range allStats {
		vs = append(vs, s.violations...)
	}
	if len(vs) > 0 {
		b.WriteString("\nViolations:\n\n")
		for _, v := range vs {
			fmt.Fprintf(&b, "- %s\n", v)
		}
	}
	must(t, os.WriteFile(*report, []byte(b.String()), 0o644))
}

// counts formats each key of m with its count, sorted by key.
func counts(m map[string]int, format string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf(format, k, m[k]))
	}
	return parts
}

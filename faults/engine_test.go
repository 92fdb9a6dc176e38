//go:build faults

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// reference is the uninterrupted run of a scenario.
type reference struct {
	before, after   snapshot
	oldText, text   string
	resp            string
	tr              *trace
	killPts, errPts []int
	phase           map[int]string // the step of each event (strace_test.go phases)
	sb              *sandbox       // where it ran
}

// mkReference records the uninterrupted run of sc. Now and then a run
// makes its calls in another order or on other descriptor numbers (a Go
// runtime thread opens something first), and a reference like that makes
// most targets miss: so it records up to three runs and keeps the first
// whose sequence of calls another run repeats.
func mkReference(t *testing.T, sc scenario) *reference {
	var runs []*reference
	var ref *reference
	for len(runs) < 3 && ref == nil {
		r := referenceRun(t, sc)
		for _, o := range runs {
			if slices.Equal(o.sigs(), r.sigs()) {
				ref = o
				break
			}
		}
		runs = append(runs, r)
	}
	if ref == nil {
		t.Logf("%s: three uninterrupted runs made three different sequences of calls; the first is the reference", sc.op)
		ref = runs[0]
	}
	sb := ref.sb
	tr := ref.tr
	var badFlocks []string
	ref.phase, badFlocks = tr.phases(sc.name)
	for _, l := range badFlocks {
		t.Errorf("%s uninterrupted: flock on a descriptor that is not the lock file: %s", sc.op, l)
	}
	for _, v := range settled(sb, ref.after) {
		t.Errorf("%s uninterrupted: %s", sc.op, v)
	}
	ref.killPts, ref.errPts = tr.points(killSet), tr.points(errSet)
	if *quick {
		// The quick run: every call on the lock file and every call
		// that sets folders aside, the calls of quickSet elsewhere, but
		// only three of the trash's many unlinkat calls.
		var kills, errs []int
		after := 0
		for _, i := range tr.points(killSet) {
			ph, name := ref.phase[i], tr.events[i].name
			switch {
			case ph == phaseLock || ph == phaseAside:
			case !quickSet[name]:
				continue
			case ph == phaseAfter:
				if after++; after > 3 {
					continue
				}
			}
			kills = append(kills, i)
			if errSet[name] {
				errs = append(errs, i)
			}
		}
		ref.killPts, ref.errPts = kills, errs
	}
	return ref
}

// referenceRun runs sc once, uninterrupted, under strace.
func referenceRun(t *testing.T, sc scenario) *reference {
	sb := newSandbox(t, sc)
	ref := &reference{sb: sb, before: takeSnapshot(sb.root), oldText: sb.readConfig()}
	logPath := filepath.Join(sb.root, "..", filepath.Base(sb.root)+".strace")
	defer os.Remove(logPath)
	resp, stderr := run(t, sb, sc.frame, []string{"-f", "-o", logPath})
	if resp != "AIMX/1 OK\n" {
		t.Fatalf("%s uninterrupted: %q\n%s", sc.op, resp, stderr)
	}
	ref.resp, ref.after, ref.text = resp, takeSnapshot(sb.root), sb.readConfig()
	tr, err := parseTrace(logPath)
	must(t, err)
	ref.tr = tr
	return ref
}

// sigs is the sequence of kill-set calls of the reference run (syscall
// and first argument) up to its answer (after it, the reads of the
// connection and the order in which the trash is emptied vary).
func (ref *reference) sigs() []string {
	var out []string
	for _, i := range ref.tr.points(killSet) {
		e := ref.tr.events[i]
		out = append(out, e.sig)
		if e.name == "write" && strings.Contains(e.line, `"AIMX/1 `) {
			break
		}
	}
	return out
}

// stats is what one scenario's runs found.
type stats struct {
	op, desc             string
	order                int // the scenario's place in scenarios
	syscalls             int // relevant syscalls of the uninterrupted run
	killRuns, killHit    int
	errRuns, errHit      int
	violations           []string
	outcomes             map[string]int
	missed               []string
	elapsed              time.Duration
	killPoints, errPoint int
	attempts             int // helper runs under strace, retries included
	steps                map[string]int
	phases               map[string]*phaseStats
}

// phaseStats is what the runs targeted at one step of the request found.
type phaseStats struct {
	calls            map[string]bool // the syscalls targeted
	kills, errs, bad int
}

var (
	allMu    sync.Mutex
	allStats []*stats
)

func TestCrashSafety(t *testing.T) {
	needRoot(t)
	start := time.Now()
	for i, sc := range scenarios {
		t.Run(strings.ReplaceAll(sc.op, " ", "_"), func(t *testing.T) {
			st := runScenario(t, sc)
			st.order, st.desc = i, sc.desc
			allMu.Lock()
			allStats = append(allStats, st)
			allMu.Unlock()
			for _, v := range st.violations {
				t.Error(v)
			}
		})
	}
	if *report != "" {
		writeReport(t, time.Since(start))
	}
}

func runScenario(t *testing.T, sc scenario) *stats {
	start := time.Now()
	ref := mkReference(t, sc)
	st := &stats{op: sc.op, syscalls: len(ref.tr.points(killSet)), outcomes: map[string]int{}, steps: map[string]int{},
		killPoints: len(ref.killPts), errPoint: len(ref.errPts), phases: map[string]*phaseStats{}}
	type job struct {
		target int    // event index in the reference trace
		errno  string // "" for a kill
	}
	var jobs []job
	for _, i := range ref.killPts {
		jobs = append(jobs, job{target: i})
	}
	for _, i := range ref.errPts {
		for _, e := range errnos {
			jobs = append(jobs, job{target: i, errno: e})
			if *quick {
				break
			}
		}
	}
	var mu sync.Mutex
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				r := runOne(t, sc, ref, j.target, j.errno)
				mu.Lock()
				if j.errno == "" {
					st.killRuns++
					if r.hit {
						st.killHit++
					}
				} else {
					st.errRuns++
					if r.hit {
						st.errHit++
					}
				}
				if !r.hit {
					st.missed = append(st.missed, r.label)
				}
				st.outcomes[r.outcome]++
				st.attempts += r.attempts
				if r.step != "" {
					st.steps[r.step]++
				}
				st.violations = append(st.violations, r.violations...)
				ph := st.phases[ref.phase[j.target]]
				if ph == nil {
					ph = &phaseStats{calls: map[string]bool{}}
					st.phases[ref.phase[j.target]] = ph
				}
				ph.calls[ref.tr.events[j.target].name] = true
				if j.errno == "" {
					ph.kills++
				} else {
					ph.errs++
				}
				ph.bad += len(r.violations)
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	st.elapsed = time.Since(start)
	return st
}

type result struct {
	label      string
	hit        bool // strace hit the targeted call (same syscall, same first argument, same occurrence; after the answer: the same n-th call of that syscall)
	attempts   int
	step       string // the failing step an IO answer names
	outcome    string
	violations []string
}

// runOne runs sc with strace killing the helper at, or failing with
// errno, the call that was event target of the reference run; then checks
// the invariants, repeats the request and checks that it converged. It
// retries twice when the injection landed on another thread's call.
func runOne(t *testing.T, sc scenario, ref *reference, target int, errno string) result {
	ev := ref.tr.events[target]
	label := fmt.Sprintf("%s #%d %s", sc.op, ref.tr.rank(target, killSet), ev.sig)
	if errno != "" {
		label += " " + errno
	} else {
		label += " SIGKILL"
	}
	// strace counts calls per syscall and per thread, and the Go runtime
	// moves the request's goroutine between threads: when the ordinal of
	// the reference run lands on another call, try it again, then try the
	// neighbouring ordinals. Every attempt is checked all the same.
	ordinals := []int{ev.ordinal, ev.ordinal, ev.ordinal}
	for n := 1; n <= ev.ordinal+2; n++ {
		if n != ev.ordinal {
			ordinals = append(ordinals, n)
		}
	}
	var r result
	for _, n := range ordinals {
		spec := fmt.Sprintf("inject=%s:signal=SIGKILL:when=%d", ev.name, n)
		if errno != "" {
			spec = fmt.Sprintf("inject=%s:error=%s:when=%d", ev.name, errno, n)
		}
		a := attemptOne(t, sc, ref, target, spec, errno, n)
		r.attempts++
		r.violations = append(r.violations, a.violations...)
		r.hit, r.outcome, r.step = a.hit, a.outcome, a.step
		if r.hit {
			break
		}
	}
	r.label = label
	for i, v := range r.violations {
		r.violations[i] = label + ": " + v
	}
	return r
}

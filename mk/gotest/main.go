// Command gotest turns the event stream of `go test -json` back into the
// usual `go test` output (the ok/FAIL line of each package, the output of
// failing tests, build errors) and adds, after each package, one line per
// distinct skip reason:
//
//	skip	github.com/aimx/aimx-mailboxd/integration	24 of 24 tests (TestA, TestB, TestC, ...): needs root: creates users ...
//
// so that a suite skipped for want of root or a tool says so in the
// normal output of `make test`, not only under -v. It reads stdin and
// writes stdout; `go test`'s own exit status is the verdict (the
// Makefile runs it with pipefail). Lines that are not JSON (go test's
// own errors) pass through unchanged.
//
// With -cover-min (a -cover run), it then prints one line per package
// named there, with who ran the tests (-cover-as), and exits 1 when one
// is below its bound or has no coverage line:
//
//	coverage (as nobody): server 90.2% (>= 85)
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Output     string
}

// pkgState is what is kept of one package until its final event.
type pkgState struct {
	out     map[string][]string // test name -> its output lines so far
	order   []string            // tests in the order they started
	skips   map[string][]string // reason -> skipped tests
	reasons []string            // reasons in the order first seen
	ended   int                 // tests that passed, failed or skipped
}

// report holds the state of every package still running.
type report struct {
	w        io.Writer
	pkgs     map[string]*pkgState
	coverage map[string]float64 // package -> percent of statements, from its output
}

func main() {
	min := flag.String("cover-min", "", "PKG=PERCENT,...: the coverage each package must reach (PKG: the import path below the module, e.g. server)")
	as := flag.String("cover-as", "", "who ran the tests, for the coverage lines")
	flag.Parse()
	bounds, err := parseBounds(*min)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gotest: -cover-min: %v\n", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout)
	if err := r.run(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "gotest: reading go test -json: %v\n", err)
		os.Exit(1)
	}
	if !r.checkCoverage(bounds, *as) {
		os.Exit(1)
	}
}

func newReport(w io.Writer) *report {
	return &report{w: w, pkgs: map[string]*pkgState{}, coverage: map[string]float64{}}
}

// bound is one package's coverage floor.
type bound struct {
	pkg string
	min float64
}

func parseBounds(s string) ([]bound, error) {
	var bs []bound
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		pkg, v, ok := strings.Cut(f, "=")
		min, err := strconv.ParseFloat(v, 64)
		if !ok || pkg == "" || err != nil {
			return nil, fmt.Errorf("%q is not PKG=PERCENT", f)
		}
		bs = append(bs, bound{pkg, min})
	}
	return bs, nil
}

// checkCoverage prints a line per bound and reports whether each was met.
func (r *report) checkCoverage(bounds []bound, as string) bool {
	ok := true
	for _, b := range bounds {
		got, seen := -1.0, false
		for pkg, pct := range r.coverage {
			if pkg == b.pkg || strings.HasSuffix(pkg, "/"+b.pkg) {
				got, seen = pct, true
			}
		}
		switch {
		case !seen:
			ok = false
			fmt.Fprintf(r.w, "FAIL coverage (as %s): %s has no coverage line (did it build and run with -cover?)\n", as, b.pkg)
		case got < b.min:
			ok = false
			fmt.Fprintf(r.w, "FAIL coverage (as %s): %s %.1f%% (>= %g)\n", as, b.pkg, got, b.min)
		default:
			fmt.Fprintf(r.w, "coverage (as %s): %s %.1f%% (>= %g)\n", as, b.pkg, got, b.min)
		}
	}
	return ok
}

// coverLine matches the percentage that go test -cover prints for a package.
var coverLine = regexp.MustCompile(`coverage: ([0-9.]+)% of statements`)

// run reads the whole stream; output is written as each package ends.
func (r *report) run(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(r.w, "%s\n", line)
			continue
		}
		r.handle(e)
	}
	// A test binary that died leaves tests without an end: show them.
	names := make([]string, 0, len(r.pkgs))
	for name := range r.pkgs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r.flush(r.pkgs[name])
	}
	return sc.Err()
}

func (r *report) state(pkg string) *pkgState {
	p := r.pkgs[pkg]
	if p == nil {
		p = &pkgState{out: map[string][]string{}, skips: map[string][]string{}}
		r.pkgs[pkg] = p
	}
	return p
}

func (r *report) handle(e event) {
	switch e.Action {
	case "build-output":
		io.WriteString(r.w, e.Output)
		return
	case "build-fail":
		return
	}
	p := r.state(e.Package)
	if e.Test == "" {
		switch e.Action {
		case "output":
			if m := coverLine.FindStringSubmatch(e.Output); m != nil {
				r.coverage[e.Package], _ = strconv.ParseFloat(m[1], 64)
			}
			// Output of the package itself comes after its tests, or
			// (a panic, a timeout) cuts them off: show what they said.
			r.flush(p)
			// The test binary's own PASS and coverage lines: plain go
			// test hides them (the ok line carries the coverage).
			if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "coverage: ") {
				io.WriteString(r.w, e.Output)
			}
		case "pass", "fail", "skip":
			r.flush(p)
			r.summary(e.Package, p)
			delete(r.pkgs, e.Package)
		}
		return
	}
	switch e.Action {
	case "run":
		p.order = append(p.order, e.Test)
		p.out[e.Test] = nil
	case "output":
		if _, ok := p.out[e.Test]; !ok {
			p.order = append(p.order, e.Test)
		}
		p.out[e.Test] = append(p.out[e.Test], e.Output)
	case "pass":
		p.ended++
		delete(p.out, e.Test)
	case "fail":
		p.ended++
		r.print(p.out[e.Test])
		delete(p.out, e.Test)
	case "skip":
		p.ended++
		why := reason(p.out[e.Test])
		if _, seen := p.skips[why]; !seen {
			p.reasons = append(p.reasons, why)
		}
		p.skips[why] = append(p.skips[why], e.Test)
		delete(p.out, e.Test)
	}
}

// flush prints the output of tests that never ended (a crash or a
// timeout), as plain go test would.
func (r *report) flush(p *pkgState) {
	for _, t := range p.order {
		if lines, ok := p.out[t]; ok {
			r.print(lines)
			delete(p.out, t)
		}
	}
}

// print writes a test's output without the === RUN/PAUSE/CONT/NAME
// markers that only -v shows.
func (r *report) print(lines []string) {
	for _, l := range lines {
		if !strings.HasPrefix(l, "=== ") {
			io.WriteString(r.w, l)
		}
	}
}

// summary writes one line per skip reason of a package that ended.
func (r *report) summary(pkg string, p *pkgState) {
	for _, why := range p.reasons {
		tests := p.skips[why]
		names := tests
		more := ""
		if len(names) > 3 {
			names, more = names[:3], ", ..."
		}
		fmt.Fprintf(r.w, "skip\t%s\t%d of %d tests (%s%s): %s\n",
			pkg, len(tests), p.ended, strings.Join(names, ", "), more, why)
	}
}

// logPrefix matches the "    file_test.go:123: " that t.Skip puts first.
var logPrefix = regexp.MustCompile(`^\s+[^\s:]+\.go:\d+: `)

// scriptSkip matches the skip command of a testscript story in its log
// ("> [!root] skip 'needs root: ...'"), whose reason comes after the
// WORK= line that testscript logs first.
var scriptSkip = regexp.MustCompile(`^\s+> (?:\[[^\]]*\] )*skip '([^']*)'`)

// reason is the message a skipped test gave: its last logged line, or a
// testscript story's skip reason.
func reason(lines []string) string {
	why := ""
	for _, l := range lines {
		if m := scriptSkip.FindStringSubmatch(l); m != nil {
			why = m[1]
		} else if logPrefix.MatchString(l) {
			why = strings.TrimSpace(logPrefix.ReplaceAllString(l, ""))
		}
	}
	if why == "" {
		return "no reason given"
	}
	return why
}

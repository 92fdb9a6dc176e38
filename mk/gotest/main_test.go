package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// ev is one line of go test -json for package ex/p.
func ev(action, test, output string) string {
	b, err := json.Marshal(event{Action: action, Package: "ex/p", Test: test, Output: output})
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{{
		name: "passing tests print only the ok line",
		in: ev("run", "TestA", "") + ev("output", "TestA", "=== RUN   TestA\n") +
			ev("output", "TestA", "    a_test.go:3: hello\n") + ev("output", "TestA", "--- PASS: TestA (0.00s)\n") +
			ev("pass", "TestA", "") + ev("output", "", "PASS\n") + ev("output", "", "ok  \tex/p\t0.003s\n") + ev("pass", "", ""),
		want: "ok  \tex/p\t0.003s\n",
	}, {
		name: "skips are grouped by reason after the ok line",
		in: ev("run", "TestA", "") + ev("output", "TestA", "    h_test.go:151: needs root: creates users\n") + ev("skip", "TestA", "") +
			ev("run", "TestB", "") + ev("output", "TestB", "=== PAUSE TestB\n") + ev("output", "TestB", "    h_test.go:151: needs root: creates users\n") +
			ev("output", "TestB", "--- SKIP: TestB (0.00s)\n") + ev("skip", "TestB", "") +
			ev("run", "TestC", "") + ev("output", "TestC", "--- SKIP: TestC (0.00s)\n") + ev("skip", "TestC", "") +
			ev("run", "TestD", "") + ev("pass", "TestD", "") +
			ev("output", "", "ok  \tex/p\t0.01s\n") + ev("pass", "", ""),
		want: "ok  \tex/p\t0.01s\n" +
			"skip\tex/p\t2 of 4 tests (TestA, TestB): needs root: creates users\n" +
			"skip\tex/p\t1 of 4 tests (TestC): no reason given\n",
	}, {
		name: "more than three skipped tests are elided",
		in: ev("skip", "T1", "") + ev("skip", "T2", "") + ev("skip", "T3", "") + ev("skip", "T4", "") +
			ev("output", "", "ok  \tex/p\t0.01s\n") + ev("pass", "", ""),
		want: "ok  \tex/p\t0.01s\n" + "skip\tex/p\t4 of 4 tests (T1, T2, T3, ...): no reason given\n",
	}, {
		name: "a failing test prints its output without the -v markers",
		in: ev("run", "TestA", "") + ev("output", "TestA", "=== RUN   TestA\n") +
			ev("output", "TestA", "    a_test.go:9: boom\n") + ev("output", "TestA", "--- FAIL: TestA (0.00s)\n") + ev("fail", "TestA", "") +
			ev("output", "", "FAIL\n") + ev("output", "", "FAIL\tex/p\t0.01s\n") + ev("fail", "", ""),
		want: "    a_test.go:9: boom\n--- FAIL: TestA (0.00s)\nFAIL\nFAIL\tex/p\t0.01s\n",
	}, {
		name: "a test cut off by a crash shows its output",
		in: ev("run", "TestA", "") + ev("output", "TestA", "=== RUN   TestA\n") + ev("output", "TestA", "    a_test.go:9: last words\n") +
			ev("output", "", "panic: test timed out after 5m0s\n") + ev("output", "", "FAIL\tex/p\t300.0s\n") + ev("fail", "", ""),
		want: "    a_test.go:9: last words\npanic: test timed out after 5m0s\nFAIL\tex/p\t300.0s\n",
	}, {
		name: "build errors and non-JSON lines pass through",
		in: `{"ImportPath":"ex/p","Action":"build-output","Output":"# ex/p\n"}` + "\n" +
			`{"ImportPath":"ex/p","Action":"build-fail"}` + "\n" + "go: warning: something\n" +
			ev("output", "", "FAIL\tex/p [build failed]\n") + ev("fail", "", ""),
		want: "# ex/p\ngo: warning: something\nFAIL\tex/p [build failed]\n",
	}, {
		name: "a testscript story's skip gives its own reason, not the WORK= line",
		in: ev("run", "TestS/x", "") + ev("output", "TestS/x", "    testscript.go:584: WORK=/tmp/w\n") +
			ev("output", "TestS/x", "        PATH=/usr/bin\n") + ev("output", "TestS/x", "        > [!root] skip 'needs root: direct mode'\n") +
			ev("output", "TestS/x", "--- SKIP: TestS/x (0.00s)\n") + ev("skip", "TestS/x", "") +
			ev("output", "", "ok  \tex/p\t0.01s\n") + ev("pass", "", ""),
		want: "ok  \tex/p\t0.01s\n" + "skip\tex/p\t1 of 1 tests (TestS/x): needs root: direct mode\n",
	}, {
		name: "a -cover run shows the coverage on the ok line only",
		in: ev("output", "", "PASS\n") + ev("output", "", "coverage: 91.2% of statements\n") +
			ev("output", "", "ok  \tex/p\t0.01s\tcoverage: 91.2% of statements\n") + ev("pass", "", ""),
		want: "ok  \tex/p\t0.01s\tcoverage: 91.2% of statements\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			r := newReport(&out)
			if err := r.run(strings.NewReader(tc.in)); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}

// TestCoverage: one line per bound, and a failure for a package below its
// bound or without a coverage line.
func TestCoverage(t *testing.T) {
	in := ev("output", "", "coverage: 91.2% of statements\n") + ev("output", "", "ok  \tex/p\t0.01s\tcoverage: 91.2% of statements\n") + ev("pass", "", "")
	for _, tc := range []struct {
		min  string
		ok   bool
		want string
	}{
		{"p=90", true, "coverage (as nobody): p 91.2% (>= 90)\n"},
		{"ex/p=91.5", false, "FAIL coverage (as nobody): ex/p 91.2% (>= 91.5)\n"},
		{"p=90 q=80", false, "coverage (as nobody): p 91.2% (>= 90)\nFAIL coverage (as nobody): q has no coverage line (did it build and run with -cover?)\n"},
	} {
		bounds, err := parseBounds(tc.min)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		r := newReport(&out)
		if err := r.run(strings.NewReader(in)); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if ok := r.checkCoverage(bounds, "nobody"); ok != tc.ok || out.String() != tc.want {
			t.Errorf("-cover-min %q: ok %v, printed:\n%s\nwant ok %v and:\n%s", tc.min, ok, out.String(), tc.ok, tc.want)
		}
	}
	if _, err := parseBounds("server"); err == nil {
		t.Errorf("parseBounds without =: no error")
	}
}

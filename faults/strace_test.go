//go:build faults

package faults

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// event is one syscall entry in an strace -f log.
type event struct {
	tid     string
	name    string
	sig     string // name and first argument
	ordinal int    // how many calls of name this tracee made, this one included
	occ     int    // how many events with this sig came after execve, this one included
	arg0    string // the first argument as strace wrote it
	ret     string // the return value, "" when the call never returned
	line    string
}

var (
	entryRe  = regexp.MustCompile(`^(\d+) +([a-z0-9_]+)\((.*)$`)
	resumeRe = regexp.MustCompile(`^(\d+) +<\.\.\. ([a-z0-9_]+) resumed>`)
)

// trace is a parsed strace log: the events after the helper's execve,
// which of them strace injected into, and the last event of each tracee.
type trace struct {
	events   []event // every entry, in order
	start    int     // index of the first event after the helper's execve
	injected int     // index of the event with (INJECTED), or -1
	last     map[string]int
	killed   bool
}

func parseTrace(path string) (*trace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := &trace{injected: -1, start: -1, last: map[string]int{}}
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "+++ killed by SIGKILL +++") {
			tr.killed = true
		}
		if m := resumeRe.FindStringSubmatch(line); m != nil {
			if i, ok := tr.last[m[1]]; ok {
				if strings.Contains(line, "(INJECTED)") {
					tr.injected = i
				}
				tr.events[i].ret = retOf(line)
			}
			continue
		}
		m := entryRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		tid, name, rest := m[1], m[2], strings.TrimSuffix(m[3], " <unfinished ...>")
		counts[tid+" "+name]++
		first := rest
		if i := strings.IndexAny(first, ",)"); i >= 0 {
			first = first[:i]
		}
		arg0 := first
		first = tempSuffix.ReplaceAllString(first, ".tmp-N")
		ev := event{tid: tid, name: name, sig: name + "(" + first + ")", ordinal: counts[tid+" "+name], arg0: arg0, ret: retOf(line), line: line}
		tr.events = append(tr.events, ev)
		tr.last[tid] = len(tr.events) - 1
		if strings.Contains(line, "(INJECTED)") {
			tr.injected = len(tr.events) - 1
		}
		if tr.start < 0 && name == "execve" && strings.HasPrefix(rest, strconv.Quote(helper)) {
			tr.start = len(tr.events)
		}
	}
	if tr.start < 0 {
		return nil, fmt.Errorf("%s: no execve of the helper", path)
	}
	occ := map[string]int{}
	for i := tr.start; i < len(tr.events); i++ {
		occ[tr.events[i].sig]++
		tr.events[i].occ = occ[tr.events[i].sig]
	}
	return tr, sc.Err()
}

var (
	tempSuffix = regexp.MustCompile(`\.tmp-\d+`)
	retRe      = regexp.MustCompile(`\) += (-?\d+)`)
)

// retOf is the return value on a finished strace line, "" on an
// unfinished one.
func retOf(line string) string {
	if strings.HasSuffix(line, "<unfinished ...>") {
		return ""
	}
	m := retRe.FindAllStringSubmatch(line, -1)
	if m == nil {
		return ""
	}
	return m[len(m)-1][1]
}

// The steps of a request that issue #8 added, as the report groups the
// kill points and injections of the reference run.
const (
	phaseLock  = "lock file: openat (O_CREAT on a first request), fstat, fchmod, fchown, flock, close"
	phaseAside = "forced DELETE sets the folders aside: mkdirat .trash, renameat into it"
	phaseAfter = "after the answer: empty the trash"
	phaseRest  = "the rest of the request"
)

var phaseOrder = []string{phaseLock, phaseAside, phaseAfter, phaseRest}

// phases gives each event after the helper's execve its step (mailbox
// name is the request's), and lists every flock on a descriptor that is
// not the lock file's: docs/BEHAVIOR.md allows no other.
func (tr *trace) phases(name string) (map[int]string, []string) {
	setAside := regexp.MustCompile(`"(` + regexp.QuoteMeta(trashName) + `|` + regexp.QuoteMeta(name) + `\.[0-9a-f]{16})"`)
	out := map[int]string{}
	var badFlocks []string
	lockFD, answered := "", false
	for i := tr.start; i < len(tr.events); i++ {
		e := tr.events[i]
		switch {
		case answered:
			out[i] = phaseAfter
		case e.name == "openat" && strings.Contains(e.line, `"`+lockName+`"`):
			out[i], lockFD = phaseLock, e.ret
		case lockFD != "" && e.arg0 == lockFD && (e.name == "fstat" || e.name == "fchmod" || e.name == "fchown" || e.name == "flock" || e.name == "close"):
			out[i] = phaseLock
			if e.name == "close" {
				lockFD = ""
			}
		case setAside.MatchString(e.line):
			out[i] = phaseAside
		default:
			out[i] = phaseRest
			if e.name == "write" && strings.Contains(e.line, `"AIMX/1 `) {
				answered = true
			}
		}
		if e.name == "flock" && out[i] != phaseLock {
			badFlocks = append(badFlocks, e.line)
		}
	}
	return out, badFlocks
}

// points returns the indexes of the events after the helper's execve
// whose syscall is in set, in order.
func (tr *trace) points(set map[string]bool) []int {
	var out []int
	for i := tr.start; i < len(tr.events); i++ {
		if set[tr.events[i].name] {
			out = append(out, i)
		}
	}
	return out
}

// rank is the position of event i among the events of set after execve.
func (tr *trace) rank(i int, set map[string]bool) int {
	n := 0
	for j := tr.start; j < i; j++ {
		if set[tr.events[j].name] {
			n++
		}
	}
	return n
}

// afterRank is the position of event i among the events after the answer
// (phase, from phases) that make the same syscall.
func (tr *trace) afterRank(i int, phase map[int]string) int {
	n := 0
	for j := tr.start; j < i; j++ {
		if phase[j] == phaseAfter && tr.events[j].name == tr.events[i].name {
			n++
		}
	}
	return n
}

// killedAt finds the event that strace's signal injection for the
// ordinal-th call of name hit: the last event of a tracee that is exactly
// that call.
func (tr *trace) killedAt(name string, ordinal int) int {
	for _, i := range tr.last {
		if e := tr.events[i]; e.name == name && e.ordinal == ordinal {
			return i
		}
	}
	return -1
}

// The syscalls of the helper that touch the file system or a descriptor:
// each is a kill point. errSet are the ones that get error injection.
var (
	killSet = setOf("openat", "read", "write", "close", "fsync", "fdatasync", "rename", "renameat", "renameat2", "pwrite64", "writev", "ftruncate",
		"mkdirat", "fchownat", "fchown", "fchmod", "fchmodat", "unlinkat", "flock", "getdents64", "newfstatat",
		"fstat", "statx", "lseek", "readlinkat", "shutdown", "fcntl", "getsockopt")
	errSet = setOf("openat", "read", "write", "close", "fsync", "fdatasync", "rename", "renameat", "renameat2", "pwrite64", "writev", "ftruncate",
		"mkdirat", "fchownat", "fchown", "fchmod", "fchmodat", "unlinkat", "flock", "getdents64", "newfstatat",
		"fstat", "lseek", "readlinkat")
	quickSet = setOf("mkdirat", "fchownat", "fchown", "fchmod", "fsync", "renameat", "unlinkat", "flock")
	errnos   = []string{"EIO", "ENOSPC", "EDQUOT", "EACCES"}
	// socketCalls may fail on the connection itself: the helper then can
	// not answer, and a clean close is the right outcome.
	socketCalls = setOf("read", "write", "close", "shutdown", "fcntl", "getsockopt", "fstat", "newfstatat", "lseek")
)

func setOf(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aimx/aimx-mailboxd/internal/aimxtest"
)

// make bench-list-profile: where a LIST at 10 000 mailboxes spends the
// helper's CPU, two builds side by side (-base, the build before, and
// -helper, the build after) on one data dir (listData), alternating LIST
// by LIST under one system-wide perf record each for root's LISTs and
// for the bench user's. perf tells the builds apart by their command
// names, so each runs as a copy named for its side.

// profileHz is perf's sampling rate: each sample of a build is 1/profileHz
// seconds of its CPU.
const profileHz = 4999

// profileRow is one line of the profile table: the share of a build's
// samples under any of syms (perf's children column, so a row includes
// what its functions call, the kernel's part of a system call too).
// Symbols of both builds are named: a row is "-" for a build in which
// perf saw none of them.
type profileRow struct {
	label string
	syms  []string
}

const (
	mbox = "github.com/aimx/aimx-mailboxd/mailbox."
	xsys = "golang.org/x/sys/unix."
)

var profileRows = []profileRow{
	{"process start (runtime, package init)", []string{"runtime.rt0_go.abi0", "runtime.doInit1"}},
	{"the request on its own goroutine (`server.(*Server).Serve`; counting goroutines not included)", []string{"github.com/aimx/aimx-mailboxd/server.(*Server).Serve"}},
	{"config hashed (SHA-256, the index's proof)", []string{"crypto/internal/fips140/sha256.(*Digest).Write"}},
	{"checked index read and its rows checked", []string{mbox + "(*Store).readIndex"}},
	{"owners looked up (not root)", []string{mbox + "(*Config).Owners", "github.com/aimx/aimx-mailboxd/passwd.(*Source).LookupNames"}},
	{"registered mailboxes kept (`listed`)", []string{mbox + "(*Config).listed"}},
	{"folders with no stanza (`unregistered`)", []string{mbox + "(*Store).unregistered"}},
	{"counting a folder (`count`)", []string{mbox + "(*counter).count", mbox + "count"}},
	{"`openat`", []string{xsys + "openat", "syscall.openat"}},
	{"`getdents64`", []string{xsys + "getdents", "syscall.Getdents"}},
	{"`close`", []string{xsys + "Close", "syscall.Close"}},
	{"messages read (`readMessage`)", []string{mbox + "readMessage"}},
	{"the JSON body (`wire.ListOK`)", []string{"github.com/aimx/aimx-mailboxd/wire.ListOK"}},
	{"allocating memory (`runtime.mallocgc`)", []string{"runtime.mallocgc"}},
}

// profileList is make bench-list-profile's run.
func (b *bench) profileList() error {
	u, err := aimxtest.LookupUser(benchUser)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "aimx-bench-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	if err := listData(data, u); err != nil {
		return err
	}
	names := []string{"mailboxd-before", "mailboxd-after"}
	var socks [2]string
	for i, bin := range []string{b.cfg.profileBase, b.cfg.helper} {
		named := filepath.Join(dir, names[i])
		if err := copyFile(bin, named); err != nil {
			return err
		}
		sb, err := sandbox(listConfig())
		if err != nil {
			return err
		}
		sb.Data = data
		stop, err := serve(sb, true, named)
		if err != nil {
			return err
		}
		defer stop()
		socks[i] = sb.Sock
		// An edit writes the checked index, as any edit leaves it.
		if _, err := expect("CREATE", sb.Sock, aimxtest.Create("warm", benchUser), aimxtest.OK); err != nil {
			return err
		}
		if _, err := expect("DELETE", sb.Sock, aimxtest.Delete("warm", false), aimxtest.OK); err != nil {
			return err
		}
	}

	// Root's LISTs, from this process.
	var root [2][]time.Duration
	rootData := filepath.Join(dir, "root.perf")
	err = underPerf(rootData, func() error {
		for r := 0; r < b.cfg.listRoot; r++ {
			for _, k := range rand.Perm(2) {
				d, err := expect("root's LIST", socks[k], aimxtest.List, "AIMX/1 OK")
				if err != nil {
					return err
				}
				root[k] = append(root[k], d)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// The bench user's, from a copy of this program running as him (the
	// folders cache is written by then: inbox/ is long past its racy
	// window).
	var user [2][]time.Duration
	userData := filepath.Join(dir, "user.perf")
	bin, err := aimxtest.CopySelf(dir)
	if err != nil {
		return err
	}
	err = underPerf(userData, func() error {
		cmd := aimxtest.ChildCmd(bin, &u, nil, listStep, strconv.Itoa(b.cfg.listUser), socks[0], socks[1])
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("LIST as %s: %v", u.Name, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var k, n int
			var ns int64
			if _, err := fmt.Sscan(l, &k, &ns, &n); err != nil || k < 0 || k > 1 {
				return fmt.Errorf("LIST as %s: line %q", u.Name, l)
			}
			if n != listOwned {
				return fmt.Errorf("LIST as %s: %d mailboxes, want %d", u.Name, n, listOwned)
			}
			user[k] = append(user[k], time.Duration(ns))
		}
		return nil
	})
	if err != nil {
		return err
	}

	b.machine()
	b.rep.f("Before: `%s`. After: `%s`. Each LIST alone on the data dir of the LIST rows (10 000 mailboxes, 1 000 with 3 messages, 32 the bench user's), through the checked index; the builds alternate LIST by LIST in a random order, %d times for root and %d for the user. `perf record -a -g -F %d` over each caller's LISTs; a row is the share of the build's samples under those functions (perf's children column), so rows overlap; CPU per LIST is the build's samples over %d Hz.\n",
		b.cfg.profileBaseName, b.cfg.helperName, b.cfg.listRoot, b.cfg.listUser, profileHz, profileHz)
	for _, who := range []struct {
		title string
		data  string
		lat   [2][]time.Duration
	}{{"root's LIST (every mailbox)", rootData, root}, {"a user's LIST (32 of the 10 000)", userData, user}} {
		var shares [2]map[string]float64
		var samples [2]int
		for k, name := range names {
			if shares[k], samples[k], err = perfShares(who.data, name); err != nil {
				return err
			}
		}
		b.rep.f("\n### %s\n\n| | before | after |\n|---|---|---|\n", who.title)
		b.rep.f("| p50 (under perf) | %s | %s |\n", ms(pct(who.lat[0], 50)), ms(pct(who.lat[1], 50)))
		perLIST := func(k int) string {
			return ms(time.Duration(float64(samples[k]) / profileHz / float64(len(who.lat[k])) * float64(time.Second)))
		}
		b.rep.f("| CPU per LIST | %s | %s |\n", perLIST(0), perLIST(1))
		for _, row := range profileRows {
			b.rep.f("| %s | %s | %s |\n", row.label, share(shares[0], row.syms), share(shares[1], row.syms))
		}
	}
	return nil
}

// share is the sum of the children shares of syms (no two of a row
// nest), or "-" when perf saw none of them.
func share(m map[string]float64, syms []string) string {
	best, seen := 0.0, false
	for _, s := range syms {
		if v, ok := m[s]; ok {
			seen = true
			best += v
		}
	}
	if !seen {
		return "-"
	}
	return fmt.Sprintf("%.1f %%", best)
}

// underPerf runs f under perf record -a -g into data.
func underPerf(data string, f func() error) error {
	cmd := exec.Command("perf", "record", "-a", "-g", "-F", strconv.Itoa(profileHz), "-o", data)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("perf record: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // perf's own start, before the first LIST
	ferr := f()
	cmd.Process.Signal(syscall.SIGINT) // perf writes its data and exits on SIGINT
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGINT {
		err = nil
	}
	if err != nil && ferr == nil {
		return fmt.Errorf("perf record: %v: %s", err, logs.String())
	}
	return ferr
}

// perfShares reads perf's report of data for the command comm: each
// symbol's children share, relative to comm's samples, and how many
// samples comm had.
func perfShares(data, comm string) (map[string]float64, int, error) {
	total, err := exec.Command("perf", "report", "-i", data, "--comm", comm, "--sort", "comm", "-n", "--stdio", "-g", "none").Output()
	if err != nil {
		return nil, 0, fmt.Errorf("perf report: %w", err)
	}
	var whole float64
	samples := 0
	for _, l := range strings.Split(string(total), "\n") {
		f := strings.Fields(l)
		if len(f) >= 4 && !strings.HasPrefix(l, "#") && f[len(f)-1] == comm {
			whole, _ = strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
			samples, _ = strconv.Atoi(f[2])
		}
	}
	if samples == 0 {
		return nil, 0, fmt.Errorf("perf report: no sample of %s", comm)
	}
	out, err := exec.Command("perf", "report", "-i", data, "--comm", comm, "--children", "--sort", "sym", "--stdio", "-g", "none").Output()
	if err != nil {
		return nil, 0, fmt.Errorf("perf report: %w", err)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// "    12.34%     1.23%  [.] symbol"
		f := strings.Fields(sc.Text())
		if len(f) < 4 || strings.HasPrefix(f[0], "#") || !strings.HasSuffix(f[0], "%") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSuffix(f[0], "%"), 64)
		if err != nil {
			continue
		}
		m[strings.Join(f[3:], " ")] = v / whole * 100
	}
	return m, samples, nil
}

// copyFile copies the executable from to to.
func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

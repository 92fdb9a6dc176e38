//go:build linux

package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// report collects the markdown.
type report struct{ strings.Builder }

func (r *report) f(format string, args ...any) { fmt.Fprintf(&r.Builder, format, args...) }

// pct is the p-th percentile of d (nearest rank); 0 for none.
func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// readRSS reads an rsswrap log: instances seen and the largest peak RSS
// (KiB).
func readRSS(path string) (n int, peak int64) {
	b, _ := os.ReadFile(path)
	for _, l := range strings.Split(string(b), "\n") {
		var rss, us int64
		var code int
		if _, err := fmt.Sscan(l, &rss, &us, &code); err == nil {
			n++
			if rss > peak {
				peak = rss
			}
		}
	}
	return n, peak
}

// waitRSS waits for n lines in an rsswrap log (the wrapper writes after
// the helper exits, which is after the answer) and returns its peak.
func waitRSS(path string, n int) (int, int64) {
	for i := 0; i < 500; i++ {
		if got, peak := readRSS(path); got >= n {
			return got, peak
		}
		time.Sleep(10 * time.Millisecond)
	}
	return readRSS(path)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

// busyCPU is the CPU time all CPUs have spent other than idle or
// waiting for I/O since boot (/proc/stat), at USER_HZ resolution.
func busyCPU() time.Duration {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is in user already
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100
}

// procStatus returns a field of /proc/pid/status in KiB (VmHWM, VmRSS).
func procStatus(pid int, field string) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// procsOf lists the pids whose executable is exe, or ends with exe when
// suffix.
func procsOf(exe string, suffix bool) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if x, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && (x == exe || suffix && strings.HasSuffix(x, exe)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// command is the first line of a command's output, trimmed ("" when it
// fails).
func command(name string, args ...string) string {
	out, _ := exec.Command(name, args...).Output()
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(line)
}

// cpuModel is /proc/cpuinfo's first model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// machine writes the run's first line: when, where, and the load.
func (b *bench) machine() {
	now := time.Now().UTC().Format("2006-01-02 15:04 UTC")
	if b.cfg.mode == modeSockets {
		b.rep.f("Run: %s. Guest: %s CPUs, %s, %s, %s on %s. Sockets: %s (the packaged unit) and %s (floor (a)).\n",
			now, command("nproc"), command("uname", "-sr"), command("systemctl", "--version"),
			filepath.Dir(b.cfg.configPath), command("stat", "-f", "-c", "%T", filepath.Dir(b.cfg.configPath)), b.cfg.socket, b.cfg.floorSocket)
		return
	}
	b.rep.f("Run: `make %s`, %s. Machine: %s CPUs, %s, %s, temp dir on %s; PID 1 is not systemd, so the activator is `systemd-socket-activate --accept` on the host. Load average (1, 5, 15 min) at the start: %s.\n",
		b.cfg.mode.target(), now, command("nproc"), cpuModel(), command("uname", "-sr"), command("stat", "-f", "-c", "%T", os.TempDir()), loadavg())
}

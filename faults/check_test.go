//go:build faults

package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/aimx/aimx-mailboxd/mailbox"
)

var errFrame = regexp.MustCompile(`^AIMX/1 ERR ([A-Z]+) (.+)\nCode: ([A-Z]+)\n\n$`)

func attemptOne(t *testing.T, sc scenario, ref *reference, ev event, spec, errno string, ordinal int) result {
	sb := newSandbox(t, sc)
	defer os.RemoveAll(sb.root)
	logPath := sb.root + ".strace"
	defer os.Remove(logPath)
	resp, stderr := run(t, sb, sc.frame, []string{"-f", "-o", logPath, "-e", spec})
	var r result
	bad := func(format string, args ...any) { r.violations = append(r.violations, fmt.Sprintf(format, args...)) }
	inMailbox := func(rel string) bool {
		for _, k := range []string{"inbox", "sent"} {
			// The mailbox's folders, and the staging folder CREATE
			// renames into place.
			for _, p := range []string{filepath.Join("data", k, sc.name), filepath.Join("data", k, "."+sc.name+".new")} {
				if rel == p || strings.HasPrefix(rel, p+"/") {
					return true
				}
			}
		}
		return rel == "etc/config.toml" || rel == "s.sock"
	}
	tr, err := parseTrace(logPath)
	if err != nil {
		// The ordinal landed on the shell before it exec'd the helper:
		// no helper ran, nothing to check; a miss.
		if d := ref.before.diff(takeSnapshot(sb.root), inMailbox); len(d) > 0 || sb.readConfig() != ref.oldText {
			bad("strace log (%s): %v, and the sandbox changed: %v", spec, err, d)
		}
		return r
	}
	hitIdx := tr.injected
	if errno == "" {
		hitIdx = -1
		if tr.killed {
			hitIdx = tr.killedAt(ev.name, ordinal)
		}
	}
	var hitEv event
	if hitIdx >= 0 {
		hitEv = tr.events[hitIdx]
		r.hit = hitEv.sig == ev.sig && hitEv.occ == ev.occ
	}

	// The state right after the faulted run.
	text := sb.readConfig()
	now := takeSnapshot(sb.root)
	committed := text == ref.text
	switch {
	case text != ref.oldText && text != ref.text:
		bad("config is neither the old nor the new text: %q", text)
	default:
		if _, err := mailbox.ParseConfig(sb.config, []byte(text)); err != nil {
			bad("config does not parse: %v", err)
		}
	}
	if fi, err := os.Stat(sb.config); err != nil {
		bad("config: %v", err)
	} else if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || st.Uid != 0 || st.Gid != configGID {
		bad("config mode/owner %o %d:%d, want 0640 0:%d", fi.Mode().Perm(), st.Uid, st.Gid, configGID)
	}
	if d := ref.before.diff(now, inMailbox); len(d) > 0 {
		bad("changed outside the mailbox: %v", d)
	}

	// The answer.
	switch m := errFrame.FindStringSubmatch(resp); {
	case errno == "":
		r.outcome = "killed"
		if resp != "" && resp != "AIMX/1 OK\n" {
			bad("killed helper answered %q", resp)
		}
	case resp == "AIMX/1 OK\n":
		r.outcome = "OK (the failed call was not needed, or came after the commit)"
		if !committed || len(now.temps) > 0 {
			bad("answered OK but the config is not the new text, or a temporary file is left (%v)", now.temps)
		}
	case m != nil && m[1] == m[3]:
		r.outcome = "ERR " + m[1]
		if m[1] != "IO" {
			bad("answered %s, want IO: %q", m[1], resp)
		}
		if !strings.Contains(m[2], "/") && !strings.HasPrefix(m[2], "look up user ") {
			bad("IO reason names no path: %q", m[2])
		}
		r.step = step(m[2])
		if committed && !strings.Contains(m[2], "fsync") {
			bad("answered an error although the config was replaced: %q", resp)
		}
		if !committed && len(now.temps) > 0 && hitEv.name != "unlinkat" {
			bad("failed request left a temporary file: %v", now.temps)
		}
	case resp == "":
		r.outcome = "no answer (the connection itself failed)"
		if !socketCalls[hitEv.name] {
			bad("no answer after an injected %s failure; helper said: %s", hitEv.sig, stderr)
		}
	default:
		bad("answer is not one AIMX/1 frame: %q", resp)
	}

	// Repeating the request converges to the uninterrupted end state, and
	// sweeps any temporary file.
	again, _ := run(t, sb, sc.frame, nil)
	want := []string{"AIMX/1 OK\n"}
	if committed {
		switch sc.op {
		case "CREATE":
			want = append(want, "AIMX/1 ERR MAILBOX mailbox 'fresh' already exists\nCode: MAILBOX\n\n")
		default:
			want = append(want, "AIMX/1 ERR MAILBOX mailbox 'gone' does not exist\nCode: MAILBOX\n\n")
		}
	}
	if again != want[0] && (len(want) == 1 || again != want[1]) {
		bad("repeated request answered %q (after %q)", again, resp)
	}
	end := takeSnapshot(sb.root)
	if d := ref.after.diff(end, func(rel string) bool { return rel == "s.sock" }); len(d) > 0 {
		bad("repeated request did not converge: %v", d)
	}
	if len(end.temps) > 0 {
		bad("temporary file left after the next request: %v", end.temps)
	}
	return r
}

// step is the failing step an IO reason names: its words up to the path.
func step(reason string) string {
	if i := strings.Index(reason, " /"); i >= 0 {
		return reason[:i]
	}
	if i := strings.Index(reason, ":"); i >= 0 {
		return reason[:i]
	}
	return reason
}

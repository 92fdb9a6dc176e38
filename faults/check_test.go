//go:build faults

package faults

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/aimx/aimx-mailboxd/mailbox"
)

var errFrame = regexp.MustCompile(`^AIMX/1 ERR ([A-Z]+) (.+)\nCode: ([A-Z]+)\n\n$`)

// lockRel is the lock file, relative to the sandbox.
var lockRel = filepath.Join("etc", lockName)

// attemptOne runs sc once under strace with the injection spec, checks
// the state it leaves and its answer, then sends the request again
// without faults and checks that the sandbox converged to the reference
// end state.
func attemptOne(t *testing.T, sc scenario, ref *reference, target int, spec, errno string, ordinal int) result {
	ev := ref.tr.events[target]
	sb := newSandbox(t, sc)
	defer os.RemoveAll(sb.root)
	logPath := sb.root + ".strace"
	defer os.Remove(logPath)
	resp, stderr := run(t, sb, sc.frame, []string{"-f", "-o", logPath, "-e", spec})
	var r result
	bad := func(format string, args ...any) { r.violations = append(r.violations, fmt.Sprintf(format, args...)) }
	inMailbox := func(rel string) bool {
		for _, k := range []string{"inbox", "sent"} {
			// The mailbox's folders, the staging folder CREATE renames
			// into place, and the trash a forced DELETE renames them
			// into (also emptied after any answer).
			for _, p := range []string{filepath.Join("data", k, sc.name), filepath.Join("data", k, "."+sc.name+".new"), filepath.Join("data", k, trashName)} {
				if rel == p || strings.HasPrefix(rel, p+"/") {
					return true
				}
			}
		}
		return rel == "etc/config.toml" || rel == lockRel || rel == "s.sock"
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
		if ref.phase[target] == phaseAfter {
			// The trash is emptied in the directory order of its
			// random names, which differs from run to run: the target
			// is the n-th call of its syscall after the answer.
			phase, _ := tr.phases(sc.name)
			r.hit = phase[hitIdx] == phaseAfter && hitEv.name == ev.name &&
				tr.afterRank(hitIdx, phase) == ref.tr.afterRank(target, ref.phase)
		}
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
	if v := lockMidway(sb, ref.before); v != "" {
		bad("%s", v)
	}
	for _, k := range []string{"inbox", "sent"} {
		for _, rel := range now.setAside(filepath.Join("data", k, trashName)) {
			_, stale := ref.before.entries[rel]
			if !stale && !setAsideName(sc.name).MatchString(rel) {
				bad("unexpected entry in the trash: %s", rel)
			}
		}
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
		// An error answer with the old config leaves the mailbox as it
		// was: folders set aside are put back, folders made are removed
		// (unless the failed call was that removal).
		if d := ref.before.diff(now, func(rel string) bool { return !mailboxFolder(sc.name, rel) }); !committed && len(d) > 0 && hitEv.name != "unlinkat" {
			bad("answered an error with the old config, but the mailbox's folders changed: %v", d)
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
		if sc.create {
			want = append(want, "AIMX/1 ERR MAILBOX mailbox '"+sc.name+"' already exists\nCode: MAILBOX\n\n")
		} else {
			want = append(want, "AIMX/1 ERR MAILBOX mailbox '"+sc.name+"' does not exist\nCode: MAILBOX\n\n")
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
	for _, v := range settled(sb, end) {
		bad("after the next request: %s", v)
	}
	return r
}

// settled checks what must hold once a request has run to its end: no
// set-aside folder is left in the trash, and the lock file is a regular
// file 0600 owned like the config's folder.
func settled(sb *sandbox, s snapshot) []string {
	var out []string
	for _, k := range []string{"inbox", "sent"} {
		if left := s.setAside(filepath.Join("data", k, trashName)); len(left) > 0 {
			out = append(out, fmt.Sprintf("set-aside entries left in %s/%s: %v", k, trashName, left))
		}
	}
	dir, err := os.Stat(filepath.Join(sb.root, "etc"))
	if err != nil {
		return append(out, err.Error())
	}
	fi, err := os.Lstat(filepath.Join(sb.root, lockRel))
	if err != nil {
		return append(out, "lock file: "+err.Error())
	}
	du, dg := ownerOf(dir)
	if u, g := ownerOf(fi); !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || u != du || g != dg || fi.Size() != 0 {
		out = append(out, fmt.Sprintf("lock file is %s %d:%d size %d, want an empty regular file 0600 %d:%d", fi.Mode(), u, g, fi.Size(), du, dg))
	}
	return out
}

// lockMidway checks the lock file right after a faulted run: it is as it
// was before, or absent as before, or a regular empty file that only
// root can open (a kill between its creation and its chown leaves it
// 0600 root:root).
func lockMidway(sb *sandbox, before snapshot) string {
	fi, err := os.Lstat(filepath.Join(sb.root, lockRel))
	_, existed := before.entries[lockRel]
	switch {
	case errors.Is(err, fs.ErrNotExist) && !existed:
		return ""
	case err != nil:
		return "lock file: " + err.Error()
	}
	if existed && takeSnapshot(sb.root).entries[lockRel] == before.entries[lockRel] {
		return ""
	}
	if u, _ := ownerOf(fi); !fi.Mode().IsRegular() || fi.Mode().Perm()&0o177 != 0 || u != 0 || fi.Size() != 0 {
		return fmt.Sprintf("lock file is %s uid %d size %d: not an empty regular file only root can open", fi.Mode(), u, fi.Size())
	}
	return ""
}

// mailboxFolder reports whether rel is one of the mailbox's two folders
// or in one.
func mailboxFolder(name, rel string) bool {
	for _, k := range []string{"inbox", "sent"} {
		p := filepath.Join("data", k, name)
		if rel == p || strings.HasPrefix(rel, p+"/") {
			return true
		}
	}
	return false
}

// setAsideName matches the trash entries a forced DELETE of name makes:
// data/<kind>/.trash/<name>.<16 hex digits>, and what they hold.
func setAsideName(name string) *regexp.Regexp {
	return regexp.MustCompile(`^data/(inbox|sent)/` + regexp.QuoteMeta(trashName) + `/` + regexp.QuoteMeta(name) + `\.[0-9a-f]{16}(/|$)`)
}

func ownerOf(fi os.FileInfo) (uid, gid uint32) {
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
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

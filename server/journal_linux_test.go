//go:build linux

package server

import (
	"bytes"
	"encoding/binary"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeJournal binds a datagram socket where journald's would be and
// returns its descriptor.
func fakeJournal(t *testing.T) int {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "journal.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 8<<20)
	defer func(s string) { journalSocket = s }(journalSocket)
	journalSocket = sock
	if _, ok := connect(nil).(journalLogger); !ok {
		t.Fatal("the logger did not connect to the journal socket")
	}
	return fd
}

// entry receives one datagram (or the memfd it carries) and returns it.
func entry(t *testing.T, fd int) string {
	t.Helper()
	buf, oob := make([]byte, 1<<20), make([]byte, 64)
	n, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, 0)
	if err != nil {
		t.Fatal(err)
	}
	if oobn == 0 {
		return string(buf[:n])
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	if seals, _ := unix.FcntlInt(uintptr(fds[0]), unix.F_GET_SEALS, 0); seals&unix.F_SEAL_WRITE == 0 {
		t.Errorf("memfd seals %#x: journald takes only a sealed memfd", seals)
	}
	var st unix.Stat_t
	unix.Fstat(fds[0], &st)
	data := make([]byte, st.Size)
	unix.Pread(fds[0], data, 0)
	return string(data)
}

// TestJournalLogger: a record reaches journald's socket in the native
// protocol; one too big for a datagram goes as a sealed memfd.
func TestJournalLogger(t *testing.T) {
	fd := fakeJournal(t)
	j, _ := openJournalAt(t, fd)
	j.Log(Record{Verb: "MAILBOX-CREATE", UID: 1000, PID: 42, User: "alice", Mailbox: "m", Decision: "accept", Outcome: Accepted})
	got := entry(t, fd)
	for _, want := range []string{"PRIORITY=6\n", "MESSAGE=MAILBOX-CREATE m by uid 1000 (alice): accepted\n", "MESSAGE_ID=" + MessageIDs[Accepted] + "\n",
		"SYSLOG_IDENTIFIER=aimx-mailboxd\n", "AIMX_CALLER_PID=42\n", "AIMX_CALLER_USER=alice\n", "AIMX_OUTCOME=accepted\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("entry %q lacks %q", got, want)
		}
	}
	// journald keeps OBJECT_PID only from root: the caller's pid travels
	// as AIMX_CALLER_PID alone.
	if strings.Contains(got, "OBJECT_PID=") {
		t.Errorf("entry %q has OBJECT_PID", got)
	}
	// A value with a newline: name, length, value.
	j.Log(Record{Verb: "X", Outcome: Failed, Reason: "two\nlines"})
	got = entry(t, fd)
	var l [8]byte
	binary.LittleEndian.PutUint64(l[:], 9)
	if want := "AIMX_REASON\n" + string(l[:]) + "two\nlines\n"; !strings.Contains(got, want) || !strings.Contains(got, "PRIORITY=3\n") {
		t.Errorf("entry %q lacks %q", got, want)
	}
	big := strings.Repeat("r", 400<<10) // past the datagram limit (wmem_max)
	j.Log(Record{Verb: "X", Outcome: Failed, Reason: big})
	if got := entry(t, fd); !strings.Contains(got, "AIMX_REASON="+big+"\n") {
		t.Errorf("big entry: %d bytes without the reason", len(got))
	}
}

// openJournalAt is the logger fakeJournal's socket receives from.
func openJournalAt(t *testing.T, fd int) (journalLogger, int) {
	t.Helper()
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	defer func(s string) { journalSocket = s }(journalSocket)
	journalSocket = sa.(*unix.SockaddrUnix).Name
	j, ok := openJournal()
	if !ok {
		t.Fatal("no journal")
	}
	t.Cleanup(func() { unix.Close(j.fd) })
	return journalLogger{j: j, fallback: LogfmtLogger{W: io.Discard}}, fd
}

// TestJournalRefusedFallsBack: a record journald refuses (its socket is
// gone) goes to the fallback instead of being lost.
func TestJournalRefusedFallsBack(t *testing.T) {
	fd := fakeJournal(t)
	j, _ := openJournalAt(t, fd)
	var buf bytes.Buffer
	j.fallback = LogfmtLogger{W: &buf}
	unix.Close(fd) // journald stops: send fails with ECONNREFUSED
	j.Log(Record{Verb: "MAILBOX-DELETE", UID: 1000, PID: 42, User: "alice", Mailbox: "m", Decision: "accept", Outcome: Accepted})
	want := "verb=MAILBOX-DELETE caller_uid=1000 caller_pid=42 caller_user=alice mailbox=m decision=accept outcome=accepted priority=info\n"
	if got := buf.String(); got != want {
		t.Errorf("fallback got %q, want %q", got, want)
	}
}

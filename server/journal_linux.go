package server

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// journalSocket is journald's native-protocol socket.
var journalSocket = "/run/systemd/journal/socket"

// journal is a datagram socket connected to journald's, sending its
// native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL) with plain system
// calls: go-systemd's journal package goes through net, and with it the
// runtime's poller, which a helper that sends one record does not need.
type journal struct{ fd int }

// openJournal connects to journald's socket; ok is false when there is
// none to connect to.
func openJournal() (journal, bool) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return journal{}, false
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: journalSocket}); err != nil {
		unix.Close(fd)
		return journal{}, false
	}
	return journal{fd: fd}, true
}

// send sends one entry: MESSAGE, PRIORITY and fields (names as journald
// takes them: upper-case letters, digits and '_'). An entry too big for
// one datagram goes as a sealed memfd, as sd_journal_send does.
func (j journal) send(message string, p Priority, fields map[string]string) error {
	var b bytes.Buffer
	appendField(&b, "PRIORITY", strconv.Itoa(int(p)))
	appendField(&b, "MESSAGE", message)
	for k, v := range fields {
		appendField(&b, k, v)
	}
	err := unix.Send(j.fd, b.Bytes(), 0)
	if err != unix.EMSGSIZE && err != unix.ENOBUFS {
		return err
	}
	mfd, err := unix.MemfdCreate("journal-entry", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	for data := b.Bytes(); len(data) > 0; {
		n, err := unix.Write(mfd, data)
		if err != nil {
			return err
		}
		data = data[n:]
	}
	if _, err := unix.FcntlInt(uintptr(mfd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return err
	}
	return unix.Sendmsg(j.fd, nil, unix.UnixRights(mfd), nil, 0)
}

// appendField writes NAME=value and a newline, or, for a value with a
// newline in it, NAME, a newline, the value's length (64 bits, little
// endian), the value and a newline.
func appendField(b *bytes.Buffer, name, value string) {
	if !strings.Contains(value, "\n") {
		b.WriteString(name + "=" + value + "\n")
		return
	}
	b.WriteString(name + "\n")
	binary.Write(b, binary.LittleEndian, uint64(len(value)))
	b.WriteString(value + "\n")
}

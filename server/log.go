package server

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/journal"

	"github.com/aimx/aimx-mailboxd/activation"
	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/wire"
)

// Record is the one log record of a request's decision. Reason is the
// internal reason of a reject: the log may say what the wire must not.
type Record struct {
	Verb     string
	UID      uint32
	PID      int32
	User     string
	Mailbox  string
	Decision authz.Decision
	Reason   string
}

// Logger writes decision records.
type Logger interface {
	Log(Record)
}

func (s *Server) log(peer activation.Peer, req wire.Request, user string, d authz.Decision, reason string) {
	if s.Log == nil {
		return
	}
	s.Log.Log(Record{Verb: Escape(req.Verb), UID: peer.UID, PID: peer.PID, User: Escape(user),
		Mailbox: Escape(req.Name), Decision: d, Reason: Escape(reason)})
}

// Escape returns s with every control character (C0, DEL, C1, U+2028,
// U+2029), every byte that is not UTF-8, and the backslash written as an
// escape (\x1b, \u2028, \\), so that text a user sent cannot move an
// operator's cursor, colour a terminal or forge a log line. Every field
// of a log record goes through it (behavior.md, "Logs").
func Escape(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r == '\\' || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, "\\x%02x", s[i])
		case r == '\\':
			b.WriteString("\\\\")
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// NewLogger returns a logger that sends native journald fields when the
// journal's socket is there, and one logfmt line per record to fallback
// otherwise.
func NewLogger(fallback io.Writer) Logger {
	if journal.Enabled() {
		return journalLogger{}
	}
	return LogfmtLogger{W: fallback}
}

type journalLogger struct{}

// Log sends r with the fields AIMX_VERB, AIMX_CALLER_UID, AIMX_CALLER_PID,
// AIMX_CALLER_USER, AIMX_MAILBOX, AIMX_DECISION and AIMX_REASON.
func (journalLogger) Log(r Record) {
	prio := journal.PriInfo
	if r.Decision == authz.Reject {
		prio = journal.PriNotice
	}
	fields := map[string]string{
		"SYSLOG_IDENTIFIER": "aimx-mailboxd",
		"AIMX_VERB":         r.Verb,
		"AIMX_CALLER_UID":   strconv.FormatUint(uint64(r.UID), 10),
		"AIMX_CALLER_PID":   strconv.FormatInt(int64(r.PID), 10),
		"AIMX_CALLER_USER":  r.User,
		"AIMX_MAILBOX":      r.Mailbox,
		"AIMX_DECISION":     string(r.Decision),
	}
	if r.Reason != "" {
		fields["AIMX_REASON"] = r.Reason
	}
	journal.Send(r.message(), prio, fields)
}

func (r Record) message() string {
	msg := fmt.Sprintf("%s %s by uid %d (%s): %s", r.Verb, r.Mailbox, r.UID, r.User, r.Decision)
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return msg
}

// LogfmtLogger writes one logfmt line per record to W.
type LogfmtLogger struct{ W io.Writer }

func (l LogfmtLogger) Log(r Record) {
	var b strings.Builder
	kv := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=")
		if v == "" || strings.ContainsAny(v, " \"=\\\t\r\n") {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
	}
	kv("verb", r.Verb)
	kv("caller_uid", strconv.FormatUint(uint64(r.UID), 10))
	kv("caller_pid", strconv.FormatInt(int64(r.PID), 10))
	kv("caller_user", r.User)
	kv("mailbox", r.Mailbox)
	kv("decision", string(r.Decision))
	if r.Reason != "" {
		kv("reason", r.Reason)
	}
	b.WriteByte('\n')
	io.WriteString(l.W, b.String())
}

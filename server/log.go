package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aimx/aimx-mailboxd/authz"
	"github.com/aimx/aimx-mailboxd/wire"
)

// Record is the one log record of a request. Reason is the internal
// reason of anything but an acceptance: the log may say what the wire
// must not.
type Record struct {
	Verb     string
	UID      uint32
	PID      int32
	User     string
	Mailbox  string
	Decision authz.Decision
	Outcome  Outcome
	Reason   string
}

// Outcome is what became of a request. It picks the record's priority
// and MESSAGE_ID, so that `journalctl -p warning` shows a broken service
// and not the users it refused.
type Outcome string

const (
	// Accepted: the request was carried out (decision accept or
	// root_bypass). Priority info.
	Accepted Outcome = "accepted"
	// Refused: a rule said no (a bad name, a reserved name, the limit,
	// someone else's mailbox, ...). Priority notice.
	Refused Outcome = "refused"
	// Malformed: the frame broke the framing rules or named a verb this
	// socket does not serve. Priority notice.
	Malformed Outcome = "malformed"
	// Abandoned: the client hung up, or ran out of time, before a whole
	// request arrived; nothing was answered. Priority info.
	Abandoned Outcome = "abandoned"
	// Busy: the config lock stayed held past lock_timeout_seconds.
	// Priority warning.
	Busy Outcome = "busy"
	// Failed: the service could not do its job: the config or the policy
	// file is missing or broken, or a filesystem step failed. Priority err.
	Failed Outcome = "failed"
)

// MessageIDs are the journald MESSAGE_ID of each outcome (documented in
// aimx-mailboxd(8), as systemd's catalog documents its own).
var MessageIDs = map[Outcome]string{
	Accepted:  "d931e5a798264149836183506857ff73",
	Refused:   "9c0894c1d0384c189dd08a75d65098ba",
	Malformed: "63f6f0c21ff546d1b4659872e2329b03",
	Abandoned: "e62e48f2361541bb9cea3a397fe050e5",
	Busy:      "6a5be87b7ffd418b8d41c69a13d99878",
	Failed:    "d080d67fa2bd42fda242b8a7da6ca3a6",
}

// Priority is a syslog priority (journald's PRIORITY field).
type Priority int

// The priorities a record can have.
const (
	PriErr     Priority = 3
	PriWarning Priority = 4
	PriNotice  Priority = 5
	PriInfo    Priority = 6
)

// Priority is the syslog priority of a record with outcome o.
func (o Outcome) Priority() Priority {
	switch o {
	case Failed:
		return PriErr
	case Busy:
		return PriWarning
	case Refused, Malformed:
		return PriNotice
	}
	return PriInfo
}

var priorityNames = map[Priority]string{PriErr: "err", PriWarning: "warning", PriNotice: "notice", PriInfo: "info"}

// Logger writes request records.
type Logger interface {
	Log(Record)
}

// record is the log record of a request, every field escaped; the
// caller's user name is filled in after the answer.
func record(caller authz.Caller, req wire.Request, d authz.Decision, o Outcome, reason string) Record {
	return Record{Verb: Escape(req.Verb), UID: caller.UID, PID: caller.PID,
		Mailbox: Escape(req.Name), Decision: d, Outcome: o, Reason: Escape(reason)}
}

// Escape returns s with every control character (C0, DEL, C1, U+2028,
// U+2029), every byte that is not UTF-8, and the backslash written as an
// escape (\x1b, \u2028, \\), so that text a user sent cannot move an
// operator's cursor, colour a terminal or forge a log line. Every field
// of a log record goes through it (docs/BEHAVIOR.md, "Logs").
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
// otherwise. It connects at its first record: the helper writes its one
// record after the answer, so the connection is not on the answer's
// path.
func NewLogger(fallback io.Writer) Logger { return &firstUse{fallback: fallback} }

// firstUse is NewLogger's logger: the one connect picks, once.
type firstUse struct {
	fallback io.Writer
	l        Logger
}

func (f *firstUse) Log(r Record) {
	if f.l == nil {
		f.l = connect(f.fallback)
	}
	f.l.Log(r)
}

// connect is the journal's logger when its socket takes a connection,
// else logfmt on fallback.
func connect(fallback io.Writer) Logger {
	if j, ok := openJournal(); ok {
		return journalLogger{j: j, fallback: LogfmtLogger{W: fallback}}
	}
	return LogfmtLogger{W: fallback}
}

// journalLogger sends records to journald, and a record journald refuses
// to its fallback: no record is ever silently lost.
type journalLogger struct {
	j        journal
	fallback Logger
}

// Log sends r at its outcome's priority with MESSAGE_ID,
// SYSLOG_IDENTIFIER (aimx-mailboxd, whichever process logs: the helper or
// root's direct mode, so that `journalctl -t aimx-mailboxd` shows every
// request) and the fields AIMX_VERB, AIMX_CALLER_UID, AIMX_CALLER_PID,
// AIMX_CALLER_USER, AIMX_MAILBOX, AIMX_DECISION, AIMX_OUTCOME and
// AIMX_REASON. (Not OBJECT_PID: journald keeps it only from root.) When
// journald refuses the record, it goes to the fallback.
func (l journalLogger) Log(r Record) {
	fields := map[string]string{
		"SYSLOG_IDENTIFIER": "aimx-mailboxd",
		"MESSAGE_ID":        MessageIDs[r.Outcome],
		"AIMX_OUTCOME":      string(r.Outcome),
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
	if err := l.j.send(r.message(), r.Outcome.Priority(), fields); err != nil {
		l.fallback.Log(r)
	}
}

func (r Record) message() string {
	what := r.Verb
	if r.Mailbox != "" {
		what += " " + r.Mailbox
	}
	msg := fmt.Sprintf("%s by uid %d (%s): %s", what, r.UID, r.User, r.Outcome)
	if r.Reason != "" {
		msg += ": " + r.Reason
	}
	return msg
}

// LogfmtLogger writes one logfmt line per record to W, through log/slog's
// TextHandler: the record's fields in a fixed order, nothing else (no
// time or level keys: the outcome and priority say what happened). The
// fields are escaped before they get here (Escape), so a line never
// holds a control character.
type LogfmtLogger struct{ W io.Writer }

func (l LogfmtLogger) Log(r Record) {
	h := slog.NewTextHandler(l.W, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey || a.Key == slog.MessageKey {
			return slog.Attr{}
		}
		return a
	}})
	rec := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0) // zero time: no time key
	rec.AddAttrs(
		slog.String("verb", r.Verb),
		slog.Uint64("caller_uid", uint64(r.UID)),
		slog.Int64("caller_pid", int64(r.PID)),
		slog.String("caller_user", r.User),
		slog.String("mailbox", r.Mailbox),
		slog.String("decision", string(r.Decision)),
	)
	if r.Reason != "" {
		rec.AddAttrs(slog.String("reason", r.Reason))
	}
	rec.AddAttrs(slog.String("outcome", string(r.Outcome)), slog.String("priority", priorityNames[r.Outcome.Priority()]))
	h.Handle(context.Background(), rec)
}

package detect

import (
	"errors"
	"time"
)

// ErrNotEvent is returned by a Parser for a line that is well formed but is
// not a security event: a header line, a routine daemon message. The caller
// counts it as skipped.
var ErrNotEvent = errors.New("not an event")

// Parser turns one log record into one Event.
//
// Concurrency: a Parser is used by one goroutine at a time. Parsers may keep
// state between calls (a W3C #Fields header, an interning cache), so a
// pipeline makes one instance per stream and per worker with ParserInfo.New.
//
// Parse fills ev, which the caller has Reset, and returns nil; or returns
// ErrNotEvent; or returns another error that says what is wrong with the
// line. Parse must not keep rec, or any slice of its bytes, after it returns,
// and must not panic on any input.
type Parser interface {
	Parse(rec *Record, ev *Event) error
}

// ParserInfo describes a parser to a registry.
type ParserInfo struct {
	// Name is the parser's unique name; it is also event.dataset.
	Name string
	// Description is one line for `formats`.
	Description string
	// New returns a fresh Parser.
	New func() Parser
	// Tags are syslog tags (app names) that this format is sent under, used
	// by auto-detection: "kernel", "filterlog", "sshd".
	Tags []string
	// Sniff reports whether a record looks like this format. It must be
	// cheap, a few byte comparisons, because auto-detection calls it on lines
	// of every format. Nil means the format is detected by Tags alone.
	Sniff func(rec *Record) bool
	// Generic marks a parser whose Sniff also claims lines of more specific
	// parsers registered before it (netfilter claims Ubiquiti's kernel
	// lines). Auto-detection sticks to the parser that took a stream's last
	// line, to keep its cost low, but never to a generic one.
	Generic bool
}

// SyslogFormat says which syslog header a record had.
type SyslogFormat uint8

// Syslog header formats.
const (
	SyslogNone    SyslogFormat = iota // no header: the whole line is the message
	SyslogRFC3164                     // BSD syslog, with or without <PRI>
	SyslogRFC5424                     // IETF syslog
)

// Record is one log line, with its syslog header, if it had one, taken
// apart. Its byte slices alias the reader's buffer and are valid only for the
// duration of a Parse call.
type Record struct {
	Raw []byte // the whole line
	Msg []byte // the message after the header; Raw when there is no header

	Syslog   SyslogFormat
	Priority int       // <PRI>, or -1 when absent
	Time     time.Time // the header's time stamp; zero when absent
	Host     []byte    // host name, or nil
	App      []byte    // tag / APP-NAME, or nil
	ProcID   []byte    // PID / PROCID, or nil
	MsgID    []byte    // RFC 5424 MSGID, or nil
	SD       []byte    // RFC 5424 STRUCTURED-DATA as written, or nil for "-"

	// Ref is the reference time for stamps without a year: the year chosen
	// puts the stamp nearest to Ref.
	Ref time.Time
	// Loc is the zone of stamps that carry none.
	Loc *time.Location
}

// Location returns the zone for stamps without one: Loc, or UTC.
func (r *Record) Location() *time.Location {
	if r.Loc == nil {
		return time.UTC
	}
	return r.Loc
}

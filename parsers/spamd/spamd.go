// Package spamd parses the log of SpamAssassin's daemon, spamd, under the
// syslog tag spamd, or from the file spamd writes with -s FILE:
//
//	spamd[123]: spamd: result: Y 12 - BAYES_99,HTML_MESSAGE,URIBL_BLACK scantime=1.2,size=4567,user=u,uid=1000,required_score=5.0,rhost=localhost,raddr=127.0.0.1,rport=51234,mid=<x@y>,bayes=1.000000,autolearn=spam
//	Thu Nov 27 10:00:00 2026 [123] info: spamd: result: Y 12 - BAYES_99 scantime=1.2,size=4567,...
//
// # Mapping
//
// spamd scores messages for the MTA (or a filter) that asks it; it blocks
// nothing itself. So a spam verdict is event.category email with
// event.type info. spamd writes two lines per message at info level, "identified
// spam (12.3/5.0) for user:1000 in 1.2 seconds, 4567 bytes." (or "clean
// message (...)") and the "result:" line. The result line is the event,
// because it carries the test names as well; the other line gives
// ErrNotEvent, so that one message is one event. "result: Y" (spam) is an
// event with event.action "identified spam" (spamd's own phrase for the
// verdict, which the result line abbreviates to Y); "result: ." (not spam)
// gives ErrNotEvent.
//
// rule.name is the list of SpamAssassin tests that hit, as spamd writes
// it ("BAYES_99,HTML_MESSAGE,URIBL_BLACK"): test names are metadata, and
// the result line gives no per-test scores from which to pick the one
// that mattered most, so the whole list is kept (a list holding anything
// but test names is dropped). source.bytes is the message size (size=).
//
// source.ip is left out on purpose: spamd only sees the program that asks
// it to scan (raddr=, usually the local MTA at 127.0.0.1 or a mail
// gateway), never the client that sent the mail, and a spam event
// attributed to the MTA would mislead every rule that counts spam by
// source. The user (user=, uid=), rhost= (a host name) and mid= (the
// Message-ID) are never copied.
//
// "unauthorized connection from HOST [ADDR]:PORT to port 783" (a client
// outside --allowed-ips was refused) is event.category network, type
// denied, action "unauthorized connection", with the client as source and
// spamd's port as destination.port. Connections, "processing message",
// "checking message", "setuid", prefork and configuration chatter give
// ErrNotEvent.
//
// When spamd writes its own file, each line starts with Perl's local
// time stamp and the pid ("Thu Nov 27 10:00:00 2026 [123] info: "); the
// stamp is read in the record's zone and becomes @timestamp.
package spamd

import (
	"bytes"
	"errors"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "spamd"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Apache SpamAssassin spamd: spam results (result: Y) with the tests hit and size, unauthorized connections",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"spamd"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec comes from spamd: the tag spamd, or a line of
// spamd's own log file, "[PID] LEVEL: spamd: " after Perl's time stamp.
func Sniff(rec *detect.Record) bool {
	if string(rec.App) == "spamd" {
		return true
	}
	m := rec.Msg
	if len(m) > 24 && isWeekday(m) {
		m = m[24:]
		if len(m) > 0 && m[0] == ' ' {
			m = m[1:]
		}
	}
	_, ok := filePrefix(m)
	return ok
}

// isWeekday reports whether b starts with an English weekday abbreviation
// and a space.
func isWeekday(b []byte) bool {
	if len(b) < 4 || b[3] != ' ' {
		return false
	}
	switch string(b[:3]) {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return true
	}
	return false
}

// filePrefix removes "[PID] LEVEL: " from the start of b, where LEVEL is
// one of SpamAssassin's log levels, and reports whether "spamd: " follows.
func filePrefix(b []byte) ([]byte, bool) {
	if len(b) < 3 || b[0] != '[' {
		return b, false
	}
	i := 1
	for i < len(b) && i < 12 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 1 || i+1 >= len(b) || b[i] != ']' || b[i+1] != ' ' {
		return b, false
	}
	r := b[i+2:]
	for _, l := range [...]string{"info: ", "warn: ", "error: ", "dbg: "} {
		if bytes.HasPrefix(r, []byte(l)) {
			r = r[len(l):]
			return r, bytes.HasPrefix(r, []byte("spamd: "))
		}
	}
	return b, false
}

// Parser parses spamd lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner // test lists
}

var _ detect.Parser = (*Parser)(nil)

var (
	errStamp      = errors.New("spamd: bad time stamp")
	errResult     = errors.New("spamd: malformed result line")
	errConnection = errors.New("spamd: malformed connection line")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := lex.Trim(rec.Msg)
	if isWeekday(m) {
		t, ok := stamp(m[4:], rec.Location())
		if !ok {
			return errStamp
		}
		ev.Timestamp = t
		m = lex.Trim(m[24:])
	}
	if len(m) > 0 && m[0] == '[' {
		r, ok := filePrefix(m)
		if !ok {
			return detect.ErrNotEvent
		}
		m = r
	}
	if r, ok := cut(m, "spamd: "); ok {
		m = r
	} else if string(rec.App) != "spamd" {
		return detect.ErrNotEvent
	}
	switch {
	case bytes.HasPrefix(m, []byte("result: ")):
		return p.result(ev, m[len("result: "):])
	case bytes.HasPrefix(m, []byte("unauthorized connection from ")):
		return p.unauthorized(ev, m[len("unauthorized connection from "):])
	}
	return detect.ErrNotEvent
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):], true
	}
	return b, false
}

// stamp parses Perl's scalar(localtime) after the weekday: "Nov 27
// 10:00:00 2026" (the day padded with a space: "Nov  7").
func stamp(b []byte, loc *time.Location) (time.Time, bool) {
	// "Mmm dd hh:mm:ss yyyy" is 20 bytes.
	if len(b) < 20 || b[3] != ' ' || b[6] != ' ' || b[15] != ' ' {
		return time.Time{}, false
	}
	var buf [20]byte
	n := copy(buf[:], b[:7])     // "Nov 27 "
	n += copy(buf[n:], b[16:20]) // "2026"
	buf[n] = ' '                 //
	n++                          //
	n += copy(buf[n:], b[7:15])  // "10:00:00"
	t, l, ok := syslog.ParseBSD(buf[:n], time.Time{}, loc)
	if !ok || l != n {
		return time.Time{}, false
	}
	return t, true
}

// result parses "V SCORE - TESTS KEY=VAL,KEY=VAL,..." after "result: ".
func (p *Parser) result(ev *detect.Event, b []byte) error {
	if len(b) < 2 || b[1] != ' ' {
		return errResult
	}
	switch b[0] {
	case '.':
		return detect.ErrNotEvent
	case 'Y':
	default:
		return errResult
	}
	r := trimLeft(b[2:])
	// The score, an integer written with %2d: "12", " 3", "-1".
	i := 0
	if i < len(r) && r[i] == '-' {
		i++
	}
	j := i
	for j < len(r) && r[j] >= '0' && r[j] <= '9' {
		j++
	}
	if j == i || j >= len(r) || r[j] != ' ' {
		return errResult
	}
	r = trimLeft(r[j:])
	if len(r) == 0 || r[0] != '-' || (len(r) > 1 && r[1] != ' ') {
		return errResult
	}
	r = trimLeft(r[1:])
	// The test list, unless it is empty and the key=value part follows.
	var tests []byte
	sp := bytes.IndexByte(r, ' ')
	first := r
	if sp >= 0 {
		first = r[:sp]
	}
	if bytes.IndexByte(first, '=') < 0 {
		tests = first
		if sp >= 0 {
			r = trimLeft(r[sp:])
		} else {
			r = nil
		}
	}

	ev.Category = detect.CategoryEmail
	ev.Type = detect.TypeInfo
	ev.Action = "identified spam"
	ev.Observer.Vendor = "Apache"
	ev.Observer.Product = "SpamAssassin"
	if testList(tests) {
		ev.Rule.Name = p.names.Bytes(tests)
	}
	// The key=value part: "scantime=1.2,size=4567,...".
	for len(r) > 0 {
		var kv []byte
		if k := bytes.IndexByte(r, ','); k >= 0 {
			kv, r = r[:k], r[k+1:]
		} else {
			kv, r = r, nil
		}
		if v, ok := cut(kv, "size="); ok {
			if n, ok := lex.Uint(v); ok {
				ev.Source.Bytes = detect.SetCount(n)
			}
			break
		}
	}
	return nil
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// testList reports whether b is a comma-separated list of SpamAssassin
// test names (letters, digits and '_').
func testList(b []byte) bool {
	if len(b) == 0 || len(b) > 1024 || b[0] == ',' || b[len(b)-1] == ',' {
		return false
	}
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == ',' && b[i-1] != ',':
		default:
			return false
		}
	}
	return true
}

// unauthorized parses "HOST [ADDR]:PORT to port N, fd M" after
// "unauthorized connection from ".
func (p *Parser) unauthorized(ev *detect.Event, b []byte) error {
	i := bytes.IndexByte(b, '[')
	if i < 0 || i > 255 {
		return errConnection
	}
	j := bytes.IndexByte(b[i:], ']')
	if j < 0 {
		return errConnection
	}
	a, ok := lex.Addr(b[i+1 : i+j])
	if !ok {
		return errConnection
	}
	rest := b[i+j+1:]
	var port uint16
	if len(rest) > 0 && rest[0] == ':' {
		k := 1
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		if port, ok = lex.Port(rest[1:k]); !ok {
			return errConnection
		}
		rest = rest[k:]
	}
	ev.Category = detect.CategoryNetwork
	ev.Type = detect.TypeDenied
	ev.Action = "unauthorized connection"
	ev.Observer.Vendor = "Apache"
	ev.Observer.Product = "SpamAssassin"
	ev.Network.Transport = detect.TransportTCP
	ev.Source.IP, ev.Source.Port = a, port
	if r, ok := cut(rest, " to port "); ok {
		k := 0
		for k < len(r) && r[k] >= '0' && r[k] <= '9' {
			k++
		}
		ev.Destination.Port, _ = lex.Port(r[:k])
	}
	return nil
}

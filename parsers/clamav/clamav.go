// Package clamav parses the detections of ClamAV (Cisco Talos): the clamd
// daemon's log, written to its own file (LogFile, with or without LogTime)
// or to syslog under the tag clamd, the output and --log file of the
// clamscan and clamdscan scanners, clamd's on-access scanner, and the
// clamav-milter mail filter (tag clamav-milter):
//
//	Fri Nov 27 10:00:00 2026 -> /var/spool/x/file.exe: Win.Trojan.Agent-123456 FOUND
//	clamd[1234]: instream(127.0.0.1@51234): Eicar-Test-Signature(44d88612fea8a8f36de82e1278abb02f:68) FOUND
//	/home/x/a.zip: Win.Test.EICAR_HDB-1 FOUND
//	clamav-milter[99]: Message 4ABC123 from <a@b> to <c@d> with subject '...' message-id '<...>' date '...' infected by Eicar-Test-Signature
//	clamav-milter[99]: Message from <a@b> to <c@d> infected by Eicar-Test-Signature
//
// # Mapping
//
// Every detection is event.category malware, with the signature name as
// written as rule.name ("Win.Trojan.Agent-123456", third-party names keep
// their ".UNOFFICIAL" suffix). With ExtendedDetectionInfo clamd appends the
// detected content's hash and size, "Name(md5:size)"; that suffix is
// removed, so that one signature has one rule.name. Heuristic results
// ("Heuristics.Encrypted.PDF", "Heuristics.Phishing.Email.SpoofedDomain",
// and with AlertExceedsMax "Heuristics.Limits.Exceeded.MaxFileSize") are
// FOUND results like any other and are kept, under their own names.
//
// clamd, clamscan and clamdscan lines, "NAME: SIGNATURE FOUND", have
// event.action "FOUND" and event.type info: the scanner reports what it
// found, and what happens to the file or stream (deleted, moved, refused by
// the program that asked clamd) is the caller's business and not in the
// line. This holds for the on-access scanner ("ScanOnAccess: ...") too,
// whose line does not say whether OnAccessPrevention refused the access.
// clamscan's "Removed." and "moved to" lines that follow a FOUND line are
// not counted again, and give ErrNotEvent.
//
// clamav-milter writes "Message ... infected by SIGNATURE" (LogInfected
// Basic or Full): event.action "infected", event.type info. The milter
// then applies its OnInfected action (Quarantine by default, or Reject,
// Blackhole, Defer, Accept), but it never logs which one (clamav-milter's
// clamfi.c logs the line before calling the action and logs nothing after
// it), so the line alone cannot say that the message was stopped. The
// rejection, if any, shows in the MTA's own log.
//
// source.ip is set only where the line names a client of clamd: for
// INSTREAM scans, "instream(IP@PORT)" is the peer of clamd's TCP socket,
// the program that sent the content (usually the local MTA or milter, so
// often 127.0.0.1; a remote host when clamd is shared over the network):
// source.ip and source.port. The old STREAM command's "stream(IP@PORT)"
// names the peer and clamd's own stream port, so only source.ip is kept.
// "instream(local)" (a Unix socket) and "fd[N]" carry no address.
//
// Privacy: file paths (which carry user and document names), envelope
// addresses, subjects, message ids and queue ids are never copied.
//
// Routine lines give ErrNotEvent: "OK" results, scan errors ("... ERROR"),
// "ERROR:" and "WARNING:" messages, "SelfCheck: Database status OK.",
// "Database correctly reloaded", the milter's "Clean message" lines,
// clamscan's summary, and everything else clamd and freshclam log.
package clamav

import (
	"bytes"
	"errors"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "clamav"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "ClamAV (Cisco Talos) detections: clamd log file and syslog, clamscan/clamdscan output, on-access scanning, clamav-milter infected mail",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"clamd", "clamav-milter", "clamonacc"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec comes from ClamAV: one of its syslog tags, a
// clamd/milter log file line with LogTime's "Www Mmm dd hh:mm:ss yyyy -> "
// prefix, a scanner line "NAME: SIGNATURE FOUND", or a milter line
// "Message ... infected by SIGNATURE".
func Sniff(rec *detect.Record) bool {
	if isTag(rec.App) {
		return true
	}
	m := rec.Msg
	if len(m) > 0 && m[len(m)-1] == '\r' {
		m = m[:len(m)-1]
	}
	if logTimeLen(m) > 0 {
		return true
	}
	if bytes.HasSuffix(m, found) {
		body := m[:len(m)-len(found)]
		sp := bytes.LastIndexByte(body, ' ')
		sig := body[sp+1:]
		if len(sig) == 0 || !bytes.ContainsAny(sig, ".-") {
			return false
		}
		if sp < 0 {
			// "/path/file: SIG FOUND" without a header: the syslog
			// parser took the path for a tag.
			return len(rec.App) > 0 && !isTag(rec.App)
		}
		return sp > 0 && body[sp-1] == ':'
	}
	return bytes.HasPrefix(m, []byte("Message ")) && bytes.Contains(m, infectedBy)
}

// isTag reports whether app is one of ClamAV's syslog tags.
func isTag(app []byte) bool {
	switch string(app) {
	case "clamd", "clamav-milter", "clamonacc":
		return true
	}
	return false
}

var (
	found      = []byte(" FOUND")
	infectedBy = []byte(" infected by ")
)

// Parser parses ClamAV lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner // signature names
}

var _ detect.Parser = (*Parser)(nil)

var (
	errNoSig     = errors.New("clamav: FOUND without a signature name")
	errNoSubject = errors.New(`clamav: FOUND line without "NAME: SIGNATURE"`)
	errBadClient = errors.New("clamav: bad client address in instream()/stream()")
	errMilter    = errors.New("clamav: milter line without a signature after \"infected by\"")
	errLogTime   = errors.New("clamav: bad LogTime stamp")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := rec.Msg
	for len(m) > 0 && (m[len(m)-1] == '\r' || m[len(m)-1] == ' ' || m[len(m)-1] == '\t') {
		m = m[:len(m)-1]
	}
	m = lex.Trim(m)
	if n := logTimeLen(m); n > 0 {
		if ev.Timestamp = logTime(m, rec.Location()); ev.Timestamp.IsZero() {
			return errLogTime
		}
		m = m[n:]
	}
	switch {
	case string(m) == "FOUND":
		return errNoSig
	case bytes.HasSuffix(m, found):
		return p.found(rec, ev, m[:len(m)-len(found)])
	case bytes.HasPrefix(m, []byte("Message ")):
		return p.milter(ev, m)
	}
	return detect.ErrNotEvent
}

// found parses "NAME: SIGNATURE" (the line without " FOUND").
func (p *Parser) found(rec *detect.Record, ev *detect.Event, body []byte) error {
	sp := bytes.LastIndexByte(body, ' ')
	sig := body[sp+1:]
	var subject []byte
	switch {
	case sp < 0:
		// "/path: SIG FOUND" without a header: the path became the tag.
		if len(rec.App) == 0 || isTag(rec.App) {
			if len(sig) == 0 {
				return errNoSig
			}
			return errNoSubject
		}
		subject = rec.App
	case sp == 0 || body[sp-1] != ':':
		if len(sig) == 0 {
			return errNoSig
		}
		return errNoSubject
	default:
		subject = body[:sp-1]
	}
	sig = stripDetectionInfo(sig)
	if len(sig) == 0 {
		return errNoSig
	}
	if err := client(subject, ev); err != nil {
		return err
	}
	ev.Category = detect.CategoryMalware
	ev.Type = detect.TypeInfo
	ev.Action = "FOUND"
	ev.Rule.Name = p.names.Bytes(sig)
	setObserver(ev)
	return nil
}

// client reads the address of clamd's client from "instream(IP@PORT)" or
// "stream(IP@PORT)".
func client(subject []byte, ev *detect.Event) error {
	var inner []byte
	instream := false
	switch {
	case bytes.HasPrefix(subject, []byte("instream(")):
		inner, instream = subject[len("instream("):], true
	case bytes.HasPrefix(subject, []byte("stream(")):
		inner = subject[len("stream("):]
	default:
		return nil
	}
	if len(inner) == 0 || inner[len(inner)-1] != ')' {
		return nil // a file whose name starts "stream(": not ours to judge
	}
	inner = inner[:len(inner)-1]
	if string(inner) == "local" {
		return nil
	}
	at := bytes.LastIndexByte(inner, '@')
	if at < 0 {
		return errBadClient
	}
	a, ok := lex.Addr(inner[:at])
	if !ok {
		return errBadClient
	}
	port, ok := lex.Port(inner[at+1:])
	if !ok {
		return errBadClient
	}
	ev.Source.IP = a
	if instream {
		ev.Source.Port = port
	}
	return nil
}

// milter parses clamav-milter's "Message [ID] from <..> to <..> [with
// subject '..' message-id '..' date '..'] infected by SIGNATURE".
func (p *Parser) milter(ev *detect.Event, m []byte) error {
	i := bytes.LastIndex(m, infectedBy)
	if i < 0 {
		if bytes.HasSuffix(m, infectedBy[:len(infectedBy)-1]) && bytes.Contains(m, []byte(" from <")) {
			return errMilter
		}
		return detect.ErrNotEvent
	}
	if !bytes.Contains(m[:i], []byte(" from <")) {
		return detect.ErrNotEvent
	}
	sig := m[i+len(infectedBy):]
	if bytes.IndexByte(sig, ' ') >= 0 {
		return errMilter
	}
	sig = stripDetectionInfo(sig)
	if len(sig) == 0 {
		return errMilter
	}
	ev.Category = detect.CategoryMalware
	ev.Type = detect.TypeInfo
	ev.Action = "infected"
	ev.Rule.Name = p.names.Bytes(sig)
	setObserver(ev)
	return nil
}

func setObserver(ev *detect.Event) {
	ev.Observer.Vendor = "Cisco"
	ev.Observer.Product = "ClamAV"
}

// stripDetectionInfo removes ExtendedDetectionInfo's "(HASH:SIZE)" from the
// end of a signature name.
func stripDetectionInfo(sig []byte) []byte {
	if len(sig) < 5 || sig[len(sig)-1] != ')' {
		return sig
	}
	open := bytes.LastIndexByte(sig, '(')
	if open < 0 {
		return sig
	}
	inner := sig[open+1 : len(sig)-1]
	colon := bytes.IndexByte(inner, ':')
	if colon <= 0 || colon == len(inner)-1 {
		return sig
	}
	for _, c := range inner[:colon] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return sig
		}
	}
	if _, ok := lex.Uint(inner[colon+1:]); !ok {
		return sig
	}
	return sig[:open]
}

// logTimeLen returns the length of LogTime's prefix, a ctime(3) stamp
// and " -> " ("Fri Nov 27 10:00:00 2026 -> "), at the start of m, or 0.
func logTimeLen(m []byte) int {
	if len(m) < 28 || m[3] != ' ' || m[7] != ' ' || m[10] != ' ' || m[13] != ':' || m[16] != ':' ||
		m[19] != ' ' || string(m[24:28]) != " -> " {
		return 0
	}
	if syslog.Month(m[4:7]) == 0 {
		return 0
	}
	if _, ok := num(m[8:10], true); !ok {
		return 0
	}
	for _, r := range [...][2]int{{11, 13}, {14, 16}, {17, 19}, {20, 24}} {
		if _, ok := num(m[r[0]:r[1]], false); !ok {
			return 0
		}
	}
	return 28
}

// logTime returns the stamp of a prefix that logTimeLen accepted, read in
// loc (clamd writes local time); a zero time when the date is invalid.
func logTime(m []byte, loc *time.Location) time.Time {
	mon := syslog.Month(m[4:7])
	day, _ := num(m[8:10], true)
	hh, _ := num(m[11:13], false)
	mm, _ := num(m[14:16], false)
	ss, _ := num(m[17:19], false)
	yy, _ := num(m[20:24], false)
	if day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}
	}
	if ss == 60 {
		ss = 59
	}
	t := time.Date(yy, mon, day, hh, mm, ss, 0, loc)
	if t.Day() != day {
		return time.Time{} // 31 November and the like
	}
	return t
}

// num parses the decimal digits of b; with pad, a leading space counts as
// a zero ("ctime pads the day").
func num(b []byte, pad bool) (int, bool) {
	n := 0
	for i, c := range b {
		if pad && i == 0 && c == ' ' {
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

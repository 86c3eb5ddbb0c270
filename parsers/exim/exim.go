// Package exim parses the security-relevant lines of the Exim MTA's main
// log and reject log (mainlog, rejectlog; exim4 on Debian), read as files
// or sent over syslog under the tags exim and exim4:
//
//	2026-11-27 10:00:00 H=(helo) [198.51.100.7]:51514 F=<a@b> rejected RCPT <c@d>: relay not permitted
//	2026-11-27 10:00:00.123 +0100 [4242] 1tGxyz-000ABC-12 H=mail.example [198.51.100.7] F=<a@b> rejected after DATA: This message contains a virus (Eicar-Test-Signature).
//	2026-11-27 10:00:00 dovecot_login authenticator failed for H=(helo) [198.51.100.7]:51514: 535 Incorrect authentication data (set_id=user@example.org)
//
// Each line starts with Exim's stamp, "YYYY-MM-DD hh:mm:ss", with
// milliseconds when log_selector has +millisec, and a " +0100" zone when
// log_timezone is set; a stamp without a zone is read in the record's zone
// (rec.Location()). A pid ("[4242]", +pid) and a message id (16
// characters, "1tGxyz-000ABC-12", or the 23 of Exim 4.97 and later) may
// follow; both are skipped. Over syslog the stamp may be missing, and the
// syslog header's time is used.
//
// # Mapping
//
// Every event is network.protocol smtp over tcp, with the client as
// source (its address and, with +incoming_port, its port) and the
// server's own address and port, when +incoming_interface logs
// "I=[192.0.2.25]:25", as destination.
//
// ACL rejections ("H=... rejected RCPT <...>: REASON", "rejected MAIL",
// "rejected after DATA", "rejected EHLO or HELO", "rejected connection",
// "rejected AUTH", and the "temporarily rejected ..." forms) are
// event.category email, type denied, with event.action the verb and
// command as written ("rejected RCPT", "temporarily rejected after DATA").
// The reason after the colon is the administrator's ACL message, so only
// metadata is taken from it: a DNSBL zone after "black list at ",
// "listed at ", "listed in " or "RBL on " (rule.name "zen.spamhaus.org");
// a virus name in "virus (NAME)" or "malware (NAME)" (the default
// configuration's malware ACL), which makes the event category malware
// with the virus as rule.name; otherwise rule.name is one of Exim's own
// fixed reasons when the reason starts with it ("relay not permitted",
// "Unrouteable address", "Sender verify failed", "syntactically invalid
// argument(s)", ...).
//
// Protocol abuse: "SMTP protocol synchronization error (...)" (the client
// talked before the greeting or pipelined without PIPELINING; Exim drops
// it: denied, action "SMTP protocol synchronization error") and "SMTP call
// from ... dropped: too many syntax or protocol errors" (also too many
// unrecognized / nonmail commands: denied, action "dropped", rule.name
// that reason without the quoted last command); "rejected EHLO from ...:
// syntactically invalid argument(s)" (denied); "Connection from ...
// refused: too many connections[ from that IP address]" and "refused
// connection from ... (host_reject_connection)" (denied); "SMTP protocol
// error in", "SMTP syntax error in", "SMTP command timeout" and
// "unexpected disconnection while reading SMTP command" (info: the
// client keeps its connection or left by itself).
//
// Authentication failures ("DRIVER authenticator failed for HOST: 535
// ... (set_id=ID)") are event.category authentication, type denied,
// outcome failure, action "authenticator failed", rule.name the
// authenticator's name ("dovecot_login", "plain"), event.code the SMTP
// reply ("535"). user.name is the set_id: it is the account name the
// client tried to log in with, which on most mail servers is an e-mail
// address, and DESIGN puts the user of authentication lines in user.name.
// A 4xx reply ("435 Unable to authenticate at present") is the server's
// trouble, not the client's attempt, and gives ErrNotEvent.
//
// Not events (ErrNotEvent): arrivals and deliveries (<=, =>, ->, *>, **,
// ==, Completed), "sender verify fail/defer" (the rejection that follows
// is the event), "no host name found for IP address", "no IP address
// found for host", TLS errors, ACL warnings, queue runner chatter, and
// the lines without a stamp that the reject log writes after a rejection:
// the message's envelope and headers ("Envelope-from: <...>", "P
// Received: ...", "  Subject: ..."), which are never copied.
//
// Privacy: envelope addresses (F=, RCPT <...>), HELO names, host names,
// the commands and input Exim quotes, and the text of ACL messages are
// never copied: rule.name only ever holds a phrase from a fixed table
// matched in place, a DNS zone that has passed a host-name check, or a
// virus or authenticator name of a restricted alphabet.
package exim

import (
	"bytes"
	"errors"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "exim"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Exim mainlog and rejectlog: ACL rejects (DNSBL, relay, HELO, malware), authenticator failures, SMTP protocol errors and drops",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"exim", "exim4"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like an Exim log line: the tag exim or
// exim4, or Exim's stamp followed by a pid, a message id or one of the
// line shapes this parser reads; or the envelope lines of the reject log.
func Sniff(rec *detect.Record) bool {
	if isEximTag(rec.App) {
		return true
	}
	m := rec.Msg
	n := stampLen(m)
	if n == 0 {
		// The syslog header parser takes "Envelope-from:" for a tag.
		r := rec.Raw
		return bytes.HasPrefix(r, []byte("Envelope-from: <")) || bytes.HasPrefix(r, []byte("Envelope-to: <"))
	}
	r := m[n:]
	if len(r) > 1 && r[0] == '[' && r[1] >= '0' && r[1] <= '9' {
		return true
	}
	if idLen(r) > 0 {
		return true
	}
	if len(r) < 3 {
		return false
	}
	switch r[0] {
	case 'H':
		return r[1] == '='
	case 'S':
		return bytes.HasPrefix(r, []byte("SMTP "))
	case 'C':
		return bytes.HasPrefix(r, []byte("Connection from "))
	case 'r':
		return bytes.HasPrefix(r, []byte("rejected ")) || bytes.HasPrefix(r, []byte("refused connection from "))
	case 'u':
		return bytes.HasPrefix(r, []byte("unexpected disconnection "))
	case 'n':
		return bytes.HasPrefix(r, []byte("no host name found ")) || bytes.HasPrefix(r, []byte("no IP address found "))
	case 'T':
		return bytes.HasPrefix(r, []byte("TLS error on "))
	}
	sp := bytes.IndexByte(r, ' ')
	return sp > 0 && sp < 64 && bytes.HasPrefix(r[sp:], []byte(" authenticator failed for "))
}

func isEximTag(app []byte) bool {
	return string(app) == "exim" || string(app) == "exim4"
}

// stampLen returns the length of Exim's stamp and the space after it at
// the start of b, "YYYY-MM-DD hh:mm:ss[.fff][ +hhmm] ", or 0.
func stampLen(b []byte) int {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if b[i] < '0' || b[i] > '9' {
			return 0
		}
	}
	i := 19
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && i < 29 && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && b[i] == ' ' && i+6 < len(b) && (b[i+1] == '+' || b[i+1] == '-') && isDigits(b[i+2:i+6]) && b[i+6] == ' ' {
		i += 6
	}
	if i >= len(b) || b[i] != ' ' {
		return 0
	}
	return i + 1
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// idLen returns the length of an Exim message id and the space after it
// at the start of b, or 0: "1tGxyz-000ABC-12" (base 62, 6-6-2) or, from
// Exim 4.97, "1tGxyz-0000000ABCD-1234" (6-11-4).
func idLen(b []byte) int {
	alnum := func(b []byte) bool {
		for _, c := range b {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
		return true
	}
	if len(b) >= 17 && b[6] == '-' && b[13] == '-' && b[16] == ' ' &&
		alnum(b[:6]) && alnum(b[7:13]) && alnum(b[14:16]) {
		return 17
	}
	if len(b) >= 24 && b[6] == '-' && b[18] == '-' && b[23] == ' ' &&
		alnum(b[:6]) && alnum(b[7:18]) && alnum(b[19:23]) {
		return 24
	}
	return 0
}

// Parser parses Exim log lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner // rule names, zones, authenticators, actions
	users lex.Interner // set_id
}

var _ detect.Parser = (*Parser)(nil)

var (
	errStamp    = errors.New("exim: bad time stamp")
	errNoClient = errors.New("exim: no client address")
	errBadLine  = errors.New("exim: malformed line")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := rec.Msg
	for len(m) > 0 && (m[len(m)-1] == '\r' || m[len(m)-1] == ' ') {
		m = m[:len(m)-1]
	}
	if n := stampLen(m); n > 0 {
		t, ok := stamp(m[:n-1], rec.Location())
		if !ok {
			return errStamp
		}
		ev.Timestamp = t
		m = m[n:]
	} else if !isEximTag(rec.App) {
		if len(m) >= 5 && isDigits(m[:4]) && m[4] == '-' {
			return errStamp
		}
		return detect.ErrNotEvent // the reject log's envelope and header lines
	}
	// "[pid] " (+pid).
	if len(m) > 1 && m[0] == '[' && m[1] >= '0' && m[1] <= '9' {
		i := 1
		for i < len(m) && i < 16 && m[i] >= '0' && m[i] <= '9' {
			i++
		}
		if i+1 < len(m) && m[i] == ']' && m[i+1] == ' ' {
			m = m[i+2:]
		}
	}
	if n := idLen(m); n > 0 {
		m = m[n:]
	}
	if len(m) < 3 {
		return detect.ErrNotEvent
	}
	switch m[0] {
	case 'H':
		if m[1] == '=' {
			return p.hostLine(ev, m)
		}
	case 'S':
		if b, ok := cut(m, "SMTP call from "); ok {
			return p.dropped(ev, b)
		}
		if b, ok := cut(m, "SMTP protocol synchronization error ("); ok {
			return p.syncError(ev, b)
		}
		if b, ok := cut(m, "SMTP protocol error in \""); ok {
			return p.quotedCommand(ev, b, "SMTP protocol error")
		}
		if b, ok := cut(m, "SMTP syntax error in \""); ok {
			return p.quotedCommand(ev, b, "SMTP syntax error")
		}
		if b, ok := cut(m, "SMTP command timeout on "); ok {
			return p.timeout(ev, b, "SMTP command timeout")
		}
		if b, ok := cut(m, "SMTP data timeout (message abandoned) on "); ok {
			return p.timeout(ev, b, "SMTP data timeout")
		}
	case 'C':
		if b, ok := cut(m, "Connection from "); ok {
			return p.refused(ev, b)
		}
	case 'r':
		if b, ok := cut(m, "rejected EHLO from "); ok {
			return p.badHelo(ev, b, "rejected EHLO")
		}
		if b, ok := cut(m, "rejected HELO from "); ok {
			return p.badHelo(ev, b, "rejected HELO")
		}
		if b, ok := cut(m, "refused connection from "); ok {
			return p.simple(ev, b, detect.TypeDenied, "refused connection")
		}
	case 'u':
		if b, ok := cut(m, "unexpected disconnection while reading SMTP command from "); ok {
			return p.simple(ev, b, detect.TypeInfo, "unexpected disconnection")
		}
	}
	if sp := bytes.IndexByte(m, ' '); sp > 0 && sp < 64 {
		if b, ok := cut(m[sp:], " authenticator failed for "); ok {
			return p.authFailed(ev, m[:sp], b)
		}
	}
	return detect.ErrNotEvent
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):], true
	}
	return b, false
}

// stamp parses "YYYY-MM-DD hh:mm:ss[.fff][ +hhmm]".
func stamp(b []byte, loc *time.Location) (time.Time, bool) {
	t, n, ok := syslog.ParseISO(b, true, loc)
	if !ok {
		return time.Time{}, false
	}
	z := b[n:]
	if len(z) == 0 {
		return t, true
	}
	if len(z) != 6 || z[0] != ' ' {
		return time.Time{}, false
	}
	hh := int(z[2]-'0')*10 + int(z[3]-'0')
	mm := int(z[4]-'0')*10 + int(z[5]-'0')
	if hh > 23 || mm > 59 {
		return time.Time{}, false
	}
	off := time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute
	if z[1] == '-' {
		off = -off
	}
	utc := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	return utc.Add(-off), true
}

func smtp(ev *detect.Event, category, typ, action string) {
	ev.Category = category
	ev.Type = typ
	ev.Action = action
	ev.Observer.Vendor = "Exim"
	ev.Observer.Product = "Exim"
	ev.Network.Transport = detect.TransportTCP
	ev.Network.Protocol = "smtp"
}

// host parses Exim's host text at the start of b: "[H=]NAME (HELO)
// [ADDR]:PORT", where the name and the HELO in parentheses are each
// optional, and returns what follows the address. The HELO may be an
// address literal ("([192.0.2.1])"), so parentheses are skipped whole.
func host(b []byte) (a netip.Addr, port uint16, rest []byte, err error) {
	b, _ = cut(b, "H=")
	for n := 0; n < 4 && len(b) > 0; n++ {
		switch b[0] {
		case '[':
			end := bytes.IndexByte(b, ']')
			if end < 0 {
				return a, 0, nil, errNoClient
			}
			addr := b[1:end]
			if lex.HasPrefixFold(addr, "ipv6:") {
				addr = addr[5:]
			}
			var ok bool
			if a, ok = lex.Addr(addr); !ok {
				return a, 0, nil, errNoClient
			}
			rest = b[end+1:]
			if len(rest) > 1 && rest[0] == ':' && rest[1] >= '0' && rest[1] <= '9' {
				k := 1
				for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
					k++
				}
				if port, ok = lex.Port(rest[1:k]); !ok {
					return a, 0, nil, errNoClient
				}
				rest = rest[k:]
			}
			return a, port, rest, nil
		case '(':
			end := bytes.Index(b, []byte(") "))
			if end < 0 {
				return a, 0, nil, errNoClient
			}
			b = b[end+2:]
		default:
			sp := bytes.IndexByte(b, ' ')
			if sp < 0 {
				return a, 0, nil, errNoClient
			}
			b = b[sp+1:]
		}
	}
	return a, 0, nil, errNoClient
}

// fields skips the " X=..." fields that follow the host part of a line
// (I=, U=, P=, X=, CV=, DN=, A=, F=, S=, ...), setting the destination
// from I=, and returns what follows them, without its leading space.
func fields(ev *detect.Event, b []byte) []byte {
	for n := 0; n < 16; n++ {
		b = bytes.TrimLeft(b, " ")
		k := 0
		for k < len(b) && k < 8 && b[k] >= 'A' && b[k] <= 'Z' {
			k++
		}
		if k == 0 || k >= len(b) || b[k] != '=' {
			return b
		}
		key := b[:k]
		v := b[k+1:]
		var val []byte
		switch {
		case len(v) > 0 && v[0] == '<':
			end := bytes.Index(v, []byte("> "))
			if end < 0 {
				return nil
			}
			val, b = v[:end+1], v[end+1:]
		case len(v) > 0 && v[0] == '"':
			end := bytes.Index(v[1:], []byte("\" "))
			if end < 0 {
				return nil
			}
			val, b = v[:end+2], v[end+2:]
		default:
			sp := bytes.IndexByte(v, ' ')
			if sp < 0 {
				return nil
			}
			val, b = v[:sp], v[sp:]
			if len(val) > 0 && val[len(val)-1] == ':' { // "I=[192.0.2.25]:587: 535 ..."
				val, b = val[:len(val)-1], v[sp-1:]
			}
		}
		if string(key) == "I" {
			if a, port, _, err := host(val); err == nil {
				ev.Destination.IP, ev.Destination.Port = a, port
			}
		}
	}
	return b
}

// hostLine parses the lines that start with the client, "H=...": ACL
// rejections and the routine host lines.
func (p *Parser) hostLine(ev *detect.Event, m []byte) error {
	a, port, rest, err := host(m)
	if err != nil {
		return err
	}
	rest = fields(ev, rest)
	typ := detect.TypeDenied
	var act [48]byte
	action := act[:0]
	if r, ok := cut(rest, "temporarily "); ok {
		action = append(action, "temporarily "...)
		rest = r
	}
	r, ok := cut(rest, "rejected ")
	if !ok {
		return detect.ErrNotEvent // sender verify fail, Warning:, ...
	}
	action = append(action, "rejected"...)
	var reason []byte
	switch {
	case bytes.HasPrefix(r, []byte("RCPT ")), bytes.HasPrefix(r, []byte("MAIL ")),
		bytes.HasPrefix(r, []byte("VRFY ")), bytes.HasPrefix(r, []byte("EXPN ")):
		action = append(action, ' ')
		action = append(action, r[:4]...)
		reason = afterAddress(r[5:])
	case bytes.HasPrefix(r, []byte("EHLO or HELO ")):
		action = append(action, " EHLO or HELO"...)
		reason = afterWord(r[len("EHLO or HELO "):])
	case bytes.HasPrefix(r, []byte("after DATA")):
		action = append(action, " after DATA"...)
		reason = afterColon(r[len("after DATA"):])
	case bytes.HasPrefix(r, []byte("connection")):
		action = append(action, " connection"...)
		reason = afterColon(r[len("connection"):])
	default:
		if w := command(r); w != nil {
			action = append(action, ' ')
			action = append(action, w...)
			reason = afterColon(r[len(w):])
		}
	}
	smtp(ev, detect.CategoryEmail, typ, p.names.Bytes(action))
	ev.Source.IP, ev.Source.Port = a, port
	p.reason(ev, reason)
	return nil
}

// command returns the SMTP command word at the start of b ("AUTH",
// "STARTTLS", "DATA", "BDAT", "ETRN"), or nil.
func command(b []byte) []byte {
	i := 0
	for i < len(b) && i < 12 && b[i] >= 'A' && b[i] <= 'Z' {
		i++
	}
	if i < 4 || (i < len(b) && b[i] != ' ' && b[i] != ':') {
		return nil
	}
	return b[:i]
}

// afterAddress returns the reason after "<ADDR>: ", or nil.
func afterAddress(b []byte) []byte {
	if len(b) == 0 || b[0] != '<' {
		return afterColon(b)
	}
	if i := bytes.Index(b, []byte(">: ")); i >= 0 {
		return b[i+3:]
	}
	return nil
}

// afterWord returns the reason after "WORD: " (the HELO argument), or
// nil.
func afterWord(b []byte) []byte {
	if i := bytes.Index(b, []byte(": ")); i >= 0 {
		return b[i+2:]
	}
	return nil
}

// afterColon returns what follows the first ": " of b, or nil.
func afterColon(b []byte) []byte {
	if i := bytes.Index(b, []byte(": ")); i >= 0 {
		return b[i+2:]
	}
	return nil
}

// Exim's own reasons, kept as rule.name when an ACL message starts with
// them.
var phrases = [...]string{
	"relay not permitted",
	"Relaying denied",
	"Unrouteable address",
	"Unrouteable mail domain",
	"Sender verify failed",
	"Recipient verify failed",
	"Unknown user",
	"unknown user",
	"Administrative prohibition",
	"syntactically invalid argument(s)",
	"Too many recipients",
	"too many recipients",
	"SMTP AUTH is required",
	"AUTH command used when not advertised",
	"Helo name contains a ip address",
	"Rejected because sender is not allowed",
}

// reason sets rule.name (and the malware category) from an ACL message.
func (p *Parser) reason(ev *detect.Event, r []byte) {
	if len(r) == 0 {
		return
	}
	// Exim's own phrases first: what follows them (the HELO argument, an
	// address) is the client's text.
	for _, ph := range phrases {
		if bytes.HasPrefix(r, []byte(ph)) {
			if len(r) == len(ph) || !isNameByte(r[len(ph)]) {
				ev.Rule.Name = ph
			}
			return
		}
	}
	if v := virus(r); v != nil {
		ev.Category = detect.CategoryMalware
		ev.Rule.Name = p.names.Bytes(v)
		return
	}
	if z := zone(r); z != nil {
		ev.Rule.Name = p.names.Bytes(z)
	}
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// zoneMarkers introduce the DNSBL zone in the usual ACL messages:
// "Rejected because 198.51.100.7 is in a black list at zen.spamhaus.org",
// "198.51.100.7 is listed at bl.spamcop.net", "... is in an RBL on
// zen.spamhaus.org", "listed in b.barracudacentral.org".
var zoneMarkers = [...]string{"black list at ", "blacklist at ", "blacklisted at ", "listed at ", "listed in ", "RBL on ", "DNSBL at "}

// zone returns the DNSBL zone named in an ACL message, or nil.
func zone(r []byte) []byte {
	for _, mk := range zoneMarkers {
		if i := bytes.Index(r, []byte(mk)); i >= 0 {
			if z := dnsName(r[i+len(mk):]); z != nil {
				return z
			}
		}
	}
	return nil
}

// dnsName returns the host name at the start of b, ended by the end, a
// space or one of ";,()\\", or nil if it is not one.
func dnsName(b []byte) []byte {
	i, dot := 0, false
	for i < len(b) && i <= 253 {
		c := b[i]
		if c == '.' {
			dot = true
		} else if !isNameByte(c) {
			break
		}
		i++
	}
	if i == 0 || i > 253 || !dot {
		return nil
	}
	if i < len(b) {
		switch b[i] {
		case ' ', ';', ',', ')', '(', '\\', ':':
		default:
			return nil
		}
	}
	z := bytes.TrimRight(b[:i], ".")
	if len(z) == 0 || z[0] == '.' || z[0] == '-' || bytes.IndexByte(z, '.') < 0 {
		return nil
	}
	return z
}

// virus returns the virus name of "... virus (NAME)" or "... malware
// (NAME)", or nil.
func virus(r []byte) []byte {
	i := bytes.Index(r, []byte("virus ("))
	n := len("virus (")
	if i < 0 {
		i = bytes.Index(r, []byte("malware ("))
		n = len("malware (")
		if i < 0 {
			return nil
		}
	}
	v := r[i+n:]
	end := bytes.IndexByte(v, ')')
	if end <= 0 || end > 128 {
		return nil
	}
	v = v[:end]
	for _, c := range v {
		if !(isNameByte(c) || c == '.' || c == '/' || c == ':' || c == '!' || c == '@' || c == '#' || c == '+' || c == '~' || c == '=') {
			return nil
		}
	}
	return v
}

// dropped parses "HOST dropped: REASON (last ...)" after "SMTP call from ".
func (p *Parser) dropped(ev *detect.Event, b []byte) error {
	a, port, rest, err := host(b)
	if err != nil {
		return err
	}
	rest = fields(ev, rest)
	r, ok := cut(rest, "dropped: ")
	if !ok {
		return detect.ErrNotEvent
	}
	smtp(ev, detect.CategoryEmail, detect.TypeDenied, "dropped")
	ev.Source.IP, ev.Source.Port = a, port
	for _, ph := range [...]string{
		"too many syntax or protocol errors",
		"too many unrecognized commands",
		"too many nonmail commands",
	} {
		if bytes.HasPrefix(r, []byte(ph)) {
			ev.Rule.Name = ph
			break
		}
	}
	return nil
}

// syncError parses what follows "SMTP protocol synchronization error (":
// "input sent without waiting for greeting): rejected connection from
// H=[ADDR]:PORT input=\"...\"" or "next input sent too soon: pipelining
// was not advertised): rejected \"CMD\" H=... next input=\"...\"".
func (p *Parser) syncError(ev *detect.Event, b []byte) error {
	var h []byte
	if r, ok := cut(b, "input sent without waiting for greeting): rejected connection from "); ok {
		h = r
	} else if r, ok := cut(b, "next input sent too soon: pipelining was not advertised): rejected \""); ok {
		i := bytes.Index(r, []byte("\" H="))
		if i < 0 {
			return errNoClient
		}
		h = r[i+2:]
	} else {
		i := bytes.Index(b, []byte(" H="))
		if i < 0 {
			return errNoClient
		}
		h = b[i+1:]
	}
	a, port, rest, err := host(h)
	if err != nil {
		return err
	}
	fields(ev, rest)
	smtp(ev, detect.CategoryEmail, detect.TypeDenied, "SMTP protocol synchronization error")
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// quotedCommand parses "CMD\" H=... REASON" after "SMTP protocol error in
// \"" or "SMTP syntax error in \"".
func (p *Parser) quotedCommand(ev *detect.Event, b []byte, action string) error {
	i := bytes.Index(b, []byte("\" H="))
	if i < 0 {
		return errNoClient
	}
	a, port, rest, err := host(b[i+2:])
	if err != nil {
		return err
	}
	fields(ev, rest)
	smtp(ev, detect.CategoryEmail, detect.TypeInfo, action)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// timeout parses "[TLS ]connection from HOST..." after "SMTP command
// timeout on " or "SMTP data timeout (message abandoned) on ".
func (p *Parser) timeout(ev *detect.Event, b []byte, action string) error {
	b, _ = cut(b, "TLS ")
	b, ok := cut(b, "connection from ")
	if !ok {
		return detect.ErrNotEvent
	}
	return p.simple(ev, b, detect.TypeInfo, action)
}

// simple parses a line that is just a host and an action.
func (p *Parser) simple(ev *detect.Event, b []byte, typ, action string) error {
	a, port, rest, err := host(b)
	if err != nil {
		return err
	}
	fields(ev, rest)
	smtp(ev, detect.CategoryEmail, typ, action)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// badHelo parses "HOST: syntactically invalid argument(s): ARG" after
// "rejected EHLO from ".
func (p *Parser) badHelo(ev *detect.Event, b []byte, action string) error {
	a, port, rest, err := host(b)
	if err != nil {
		return err
	}
	rest = fields(ev, rest)
	smtp(ev, detect.CategoryEmail, detect.TypeDenied, action)
	ev.Source.IP, ev.Source.Port = a, port
	if r, ok := cut(rest, ": "); ok {
		p.reason(ev, r)
	} else if r, ok := cut(rest, ":"); ok {
		p.reason(ev, lex.Trim(r))
	}
	return nil
}

// refused parses "HOST refused: REASON" after "Connection from ".
func (p *Parser) refused(ev *detect.Event, b []byte) error {
	a, port, rest, err := host(b)
	if err != nil {
		return err
	}
	rest = fields(ev, rest)
	r, ok := cut(rest, "refused: ")
	if !ok {
		return detect.ErrNotEvent
	}
	var rule string
	switch {
	case bytes.HasPrefix(r, []byte("too many connections from that IP address")):
		rule = "too many connections from that IP address"
	case bytes.HasPrefix(r, []byte("too many connections")):
		rule = "too many connections"
	default:
		return detect.ErrNotEvent // load average and the like: the server's state
	}
	smtp(ev, detect.CategoryEmail, detect.TypeDenied, "refused")
	ev.Source.IP, ev.Source.Port = a, port
	ev.Rule.Name = rule
	return nil
}

// authFailed parses "HOST[ I=...]: CODE TEXT (set_id=ID)" after "DRIVER
// authenticator failed for ".
func (p *Parser) authFailed(ev *detect.Event, driver, b []byte) error {
	a, port, rest, err := host(b)
	if err != nil {
		return err
	}
	rest = fields(ev, rest)
	r, ok := cut(rest, ": ")
	if !ok {
		r, ok = cut(rest, ":")
		if !ok {
			return errBadLine
		}
	}
	r = lex.Trim(r)
	var code []byte
	if len(r) >= 3 && isDigits(r[:3]) && (len(r) == 3 || r[3] == ' ' || r[3] == '-') {
		code = r[:3]
		if code[0] == '4' {
			return detect.ErrNotEvent // "435 Unable to authenticate at present": the server's trouble
		}
	}
	smtp(ev, detect.CategoryAuthentication, detect.TypeDenied, "authenticator failed")
	ev.Outcome = detect.OutcomeFailure
	ev.Source.IP, ev.Source.Port = a, port
	if code != nil {
		ev.Code = p.names.Bytes(code)
	}
	if authName(driver) {
		ev.Rule.Name = p.names.Bytes(driver)
	}
	if i := bytes.LastIndex(r, []byte("(set_id=")); i >= 0 {
		id := r[i+len("(set_id="):]
		if j := bytes.LastIndexByte(id, ')'); j >= 0 {
			id = id[:j]
			if userName(id) {
				ev.UserName = p.users.Bytes(id)
			}
		}
	}
	return nil
}

// authName reports whether b can be an authenticator's name.
func authName(b []byte) bool {
	if len(b) == 0 || len(b) > 48 {
		return false
	}
	for _, c := range b {
		if !isNameByte(c) {
			return false
		}
	}
	return true
}

// userName reports whether b can be a login name: printable ASCII or
// UTF-8 without spaces, quotes or controls, and not too long.
func userName(b []byte) bool {
	if len(b) == 0 || len(b) > 256 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == '"' || c == '\\' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}

// Package postfix parses the security-relevant lines of the Postfix SMTP
// server (smtpd), its zombie blocker (postscreen) and postscreen's DNSBL
// helper (dnsblog), under the tags postfix/smtpd, postfix/postscreen,
// postfix/dnsblog and their variants (postfix/submission/smtpd,
// postfix/smtps/smtpd, and other instances: postfix-out/smtpd):
//
//	postfix/smtpd[812]: NOQUEUE: reject: RCPT from unknown[203.0.113.5]: 554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; ...
//	postfix/postscreen[9]: PREGREET 11 after 0.12 from [203.0.113.5]:50123: EHLO ylmf-pc\r\n
//
// # Mapping
//
// Rejections ("QUEUEID: reject: CMD from CLIENT: REPLY; from=<..> to=<..>
// proto=.. helo=<..>") are event.category email with event.type denied;
// event.action is the verdict as written: reject, milter-reject, discard,
// milter-discard (denied), reject_warning, warn, hold, milter-hold (info).
// event.code is the SMTP reply code ("554", "450"), which tells a
// temporary refusal from a permanent one. rule.name is the DNSBL zone for
// DNSBL rejections ("zen.spamhaus.org"); otherwise the restriction that
// rejected, as Postfix's fixed phrase: "Recipient address rejected: User
// unknown in local recipient table", "Helo command rejected: Host not
// found", "Relay access denied" (older form), "Client host rejected:
// cannot find your hostname", or just "Sender address rejected" when the
// text after it is the administrator's or a policy service's own. Milter
// and policy texts are never copied.
//
// SASL failures ("warning: CLIENT: SASL LOGIN authentication failed: ...")
// are event.category authentication, outcome failure, type denied, action
// "authentication failed", rule.name the mechanism (upper case), and
// user.name the sasl_username when Postfix logs one. A failure because the
// authentication server is unreachable is not the client's and gives
// ErrNotEvent.
//
// Other smtpd lines: "too many errors after CMD" (smtpd hangs up: denied),
// "non-SMTP command from" (smtpd hangs up: denied), "lost connection after
// CMD", "timeout after CMD" and "improper command pipelining after CMD"
// (info); event.action is the phrase with the SMTP command, as written
// ("lost connection after AUTH"), the signature of SASL guessers and
// spambots.
//
// postscreen's test results (PREGREET, HANGUP, COMMAND PIPELINING,
// NON-SMTP COMMAND, BARE NEWLINE, COMMAND TIME/COUNT/LENGTH LIMIT, DNSBL
// rank, and DENYLISTED/BLACKLISTED and ALLOWLIST/WHITELIST VETO) are email
// events of type info with the result as event.action ("DNSBL" for "DNSBL
// rank N"): whether the client is then dropped depends on the *_action
// settings, and a block shows as the "reject" line that follows. PASS NEW,
// PASS OLD, ALLOWLISTED and WHITELISTED are type allowed: the client was
// handed to smtpd, which lets detection rules tell real mail servers from
// bots. dnsblog's "addr ADDR listed by domain ZONE as ..." is info with
// action "listed" and the zone as rule.name.
//
// source.ip is the client; source.port when Postfix logs it (postscreen
// always, smtpd with smtpd_client_port_logging). The server's own port is
// not in the lines and is left out. network.transport is tcp and
// network.protocol smtp. Connects and disconnects, queue-file lines and
// other routine chatter give ErrNotEvent.
//
// Privacy: envelope addresses (from=, to=), HELO names, the text inside
// <...> and the free text of replies, greetings and commands are content
// and are never copied: rule.name only ever holds a phrase from a fixed
// table, matched in place, or a DNSBL zone that has passed a host-name
// check at its fixed position in the reply.
package postfix

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "postfix"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Postfix smtpd and postscreen: rejects (RBL/DNSBL, relay, unknown user, HELO), SASL failures, postscreen tests",
		New:         func() detect.Parser { return new(Parser) },
		Tags: []string{"postfix/smtpd", "postfix/postscreen", "postfix/dnsblog", "postfix/cleanup",
			"postfix/submission/smtpd", "postfix/smtps/smtpd", "postfix"},
		Sniff: Sniff,
	}
}

// Sniff reports whether rec comes from a Postfix smtpd, postscreen,
// dnsblog or cleanup (which logs milter rejects at end of message): a tag
// that starts with "postfix" (any instance name) and ends with one of
// those daemons.
func Sniff(rec *detect.Record) bool {
	app := rec.App
	if len(app) < 8 || string(app[:7]) != "postfix" || (app[7] != '/' && app[7] != '-') {
		return false
	}
	i := bytes.LastIndexByte(app, '/')
	if i < 0 {
		return false
	}
	switch string(app[i+1:]) {
	case "smtpd", "postscreen", "dnsblog", "cleanup":
		return true
	}
	return false
}

// Parser parses Postfix lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner // rule names, DNSBL zones, mechanisms, actions
	users lex.Interner // SASL user names
}

var (
	errNoClient = errors.New("postfix: no client address")
	errBadLine  = errors.New("postfix: malformed reject line")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := lex.Trim(rec.Msg)
	if len(m) == 0 {
		return detect.ErrNotEvent
	}
	switch m[0] {
	case 'w':
		if b, ok := cut(m, "warning: "); ok {
			return p.warning(ev, b)
		}
	case 'l':
		if b, ok := cut(m, "lost connection after "); ok {
			return p.after(ev, b, "lost connection after ", detect.TypeInfo)
		}
	case 't':
		if b, ok := cut(m, "too many errors after "); ok {
			return p.after(ev, b, "too many errors after ", detect.TypeDenied)
		}
		if b, ok := cut(m, "timeout after "); ok {
			return p.after(ev, b, "timeout after ", detect.TypeInfo)
		}
	case 'i':
		if b, ok := cut(m, "improper command pipelining after "); ok {
			return p.after(ev, b, "improper command pipelining after ", detect.TypeInfo)
		}
	case 'a':
		if b, ok := cut(m, "addr "); ok {
			return p.listed(ev, b)
		}
	case 'c', 'd':
		return detect.ErrNotEvent // connect from, disconnect from
	}
	if ok, err := p.postscreen(ev, m); ok {
		return err
	}
	return p.whatsup(ev, m)
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):], true
	}
	return b, false
}

func common(ev *detect.Event) {
	ev.Observer.Vendor = "Postfix"
	ev.Observer.Product = "Postfix"
	ev.Network.Transport = detect.TransportTCP
	ev.Network.Protocol = "smtp"
}

func email(ev *detect.Event, typ, action string) {
	common(ev)
	ev.Category = detect.CategoryEmail
	ev.Type = typ
	ev.Action = action
}

// client parses "NAME[ADDR]", "NAME[ADDR]:PORT" or "[ADDR]:PORT" at the
// start of b and returns what follows. ADDR may carry an "IPv6:" prefix.
func client(b []byte) (a netip.Addr, port uint16, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '[')
	if i < 0 || i > 255 || bytes.IndexByte(b[:i], ' ') >= 0 {
		return netip.Addr{}, 0, nil, false
	}
	j := bytes.IndexByte(b[i:], ']')
	if j < 0 {
		return netip.Addr{}, 0, nil, false
	}
	addr := b[i+1 : i+j]
	if lex.HasPrefixFold(addr, "ipv6:") {
		addr = addr[5:]
	}
	if a, ok = lex.Addr(addr); !ok {
		return netip.Addr{}, 0, nil, false
	}
	rest = b[i+j+1:]
	if len(rest) > 1 && rest[0] == ':' && rest[1] >= '0' && rest[1] <= '9' {
		k := 1
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		port, _ = lex.Port(rest[1:k])
		rest = rest[k:]
	}
	return a, port, rest, true
}

// fromClient finds " from " or "from " at the start of b and parses the
// client after it.
func fromClient(b []byte) (netip.Addr, uint16, []byte, bool) {
	if r, ok := cut(b, "from "); ok {
		return client(r)
	}
	i := bytes.Index(b, []byte(" from "))
	if i < 0 {
		return netip.Addr{}, 0, nil, false
	}
	return client(b[i+len(" from "):])
}

// command returns the SMTP command word at the start of b ("AUTH",
// "END-OF-MESSAGE"), or nil if b does not start with one.
func command(b []byte) []byte {
	i := 0
	for i < len(b) && i < 20 && (b[i] >= 'A' && b[i] <= 'Z' || b[i] == '-') {
		i++
	}
	if i == 0 || (i < len(b) && b[i] != ' ') {
		return nil
	}
	return b[:i]
}

// after parses "CMD[ (N bytes)] from CLIENT[: ...]" after one of smtpd's
// "lost connection after " phrases; the action is the phrase and the
// command.
func (p *Parser) after(ev *detect.Event, b []byte, phrase, typ string) error {
	cmd := command(b)
	a, port, _, ok := fromClient(b)
	if !ok {
		return errNoClient
	}
	var buf [64]byte
	act := append(buf[:0], phrase...)
	if cmd != nil {
		act = append(act, cmd...)
	} else {
		act = act[:len(act)-len(" after ")]
	}
	email(ev, typ, p.names.Bytes(act))
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// warning parses smtpd's "warning: " lines: SASL failures and non-SMTP
// commands.
func (p *Parser) warning(ev *detect.Event, b []byte) error {
	if r, ok := cut(b, "non-SMTP command from "); ok {
		a, port, _, ok := client(r)
		if !ok {
			return errNoClient
		}
		email(ev, detect.TypeDenied, "non-SMTP command")
		ev.Source.IP, ev.Source.Port = a, port
		return nil
	}
	a, port, rest, ok := client(b)
	if !ok {
		return detect.ErrNotEvent // "warning: hostname x does not resolve ...", etc.
	}
	rest, ok = cut(rest, ": SASL ")
	if !ok {
		return detect.ErrNotEvent
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || sp > 32 {
		return detect.ErrNotEvent
	}
	mech := rest[:sp]
	reason, ok := cut(rest[sp:], " authentication failed")
	if !ok {
		return detect.ErrNotEvent
	}
	reason, _ = cut(reason, ":")
	reason = lex.Trim(reason)
	if bytes.HasPrefix(reason, []byte("Connection lost to authentication server")) {
		return detect.ErrNotEvent // the server's trouble, not the client's attempt
	}
	var buf [32]byte
	up := buf[:0]
	for _, c := range mech {
		switch {
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return detect.ErrNotEvent
		}
		up = append(up, c)
	}
	common(ev)
	ev.Category = detect.CategoryAuthentication
	ev.Type = detect.TypeDenied
	ev.Outcome = detect.OutcomeFailure
	ev.Action = "authentication failed"
	ev.Rule.Name = p.names.Bytes(up)
	ev.Source.IP, ev.Source.Port = a, port
	if i := bytes.LastIndex(reason, []byte("sasl_username=")); i >= 0 {
		if u := lex.Trim(reason[i+len("sasl_username="):]); len(u) > 0 && string(u) != "(unavailable)" {
			ev.UserName = p.users.Bytes(u)
		}
	}
	return nil
}

// listed parses dnsblog's "ADDR listed by domain ZONE as RESULT" after
// "addr ".
func (p *Parser) listed(ev *detect.Event, b []byte) error {
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return detect.ErrNotEvent
	}
	rest, ok := cut(b[sp:], " listed by domain ")
	if !ok {
		return detect.ErrNotEvent
	}
	a, ok := lex.Addr(b[:sp])
	if !ok {
		return errNoClient
	}
	email(ev, detect.TypeInfo, "listed")
	ev.Source.IP = a
	if zone := dnsName(rest); zone != nil {
		ev.Rule.Name = p.names.Bytes(zone)
	}
	return nil
}

// dnsName returns the host name at the start of b, ended by the end, a
// space, ';', ',' or '=' (postscreen's "zone=127.0.0.2" filter), or nil if
// it is not one.
func dnsName(b []byte) []byte {
	i, dot := 0, false
	for i < len(b) && i <= 253 {
		c := b[i]
		if c == '.' {
			dot = true
		} else if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			break
		}
		i++
	}
	if i == 0 || i > 253 || !dot {
		return nil
	}
	if i < len(b) && b[i] != ' ' && b[i] != ';' && b[i] != ',' && b[i] != '=' {
		return nil
	}
	return bytes.TrimRight(b[:i], ".")
}

// psVerdict is one postscreen result: its word, whether the client address
// follows " from " (else it follows the word), and event.type.
type psVerdict struct {
	word, action string
	from         bool
	typ          string
}

var psVerdicts = [...]psVerdict{
	{"PREGREET ", "PREGREET", true, detect.TypeInfo},
	{"HANGUP ", "HANGUP", true, detect.TypeInfo},
	{"COMMAND PIPELINING ", "COMMAND PIPELINING", true, detect.TypeInfo},
	{"NON-SMTP COMMAND ", "NON-SMTP COMMAND", true, detect.TypeInfo},
	{"BARE NEWLINE ", "BARE NEWLINE", true, detect.TypeInfo},
	{"COMMAND TIME LIMIT ", "COMMAND TIME LIMIT", true, detect.TypeInfo},
	{"COMMAND COUNT LIMIT ", "COMMAND COUNT LIMIT", true, detect.TypeInfo},
	{"COMMAND LENGTH LIMIT ", "COMMAND LENGTH LIMIT", true, detect.TypeInfo},
	{"DNSBL rank ", "DNSBL", false, detect.TypeInfo},
	{"PASS NEW ", "PASS NEW", false, detect.TypeAllowed},
	{"PASS OLD ", "PASS OLD", false, detect.TypeAllowed},
	{"ALLOWLISTED ", "ALLOWLISTED", false, detect.TypeAllowed},
	{"WHITELISTED ", "WHITELISTED", false, detect.TypeAllowed},
	{"DENYLISTED ", "DENYLISTED", false, detect.TypeInfo},
	{"BLACKLISTED ", "BLACKLISTED", false, detect.TypeInfo},
	{"ALLOWLIST VETO ", "ALLOWLIST VETO", false, detect.TypeInfo},
	{"WHITELIST VETO ", "WHITELIST VETO", false, detect.TypeInfo},
}

// postscreen parses postscreen's upper-case results. It reports false for
// lines that are not one.
func (p *Parser) postscreen(ev *detect.Event, m []byte) (bool, error) {
	c := m[0]
	if c < 'A' || c > 'Z' || (len(m) > 1 && (m[1] < 'A' || m[1] > 'Z')) {
		return false, nil
	}
	switch {
	case bytes.HasPrefix(m, []byte("CONNECT from ")), bytes.HasPrefix(m, []byte("DISCONNECT ")):
		return true, detect.ErrNotEvent
	}
	for i := range psVerdicts {
		v := &psVerdicts[i]
		if v.word[0] != c {
			continue
		}
		rest, ok := cut(m, v.word)
		if !ok {
			continue
		}
		var a netip.Addr
		var port uint16
		if v.from {
			a, port, _, ok = fromClient(rest)
		} else {
			if v.action == "DNSBL" { // "DNSBL rank 3 for [ADDR]:PORT"
				if j := bytes.Index(rest, []byte(" for ")); j >= 0 {
					rest = rest[j+len(" for "):]
				}
			}
			a, port, _, ok = client(rest)
		}
		if !ok {
			return true, errNoClient
		}
		email(ev, v.typ, v.action)
		ev.Source.IP, ev.Source.Port = a, port
		return true, nil
	}
	return false, nil
}

// Verdicts of "QUEUEID: VERDICT: CMD from CLIENT: REPLY".
func verdict(b []byte) (action, typ string) {
	switch string(b) {
	case "reject":
		return "reject", detect.TypeDenied
	case "milter-reject":
		return "milter-reject", detect.TypeDenied
	case "discard":
		return "discard", detect.TypeDenied
	case "milter-discard":
		return "milter-discard", detect.TypeDenied
	case "reject_warning":
		return "reject_warning", detect.TypeInfo
	case "warn":
		return "warn", detect.TypeInfo
	case "hold":
		return "hold", detect.TypeInfo
	case "milter-hold":
		return "milter-hold", detect.TypeInfo
	}
	return "", ""
}

// whatsup parses smtpd's and postscreen's "QUEUEID: VERDICT: CMD from
// CLIENT: REPLY; from=<...> ...".
func (p *Parser) whatsup(ev *detect.Event, m []byte) error {
	i := bytes.IndexByte(m, ':')
	if i <= 0 || !queueID(m[:i]) || i+2 >= len(m) || m[i+1] != ' ' {
		return detect.ErrNotEvent
	}
	rest := m[i+2:]
	j := bytes.IndexByte(rest, ':')
	if j <= 0 || j > 16 {
		return detect.ErrNotEvent // "4F9D195432C: client=...", "...: message-id=<...>"
	}
	action, typ := verdict(rest[:j])
	if action == "" {
		return detect.ErrNotEvent
	}
	rest = rest[j+1:]
	rest, ok := cut(rest, " ")
	if !ok || command(rest) == nil {
		if bytes.HasPrefix(rest, []byte("header ")) || bytes.HasPrefix(rest, []byte("body ")) {
			// cleanup's header_checks and body_checks: the quoted header
			// comes before the client and may forge one.
			return detect.ErrNotEvent
		}
		return errBadLine
	}
	a, port, after, ok := fromClient(rest)
	if !ok {
		return errNoClient
	}
	email(ev, typ, action)
	ev.Source.IP, ev.Source.Port = a, port
	if r, ok := cut(after, ": "); ok {
		p.reply(ev, r)
	}
	return nil
}

// queueID reports whether b is NOQUEUE or a Postfix queue ID (short hex
// or long base-52 form).
func queueID(b []byte) bool {
	if string(b) == "NOQUEUE" {
		return true
	}
	if len(b) < 5 || len(b) > 24 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// reply reads the SMTP reply code and the restriction from a reply text.
func (p *Parser) reply(ev *detect.Event, r []byte) {
	if len(r) >= 4 && r[0] >= '2' && r[0] <= '5' && isDigit(r[1]) && isDigit(r[2]) && r[3] == ' ' {
		ev.Code = p.names.Bytes(r[:3])
		r = r[4:]
	}
	// Enhanced status code: "5.7.1 ".
	if len(r) >= 6 && r[0] >= '2' && r[0] <= '5' && r[1] == '.' {
		if sp := bytes.IndexByte(r, ' '); sp > 0 && sp <= 12 {
			r = r[sp+1:]
		}
	}
	if rest, ok := cut(r, "Service unavailable; "); ok {
		if zone := dnsblZone(rest); zone != nil {
			ev.Rule.Name = p.names.Bytes(zone)
			return
		}
	}
	// The restriction phrase follows "<ADDRESS>: " or starts the text; an
	// address may itself hold ">: ", so try a few.
	t := r
	for n := 0; n < 4; n++ {
		if name := restriction(t); name != nil {
			ev.Rule.Name = p.names.Bytes(name)
			return
		}
		if len(r) == 0 || r[0] != '<' {
			return
		}
		k := bytes.Index(t, []byte(">: "))
		if k < 0 {
			return
		}
		t = t[k+3:]
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// The classes of smtpd_check.c's "%s rejected: %s".
var classes = [...]string{
	"Client host", "Unverified Client host", "Client certificate", "SASL login name",
	"Helo command", "Sender address", "Recipient address", "Etrn domain",
	"Data command", "End-of-data",
}

// Fixed details after "CLASS rejected: ", from Postfix's built-in
// restrictions.
var details = [...]string{
	"Relay access denied", "Access denied", "Host not found", "Domain not found",
	"Malformed DNS server reply", "need fully-qualified hostname",
	"need fully-qualified address", "Invalid name", "cannot find your hostname",
	"cannot find your reverse hostname", "not logged in",
	"User unknown in local recipient table", "User unknown in virtual mailbox table",
	"User unknown in virtual alias table", "User unknown in relay recipient table",
	"User unknown", "Improper use of SMTP command pipelining", "Multi-recipient bounce",
	"Message size exceeds fixed limit",
}

// Fixed replies that are a restriction on their own.
var standalone = [...]string{
	"Relay access denied", "Protocol error", "Service currently unavailable",
	"too many connections", "all server ports busy", "Error: too many recipients",
	"Error: no valid recipients", "Message size exceeds fixed limit",
	"Improper use of SMTP command pipelining", "Server configuration error",
	"Insufficient system storage",
}

// restriction returns the restriction phrase at the start of t, as
// written there, when it is one of Postfix's fixed phrases.
func restriction(t []byte) []byte {
	if len(t) == 0 {
		return nil
	}
	for _, c := range classes {
		if c[0] != t[0] {
			continue
		}
		r, ok := cut(t, c)
		if !ok {
			continue
		}
		r, ok = cut(r, " rejected")
		if !ok {
			continue
		}
		n := len(c) + len(" rejected")
		if d, ok := cut(r, ": "); ok {
			for _, s := range details {
				if phrase(d, s) {
					return t[:n+2+len(s)]
				}
			}
		}
		return t[:n]
	}
	for _, s := range standalone {
		if s[0] == t[0] && phrase(t, s) {
			return t[:len(s)]
		}
	}
	return nil
}

// phrase reports whether b starts with s followed by the end, ';', ',' or
// '.'.
func phrase(b []byte, s string) bool {
	if len(b) < len(s) || string(b[:len(s)]) != s {
		return false
	}
	if len(b) == len(s) {
		return true
	}
	switch b[len(s)] {
	case ';', ',', '.':
		return true
	}
	return false
}

// dnsblZone reads "CLASS [WHAT] blocked using ZONE" after "Service
// unavailable; " and returns ZONE, or nil.
func dnsblZone(b []byte) []byte {
	var what []byte
	for _, c := range [...]string{"Client host [", "client [", "Unverified Client host [",
		"Reverse client host [", "Helo command [", "Sender address [", "Recipient address ["} {
		if r, ok := cut(b, c); ok {
			what = r
			break
		}
	}
	if what == nil {
		return nil
	}
	i := bytes.Index(what, []byte("] blocked using "))
	if i < 0 {
		return nil
	}
	return dnsName(what[i+len("] blocked using "):])
}

var _ detect.Parser = (*Parser)(nil)

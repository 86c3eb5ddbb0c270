// Package openssh parses the authentication log of the OpenSSH server,
// written under the syslog tags sshd, sshd-session (OpenSSH 9.8 and later
// run each connection in a separate sshd-session process) and sshd-auth
// (OpenSSH 10), with or without a PID:
//
//	sshd[812]: Failed password for invalid user admin from 203.0.113.5 port 50022 ssh2
//	sshd-session[9]: Connection closed by authenticating user root 2001:db8::5 port 40022 [preauth]
//
// # Mapping
//
// Lines that report a decision about a user, or an attempt to log in, are
// event.category authentication: failures have event.outcome failure and
// event.type denied, successes ("Accepted") success and allowed.
//
// Pre-authentication probes, where no credential was tried (no
// identification string, bad protocol version, no common key exchange
// method, banner exchange errors, login grace time expired, a connection
// closed, reset or disconnected before a user name was sent), are
// event.category network with event.type denied and no outcome. A banner
// grabber or port scanner is not a password guesser: counting its
// connections as authentication failures would make a scan look like a
// brute-force attack and inflate brute-force thresholds, while as denied
// network events they still feed the scan and probe rules keyed on
// source.ip. "Received disconnect" carries the SSH disconnect reason code
// (e.g. "11", "14") in event.code.
//
// event.action is the fixed phrase that starts the vendor's message, as
// written, with the variable parts left out: "Failed", "Accepted",
// "Invalid user", "Illegal user", "not allowed", "ROOT LOGIN REFUSED",
// "maximum authentication attempts exceeded", "Disconnecting",
// "Connection closed", "Connection reset", "Disconnected",
// "Received disconnect", "more authentication failures" (PAM's "PAM 2 more
// authentication failures"), "authentication failure" (pam_unix and other
// PAM modules), "Authentication failure" / "authentication error" ("PAM:"
// lines), "Did not receive identification string", "Bad protocol version
// identification", "Unable to negotiate", "banner exchange",
// "Timeout before authentication" and "refused connect" (TCP wrappers).
//
// rule.name is the authentication method for "Failed" and "Accepted" lines
// (password, publickey, keyboard-interactive/pam, gssapi-with-mic,
// hostbased, none), and the sshd_config directive that refused the user for
// "not allowed" lines (AllowUsers, DenyUsers, AllowGroups, DenyGroups).
// source.ip and source.port are the client's; the destination is not in
// the lines and is left out. network.transport is tcp and network.protocol
// ssh. The key fingerprint, the client's identification string, its
// algorithm offer and its disconnect message are never copied.
//
// Every event carries source.ip. Lines without the client's address
// ("kex_exchange_identification: ...", "kex_protocol_error: ...",
// "Disconnecting: Too many authentication failures for root", PAM lines
// naming a host name instead of an address) give ErrNotEvent: sshd logs a
// companion line with the address for the same connection ("Connection
// closed by 192.0.2.1 port 4022", "Failed password for invalid user ..."),
// so the attempt is counted once, from the line that can be attributed.
// Routine lines (sessions opened and closed, "Postponed" and "Partial"
// authentication, the listener starting, signals, and disconnects after a
// session: "Disconnected from user alice ...", and "Received disconnect" or
// "Disconnected from ADDR" without " [preauth]") give ErrNotEvent too. A
// bare "Connection closed by ADDR" or "Connection reset by ADDR" is a probe
// with or without " [preauth]": after a session sshd names the user, and
// since OpenSSH 8 the kex_exchange_identification failures are followed by
// that line without the suffix.
//
// User names are attacker-chosen and may hold spaces, "from 10.0.0.1 port
// 1 ssh2" or nothing at all. Where the name comes before "from ADDRESS",
// the address is the first well-formed "from ADDRESS port N ssh2" for a
// valid user (a real account name); for an invalid user it is the one that
// ends the line, as no text follows the address in these lines, except in
// publickey and hostbased lines, where it is the one followed by the key
// ("ssh2: RSA SHA256:..."). Forms with the address last are parsed from
// the right. User names are interned: names seen again (a dictionary
// attack repeats root, admin, test) cost nothing, and a new name costs one
// allocation.
package openssh

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "sshd"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "OpenSSH server (sshd, sshd-session, sshd-auth): failed and accepted logins, invalid users, PAM failures, pre-auth probes",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"sshd", "sshd-session", "sshd-auth"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec comes from the OpenSSH server: its syslog tag,
// or the last element of a path tag ("/usr/sbin/sshd"), is sshd,
// sshd-session or sshd-auth.
func Sniff(rec *detect.Record) bool {
	app := rec.App
	if i := bytes.LastIndexByte(app, '/'); i >= 0 {
		app = app[i+1:]
	}
	switch string(app) {
	case "sshd", "sshd-session", "sshd-auth":
		return true
	}
	return false
}

// Parser parses OpenSSH server lines. Not safe for concurrent use.
type Parser struct {
	users lex.Interner // user names
	words lex.Interner // authentication methods
}

var (
	errNoAddr    = errors.New("sshd: no client address")
	errBadFormat = errors.New("sshd: unexpected text before the client address")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := lex.Trim(rec.Msg)
	// Solaris: "[ID 800047 auth.info] Failed ..."
	if bytes.HasPrefix(m, []byte("[ID ")) {
		if i := bytes.IndexByte(m, ']'); i > 0 {
			m = lex.Trim(m[i+1:])
		}
	}
	for {
		if b, ok := cut(m, "error: "); ok {
			m = b
		} else if b, ok := cut(m, "fatal: "); ok {
			m = b
		} else {
			break
		}
	}
	preauth := false
	if bytes.HasSuffix(m, []byte("[preauth]")) {
		preauth = true
		m = lex.Trim(m[:len(m)-len("[preauth]")])
	}
	if len(m) == 0 {
		return detect.ErrNotEvent
	}
	switch m[0] {
	case 'F':
		if b, ok := cut(m, "Failed "); ok {
			return p.authLog(ev, b, "Failed", false)
		}
	case 'A':
		if b, ok := cut(m, "Accepted "); ok {
			return p.authLog(ev, b, "Accepted", true)
		}
	case 'I':
		if b, ok := cut(m, "Invalid user "); ok {
			return p.userFrom(ev, b, "Invalid user", true)
		}
		if b, ok := cut(m, "Illegal user "); ok {
			return p.userFrom(ev, b, "Illegal user", true)
		}
	case 'm':
		if b, ok := cut(m, "maximum authentication attempts exceeded for "); ok {
			b, invalid := cut(b, "invalid user ")
			return p.userFrom(ev, b, "maximum authentication attempts exceeded", invalid)
		}
	case 'C':
		if b, ok := cut(m, "Connection closed by "); ok {
			return p.closed(ev, b, "Connection closed", true)
		}
		if b, ok := cut(m, "Connection reset by "); ok {
			return p.closed(ev, b, "Connection reset", true)
		}
	case 'D':
		if b, ok := cut(m, "Disconnected from "); ok {
			return p.closed(ev, b, "Disconnected", preauth)
		}
		if b, ok := cut(m, "Disconnecting "); ok {
			return p.disconnecting(ev, b)
		}
		if b, ok := cut(m, "Did not receive identification string from "); ok {
			return probeHead(ev, b, "Did not receive identification string")
		}
	case 'R':
		if b, ok := cut(m, "Received disconnect from "); ok {
			if !preauth {
				return detect.ErrNotEvent // the client logging out after a session
			}
			return receivedDisconnect(ev, b)
		}
		if b, ok := cut(m, "ROOT LOGIN REFUSED FROM "); ok {
			a, port, ok := headAddr(b)
			if !ok {
				return errNoAddr
			}
			authFailure(ev, "ROOT LOGIN REFUSED")
			ev.UserName = "root"
			ev.Source.IP, ev.Source.Port = a, port
			return nil
		}
	case 'U':
		if b, ok := cut(m, "User "); ok {
			return p.notAllowed(ev, b)
		}
		if b, ok := cut(m, "Unable to negotiate with "); ok {
			return probeHead(ev, b, "Unable to negotiate")
		}
	case 'B':
		if b, ok := cut(m, "Bad protocol version identification "); ok {
			_, a, port, ok := splitFrom(b, fromLast, false)
			if !ok {
				return errNoAddr
			}
			probe(ev, "Bad protocol version identification")
			ev.Source.IP, ev.Source.Port = a, port
			return nil
		}
	case 'b':
		if b, ok := cut(m, "banner exchange: Connection from "); ok {
			return probeHead(ev, b, "banner exchange")
		}
	case 'T':
		if b, ok := cut(m, "Timeout before authentication for "); ok {
			return probeHead(ev, b, "Timeout before authentication")
		}
	case 'P':
		if b, ok := cut(m, "PAM: "); ok {
			return p.pamColon(ev, b)
		}
		if b, ok := cut(m, "PAM "); ok {
			return p.pamMore(ev, b)
		}
	case 'p':
		if bytes.HasPrefix(m, []byte("pam_")) {
			return p.pamModule(ev, m)
		}
	case 'r':
		if b, ok := cut(m, "refused connect from "); ok {
			return refusedConnect(ev, b)
		}
	}
	if truncated(m) {
		return errNoAddr
	}
	return detect.ErrNotEvent
}

// prefixes are the message starts that must be followed by an address.
var prefixes = [...]string{
	"Failed ", "Accepted ", "Invalid user ", "Illegal user ", "Connection closed by ",
	"Connection reset by ", "Disconnected from ", "Received disconnect from ",
	"Did not receive identification string from ", "ROOT LOGIN REFUSED FROM ",
	"Unable to negotiate with ", "banner exchange: Connection from ",
	"Timeout before authentication for ", "maximum authentication attempts exceeded for ",
}

// truncated reports whether m is one of prefixes cut short before its
// address, as a truncated line is.
func truncated(m []byte) bool {
	for _, p := range prefixes {
		if len(m) < len(p) && string(m) == p[:len(m)] && len(m) >= len(p)-1 {
			return true
		}
	}
	return false
}

func cut(b []byte, prefix string) ([]byte, bool) {
	if len(b) >= len(prefix) && string(b[:len(prefix)]) == prefix {
		return b[len(prefix):], true
	}
	return b, false
}

func common(ev *detect.Event) {
	ev.Observer.Vendor = "OpenBSD"
	ev.Observer.Product = "OpenSSH"
	ev.Network.Transport = detect.TransportTCP
	ev.Network.Protocol = "ssh"
}

func authFailure(ev *detect.Event, action string) {
	common(ev)
	ev.Category = detect.CategoryAuthentication
	ev.Type = detect.TypeDenied
	ev.Outcome = detect.OutcomeFailure
	ev.Action = action
}

func probe(ev *detect.Event, action string) {
	common(ev)
	ev.Category = detect.CategoryNetwork
	ev.Type = detect.TypeDenied
	ev.Action = action
}

// setUser stores a user name, interned; placeholders are left out.
func (p *Parser) setUser(ev *detect.Event, u []byte) {
	if len(u) == 0 || string(u) == "<invalid username>" {
		return
	}
	ev.UserName = p.users.Bytes(u)
}

// authLog parses auth_log's "METHOD for [invalid user ]USER from ADDR port
// N ssh2[: INFO]", after "Failed " or "Accepted ".
func (p *Parser) authLog(ev *detect.Event, b []byte, action string, ok bool) error {
	sp := bytes.Index(b, []byte(" for "))
	if sp <= 0 || sp > 64 {
		return errors.New("sshd: " + action + ": no authentication method")
	}
	method := b[:sp]
	if !isMethod(method) {
		return errors.New("sshd: " + action + ": bad authentication method")
	}
	rest, invalid := cut(b[sp+5:], "invalid user ")
	mode := fromFirst
	if invalid {
		mode = fromLast
		if bytes.Contains(method, []byte("publickey")) || bytes.Contains(method, []byte("hostbased")) {
			mode = fromKeyInfo
		}
	}
	user, a, port, found := splitFrom(rest, mode, false)
	if !found {
		return errNoAddr
	}
	if ok {
		common(ev)
		ev.Category = detect.CategoryAuthentication
		ev.Type = detect.TypeAllowed
		ev.Outcome = detect.OutcomeSuccess
		ev.Action = action
	} else {
		authFailure(ev, action)
	}
	ev.Rule.Name = p.words.Bytes(method)
	p.setUser(ev, user)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// isMethod reports whether b looks like an SSH authentication method name,
// with an optional "/submethod".
func isMethod(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '/' || c == '@' || c == '.' || c == '_') {
			return false
		}
	}
	return len(b) > 0
}

// userFrom parses "USER from ADDR[ port N][ ssh2]" as an authentication
// failure.
func (p *Parser) userFrom(ev *detect.Event, b []byte, action string, invalid bool) error {
	mode := fromFirst
	if invalid {
		mode = fromLast
	}
	user, a, port, ok := splitFrom(b, mode, false)
	if !ok {
		return errNoAddr
	}
	authFailure(ev, action)
	p.setUser(ev, user)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

var sepFrom = []byte(" from ")

// How splitFrom picks among several " from ADDR" in a line.
type fromMode uint8

const (
	// fromFirst: the first " from ADDR" with a well-formed tail. For real
	// account names, which hold no " from ".
	fromFirst fromMode = iota
	// fromLast: the last " from ADDR" that ends the line, else the last
	// with a well-formed tail. For attacker-chosen names in lines with no
	// text after the address: whatever the name holds comes before it.
	fromLast
	// fromKeyInfo: the first " from ADDR ...: KEYTYPE FINGERPRINT", else
	// as fromLast. For attacker-chosen names in publickey and hostbased
	// lines, whose key information (a certificate ID, a hostbased client
	// user) may hold attacker text too.
	fromKeyInfo
)

// splitFrom splits "USER from ADDR[ port N][ sshN][: INFO]" at the
// " from " that mode picks. With via set, the tail may also go on with
// " via HOST" (PAM).
func splitFrom(b []byte, mode fromMode, via bool) (user []byte, a netip.Addr, port uint16, ok bool) {
	var (
		lastUser, endUser []byte
		lastA, endA       netip.Addr
		lastP, endP       uint16
		haveLast, haveEnd bool
	)
	try := func(i int) bool {
		t := b[i:]
		if i > 0 || bytes.HasPrefix(t, sepFrom) {
			t = t[len(sepFrom):]
		} else {
			t = t[len("from "):] // an empty user name at the start
		}
		ta, tp, rest, good := fromTail(t, via)
		if !good {
			return false
		}
		switch mode {
		case fromFirst:
			user, a, port, ok = b[:i], ta, tp, true
			return true
		case fromKeyInfo:
			if isKeyInfo(rest) {
				user, a, port, ok = b[:i], ta, tp, true
				return true
			}
		}
		lastUser, lastA, lastP, haveLast = b[:i], ta, tp, true
		if len(rest) == 0 {
			endUser, endA, endP, haveEnd = b[:i], ta, tp, true
		}
		return false
	}
	if bytes.HasPrefix(b, []byte("from ")) && try(0) {
		return
	}
	off := 0
	for off < len(b) {
		i := bytes.Index(b[off:], sepFrom)
		if i < 0 {
			break
		}
		i += off
		if try(i) {
			return
		}
		off = i + 1
	}
	switch {
	case haveEnd:
		return endUser, endA, endP, true
	case haveLast:
		return lastUser, lastA, lastP, true
	}
	return nil, netip.Addr{}, 0, false
}

// fromTail parses "ADDR[ port N][ sshN]" followed by the end, ": INFO" or
// (with via) " via HOST", and returns what follows the address.
func fromTail(b []byte, via bool) (netip.Addr, uint16, []byte, bool) {
	j := bytes.IndexByte(b, ' ')
	host := b
	rest := []byte(nil)
	if j >= 0 {
		host, rest = b[:j], b[j:]
	}
	a, ok := lex.Addr(host)
	if !ok {
		return netip.Addr{}, 0, nil, false
	}
	var port uint16
	if r, found := cut(rest, " port "); found {
		k := 0
		for k < len(r) && r[k] >= '0' && r[k] <= '9' {
			k++
		}
		port, _ = lex.Port(r[:k])
		rest = r[k:]
	}
	if r, found := cut(rest, " ssh"); found && len(r) > 0 && r[0] >= '0' && r[0] <= '9' {
		rest = r[1:]
	}
	switch {
	case len(rest) == 0:
	case rest[0] == ':':
	case via && bytes.HasPrefix(rest, []byte(" via ")):
	default:
		return netip.Addr{}, 0, nil, false
	}
	return a, port, rest, true
}

// isKeyInfo reports whether b is ": KEYTYPE FINGERPRINT" followed by the
// end, ", client user ..." (hostbased) or " ID ..." (certificate), as
// auth_log writes the key of a publickey or hostbased attempt.
func isKeyInfo(b []byte) bool {
	b, ok := cut(b, ": ")
	if !ok {
		return false
	}
	i := 0
	for i < len(b) && (b[i] >= 'A' && b[i] <= 'Z' || b[i] >= '0' && b[i] <= '9' || b[i] == '-') {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return false
	}
	fp := b[i+1:]
	switch {
	case bytes.HasPrefix(fp, []byte("SHA256:")), bytes.HasPrefix(fp, []byte("MD5:")):
	case len(fp) > 2 && isHex(fp[0]) && isHex(fp[1]) && fp[2] == ':':
	default:
		return false
	}
	j := 0
	for j < len(fp) && fp[j] != ' ' && fp[j] != ',' {
		j++
	}
	rest := fp[j:]
	return len(rest) == 0 || rest[0] == ',' || bytes.HasPrefix(rest, []byte(" ID "))
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// headAddr parses "ADDR[ port N]" at the start of b, followed by the end, a
// colon or a space.
func headAddr(b []byte) (netip.Addr, uint16, bool) {
	j := bytes.IndexByte(b, ' ')
	host, rest := b, []byte(nil)
	if j >= 0 {
		host, rest = b[:j], b[j+1:]
	}
	a, ok := lex.Addr(host)
	if !ok && len(host) > 0 && host[len(host)-1] == ':' {
		a, ok = lex.Addr(host[:len(host)-1]) // "192.0.2.1: 11: Bye"
	}
	if !ok {
		return netip.Addr{}, 0, false
	}
	var port uint16
	if r, found := cut(rest, "port "); found {
		k := 0
		for k < len(r) && r[k] >= '0' && r[k] <= '9' {
			k++
		}
		port, _ = lex.Port(r[:k])
	}
	return a, port, true
}

// tailAddr parses "HEAD ADDR[ port N]" from the right, returning HEAD
// (without its space; nil when there is none).
func tailAddr(b []byte) (head []byte, hasHead bool, a netip.Addr, port uint16, ok bool) {
	if i := bytes.LastIndex(b, []byte(" port ")); i >= 0 {
		if pt, good := lex.Port(b[i+6:]); good {
			port = pt
			b = b[:i]
		}
	}
	j := bytes.LastIndexByte(b, ' ')
	a, ok = lex.Addr(b[j+1:])
	if !ok {
		return nil, false, netip.Addr{}, 0, false
	}
	if j < 0 {
		return nil, false, a, port, true
	}
	return b[:j], true, a, port, true
}

// closed parses "[invalid user USER |authenticating user USER |user USER
// ]ADDR[ port N]" after "Connection closed by ", "Connection reset by " or
// "Disconnected from ". Without a user it is a pre-authentication probe
// when bare is set; after a session ("user USER") it is routine.
func (p *Parser) closed(ev *detect.Event, b []byte, action string, bare bool) error {
	head, hasHead, a, port, ok := tailAddr(b)
	if !ok {
		return errNoAddr
	}
	if !hasHead {
		if !bare {
			return detect.ErrNotEvent
		}
		probe(ev, action)
		ev.Source.IP, ev.Source.Port = a, port
		return nil
	}
	user, ok := cut(head, "invalid user ")
	if !ok {
		user, ok = cut(head, "authenticating user ")
	}
	if !ok {
		if _, after := cut(head, "user "); after {
			return detect.ErrNotEvent
		}
		return errBadFormat
	}
	authFailure(ev, action)
	p.setUser(ev, user)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// disconnecting parses "[invalid user USER |authenticating user USER ]ADDR
// port N: Too many authentication failures". Other reasons name users on
// both sides of the address and are not parsed.
func (p *Parser) disconnecting(ev *detect.Event, b []byte) error {
	const reason = ": Too many authentication failures"
	if !bytes.HasSuffix(b, []byte(reason)) {
		return detect.ErrNotEvent
	}
	b = b[:len(b)-len(reason)]
	head, hasHead, a, port, ok := tailAddr(b)
	if !ok {
		return detect.ErrNotEvent // the old form without an address
	}
	authFailure(ev, "Disconnecting")
	if hasHead {
		user, ok := cut(head, "invalid user ")
		if !ok {
			user, ok = cut(head, "authenticating user ")
		}
		if !ok {
			return errBadFormat
		}
		p.setUser(ev, user)
	}
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// probeHead parses "ADDR[ port N]..." as a pre-authentication probe.
func probeHead(ev *detect.Event, b []byte, action string) error {
	a, port, ok := headAddr(b)
	if !ok {
		return errNoAddr
	}
	probe(ev, action)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// receivedDisconnect parses "ADDR port N:CODE: TEXT" or the older
// "ADDR: CODE: TEXT"; the code goes to event.code, the text is the
// client's and is not copied.
func receivedDisconnect(ev *detect.Event, b []byte) error {
	a, port, ok := headAddr(b)
	if !ok {
		return errNoAddr
	}
	probe(ev, "Received disconnect")
	ev.Source.IP, ev.Source.Port = a, port
	// The code follows the first ':' after the address and port (IPv6
	// addresses hold colons, so skip the address token first).
	rest := b
	if j := bytes.IndexByte(rest, ' '); j >= 0 {
		rest = rest[j:]
		if i := bytes.IndexByte(rest, ':'); i >= 0 {
			rest = lex.Trim(rest[i+1:])
		} else {
			rest = nil
		}
	} else {
		rest = nil
	}
	k := 0
	for k < len(rest) && k < 3 && rest[k] >= '0' && rest[k] <= '9' {
		k++
	}
	if k > 0 && k < len(rest) && rest[k] == ':' {
		ev.Code = reasonCode(rest[:k])
	}
	return nil
}

// reasonCode returns the SSH disconnect reason code as a constant string.
func reasonCode(b []byte) string {
	switch string(b) {
	case "1":
		return "1"
	case "2":
		return "2"
	case "3":
		return "3"
	case "5":
		return "5"
	case "6":
		return "6"
	case "7":
		return "7"
	case "8":
		return "8"
	case "9":
		return "9"
	case "10":
		return "10"
	case "11":
		return "11"
	case "12":
		return "12"
	case "13":
		return "13"
	case "14":
		return "14"
	case "15":
		return "15"
	}
	return ""
}

// notAllowed parses "USER from HOST not allowed because REASON" after
// "User ". HOST is a name with UseDNS; such lines carry no address.
func (p *Parser) notAllowed(ev *detect.Event, b []byte) error {
	i := bytes.LastIndex(b, []byte(" not allowed because "))
	if i < 0 {
		return detect.ErrNotEvent
	}
	reason := b[i+len(" not allowed because "):]
	user, a, port, ok := splitFrom(b[:i], fromFirst, false)
	if !ok {
		return detect.ErrNotEvent // "User root not allowed because account is locked", or a host name
	}
	authFailure(ev, "not allowed")
	p.setUser(ev, user)
	ev.Source.IP, ev.Source.Port = a, port
	for _, d := range [...]string{"AllowUsers", "DenyUsers", "AllowGroups", "DenyGroups"} {
		if bytes.HasSuffix(reason, []byte(d)) {
			ev.Rule.Name = d
			break
		}
	}
	return nil
}

// pamMore parses "N more authentication failures; logname= uid=0 euid=0
// tty=ssh ruser= rhost=ADDR  user=USER" after "PAM ".
func (p *Parser) pamMore(ev *detect.Event, b []byte) error {
	k := 0
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	rest, ok := cut(b[k:], " more authentication failure")
	if k == 0 || !ok {
		return detect.ErrNotEvent
	}
	return p.pamFields(ev, rest, "more authentication failures")
}

// pamModule parses "pam_unix(sshd:auth): authentication failure; ..." and
// the same from other PAM modules.
func (p *Parser) pamModule(ev *detect.Event, m []byte) error {
	i := bytes.Index(m, []byte(":auth): authentication failure;"))
	if i < 0 || i > 64 {
		return detect.ErrNotEvent // sessions, "check pass; user unknown", ...
	}
	return p.pamFields(ev, m[i+len(":auth): authentication failure;"):], "authentication failure")
}

// pamFields reads rhost= and user= from a PAM failure's fields; user= is
// last and is read to the end of the line. A host name in rhost gives
// ErrNotEvent.
func (p *Parser) pamFields(ev *detect.Event, b []byte, action string) error {
	if i := bytes.IndexByte(b, ';'); i >= 0 {
		b = b[i+1:]
	}
	var rhost, user []byte
	sawHost := false
	kv := lex.NewKV(b, ' ')
	for {
		k, v, ok := kv.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "rhost":
			rhost, sawHost = v, true
		case "user":
			// The rest of the line: user names may hold spaces.
			user = lex.Trim(b[len(b)-len(kv.Rest())-len(v):])
		}
		if user != nil {
			break
		}
	}
	if !sawHost {
		return errors.New("sshd: PAM failure without rhost")
	}
	a, ok := lex.Addr(rhost)
	if !ok {
		return detect.ErrNotEvent // a host name, or local
	}
	authFailure(ev, action)
	p.setUser(ev, user)
	ev.Source.IP = a
	return nil
}

// pamColon parses "Authentication failure for [illegal user ]USER from
// HOST[ via HOST]" and the like after "PAM: ".
func (p *Parser) pamColon(ev *detect.Event, b []byte) error {
	var action string
	for _, s := range [...]string{"Authentication failure", "authentication failure",
		"Authentication error", "authentication error",
		"User not known to the underlying authentication module"} {
		if r, ok := cut(b, s); ok {
			if r, ok = cut(r, " for "); ok {
				action, b = s, r
				break
			}
		}
	}
	if action == "" {
		return detect.ErrNotEvent
	}
	b, invalid := cut(b, "illegal user ")
	if !invalid {
		b, invalid = cut(b, "invalid user ")
	}
	mode := fromFirst
	if invalid {
		mode = fromLast
	}
	user, a, port, ok := splitFrom(b, mode, true)
	if !ok {
		return detect.ErrNotEvent // a host name: the Failed line has the address
	}
	authFailure(ev, action)
	p.setUser(ev, user)
	ev.Source.IP, ev.Source.Port = a, port
	return nil
}

// refusedConnect parses TCP wrappers' "HOST (ADDR)".
func refusedConnect(ev *detect.Event, b []byte) error {
	if len(b) < 3 || b[len(b)-1] != ')' {
		return errNoAddr
	}
	i := bytes.LastIndexByte(b, '(')
	if i < 0 {
		return errNoAddr
	}
	a, ok := lex.Addr(b[i+1 : len(b)-1])
	if !ok {
		return errNoAddr
	}
	probe(ev, "refused connect")
	ev.Source.IP = a
	return nil
}

var _ detect.Parser = (*Parser)(nil)

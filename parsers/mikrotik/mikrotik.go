// Package mikrotik parses MikroTik RouterOS (v6 and v7) log lines sent by
// remote syslog: firewall log lines, from "/ip firewall filter|nat|raw|mangle"
// rules with action=log or log=yes (IPv4 and IPv6), and login success and
// failure:
//
//	firewall,info DROP-WAN input: in:ether1 out:(unknown 0), src-mac 00:0c:29:aa:bb:cc, proto TCP (SYN), 198.51.100.7:51514->192.0.2.10:22, len 60
//	firewall,info forward: in:bridge out:ether1, connection-state:new,snat src-mac ..., proto TCP (SYN), 192.168.88.10:40000->198.51.100.1:443, NAT (192.168.88.10:40000->203.0.113.5:40000)->198.51.100.1:443, len 60
//	system,error,critical login failure for user admin from 198.51.100.7 via ssh
//	system,info,account user admin logged in from 198.51.100.7 via winbox
//
// The topics ("firewall,info") start the message in RouterOS's default
// remote format. With bsd-syslog=yes RouterOS v7 writes the first word of
// the message as the syslog tag instead ("DROP-WAN: DROP-WAN input: in:..",
// "input: in:..", "login: failure for user .."); both are read.
//
// A firewall log line carries no verdict: the rule only logs. The verdict
// comes from the administrator's log prefix: a prefix word starting with
// drop, deny, reject, block or tarpit is denied, accept, allow, permit or
// pass is allowed (the last such word wins and is event.action, as
// written), and any other prefix gives no event.type. rule.name is the log
// prefix, or the chain when there is none.
//
// NAT: in "NAT (a->b)->c" the source was translated from a to b, and in
// "NAT a->(c->d)" the destination from c to d. source and destination are
// the connection as its initiator saw it (a and c, with their ports);
// source.nat.ip is b and destination.nat.ip is d.
//
// Other RouterOS lines (dhcp, interface, system chatter, logouts) are well
// formed but not events: detect.ErrNotEvent.
package mikrotik

import (
	"bytes"
	"errors"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "mikrotik"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "MikroTik RouterOS v6/v7: firewall log lines (IPv4, IPv6, ICMP, NAT) and login success/failure",
		New:         func() detect.Parser { return new(Parser) },
		// With bsd-syslog=yes the first word of the message is the tag: the
		// chain of a firewall rule without a log prefix, or "login".
		Tags:  []string{"input", "forward", "output", "prerouting", "postrouting", "srcnat", "dstnat", "login"},
		Sniff: Sniff,
	}
}

// Sniff reports whether rec looks like a RouterOS log line: a topics word
// ("firewall,info") at the start of the message or as the tag, the
// firewall line's "in:IF out:IF, ... proto" fields, or a login line.
func Sniff(rec *detect.Record) bool {
	msg := rec.Msg
	if topicsLen(msg) > 0 || isTopics(rec.App) {
		return true
	}
	if in := fwIndex(msg); in >= 0 {
		return bytes.Contains(msg[in:], []byte("proto "))
	}
	switch string(rec.App) {
	case "login":
		return bytes.HasPrefix(msg, []byte("failure for user "))
	case "user":
		return bytes.Contains(msg, []byte(" logged in")) && bytes.Contains(msg, []byte(" via "))
	}
	return bytes.HasPrefix(msg, []byte("login failure for user ")) ||
		bytes.HasPrefix(msg, []byte("user ")) && bytes.Contains(msg, []byte(" logged in")) && bytes.Contains(msg, []byte(" via "))
}

// Parser parses RouterOS lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
}

var (
	errTruncated = errors.New("mikrotik: firewall line ends before its addresses")
	errSource    = errors.New("mikrotik: firewall line: bad source address")
	errDest      = errors.New("mikrotik: firewall line: bad destination address")
	errNAT       = errors.New("mikrotik: firewall line: bad NAT addresses")
	errNoUser    = errors.New("mikrotik: login line without a user name")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := lex.Trim(rec.Msg)
	app := rec.App
	if isTopics(app) {
		app = nil // an RFC 5424 relay that took the topics for the APP-NAME
	}
	if n := topicsLen(msg); n > 0 {
		msg = lex.Trim(msg[n:])
	}
	if in := fwIndex(msg); in >= 0 {
		return p.firewall(msg[:in], msg[in:], app, ev)
	}
	return p.login(msg, app, ev)
}

// firewall parses a firewall line: head is what comes before "in:"
// ("[topics ][prefix ]chain: "), tail the rest.
func (p *Parser) firewall(head, tail, app []byte, ev *detect.Event) error {
	// The packet fields: "in:IF out:IF, [connection-state:S ][src-mac M, ]proto P[ (..)], A->B[, NAT ..], len N".
	o := bytes.Index(tail, []byte(" out:"))
	if o < 0 {
		return errTruncated
	}
	rest := tail[o+5:]
	c := bytes.Index(rest, []byte(", "))
	if c < 0 {
		return errTruncated
	}
	rest = rest[c+2:]
	pi := protoIndex(rest)
	if pi < 0 {
		if bytes.Contains(rest, []byte("eth-proto ")) {
			return detect.ErrNotEvent // a bridge filter's non-IP frame
		}
		return errTruncated
	}
	rest = rest[pi+len("proto "):]
	j := 0
	for j < len(rest) && rest[j] != ' ' && rest[j] != ',' {
		j++
	}
	proto := rest[:j]
	rest = rest[j:]
	if bytes.HasPrefix(rest, []byte(" (")) { // TCP flags, ICMP type and code
		k := bytes.IndexByte(rest, ')')
		if k < 0 {
			return errTruncated
		}
		rest = rest[k+1:]
	}
	if !bytes.HasPrefix(rest, []byte(", ")) {
		return errTruncated
	}
	rest = rest[2:]

	src, sport, rest, ok := endpoint(rest)
	if !ok {
		return errSource
	}
	if !bytes.HasPrefix(rest, []byte("->")) {
		return errDest
	}
	dst, dport, rest, ok := endpoint(rest[2:])
	if !ok {
		return errDest
	}
	var srcNAT, dstNAT netip.Addr
	if bytes.HasPrefix(rest, []byte(", NAT ")) {
		a, err := natSide(rest[len(", NAT "):])
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(a.rest, []byte("->")) {
			return errNAT
		}
		b, err := natSide(a.rest[2:])
		if err != nil {
			return err
		}
		if a.pair {
			src, sport = a.orig, a.origPort
			if a.nat != a.orig {
				srcNAT = a.nat
			}
		}
		if b.pair {
			dst, dport = b.orig, b.origPort
			if b.nat != b.orig {
				dstNAT = b.nat
			}
		}
	}

	ev.Category = detect.CategoryNetwork
	ev.Observer.Vendor = "MikroTik"
	ev.Observer.Product = "RouterOS"
	ev.Source.IP, ev.Destination.IP = src, dst
	ev.Source.NATIP, ev.Destination.NATIP = srcNAT, dstNAT
	icmp := false
	switch string(proto) {
	case "TCP", "tcp", "6":
		ev.Network.Transport = detect.TransportTCP
	case "UDP", "udp", "17":
		ev.Network.Transport = detect.TransportUDP
	case "ICMP", "icmp", "1":
		icmp = true
		ev.Network.Transport = detect.TransportICMP
		if src.Is6() {
			ev.Network.Transport = detect.TransportIPv6ICMP
		}
	case "ICMPv6", "ICMPV6", "icmpv6", "IPV6-ICMP", "ipv6-icmp", "58":
		icmp = true
		ev.Network.Transport = detect.TransportIPv6ICMP
	}
	if !icmp {
		ev.Source.Port, ev.Destination.Port = sport, dport
	}
	p.rule(head, app, ev)
	return nil
}

// rule reads the log prefix and chain from head, "[topics ][prefix ]chain: ".
// With bsd-syslog the tag may stand for either.
func (p *Parser) rule(head, app []byte, ev *detect.Event) {
	head = lex.Trim(head)
	// Drop anything up to a topics word ("jan/03 01:14:50 firewall,info").
	for i := 0; i < len(head); {
		j := bytes.IndexByte(head[i:], ' ')
		if j < 0 {
			j = len(head) - i
		}
		if isTopics(head[i : i+j]) {
			head = lex.Trim(head[i+j:])
			break
		}
		i += j + 1
	}
	var chain, prefix []byte
	if len(head) == 0 {
		chain, app = app, nil // "input: in:ether1 ..."
	} else {
		k := bytes.LastIndexByte(head, ' ')
		chain = head[k+1:]
		if k > 0 {
			prefix = head[:k]
		}
	}
	chain = bytes.TrimSuffix(chain, []byte(":"))
	prefix = bytes.TrimRight(lex.Trim(prefix), ": ")
	if len(prefix) == 0 && len(app) > 0 && !bytes.Equal(app, chain) {
		prefix = app // "DROP-WAN: input: in:ether1 ..."
	}
	if len(prefix) == 0 {
		ev.Rule.Name = p.names.Bytes(chain)
		return
	}
	ev.Rule.Name = p.names.Bytes(prefix)
	// The last verdict word of the prefix wins: "ACCEPT-THEN-DROP" is DROP.
	for b := prefix; len(b) > 0; {
		i := 0
		for i < len(b) && !isLetter(b[i]) {
			i++
		}
		j := i
		for j < len(b) && isLetter(b[j]) {
			j++
		}
		if w := b[i:j]; len(w) > 0 {
			if t := verdict(w); t != "" {
				ev.Type = t
				ev.Action = p.names.Bytes(w)
			}
		}
		b = b[j:]
	}
}

// verdict maps a word of the log prefix to event.type; "" when it is none.
// Words like "Dropped" and "REJECTED" count by their stem.
func verdict(w []byte) string {
	for _, s := range [...]string{"drop", "deny", "denied", "reject", "refuse", "block", "tarpit"} {
		if lex.HasPrefixFold(w, s) {
			return detect.TypeDenied
		}
	}
	for _, s := range [...]string{"accept", "allow", "permit"} {
		if lex.HasPrefixFold(w, s) {
			return detect.TypeAllowed
		}
	}
	if lex.EqualFold(w, "pass") || lex.EqualFold(w, "passed") {
		return detect.TypeAllowed
	}
	return ""
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// natEnd is one side of the NAT notation: "addr[:port]" or
// "(orig[:port]->nat[:port])".
type natEnd struct {
	orig, nat netip.Addr
	origPort  uint16
	pair      bool
	rest      []byte
}

func natSide(b []byte) (natEnd, error) {
	var e natEnd
	if len(b) == 0 || b[0] != '(' {
		a, port, rest, ok := endpoint(b)
		if !ok {
			return e, errNAT
		}
		e.orig, e.origPort, e.rest = a, port, rest
		return e, nil
	}
	a, port, rest, ok := endpoint(b[1:])
	if !ok || !bytes.HasPrefix(rest, []byte("->")) {
		return e, errNAT
	}
	n, _, rest, ok := endpoint(rest[2:])
	if !ok || len(rest) == 0 || rest[0] != ')' {
		return e, errNAT
	}
	e.orig, e.origPort, e.nat, e.pair, e.rest = a, port, n, true, rest[1:]
	return e, nil
}

// endpoint reads "1.2.3.4[:port]", "[2001:db8::1][:port]" or an IPv6
// address without a port, and returns what follows.
func endpoint(b []byte) (a netip.Addr, port uint16, rest []byte, ok bool) {
	if len(b) > 0 && b[0] == '[' {
		j := bytes.IndexByte(b, ']')
		if j < 0 {
			return a, 0, nil, false
		}
		if a, ok = lex.Addr(b[1:j]); !ok {
			return a, 0, nil, false
		}
		b = b[j+1:]
		if len(b) > 0 && b[0] == ':' {
			k := 1
			for k < len(b) && b[k] >= '0' && b[k] <= '9' {
				k++
			}
			port, _ = lex.Port(b[1:k])
			b = b[k:]
		}
		return a, port, b, true
	}
	j, colons, last := 0, 0, -1
	for j < len(b) {
		c := b[j]
		if c == '-' || c == ',' || c == ')' || c == '(' || c == ' ' {
			break
		}
		if c == ':' {
			colons++
			last = j
		}
		j++
	}
	tok := b[:j]
	if colons == 1 {
		port, _ = lex.Port(tok[last+1:])
		tok = tok[:last]
	}
	if a, ok = lex.Addr(tok); !ok {
		return a, 0, nil, false
	}
	return a, port, b[j:], true
}

// protoIndex finds "proto " at the start of b or after a space (not
// "eth-proto").
func protoIndex(b []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], []byte("proto "))
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || b[i-1] == ' ' {
			return i
		}
		off = i + 6
	}
}

// fwIndex finds the "in:" that starts a firewall line's packet fields: at
// the start of b or after a space, and followed by " out:" within the
// length of an interface name ("in:(unknown 0) out:ether1").
func fwIndex(b []byte) int {
	// The interfaces follow the log prefix and chain near the start; not
	// searching the whole line keeps Sniff cheap on other formats' lines.
	const within = 160
	off := 0
	end := min(len(b), within)
	for {
		if off >= end {
			return -1
		}
		i := bytes.Index(b[off:end], []byte("in:"))
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || b[i-1] == ' ' {
			rest := b[i+3:]
			if len(rest) > 96 {
				rest = rest[:96]
			}
			if bytes.Contains(rest, []byte(" out:")) {
				return i
			}
		}
		off = i + 3
	}
}

// topicsLen returns the length of a topics word ("firewall,info") that
// starts b and is followed by a space, or 0.
func topicsLen(b []byte) int {
	sp := bytes.IndexByte(b, ' ')
	if sp > 0 && isTopics(b[:sp]) {
		return sp
	}
	return 0
}

// isTopics reports whether w is a RouterOS topics list: lower-case words
// joined by commas, one of them a severity ("firewall,info",
// "system,error,critical", "system,info,account").
func isTopics(w []byte) bool {
	if len(w) < 6 || len(w) > 64 {
		return false
	}
	sev, commas, start := false, 0, 0
	for i := 0; i <= len(w); i++ {
		if i == len(w) || w[i] == ',' {
			switch string(w[start:i]) {
			case "":
				return false
			case "info", "warning", "error", "critical", "debug":
				sev = true
			}
			if i < len(w) {
				commas++
			}
			start = i + 1
			continue
		}
		if c := w[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return sev && commas > 0
}

// login parses "login failure for user U from A via S" and "user U logged
// in from A via S"; any other line is not an event.
func (p *Parser) login(msg, app []byte, ev *detect.Event) error {
	var rest []byte
	failure := false
	switch {
	case bytes.HasPrefix(msg, []byte("login failure for user ")):
		rest, failure = msg[len("login failure for user "):], true
	case string(app) == "login" && bytes.HasPrefix(msg, []byte("failure for user ")):
		rest, failure = msg[len("failure for user "):], true
	case bytes.HasPrefix(msg, []byte("user ")):
		rest = msg[len("user "):]
	case string(app) == "user":
		rest = msg
	default:
		return detect.ErrNotEvent
	}
	var user, tail []byte
	if failure {
		user, tail = rest, nil
		if k := bytes.Index(rest, []byte(" from ")); k >= 0 {
			user, tail = rest[:k], rest[k:]
		} else if k := bytes.Index(rest, []byte(" via ")); k >= 0 {
			user, tail = rest[:k], rest[k:]
		}
	} else {
		k := bytes.Index(rest, []byte(" logged in"))
		if k < 0 {
			return detect.ErrNotEvent // logged out, and other user chatter
		}
		user, tail = rest[:k], rest[k+len(" logged in"):]
		if len(tail) > 0 && tail[0] != ' ' && tail[0] != ',' {
			return detect.ErrNotEvent
		}
	}
	if user = lex.Trim(user); len(user) == 0 {
		return errNoUser
	}
	ev.Category = detect.CategoryAuthentication
	ev.Observer.Vendor = "MikroTik"
	ev.Observer.Product = "RouterOS"
	ev.UserName = p.names.Bytes(user)
	if failure {
		ev.Type, ev.Outcome, ev.Action = detect.TypeDenied, detect.OutcomeFailure, "login failure"
	} else {
		ev.Type, ev.Outcome, ev.Action = detect.TypeAllowed, detect.OutcomeSuccess, "logged in"
	}
	if k := bytes.Index(tail, []byte(" from ")); k >= 0 {
		a := tail[k+len(" from "):]
		if e := bytes.IndexByte(a, ' '); e >= 0 {
			a = a[:e]
		}
		if ip, ok := lex.Addr(a); ok { // not a MAC address (mac-telnet, mac-winbox)
			ev.Source.IP = ip
		}
	}
	if k := bytes.Index(tail, []byte(" via ")); k >= 0 {
		s := lex.Trim(tail[k+len(" via "):])
		if e := bytes.IndexByte(s, ' '); e >= 0 {
			s = s[:e]
		}
		ev.Network.Protocol, ev.Network.Transport = service(s)
	}
	return nil
}

// service maps the "via" word of a login line to network.protocol and
// network.transport. Console and local logins are neither.
func service(s []byte) (protocol, transport string) {
	switch string(s) {
	case "ssh":
		return "ssh", detect.TransportTCP
	case "telnet":
		return "telnet", detect.TransportTCP
	case "ftp":
		return "ftp", detect.TransportTCP
	case "winbox":
		return "winbox", detect.TransportTCP
	case "api":
		return "api", detect.TransportTCP
	case "api-ssl":
		return "api-ssl", detect.TransportTCP
	case "web", "www":
		return "http", detect.TransportTCP
	case "www-ssl":
		return "https", detect.TransportTCP
	case "mac-telnet":
		return "mac-telnet", ""
	case "mac-winbox":
		return "mac-winbox", ""
	}
	return "", ""
}

var _ detect.Parser = (*Parser)(nil)

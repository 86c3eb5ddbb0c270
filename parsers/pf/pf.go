// Package pf parses the packet log of the OpenBSD and FreeBSD pf packet
// filter as tcpdump prints it from pflog0 or from pflogd's file
// (tcpdump -n -e [-ttt] -i pflog0, tcpdump -n -e -r /var/log/pflog), bare or
// forwarded over syslog (usually through "tcpdump -l ... | logger -t pf"):
//
//	Nov 27 10:00:00.123456 rule 3/(match) block in on em0: 198.51.100.7.51514 > 192.0.2.10.22: S 123456:123456(0) win 64240 (DF)
//	rule 2.ruleset.1/(match) [uid 0, pid 1234] pass out on em1: 10.0.0.5.40000 > 203.0.113.9.443: P 1:31(30) ack 1 win 512
//	00:00:00.000000 rule 0/0(match): block in on em0: 198.51.100.8 > 192.0.2.10: ICMP echo request, id 1234, seq 1, length 64
//
// OpenBSD writes the reason in parentheses after the slash ("3/(match)"),
// FreeBSD (upstream tcpdump) its number and name ("3/0(match):"); an anchor
// rule is "2.anchor.1" and the default rule "def". tcpdump joins address and
// port with a dot, so "2001:db8::1.51514" is port 51514 of 2001:db8::1.
//
// Mapping: event.action is pf's action word as written (pass, block,
// match, scrub, nat, binat, rdr, synproxy-drop); block and synproxy-drop
// are denied, pass is allowed, and the others (which do not decide the
// packet's fate) have no event.type. rule.name and rule.id are the rule
// number as written ("3", "2.ruleset.1", "def"). network.transport comes
// from tcpdump's protocol summary: TCP flags ("S", "P.", "Flags [S]") are
// tcp; "udp", "UDP" and any other summary after two ports (DNS, NTP and
// the other decoded UDP protocols) are udp; "icmp"/"ICMP" icmp and
// "icmp6"/"ICMP6" ipv6-icmp. The summary itself (a DNS question, say) is
// content and is never copied. With -v, OpenBSD's "[rewritten: src A:P,
// dst B:P]" gives the translated addresses, which go to source.nat.ip and
// destination.nat.ip; FreeBSD's -v moves the packet to a second line,
// which this parser cannot join, and such a first line is an error.
//
// Time: an absolute stamp before "rule" is the packet's time and becomes
// @timestamp: OpenBSD -ttt "Nov 27 10:00:00.123456" (year nearest to the
// reference time), FreeBSD -tttt "2026-11-27 10:00:00.123456", and -tt
// seconds since the epoch; stamps without a zone are read in the record's
// zone. A stamp that is only a clock (the default "10:00:00.123456") or a
// delta (FreeBSD -ttt, OpenBSD -tttt) does not say when the packet was
// seen, so @timestamp is then the syslog header's time (or, for a bare
// line, the framework's reference time).
//
// A bare OpenBSD -ttt line ("Nov 27 10:00:00.123456 rule 3/(match) ...")
// looks like a BSD syslog header to the framework, which then takes its
// stamp for the header's time (right) and "rule" for the host name
// (wrong): the parser finds the pflog text in rec.Raw and clears rec.Host,
// so that observer.hostname is not "rule".
//
// The line cannot tell OpenBSD from FreeBSD, so observer.product is "pf"
// and observer.vendor is left out.
package pf

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "pf"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "OpenBSD/FreeBSD pf packet log as printed by tcpdump -e from pflog: pass, block, match, nat/rdr; TCP, UDP, ICMP, ICMPv6, IPv4 and IPv6",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"pf", "pflog", "pflogd"},
		Sniff:       Sniff,
	}
}

// maxStamp is the longest time stamp this parser expects before "rule ".
const maxStamp = 40

// Sniff reports whether rec looks like a pflog line: "rule N/(" or
// "rule N/N(" near the start of the message, after at most a time stamp.
func Sniff(rec *detect.Record) bool {
	_, _, ok := locate(rec)
	return ok
}

// locate finds the pflog text in rec: body starts at "rule ", stamp is what
// came before it. A bare "Nov 27 10:00:00.123456 rule 3/(match) ..." line
// has its stamp taken for a syslog header and "rule" for the host name;
// then stamp is nil and headerStamp is true.
func locate(rec *detect.Record) (body []byte, stamp []byte, ok bool) {
	m := rec.Msg
	if string(rec.Host) == "rule" {
		off := len(rec.Raw) - len(m)
		if off >= 5 && off <= len(rec.Raw) && string(rec.Raw[off-5:off]) == "rule " && ruleStart(m) {
			return rec.Raw[off-5:], nil, true
		}
	}
	lim := m
	if len(lim) > maxStamp+5 {
		lim = lim[:maxStamp+5]
	}
	i := bytes.Index(lim, []byte("rule "))
	if i < 0 || (i > 0 && m[i-1] != ' ') || !ruleStart(m[i+5:]) {
		return nil, nil, false
	}
	return m[i:], lex.Trim(m[:i]), true
}

// ruleStart reports whether b starts with a rule number and the slash that
// ends it: "3/(", "3/0(", "2.anchor.1/(", "def/(".
func ruleStart(b []byte) bool {
	if len(b) == 0 || !(isDigit(b[0]) || bytes.HasPrefix(b, []byte("def"))) {
		return false
	}
	lim := b
	if len(lim) > 96 {
		lim = lim[:96]
	}
	j := bytes.IndexByte(lim, '/')
	if j <= 0 || j+1 >= len(b) {
		return false
	}
	k := j + 1
	for k < len(b) && isDigit(b[k]) {
		k++
	}
	return k < len(b) && b[k] == '('
}

// Parser parses pflog lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
}

var (
	errNoAction  = errors.New("pf: no action, direction and interface after the rule")
	errNoPacket  = errors.New("pf: no \"src > dst:\" addresses")
	errNextLine  = errors.New("pf: packet addresses are on the next line (tcpdump -v); run tcpdump without -v")
	errBadSource = errors.New("pf: source is not a numeric address (run tcpdump with -n)")
	errBadDest   = errors.New("pf: destination is not a numeric address (run tcpdump with -n)")
	errBadPort   = errors.New("pf: port out of range")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	body, stamp, ok := locate(rec)
	if !ok {
		return detect.ErrNotEvent
	}
	if stamp == nil && string(rec.Host) == "rule" {
		// The tcpdump stamp was read as a syslog header: it is rec.Time,
		// and "rule" is no host.
		rec.Host = nil
	}
	if len(stamp) > 0 {
		if t, ok := parseStamp(stamp, rec); ok {
			ev.Timestamp = t
		}
	}

	// "rule 3/(match) " or "rule 3/0(match): ".
	b := body[len("rule "):]
	slash := bytes.IndexByte(b, '/')
	ruleNo := b[:slash]
	b = b[slash+1:]
	for len(b) > 0 && isDigit(b[0]) {
		b = b[1:]
	}
	end := bytes.IndexByte(b, ')')
	if end < 0 {
		return errNoAction
	}
	b = skipSpace(b[end+1:])
	b, _ = skipBrackets(b) // "[uid 0, pid 1]" (OpenBSD) or " [uid 0]" (FreeBSD)
	if len(b) > 0 && b[0] == ':' {
		b = skipSpace(b[1:])
	}
	b, _ = skipBrackets(b)

	action, b := word(b)
	dir, b := word(b)
	on, b := word(b)
	if len(action) == 0 || len(dir) == 0 || string(on) != "on" {
		return errNoAction
	}
	// The interface name ends with ": ".
	colon := bytes.Index(b, []byte(": "))
	if colon < 0 {
		if len(b) > 0 && b[len(b)-1] == ':' {
			return errNoPacket
		}
		return errNoAction
	}
	pkt := skipSpace(b[colon+2:])

	ev.Category = detect.CategoryNetwork
	ev.Observer.Product = "pf"
	ev.Action = p.names.Bytes(action)
	switch string(action) {
	case "block", "synproxy-drop":
		ev.Type = detect.TypeDenied
	case "pass":
		ev.Type = detect.TypeAllowed
	}
	name := p.names.Bytes(ruleNo)
	ev.Rule.Name, ev.Rule.ID = name, name

	return p.packet(pkt, ev)
}

// packet reads the addresses, ports and protocol summary that tcpdump
// prints after the pflog header.
func (p *Parser) packet(b []byte, ev *detect.Event) error {
	var natSrc, natDst netip.Addr
	for len(b) > 0 && (b[0] == '[' || b[0] == '(') {
		if b[0] == '(' {
			end := closeParen(b)
			if end < 0 {
				return errNoPacket
			}
			b = skipSpace(b[end+1:])
			continue
		}
		rest, group := skipBrackets(b)
		if len(rest) == len(b) {
			return errNoPacket // an unclosed '['
		}
		b = rest
		if bytes.HasPrefix(group, []byte("[rewritten:")) {
			natSrc, natDst = rewritten(group)
		}
	}
	if bytes.HasPrefix(b, []byte("IP ")) {
		b = b[3:]
	} else if bytes.HasPrefix(b, []byte("IP6 ")) {
		b = b[4:]
	}
	gt := bytes.Index(b, []byte(" > "))
	if gt < 0 {
		if len(b) == 0 {
			return errNextLine
		}
		return errNoPacket
	}
	srcTok := b[:gt]
	rest := b[gt+3:]
	end := bytes.Index(rest, []byte(": "))
	var dstTok, summary []byte
	switch {
	case end >= 0:
		dstTok, summary = rest[:end], rest[end+2:]
	case len(rest) > 0 && rest[len(rest)-1] == ':':
		dstTok = rest[:len(rest)-1]
	default:
		dstTok = rest
		if sp := bytes.IndexByte(dstTok, ' '); sp >= 0 {
			dstTok = dstTok[:sp]
		}
	}
	src, sport, err := hostPort(srcTok, errBadSource)
	if err != nil {
		return err
	}
	dst, dport, err := hostPort(dstTok, errBadDest)
	if err != nil {
		return err
	}
	ev.Source.IP, ev.Destination.IP = src, dst
	if natSrc.IsValid() && natSrc != src {
		ev.Source.NATIP = natSrc
	}
	if natDst.IsValid() && natDst != dst {
		ev.Destination.NATIP = natDst
	}

	t := transport(summary, sport != 0 && dport != 0, dst.Is6() && !dst.Is4In6())
	ev.Network.Transport = t
	if t != detect.TransportICMP && t != detect.TransportIPv6ICMP {
		ev.Source.Port, ev.Destination.Port = sport, dport
	}
	return nil
}

// transport reads tcpdump's protocol summary.
func transport(s []byte, ports, v6 bool) string {
	s = skipSpace(s)
	switch {
	case bytes.HasPrefix(s, []byte("Flags [")), bytes.HasPrefix(s, []byte("[|tcp]")):
		return detect.TransportTCP
	case lex.HasPrefixFold(s, "icmp6"), bytes.HasPrefix(s, []byte("[|icmp6]")):
		return detect.TransportIPv6ICMP
	case lex.HasPrefixFold(s, "icmp"), bytes.HasPrefix(s, []byte("[|icmp]")):
		if v6 {
			return detect.TransportIPv6ICMP
		}
		return detect.TransportICMP
	case lex.HasPrefixFold(s, "udp"), bytes.HasPrefix(s, []byte("[|udp]")):
		return detect.TransportUDP
	case lex.HasPrefixFold(s, "sctp"):
		return ""
	}
	if w, _ := word(s); isTCPFlags(w) {
		return detect.TransportTCP
	}
	if ports {
		// tcpdump decodes the payload of UDP protocols it knows (DNS, NTP,
		// syslog, ...) instead of writing "udp"; TCP always shows flags.
		return detect.TransportUDP
	}
	return ""
}

// isTCPFlags reports whether w is an OpenBSD tcpdump flag word: "S", "S.",
// "P", "FP", "R", "." and so on.
func isTCPFlags(w []byte) bool {
	if len(w) == 0 || len(w) > 8 {
		return false
	}
	for _, c := range w {
		switch c {
		case 'S', 'F', 'R', 'P', 'U', 'E', 'W', '.':
		default:
			return false
		}
	}
	return true
}

// hostPort splits tcpdump's "addr.port" (or a bare address). It returns
// errAddr when there is no numeric address. The dots decide, so that no
// parse is tried that must fail: an IPv4 address has three, plus one
// before a port; an IPv6 address none (or three in an embedded IPv4
// address), plus one before a port.
func hostPort(b []byte, errAddr error) (netip.Addr, uint16, error) {
	dots := bytes.Count(b, []byte("."))
	v6 := bytes.IndexByte(b, ':') >= 0
	split := false
	switch {
	case !v6 && dots == 3, v6 && (dots == 0 || dots == 3):
	case !v6 && dots == 4, v6 && (dots == 1 || dots == 4):
		split = true
	default:
		return netip.Addr{}, 0, errAddr
	}
	if !split {
		if !isAddrText(b) {
			return netip.Addr{}, 0, errAddr
		}
		if a, ok := lex.Addr(b); ok {
			return a, 0, nil
		}
		return netip.Addr{}, 0, errAddr
	}
	i := bytes.LastIndexByte(b, '.')
	if !isAddrText(b[:i]) {
		return netip.Addr{}, 0, errAddr
	}
	a, ok := lex.Addr(b[:i])
	if !ok {
		return netip.Addr{}, 0, errAddr
	}
	if port, ok := lex.Port(b[i+1:]); ok {
		return a, port, nil
	}
	if n, ok := lex.Uint(b[i+1:]); ok && n == 0 {
		return a, 0, nil // port 0 is absent
	}
	if _, ok := lex.Uint(b[i+1:]); ok {
		return netip.Addr{}, 0, errBadPort
	}
	return netip.Addr{}, 0, errAddr
}

// isAddrText reports whether b holds only the characters of a numeric
// address, so that host names ("host.example.com.ssh") are not parsed.
func isAddrText(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// rewritten reads OpenBSD's "[rewritten: src 203.0.113.1:61000, dst
// 198.51.100.9:443]".
func rewritten(g []byte) (src, dst netip.Addr) {
	g = bytes.TrimSuffix(bytes.TrimPrefix(g, []byte("[rewritten:")), []byte("]"))
	for len(g) > 0 {
		var part []byte
		if i := bytes.IndexByte(g, ','); i >= 0 {
			part, g = g[:i], g[i+1:]
		} else {
			part, g = g, nil
		}
		part = lex.Trim(part)
		var which *netip.Addr
		switch {
		case bytes.HasPrefix(part, []byte("src ")):
			which = &src
		case bytes.HasPrefix(part, []byte("dst ")):
			which = &dst
		default:
			continue
		}
		v := part[4:]
		if c := bytes.LastIndexByte(v, ':'); c > 0 && isAddrText(v[:c]) {
			if a, ok := lex.Addr(v[:c]); ok {
				*which = a
			}
		}
	}
	return src, dst
}

// parseStamp reads the tcpdump time stamp before "rule": absolute forms
// only (see the package comment).
func parseStamp(s []byte, rec *detect.Record) (time.Time, bool) {
	loc := rec.Location()
	if t, n, ok := syslog.ParseBSD(s, rec.Ref, loc); ok && n == len(s) {
		return t, true
	}
	if t, n, ok := syslog.ParseISO(s, true, loc); ok && n == len(s) {
		return t, true
	}
	// -tt: seconds since the epoch, with at least nine digits (a delta
	// has fewer).
	sec, frac, _ := bytes.Cut(s, []byte("."))
	if len(sec) >= 9 && len(sec) <= 11 {
		n, ok := lex.Uint(sec)
		if !ok {
			return time.Time{}, false
		}
		var ns int64
		if len(frac) > 0 {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			f, ok := lex.Uint(frac)
			if !ok {
				return time.Time{}, false
			}
			for i := len(frac); i < 9; i++ {
				f *= 10
			}
			ns = f
		}
		return time.Unix(n, ns).UTC(), true
	}
	return time.Time{}, false
}

// skipBrackets skips "[...]" groups and the spaces after them, returning
// the rest and the last group.
func skipBrackets(b []byte) (rest, group []byte) {
	for len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return b, group
		}
		group = b[:end+1]
		b = skipSpace(b[end+1:])
	}
	return b, group
}

// closeParen returns the index of the ')' that closes the '(' at b[0], or
// -1.
func closeParen(b []byte) int {
	depth := 0
	for i, c := range b {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// word returns the next space-separated word and what follows it.
func word(b []byte) (w, rest []byte) {
	b = skipSpace(b)
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], skipSpace(b[i+1:])
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var _ detect.Parser = (*Parser)(nil)

// Package ciscoasa parses Cisco ASA syslog messages, and those of Firepower
// Threat Defense's LINA engine (%FTD-) and the older PIX (%PIX-), which use
// the same message catalogue:
//
//	<166>Nov 27 2026 10:00:00 asa01 : %ASA-4-106023: Deny tcp src outside:198.51.100.7/4444 dst inside:10.0.0.5/22 by access-group "outside_access_in" [0x8ed66b60, 0xf8852875]
//
// The syslog header (with or without PRI, year, host, the ASA's " : " and
// "stamp: " forms, RFC 5424, "logging timestamp rfc5424") is taken apart by
// the framework. The parser also reads the forms the header parser leaves in
// the message: EMBLEM ("<166>:Nov 27 10:00:00 UTC: %ASA-session-6-302013:",
// "<166>123: asa01: Nov 27 ..."), the device's own header behind a relay's
// ("Nov 27 10:00:05 relay Nov 27 2026 10:00:00 asa01 : %ASA-..."), and
// "asa01 : %ASA-..." without a stamp. A stamp there is the device's own and
// sets @timestamp; "UTC"/"GMT" after it is honoured, other zone names are
// read in the source's configured zone.
//
// Messages, and what they become:
//
//   - denies, category network, type denied: 106001, 106006, 106007, 106014,
//     106015, 106021, 106023, 313001, 313004, 313005, 313008 (ICMPv6),
//     419002 (duplicate SYN, dropped), 710003 (to the device itself), and
//     106100 "denied"; 106100 "permitted" and "est-allowed" are allowed.
//   - connections, category network, type allowed (the connection existed):
//     302013/302015 (TCP/UDP built), 302014/302016 (teardown), 302020/302021
//     (ICMP built/teardown).
//   - intrusion_detection: 4000nn IPS signatures (type info: the message does
//     not say whether the packet was dropped), 733100 threat-detection drop
//     rate exceeded (type denied: it counts drops), 733101 host or subnet
//     attacking / targeted by scanning threat detection (type info).
//
// Every other ASA message is detect.ErrNotEvent.
//
// Field choices:
//
//   - event.code is the six-digit message id; event.severity the ASA level
//     (1-7, as the device wrote it: lower is more severe, the syslog scale);
//     event.action the verdict word as written ("Deny", "denied",
//     "permitted", "est-allowed", "Denied", "Built", "Teardown", "drop",
//     "attacking", "targeted"), absent where the message has none (313005,
//     419002, IPS signatures).
//   - rule.name is the access list (106023, 106100), the IPS signature title
//     (4000nn), the threat-detection object ("Scanning", "SYN attck", or an
//     address or port, 733100) or "scanning-threat" (733101). rule.id is the
//     ACE hash (the first of the two, when not 0x0), the IPS signature number,
//     or the 733100 rate id.
//   - NAT (302013/302015/302020): ASA writes each side as real address and,
//     in parentheses, the mapped address as the other side sees it. source is
//     the initiator's real address, source.nat.ip its mapped one (when it
//     differs); destination is the responder's mapped address (what the
//     initiator connected to), destination.nat.ip its real one. "inbound"
//     means the "for" side initiated, "outbound" the "to" side.
//   - TCP/UDP teardowns (302014/302016) carry only real addresses, so an
//     inbound connection to a NATed server has the server's real address
//     as destination there, where its build has the mapped one.
//   - Teardowns do not say who opened the connection. The parser remembers
//     the direction of recent TCP/UDP builds by device and connection id (a
//     fixed table of 4096 per parser instance, that is per stream); for a
//     connection it has not seen, the side with the lower port is taken for
//     the server, and with equal ports the "for" side for the client, as
//     written. ICMP teardowns
//     (302021) are taken as local-initiated unless only the foreign side
//     carries an ICMP id.
//   - Bytes: 302014/302016 report the connection's total bytes, both
//     directions together, so they go in network.bytes. The ACL hit count (106100) and threat-detection rates
//     and counts are not packet counts and are left out.
//   - A host written as a name (the ASA "names" table) instead of an address
//     leaves that address out. Identity-firewall and AAA user names on
//     connection lines are not authentication events and are left out.
package ciscoasa

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "cisco_asa"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name: Name,
		Description: "Cisco ASA / FTD LINA syslog: ACL denies and permits, connection build/teardown, " +
			"ICMP denies, IPS signatures and threat detection (IPv4, IPv6, NAT)",
		New:   func() detect.Parser { return new(Parser) },
		Sniff: Sniff,
	}
}

// maxPrefix is how far into the message Sniff and Parse look for the
// "%ASA-" tag when a relay header or EMBLEM stamp stands before it.
const maxPrefix = 128

// Sniff reports whether rec looks like an ASA message: "%ASA-", "%FTD-" or
// "%PIX-" at the start of the message, or within its first bytes after a
// word boundary.
func Sniff(rec *detect.Record) bool {
	return isTag(rec.Msg) || isTag(rec.Host) || findTag(rec.Msg) >= 0
}

func isTag(b []byte) bool {
	if len(b) < 8 || b[0] != '%' || b[4] != '-' {
		return false
	}
	switch string(b[1:4]) {
	case "ASA", "FTD", "PIX":
		return true
	}
	return false
}

// findTag returns the index of the message tag within the first maxPrefix
// bytes of b, at the start or after a space or colon, or -1.
func findTag(b []byte) int {
	if len(b) > maxPrefix+8 {
		b = b[:maxPrefix+8]
	}
	off := 0
	for off < len(b) {
		i := bytes.IndexByte(b[off:], '%')
		if i < 0 {
			return -1
		}
		off += i
		if (off == 0 || b[off-1] == ' ' || b[off-1] == ':') && isTag(b[off:]) {
			return off
		}
		off++
	}
	return -1
}

// Parser parses ASA messages. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	conns connCache
}

var (
	errNoTag  = errors.New(Name + ": no %ASA- message tag")
	errBadTag = errors.New(Name + ": malformed message tag")
)

func fail(code, what string) error {
	return fmt.Errorf("%s: %s: %s", Name, code, what)
}

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := rec.Msg
	var tag, body, prefix []byte
	hostTag := false
	switch {
	case isTag(msg):
		tag = msg
	case isTag(rec.Host):
		// A header parser that takes "%ASA-6-302013:" after "stamp: " for
		// a host name: the tag is the "host" and the message follows.
		tag, body, hostTag = rec.Host, msg, true
		rec.Host = nil
	default:
		i := findTag(msg)
		if i < 0 {
			return errNoTag
		}
		prefix, tag = msg[:i], msg[i:]
	}
	product, level, id, rest, ok := parseTag(tag)
	if !ok {
		return errBadTag
	}
	if hostTag {
		if len(rest) != 0 {
			return errBadTag
		}
	} else {
		body = rest
	}
	h := handler(id)
	if h == nil {
		return detect.ErrNotEvent
	}

	ev.Observer.Vendor = "Cisco"
	ev.Observer.Product = product
	ev.Severity = level
	host := p.header(rec, prefix, ev)
	if err := h(p, id, body, host, ev); err != nil {
		return err
	}
	if !ev.Source.IP.IsValid() && !ev.Destination.IP.IsValid() && id != 733100 {
		return fail(ev.Code, "no address")
	}
	return nil
}

type handlerFunc func(p *Parser, id int, b, host []byte, ev *detect.Event) error

// handler returns the parser of message id, or nil.
func handler(id int) handlerFunc {
	switch id {
	case 106001:
		return (*Parser).connDenied
	case 106006, 106007, 106015:
		return (*Parser).denyFrom
	case 106014:
		return (*Parser).denyICMP
	case 106021:
		return (*Parser).reversePath
	case 106023:
		return (*Parser).accessGroup
	case 106100:
		return (*Parser).accessList
	case 302013, 302015:
		return (*Parser).built
	case 302014, 302016:
		return (*Parser).teardown
	case 302020, 302021:
		return (*Parser).icmpConn
	case 313001, 313008:
		return (*Parser).icmpDenied
	case 313004:
		return (*Parser).icmpNoSession
	case 313005:
		return (*Parser).icmpError
	case 419002:
		return (*Parser).dupSYN
	case 710003:
		return (*Parser).deviceDenied
	case 733100:
		return (*Parser).dropRate
	case 733101:
		return (*Parser).scanning
	}
	if id >= 400000 && id <= 400051 {
		return (*Parser).ips
	}
	return nil
}

// parseTag reads "%ASA-[class-]L-NNNNNN:" and the spaces after it.
func parseTag(b []byte) (product string, level, id int, rest []byte, ok bool) {
	switch string(b[1:4]) {
	case "ASA":
		product = "ASA"
	case "FTD":
		product = "FTD"
	default:
		product = "PIX"
	}
	i := 5
	j := i
	for j < len(b) && j-i < 16 && isLetter(b[j]) {
		j++
	}
	if j > i { // EMBLEM class: %ASA-session-6-302013
		if j >= len(b) || b[j] != '-' {
			return
		}
		i = j + 1
	}
	if i+2 >= len(b) || b[i] < '0' || b[i] > '7' || b[i+1] != '-' {
		return
	}
	level = int(b[i] - '0')
	i += 2
	n := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		id = id*10 + int(b[i]-'0')
		i++
		n++
		if n > 6 {
			return
		}
	}
	if n != 6 {
		return
	}
	if i < len(b) && b[i] == ':' {
		i++
	} else if i < len(b) && b[i] != ' ' {
		return
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return product, level, id, b[i:], true
}

// header reads the device's own stamp and host name from what stands
// before the tag (EMBLEM, or a header behind a relay's), and returns the
// device's host name as written, for the connection table.
func (p *Parser) header(rec *detect.Record, prefix []byte, ev *detect.Event) []byte {
	if len(prefix) == 0 {
		// "stamp UTC: %ASA-..." leaves the zone as the syslog tag.
		if len(rec.App) > 0 && rec.ProcID == nil {
			if utcZone(rec.App) && !rec.Time.IsZero() {
				ev.Timestamp = inUTC(rec.Time)
			} else if len(rec.Host) == 0 && !isZone(rec.App) && isHostName(rec.App) {
				// "stamp asa01: %ASA-...": the device name read as a tag.
				ev.Observer.Hostname = p.names.Bytes(rec.App)
				return rec.App
			}
		}
		return rec.Host
	}
	b := trim(prefix, " :")
	if n := digitRun(b); n > 0 && n < len(b) && b[n] == ':' { // EMBLEM sequence number
		b = trim(b[n+1:], " ")
	}
	var host []byte
	loc := rec.Location()
	t, n, ok := stamp(b, rec.Ref, loc)
	if !ok {
		w, rest := cutWord(b)
		w = trim(w, ":")
		if t, n, ok = stamp(trim(rest, " :"), rec.Ref, loc); ok { // "asa01: Nov 27 ..."
			host = w
			b = trim(rest, " :")
		} else if len(rest) == 0 && isHostName(w) { // "asa01 :"
			host = w
		}
	}
	if ok {
		b = trim(b[n:], " :")
		if w, rest := cutWord(b); len(w) > 0 {
			z := trim(w, ":")
			if isZone(z) {
				if utcZone(z) {
					t = inUTC(t)
				}
				b = trim(rest, " :")
			}
		}
		if w, rest := cutWord(b); host == nil && len(rest) == 0 {
			if w = trim(w, ":"); isHostName(w) {
				host = w
			}
		}
		ev.Timestamp = t
	}
	if len(host) > 0 {
		ev.Observer.Hostname = p.names.Bytes(host)
		return host
	}
	return rec.Host
}

func stamp(b []byte, ref time.Time, loc *time.Location) (time.Time, int, bool) {
	if t, n, ok := syslog.ParseBSD(b, ref, loc); ok {
		return t, n, true
	}
	return syslog.ParseISO(b, false, loc)
}

// inUTC returns t's wall clock read in UTC.
func inUTC(t time.Time) time.Time {
	if t.Location() == time.UTC {
		return t
	}
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), time.UTC)
}

func utcZone(b []byte) bool {
	return string(b) == "UTC" || string(b) == "GMT" || string(b) == "Z"
}

// isZone reports whether b is a time zone abbreviation the ASA writes
// after its stamp ("clock timezone").
func isZone(b []byte) bool {
	switch string(b) {
	case "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT",
		"AKST", "AKDT", "HST", "AST", "ADT", "NST", "NDT", "WET", "WEST", "CET", "CEST",
		"EET", "EEST", "MSK", "BST", "IST", "SGT", "HKT", "JST", "KST", "AEST", "AEDT",
		"ACST", "ACDT", "AWST", "NZST", "NZDT":
		return true
	}
	return false
}

// ---- message handlers ----

// connDenied: 106001 "Inbound TCP connection denied from A/p to B/p flags F
// on interface X".
func (p *Parser) connDenied(id int, b, _ []byte, ev *detect.Event) error {
	const code = "106001"
	ev.Code = code
	k := bytes.Index(b, []byte(" connection denied from "))
	if k < 0 {
		return fail(code, "no \"connection denied from\"")
	}
	firewall(ev, detect.TypeDenied, "denied")
	_, proto := lastWord(b[:k])
	setTransport(ev, proto)
	return p.fromTo(code, b, k+len(" connection denied from "), optIface, optIface, ev)
}

// denyFrom: 106006/106007 "Deny inbound UDP from A/p to B/p ...", 106015
// "Deny TCP (no connection) from A/p to B/p flags ... on interface X".
func (p *Parser) denyFrom(id int, b, _ []byte, ev *detect.Event) error {
	code := codeOf(id)
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Deny ")) {
		return fail(code, "no \"Deny\"")
	}
	k := bytes.Index(b, []byte(" from "))
	if k < 0 {
		return fail(code, "no \"from\"")
	}
	firewall(ev, detect.TypeDenied, "Deny")
	// The protocol is the last word before "from" (106006), or the one
	// before "(no connection)" (106015).
	w, rest := cutWord(b[len("Deny "):])
	if lex.EqualFold(w, "inbound") || lex.EqualFold(w, "outbound") {
		w, _ = cutWord(rest)
	}
	setTransport(ev, w)
	return p.fromTo(code, b, k+len(" from "), optIface, optIface, ev)
}

// denyICMP: 106014 "Deny inbound icmp src IF:A dst IF:B (type T, code C)".
func (p *Parser) denyICMP(id int, b, _ []byte, ev *detect.Event) error {
	const code = "106014"
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Deny ")) {
		return fail(code, "no \"Deny\"")
	}
	k := bytes.Index(b, []byte(" src "))
	if k < 0 {
		return fail(code, "no \"src\"")
	}
	firewall(ev, detect.TypeDenied, "Deny")
	_, proto := lastWord(b[:k])
	setTransport(ev, proto)
	if ev.Network.Transport == "" {
		ev.Network.Transport = detect.TransportICMP
	}
	return p.srcDst(code, b, k+len(" src "), ev)
}

// reversePath: 106021 "Deny PROTO reverse path check from A to B on
// interface X".
func (p *Parser) reversePath(id int, b, _ []byte, ev *detect.Event) error {
	const code = "106021"
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Deny ")) {
		return fail(code, "no \"Deny\"")
	}
	k := bytes.Index(b, []byte(" reverse path check from "))
	if k < 0 {
		return fail(code, "no \"reverse path check from\"")
	}
	firewall(ev, detect.TypeDenied, "Deny")
	_, proto := lastWord(b[:k])
	setTransport(ev, proto)
	return p.fromTo(code, b, k+len(" reverse path check from "), optIface, optIface, ev)
}

// accessGroup: 106023 "Deny PROTO src [IF:]A[/p][(user)] dst IF:B[/p][(user)]
// [(type T, code C)] by access-group "ACL" [0xH1, 0xH2]".
func (p *Parser) accessGroup(id int, b, _ []byte, ev *detect.Event) error {
	const code = "106023"
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Deny ")) {
		return fail(code, "no \"Deny\"")
	}
	k := bytes.Index(b[len("Deny"):], []byte(" src "))
	if k < 0 {
		return fail(code, "no \"src\"")
	}
	k += len("Deny")
	firewall(ev, detect.TypeDenied, "Deny")
	setTransport(ev, protoWord(b[len("Deny "):max(k, len("Deny "))]))
	if err := p.srcDst(code, b, k+len(" src "), ev); err != nil {
		return err
	}
	a := bytes.Index(b[k:], []byte(" by access"))
	if a < 0 {
		return fail(code, "no access-group")
	}
	i := k + a + len(" by access")
	for i < len(b) && b[i] != ' ' {
		i++ // "-group" or "_group"
	}
	return p.aclRule(code, b, i, ev)
}

// aclRule reads the ACL name at b[i:] (quoted or not) and the hashes after
// it: rule.name and rule.id.
func (p *Parser) aclRule(code string, b []byte, i int, ev *detect.Event) error {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	var name []byte
	if i < len(b) && b[i] == '"' {
		e := bytes.IndexByte(b[i+1:], '"')
		if e < 0 {
			return fail(code, "unterminated access list name")
		}
		name = b[i+1 : i+1+e]
		i += e + 2
	} else {
		name, _ = cutWord(b[i:])
		i += len(name)
	}
	if len(name) == 0 {
		return fail(code, "no access list name")
	}
	ev.Rule.Name = p.names.Bytes(name)
	p.aceHash(b[i:], ev)
	return nil
}

// aceHash sets rule.id from "[0xH1, 0xH2]": the ACE hash, when not zero.
func (p *Parser) aceHash(b []byte, ev *detect.Event) {
	o := bytes.IndexByte(b, '[')
	if o < 0 {
		return
	}
	b = b[o+1:]
	e := 0
	for e < len(b) && b[e] != ',' && b[e] != ']' && b[e] != ' ' {
		e++
	}
	h := b[:e]
	if len(h) < 3 || h[0] != '0' || h[1]|0x20 != 'x' || len(h) > 18 {
		return
	}
	zero := true
	for _, c := range h[2:] {
		if !isHex(c) {
			return
		}
		if c != '0' {
			zero = false
		}
	}
	if !zero {
		ev.Rule.ID = p.names.Bytes(h)
	}
}

// accessList: 106100 "access-list ACL {permitted|denied|est-allowed} PROTO
// IF/A(p)[(user)] -> IF/B(p)[(user)] hit-cnt N ({first hit|N-second
// interval}) [0xH1, 0xH2]".
func (p *Parser) accessList(id int, b, _ []byte, ev *detect.Event) error {
	const code = "106100"
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("access-list ")) {
		return fail(code, "no \"access-list\"")
	}
	name, rest := cutWord(b[len("access-list "):])
	verdict, rest := cutWord(rest)
	proto, rest := cutWord(rest)
	if len(name) == 0 || len(proto) == 0 {
		return fail(code, "too few fields")
	}
	switch string(verdict) {
	case "denied":
		firewall(ev, detect.TypeDenied, "denied")
	case "permitted":
		firewall(ev, detect.TypeAllowed, "permitted")
	case "est-allowed":
		firewall(ev, detect.TypeAllowed, "est-allowed")
	default:
		return fail(code, "unknown verdict")
	}
	ev.Rule.Name = p.names.Bytes(name)
	setTransport(ev, proto)
	i := len(b) - len(rest)
	src, i, ok := slashEndpoint(b, i)
	if !ok {
		return fail(code, "bad source")
	}
	i = skipGroups(b, i)
	if hasAt(b, i, "->") {
		i = skipSpaces(b, i+2)
	}
	dst, i, ok := slashEndpoint(b, i)
	if !ok {
		return fail(code, "bad destination")
	}
	setEndpoints(ev, src, dst)
	p.aceHash(b[i:], ev)
	return nil
}

// slashEndpoint reads 106100's "IF/A(p)" at b[i:].
func slashEndpoint(b []byte, i int) (endpoint, int, bool) {
	var ep endpoint
	s := bytes.IndexByte(b[i:min(len(b), i+maxIface)], '/')
	if s <= 0 {
		return ep, i, false
	}
	i += s + 1
	o := bytes.IndexByte(b[i:], '(')
	if o < 0 {
		return ep, i, false
	}
	var ok bool
	if ep.ip, ep.named, ok = host(b[i : i+o]); !ok {
		return ep, i, false
	}
	i += o + 1
	c := bytes.IndexByte(b[i:], ')')
	if c < 0 {
		return ep, i, false
	}
	ep.port, _ = lex.Port(b[i : i+c])
	return ep, i + c + 1, true
}

// built: 302013/302015 "Built {inbound|outbound} [Probe ]{TCP|UDP} connection
// ID for IF:A/p (MA/mp)[(user)] to IF:B/p (MB/mp)[(user)] ...".
func (p *Parser) built(id int, b, devHost []byte, ev *detect.Event) error {
	code := codeOf(id)
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Built ")) {
		return fail(code, "no \"Built\"")
	}
	dir, rest := cutWord(b[len("Built "):])
	var outbound bool
	switch string(dir) {
	case "inbound":
	case "outbound":
		outbound = true
	default:
		return fail(code, "no direction")
	}
	firewall(ev, detect.TypeAllowed, "Built")
	proto, rest := cutWord(rest)
	if string(proto) == "Probe" {
		proto, rest = cutWord(rest)
	}
	setTransport(ev, proto)
	w, rest := cutWord(rest)
	if string(w) != "connection" {
		return fail(code, "no \"connection\"")
	}
	cid, rest := cutWord(rest)
	conn, okID := lex.Uint(cid)
	w, rest = cutWord(rest)
	if string(w) != "for" {
		return fail(code, "no \"for\"")
	}
	i := len(b) - len(rest)
	a, i, ok := natEndpoint(b, i)
	if !ok {
		return fail(code, "bad \"for\" address")
	}
	if !hasAt(b, i, "to ") {
		return fail(code, "no \"to\"")
	}
	c, _, ok := natEndpoint(b, i+3)
	if !ok {
		return fail(code, "bad \"to\" address")
	}
	init, resp := a, c
	if outbound {
		init, resp = c, a
	}
	ev.Source.IP, ev.Source.Port = init.ip, init.port
	if init.mapIP.IsValid() && init.mapIP != init.ip {
		ev.Source.NATIP = init.mapIP
	}
	if resp.hasMap && resp.mapIP.IsValid() {
		ev.Destination.IP, ev.Destination.Port = resp.mapIP, resp.mapPort
		if resp.ip.IsValid() && resp.ip != resp.mapIP {
			ev.Destination.NATIP = resp.ip
		}
	} else {
		ev.Destination.IP, ev.Destination.Port = resp.ip, resp.port
	}
	fixICMP(ev)
	if okID {
		p.conns.put(connKey(devHost, conn, id), outbound)
	}
	return nil
}

// teardown: 302014/302016 "Teardown [Probe ]{TCP|UDP} connection ID for
// IF:A/p[(user)] to IF:B/p[(user)] duration H:MM:SS bytes N [reason] ...".
func (p *Parser) teardown(id int, b, devHost []byte, ev *detect.Event) error {
	code := codeOf(id)
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Teardown ")) {
		return fail(code, "no \"Teardown\"")
	}
	firewall(ev, detect.TypeAllowed, "Teardown")
	proto, rest := cutWord(b[len("Teardown "):])
	if string(proto) == "Probe" {
		proto, rest = cutWord(rest)
	}
	setTransport(ev, proto)
	w, rest := cutWord(rest)
	if string(w) != "connection" {
		return fail(code, "no \"connection\"")
	}
	cid, rest := cutWord(rest)
	conn, okID := lex.Uint(cid)
	w, rest = cutWord(rest)
	if string(w) != "for" {
		return fail(code, "no \"for\"")
	}
	i := len(b) - len(rest)
	a, i, ok := parseEndpoint(b, i, reqIface)
	if !ok {
		return fail(code, "bad \"for\" address")
	}
	i = skipGroups(b, i)
	if !hasAt(b, i, "to ") {
		return fail(code, "no \"to\"")
	}
	c, i, ok := parseEndpoint(b, i+3, reqIface)
	if !ok {
		return fail(code, "bad \"to\" address")
	}
	// Which side opened it: the build's direction if we saw it, else the
	// side with the higher port is the client.
	outbound, known := false, false
	if okID {
		outbound, known = p.conns.take(connKey(devHost, conn, id-1))
	}
	if !known {
		outbound = a.port != 0 && c.port != 0 && a.port < c.port
	}
	if outbound {
		a, c = c, a
	}
	setEndpoints(ev, a, c)
	if k := bytes.Index(b[i:], []byte(" bytes ")); k >= 0 {
		j := i + k + len(" bytes ")
		n := digitRun(b[j:])
		if v, ok := lex.Uint(b[j : j+n]); ok {
			ev.Network.Bytes = detect.SetCount(v)
		}
	}
	return nil
}

// icmpConn: 302020 "Built {inbound|outbound} ICMP connection for faddr
// F/n[(user)] gaddr G/n laddr L/n[(user)] ..." and 302021 "Teardown ICMP
// connection for faddr F/n gaddr G/n laddr L/n ...". faddr is the foreign
// host, laddr the local host and gaddr its mapped (global) address.
func (p *Parser) icmpConn(id int, b, _ []byte, ev *detect.Event) error {
	code := codeOf(id)
	ev.Code = code
	var outbound, known bool
	rest := b
	if id == 302020 {
		if !bytes.HasPrefix(b, []byte("Built ")) {
			return fail(code, "no \"Built\"")
		}
		var dir []byte
		dir, rest = cutWord(b[len("Built "):])
		switch string(dir) {
		case "inbound":
		case "outbound":
			outbound = true
		default:
			return fail(code, "no direction")
		}
		known = true
		firewall(ev, detect.TypeAllowed, "Built")
	} else {
		if !bytes.HasPrefix(b, []byte("Teardown ")) {
			return fail(code, "no \"Teardown\"")
		}
		rest = b[len("Teardown "):]
		firewall(ev, detect.TypeAllowed, "Teardown")
	}
	proto, rest := cutWord(rest)
	setTransport(ev, proto)
	if ev.Network.Transport == "" {
		ev.Network.Transport = detect.TransportICMP
	}
	if !bytes.HasPrefix(rest, []byte("connection for faddr ")) {
		return fail(code, "no \"connection for faddr\"")
	}
	i := len(b) - len(rest) + len("connection for faddr ")
	f, i, ok := parseEndpoint(b, i, optIface)
	if !ok {
		return fail(code, "bad faddr")
	}
	i = skipGroups(b, i)
	if !hasAt(b, i, "gaddr ") {
		return fail(code, "no gaddr")
	}
	g, i, ok := parseEndpoint(b, i+len("gaddr "), optIface)
	if !ok {
		return fail(code, "bad gaddr")
	}
	i = skipGroups(b, i)
	if !hasAt(b, i, "laddr ") {
		return fail(code, "no laddr")
	}
	l, _, ok := parseEndpoint(b, i+len("laddr "), optIface)
	if !ok {
		return fail(code, "bad laddr")
	}
	if !known {
		// Only the initiator's side carries its ICMP id.
		outbound = !(f.port != 0 && l.port == 0)
	}
	if outbound {
		ev.Source.IP, ev.Destination.IP = l.ip, f.ip
		if g.ip.IsValid() && g.ip != l.ip {
			ev.Source.NATIP = g.ip
		}
	} else {
		ev.Source.IP, ev.Destination.IP = f.ip, g.ip
		if l.ip.IsValid() && l.ip != g.ip {
			ev.Destination.NATIP = l.ip
		}
		if !g.ip.IsValid() {
			ev.Destination.IP = l.ip
		}
	}
	fixICMP(ev)
	return nil
}

// icmpDenied: 313001 "Denied ICMP type=T, code=C from A on interface X",
// 313008 the same with "IPv6-ICMP" (older: "ICMPv6").
func (p *Parser) icmpDenied(id int, b, _ []byte, ev *detect.Event) error {
	code := codeOf(id)
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Denied ")) {
		return fail(code, "no \"Denied\"")
	}
	proto, _ := cutWord(b[len("Denied "):])
	k := bytes.Index(b, []byte(" from "))
	if k < 0 {
		return fail(code, "no \"from\"")
	}
	firewall(ev, detect.TypeDenied, "Denied")
	setTransport(ev, proto)
	if ev.Network.Transport == "" {
		ev.Network.Transport = detect.TransportICMP
		if id == 313008 {
			ev.Network.Transport = detect.TransportIPv6ICMP
		}
	}
	src, _, ok := parseEndpoint(b, k+len(" from "), optIface)
	if !ok {
		return fail(code, "bad source address")
	}
	ev.Source.IP = src.ip
	fixICMP(ev)
	return nil
}

// icmpNoSession: 313004 "Denied ICMP type=T, from laddr A on interface X to
// B: no matching session".
func (p *Parser) icmpNoSession(id int, b, _ []byte, ev *detect.Event) error {
	const code = "313004"
	ev.Code = code
	if !bytes.HasPrefix(b, []byte("Denied ")) {
		return fail(code, "no \"Denied\"")
	}
	if e := bytes.LastIndex(b, []byte(": no matching")); e >= 0 {
		b = b[:e]
	}
	proto, _ := cutWord(b[len("Denied "):])
	k := bytes.Index(b, []byte(" from "))
	if k < 0 {
		return fail(code, "no \"from\"")
	}
	firewall(ev, detect.TypeDenied, "Denied")
	setTransport(ev, proto)
	if ev.Network.Transport == "" {
		ev.Network.Transport = detect.TransportICMP
	}
	i := k + len(" from ")
	if hasAt(b, i, "laddr ") {
		i += len("laddr ")
	}
	src, i, ok := parseEndpoint(b, i, optIface)
	if !ok {
		return fail(code, "bad source address")
	}
	ev.Source.IP = src.ip
	t := bytes.LastIndex(b[i:], []byte(" to "))
	if t < 0 {
		return fail(code, "no \"to\"")
	}
	dst, _, ok := parseEndpoint(b, i+t+len(" to "), optIface)
	if !ok {
		return fail(code, "bad destination address")
	}
	ev.Destination.IP = dst.ip
	fixICMP(ev)
	return nil
}

// icmpError: 313005 "No matching connection for ICMP error message: icmp src
// IF:A dst IF:B (type T, code C) on IF interface. Original IP payload: ...".
// The event is the ICMP error packet that was dropped.
func (p *Parser) icmpError(id int, b, _ []byte, ev *detect.Event) error {
	const code = "313005"
	ev.Code = code
	const lead = "No matching connection for ICMP error message: "
	if !bytes.HasPrefix(b, []byte(lead)) {
		return fail(code, "no \"No matching connection\"")
	}
	proto, rest := cutWord(b[len(lead):])
	if !bytes.HasPrefix(rest, []byte("src ")) {
		return fail(code, "no \"src\"")
	}
	firewall(ev, detect.TypeDenied, "")
	setTransport(ev, proto)
	if ev.Network.Transport == "" {
		ev.Network.Transport = detect.TransportICMP
	}
	return p.srcDst(code, b, len(b)-len(rest)+len("src "), ev)
}

// dupSYN: 419002 "Duplicate TCP SYN from IF:A/p to IF:B/p with different
// initial sequence number". The SYN is dropped.
func (p *Parser) dupSYN(id int, b, _ []byte, ev *detect.Event) error {
	const code = "419002"
	ev.Code = code
	const lead = "Duplicate TCP SYN from "
	if !bytes.HasPrefix(b, []byte(lead)) {
		return fail(code, "no \"Duplicate TCP SYN from\"")
	}
	firewall(ev, detect.TypeDenied, "")
	ev.Network.Transport = detect.TransportTCP
	return p.fromTo(code, b, len(lead), optIface, reqIface, ev)
}

// deviceDenied: 710003 "{TCP|UDP} access denied by ACL from A/p to IF:B/p".
func (p *Parser) deviceDenied(id int, b, _ []byte, ev *detect.Event) error {
	const code = "710003"
	ev.Code = code
	proto, rest := cutWord(b)
	const lead = "access denied by ACL from "
	if !bytes.HasPrefix(rest, []byte(lead)) {
		return fail(code, "no \"access denied by ACL from\"")
	}
	firewall(ev, detect.TypeDenied, "denied")
	setTransport(ev, proto)
	return p.fromTo(code, b, len(b)-len(rest)+len(lead), optIface, optIface, ev)
}

// ips: 4000nn "IPS:SIG TITLE from A to B on interface X" (PIX: "IDS:").
func (p *Parser) ips(id int, b, _ []byte, ev *detect.Event) error {
	code := codeOf(id)
	ev.Code = code
	if !(bytes.HasPrefix(b, []byte("IPS:")) || bytes.HasPrefix(b, []byte("IDS:"))) {
		return fail(code, "no \"IPS:\"")
	}
	b2 := b
	if e := bytes.LastIndex(b2, []byte(" on interface ")); e >= 0 {
		b2 = b2[:e]
	}
	n := digitRun(b2[4:])
	if n == 0 || n > 6 || 4+n >= len(b2) || b2[4+n] != ' ' {
		return fail(code, "no signature number")
	}
	sig := b2[4 : 4+n]
	f := bytes.LastIndex(b2, []byte(" from "))
	if f < 4+n {
		return fail(code, "no \"from\"")
	}
	title := lex.Trim(b2[min(4+n+1, f):f])
	ev.Category = detect.CategoryIntrusionDetection
	ev.Type = detect.TypeInfo
	ev.Rule.ID = p.names.Bytes(sig)
	if len(title) > 0 {
		ev.Rule.Name = p.names.Bytes(title)
	}
	// Signature classes: 2xxx ICMP, 3xxx TCP, 4xxx UDP.
	switch sig[0] {
	case '2':
		ev.Network.Transport = detect.TransportICMP
	case '3':
		ev.Network.Transport = detect.TransportTCP
	case '4':
		ev.Network.Transport = detect.TransportUDP
	}
	if n != 4 {
		ev.Network.Transport = ""
	}
	return p.fromTo(code, b2, f+len(" from "), optIface, optIface, ev)
}

// dropRate: 733100 "[OBJECT] drop rate-N exceeded. Current burst rate is R
// per second, max configured rate is R; Current average rate is R per
// second, max configured rate is R; Cumulative total count is N".
func (p *Parser) dropRate(id int, b, _ []byte, ev *detect.Event) error {
	const code = "733100"
	ev.Code = code
	if len(b) == 0 || b[0] != '[' {
		return fail(code, "no [object]")
	}
	e := bytes.IndexByte(b, ']')
	if e < 0 {
		return fail(code, "no [object]")
	}
	obj := lex.Trim(b[1:e])
	rest := b[e+1:]
	if len(obj) == 0 || !bytes.HasPrefix(rest, []byte(" drop rate")) {
		return fail(code, "no \"drop rate\"")
	}
	rest = rest[len(" drop rate"):]
	if len(rest) > 0 && (rest[0] == '-' || rest[0] == ' ') {
		rest = rest[1:]
	}
	n := digitRun(rest)
	if n == 0 || !bytes.HasPrefix(rest[n:], []byte(" exceeded")) {
		return fail(code, "no rate id")
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Type = detect.TypeDenied
	ev.Action = "drop"
	ev.Rule.Name = p.names.Bytes(obj)
	ev.Rule.ID = p.names.Bytes(rest[:n])
	return nil
}

// scanning: 733101 "{Host|Subnet} A is {attacking|targeted}. Current burst
// rate is ...".
func (p *Parser) scanning(id int, b, _ []byte, ev *detect.Event) error {
	const code = "733101"
	ev.Code = code
	kind, rest := cutWord(b)
	if string(kind) != "Host" && string(kind) != "Subnet" {
		return fail(code, "no Host or Subnet")
	}
	addr, rest := cutWord(rest)
	is, rest := cutWord(rest)
	what, _ := cutWord(rest)
	what = bytes.TrimRight(what, ".")
	if string(is) != "is" {
		return fail(code, "no \"is\"")
	}
	ip, ok := lex.Addr(addr)
	if !ok {
		return fail(code, "bad address")
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Type = detect.TypeInfo
	ev.Rule.Name = "scanning-threat"
	switch string(what) {
	case "attacking":
		ev.Action = "attacking"
		ev.Source.IP = ip
	case "targeted":
		ev.Action = "targeted"
		ev.Destination.IP = ip
	default:
		return fail(code, "neither attacking nor targeted")
	}
	return nil
}

// ---- shared pieces ----

func firewall(ev *detect.Event, typ, action string) {
	ev.Category = detect.CategoryNetwork
	ev.Type = typ
	ev.Action = action
}

// fromTo reads "A[/p] to B[/p]" at b[i:].
func (p *Parser) fromTo(code string, b []byte, i int, srcMode, dstMode int, ev *detect.Event) error {
	src, i, ok := parseEndpoint(b, i, srcMode)
	if !ok {
		return fail(code, "bad source address")
	}
	i = skipGroups(b, i)
	if !hasAt(b, i, "to ") {
		return fail(code, "no destination")
	}
	dst, _, ok := parseEndpoint(b, i+3, dstMode)
	if !ok {
		return fail(code, "bad destination address")
	}
	setEndpoints(ev, src, dst)
	return nil
}

// srcDst reads "[IF:]A[/p][(user)] dst [IF:]B[/p]" at b[i:].
func (p *Parser) srcDst(code string, b []byte, i int, ev *detect.Event) error {
	src, i, ok := parseEndpoint(b, i, optIface)
	if !ok {
		return fail(code, "bad source address")
	}
	i = skipGroups(b, i)
	if !hasAt(b, i, "dst ") {
		return fail(code, "no destination")
	}
	dst, _, ok := parseEndpoint(b, i+4, optIface)
	if !ok {
		return fail(code, "bad destination address")
	}
	setEndpoints(ev, src, dst)
	return nil
}

func setEndpoints(ev *detect.Event, src, dst endpoint) {
	ev.Source.IP, ev.Source.Port = src.ip, src.port
	ev.Destination.IP, ev.Destination.Port = dst.ip, dst.port
	fixICMP(ev)
}

// fixICMP drops ports (ICMP type and code, or ids) for ICMP, and makes ICMP
// between IPv6 addresses ipv6-icmp.
func fixICMP(ev *detect.Event) {
	switch ev.Network.Transport {
	case detect.TransportICMP:
		if a := ev.Source.IP; a.Is6() || (!a.IsValid() && ev.Destination.IP.Is6()) {
			ev.Network.Transport = detect.TransportIPv6ICMP
		}
	case detect.TransportIPv6ICMP:
	default:
		return
	}
	ev.Source.Port, ev.Destination.Port = 0, 0
}

// protoWord returns 106023's protocol: "tcp", or the number in "protocol 47".
func protoWord(b []byte) []byte {
	w, rest := cutWord(b)
	if string(w) == "protocol" {
		w, _ = cutWord(rest)
	}
	return w
}

func setTransport(ev *detect.Event, w []byte) {
	switch {
	case lex.EqualFold(w, "tcp"), string(w) == "6":
		ev.Network.Transport = detect.TransportTCP
	case lex.EqualFold(w, "udp"), string(w) == "17":
		ev.Network.Transport = detect.TransportUDP
	case lex.EqualFold(w, "icmp"), string(w) == "1":
		ev.Network.Transport = detect.TransportICMP
	case lex.EqualFold(w, "icmp6"), lex.EqualFold(w, "icmpv6"), lex.EqualFold(w, "ipv6-icmp"), string(w) == "58":
		ev.Network.Transport = detect.TransportIPv6ICMP
	}
}

// endpoint is one side of a message: an address (or a name from the ASA's
// names table, which leaves ip invalid), a port, and for connection builds
// the mapped address in parentheses.
type endpoint struct {
	ip      netip.Addr
	port    uint16
	named   bool
	hasMap  bool
	mapIP   netip.Addr
	mapPort uint16
}

// Interface name forms before an address.
const (
	noIface  = iota
	optIface // "IF:" may stand before the address
	reqIface // "IF:" stands before the address; the name may hold spaces ("NP Identity Ifc")
)

const maxIface = 64

// parseEndpoint reads "[IF:]A[/p]" at b[i:] and returns the index after it.
func parseEndpoint(b []byte, i int, mode int) (endpoint, int, bool) {
	var ep endpoint
	if i > len(b) {
		return ep, i, false
	}
	switch mode {
	case reqIface:
		c := bytes.IndexByte(b[i:min(len(b), i+maxIface)], ':')
		if c <= 0 || bytes.ContainsAny(b[i:i+c], "/()") {
			return ep, i, false
		}
		i += c + 1
	case optIface:
		e := i
		for e < len(b) && b[e] != ' ' && b[e] != '(' {
			e++
		}
		tok := b[i:e]
		a := tok
		if s := bytes.LastIndexByte(tok, '/'); s >= 0 {
			a = tok[:s]
		}
		if c := bytes.IndexByte(a, ':'); c > 0 && hasIface(a, c) {
			i += c + 1
		}
	}
	j := i
	for j < len(b) && !isAddrEnd(b[j]) {
		j++
	}
	var ok bool
	if ep.ip, ep.named, ok = host(b[i:j]); !ok {
		return ep, j, false
	}
	if j < len(b) && b[j] == '/' {
		k := j + 1
		n := digitRun(b[k:])
		if n > 0 {
			ep.port, _ = lex.Port(b[k : k+n])
			k += n
		} else {
			for k < len(b) && isNameByte(b[k]) {
				k++ // a service name
			}
		}
		j = k
	}
	return ep, j, true
}

// hasIface reports whether "x:..." in a, with its first colon at c, is an
// interface name before an address rather than an IPv6 address.
func hasIface(a []byte, c int) bool {
	if c > 4 || bytes.IndexByte(a[c+1:], ':') < 0 {
		return true // "outside:192.0.2.1", or longer than an IPv6 group
	}
	for _, ch := range a[:c] {
		if !isHex(ch) {
			return true
		}
	}
	_, ok := lex.Addr(a)
	return !ok
}

// natEndpoint reads "IF:A/p (MA/mp)" followed by any "(user)" groups, and
// returns the index of what follows them.
func natEndpoint(b []byte, i int) (endpoint, int, bool) {
	ep, i, ok := parseEndpoint(b, i, reqIface)
	if !ok {
		return ep, i, false
	}
	j := skipSpaces(b, i)
	if j < len(b) && b[j] == '(' {
		m, k, ok := parseEndpoint(b, j+1, noIface)
		if ok && k < len(b) && b[k] == ')' {
			ep.hasMap, ep.mapIP, ep.mapPort = true, m.ip, m.port
			i = k + 1
		}
	}
	return ep, skipGroups(b, i), true
}

func isAddrEnd(c byte) bool {
	return c == ' ' || c == '/' || c == '(' || c == ')' || c == ',' || c == ';' || c == '\t'
}

// host parses an address, or accepts a name from the ASA's names table.
func host(a []byte) (ip netip.Addr, named, ok bool) {
	// An address starts with a digit or holds a colon; trying anything
	// else would only cost netip's error.
	if len(a) > 0 && (a[0] >= '0' && a[0] <= '9' || bytes.IndexByte(a, ':') >= 0) {
		if ip, ok := lex.Addr(a); ok {
			return ip.WithZone(""), false, true
		}
	}
	if isHostName(a) {
		return netip.Addr{}, true, true
	}
	return netip.Addr{}, false, false
}

// isHostName reports whether b is a host name: a letter, then letters,
// digits, '-', '_' and '.'.
func isHostName(b []byte) bool {
	if len(b) == 0 || len(b) > 63 || !isLetter(b[0]) {
		return false
	}
	for _, c := range b {
		if !isNameByte(c) {
			return false
		}
	}
	return true
}

func isNameByte(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// skipGroups skips spaces and parenthesised groups ("(LOCAL\user)").
func skipGroups(b []byte, i int) int {
	for {
		i = skipSpaces(b, i)
		if i >= len(b) || b[i] != '(' {
			return i
		}
		c := bytes.IndexByte(b[i:], ')')
		if c < 0 {
			return len(b)
		}
		i += c + 1
	}
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

func hasAt(b []byte, i int, s string) bool {
	return i >= 0 && len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// cutWord returns the word at the start of b and what follows the spaces
// after it.
func cutWord(b []byte) (w, rest []byte) {
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	j := i
	for j < len(b) && b[j] == ' ' {
		j++
	}
	return b[:i], b[j:]
}

// lastWord returns b without its last word, and the last word.
func lastWord(b []byte) (head, w []byte) {
	b = bytes.TrimRight(b, " ")
	i := bytes.LastIndexByte(b, ' ')
	return b[:i+1], b[i+1:]
}

func digitRun(b []byte) int {
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	return n
}

// trim removes the bytes of cut from both ends of b.
func trim(b []byte, cut string) []byte {
	for len(b) > 0 && strings.IndexByte(cut, b[0]) >= 0 {
		b = b[1:]
	}
	for len(b) > 0 && strings.IndexByte(cut, b[len(b)-1]) >= 0 {
		b = b[:len(b)-1]
	}
	return b
}

var codes = func() map[int]string {
	m := make(map[int]string)
	for _, id := range []int{106001, 106006, 106007, 106014, 106015, 106021, 106023, 106100,
		302013, 302014, 302015, 302016, 302020, 302021, 313001, 313004, 313005, 313008,
		419002, 710003, 733100, 733101} {
		m[id] = strconv.Itoa(id)
	}
	for id := 400000; id <= 400051; id++ {
		m[id] = strconv.Itoa(id)
	}
	return m
}()

// codeOf returns the message id as a shared string.
func codeOf(id int) string { return codes[id] }

// ---- connection directions ----

// connCache remembers, per connection, whether a build was outbound, so
// that its teardown can name the initiator. It is a fixed direct-mapped
// table: a newer connection evicts an older one in its slot.
type connCache struct {
	key [connSlots]uint64
	dir [connSlots]uint8 // 0 empty, 1 inbound, 2 outbound
}

const connSlots = 4096

// connKey mixes the device, the connection id and the build message id
// (302013 TCP, 302015 UDP) into one key.
func connKey(devHost []byte, conn int64, buildID int) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range devHost {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= uint64(buildID)
	h *= 1099511628211
	return (uint64(conn) ^ h) * 0x9E3779B97F4A7C15
}

func (c *connCache) put(k uint64, outbound bool) {
	s := k >> 52 // 12 bits: connSlots
	c.key[s] = k
	c.dir[s] = 1
	if outbound {
		c.dir[s] = 2
	}
}

// take returns and forgets the direction of connection k.
func (c *connCache) take(k uint64) (outbound, ok bool) {
	s := k >> 52
	if c.key[s] != k || c.dir[s] == 0 {
		return false, false
	}
	d := c.dir[s]
	c.dir[s] = 0
	return d == 2, true
}

var _ detect.Parser = (*Parser)(nil)

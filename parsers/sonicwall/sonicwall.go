// Package sonicwall parses SonicWall SonicOS syslog in its default
// ("enhanced") key=value format:
//
//	<134>id=firewall sn=0017C5XXXXXX time="2026-11-27 10:00:00 UTC" fw=203.0.113.1 pri=1 c=32 m=36 msg="TCP packet dropped" n=123 src=198.51.100.7:51514:X1 dst=192.0.2.10:22:X0 proto=tcp/22 fw_action="drop"
//
// Values are bare, or quoted with double or single quotes. src and dst are
// ip:port:interface[:host]; an IPv6 endpoint leaves the ip empty
// (src=:51514:X1) and comes in srcV6/dstV6. The list starts at "id=",
// whatever header comes before it.
//
// The message id (m=, the SonicOS Log Events Reference Guide's event id)
// says what happened; where a line has none, or an id this parser does not
// know, the documented message text and then fw_action decide:
//
//   - network: packets and connections dropped (36 TCP, 37 UDP, 38 ICMP,
//     41, 173-175, 524, 590, 646/647 connection limits, checksum errors,
//     Geo-IP blocks 1198/1199) are denied; connections opened and closed
//     (98, 537), ICMP allowed and management requests allowed (526) are
//     allowed; otherwise fw_action: "drop" denied, "forward" and "mgmt"
//     allowed ("NA" says nothing).
//   - intrusion_detection: IPS and IDP alerts (608/609, 789/790), Anti-Spyware
//     (794 prevention, 795 detection), Application Control (1154/1155) and
//     Application Firewall (793) alerts, whose msg names the signature;
//     port and TCP scans (82/83, 177-179), floods (25, 859/860, 904/905,
//     1213/1214, 1369, 1450-1452), ARP and DNS attacks, which are detected
//     (info); attacks dropped (22 ping of death, 23 IP spoof, 27 land, 81
//     smurf, 267, 580, 606, 1373-1376, 1387, FTP bounces), flooding machines
//     blacklisted and botnet blocks (1200/1201, ...), which are denied.
//   - malware: Gateway Anti-Virus alerts (809; "... blocked" is denied).
//   - web: Content Filter (14 web site access denied, 16 allowed, 97 web
//     site hit); url.path from arg (without the query), http.request.method
//     from op (1 GET, 2 POST, 3 HEAD), rule.category from Category.
//   - email: connections to or from RBL-listed SMTP servers dropped (797/798).
//   - authentication: administrator and user logins allowed (29, 31, 199,
//     235-238, 1080, ...) and denied (30, 32, 33, 35, 200, 243-246, 329,
//     745-757, 986/987, ...); user.name from usr.
//
// Logouts, session, configuration and system messages are not events.
//
// Mapping: event.code is m; event.severity is pri; event.action is
// fw_action as written (not "NA"). rule.name is the signature (the msg text
// after "Alert: ", without its ", SID: n" or " blocked" tail) where there is
// one, else the rule= policy ("5 (WAN->LAN)"); rule.id is sid, or the ID in
// a Gateway Anti-Virus message; rule.category is ipscat when it is not the
// signature itself. natSrc/natDst (and their V6 forms, "ip[:port]" or
// "[ip]:port") go to the NAT fields when they differ from src/dst. sent and
// rcvd are source.bytes and destination.bytes; spkt+rpkt network.packets.
// network.transport and network.protocol come from proto ("tcp/https").
// @timestamp is time=, read in its zone word (UTC, GMT) or, without one, in
// the record's zone. observer is SonicWall SonicOS; sn= is a serial number,
// not a host name, so observer.hostname is the syslog host. msg and note
// are never copied, except the signature names above and the Content
// Filter policy name ("Policy: name," in note) for web events.
package sonicwall

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "sonicwall"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "SonicWall SonicOS syslog (id=firewall sn=... key=value): packet drops and connections, IPS/IDP, Anti-Spyware, Gateway Anti-Virus, Content Filter, attacks and port scans, admin and user logins",
		New:         func() detect.Parser { return new(Parser) },
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like a SonicOS log line.
func Sniff(rec *detect.Record) bool {
	return start(rec.Msg) >= 0
}

// start returns the index of the "id=" that starts the key=value list, at
// the start of the message or after a space in its first bytes, followed
// by "sn=" after its value; or -1.
func start(m []byte) int {
	lim := min(len(m), 96)
	off := 0
	for off < lim {
		i := bytes.Index(m[off:lim], []byte("id="))
		if i < 0 {
			return -1
		}
		i += off
		off = i + 3
		if i > 0 && m[i-1] != ' ' {
			continue
		}
		j := i + 3
		for j < len(m) && m[j] != ' ' {
			j++
		}
		for j < len(m) && m[j] == ' ' {
			j++
		}
		if bytes.HasPrefix(m[j:], []byte("sn=")) {
			return i
		}
	}
	return -1
}

// Parser parses SonicOS lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	f     fields
}

// fields collects the values a line carries, as slices of the line.
type fields struct {
	m, msg, pri, time, fwAction, proto []byte
	src, dst, src6, dst6               []byte
	natSrc, natDst, natSrc6, natDst6   []byte
	sent, rcvd, spkt, rpkt             []byte
	usr, rule, sid, ipscat, category   []byte
	arg, op, note                      []byte
	hasM, hasMsg                       bool
}

var (
	errQuote   = errors.New("sonicwall: unterminated quoted value")
	errNoMsgID = errors.New("sonicwall: no message id (m=) or message (msg=): truncated line?")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	i := start(rec.Msg)
	if i < 0 {
		return detect.ErrNotEvent
	}
	p.f = fields{}
	f := &p.f
	if err := f.scan(rec.Msg[i:]); err != nil {
		return err
	}
	if !f.hasM && !f.hasMsg {
		return errNoMsgID
	}
	code := -1
	if n, ok := lex.Uint(f.m); ok && n < 100000 {
		code = int(n)
	}
	k := kindOf(code)
	if k == kUnknown {
		k = kindOfText(f.msg)
	}
	action := trim(f.fwAction)
	if k == kUnknown {
		switch {
		case lex.EqualFold(action, "drop"):
			k = kNetDeny
		case lex.EqualFold(action, "forward"), lex.EqualFold(action, "mgmt"):
			k = kNetAllow
		default:
			return detect.ErrNotEvent
		}
	}
	if k == kSkip {
		return detect.ErrNotEvent
	}

	ev.Observer.Vendor = "SonicWall"
	ev.Observer.Product = "SonicOS"
	if len(f.m) > 0 {
		ev.Code = p.names.Bytes(f.m)
	}
	if n, ok := lex.Uint(trim(f.pri)); ok && n <= 7 {
		ev.Severity = int(n)
	}
	if len(action) > 0 && !lex.EqualFold(action, "NA") {
		ev.Action = p.names.Bytes(action)
	}
	if t, ok := stamp(trim(f.time), rec.Location()); ok {
		ev.Timestamp = t
	}

	// Endpoints.
	var err error
	var sport, dport uint16
	if ev.Source.IP, sport, err = endpoint(f.src, f.src6, "source"); err != nil {
		return err
	}
	if ev.Destination.IP, dport, err = endpoint(f.dst, f.dst6, "destination"); err != nil {
		return err
	}
	t, proto := transport(trim(f.proto))
	if t == "" && (code == 38 || code == 175) {
		t = detect.TransportICMP
	}
	if t == detect.TransportICMP && (ev.Source.IP.Is6() || ev.Destination.IP.Is6()) {
		t = detect.TransportIPv6ICMP
	}
	ev.Network.Transport = t
	if t != detect.TransportICMP && t != detect.TransportIPv6ICMP {
		ev.Source.Port, ev.Destination.Port = sport, dport
	}
	if len(proto) > 0 {
		ev.Network.Protocol = p.lower(proto)
	}
	ev.Source.NATIP = nat(f.natSrc, f.natSrc6, ev.Source.IP)
	ev.Destination.NATIP = nat(f.natDst, f.natDst6, ev.Destination.IP)
	if n, ok := lex.Uint(trim(f.sent)); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(trim(f.rcvd)); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	sp, okS := lex.Uint(trim(f.spkt))
	rp, okR := lex.Uint(trim(f.rpkt))
	if okS || okR {
		ev.Network.Packets = detect.SetCount(sp + rp)
	}

	drop := lex.EqualFold(action, "drop")
	ev.Category = k.category()
	switch ev.Category {
	case detect.CategoryNetwork, detect.CategoryWeb, detect.CategoryEmail:
		switch {
		case drop, k == kNetDeny, k == kWebDeny, k == kMailDeny:
			ev.Type = detect.TypeDenied
		case k == kWebInfo:
			ev.Type = detect.TypeInfo
		default:
			ev.Type = detect.TypeAllowed
		}
		if ev.Category != detect.CategoryEmail && !ev.Source.IP.IsValid() {
			if code >= 0 {
				return fmt.Errorf("sonicwall: %d: no source address", code)
			}
			return errors.New("sonicwall: no source address")
		}
	case detect.CategoryAuthentication:
		if k == kAuthFail {
			ev.Outcome, ev.Type = detect.OutcomeFailure, detect.TypeDenied
		} else {
			ev.Outcome, ev.Type = detect.OutcomeSuccess, detect.TypeAllowed
		}
		ev.UserName = p.user(f)
	default:
		ev.Type = detect.TypeInfo
		if drop || k == kIDSBlock || k == kSigBlock || (k == kGAV && blocked(f.msg)) {
			ev.Type = detect.TypeDenied
		}
	}

	p.rule(f, k, ev)

	if ev.Category == detect.CategoryWeb {
		if path := lex.Path(trim(f.arg)); len(path) > 0 && path[0] == '/' {
			ev.URLPath = p.names.Bytes(path)
		}
		switch string(trim(f.op)) {
		case "1":
			ev.HTTPMethod = "GET"
		case "2":
			ev.HTTPMethod = "POST"
		case "3":
			ev.HTTPMethod = "HEAD"
		}
	}
	return nil
}

// scan reads the key=value list.
func (f *fields) scan(b []byte) error {
	i := 0
	for i < len(b) {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			break
		}
		ks := i
		for i < len(b) && b[i] != '=' && b[i] != ' ' {
			i++
		}
		if i >= len(b) || b[i] != '=' {
			continue // a word without '=': skip it
		}
		key := b[ks:i]
		i++
		var val []byte
		if i < len(b) && (b[i] == '"' || b[i] == '\'') {
			q := b[i]
			j := bytes.IndexByte(b[i+1:], q)
			if j < 0 {
				return errQuote
			}
			val = b[i+1 : i+1+j]
			i += j + 2
		} else {
			vs := i
			for i < len(b) && b[i] != ' ' {
				i++
			}
			val = b[vs:i]
		}
		f.set(key, val)
	}
	return nil
}

func (f *fields) set(key, val []byte) {
	switch string(key) {
	case "m":
		f.m, f.hasM = val, true
	case "msg":
		if !f.hasMsg {
			f.msg, f.hasMsg = val, true
		}
	case "pri":
		f.pri = val
	case "time":
		f.time = val
	case "fw_action":
		f.fwAction = val
	case "proto":
		f.proto = val
	case "src":
		f.src = val
	case "dst":
		f.dst = val
	case "srcV6":
		f.src6 = val
	case "dstV6":
		f.dst6 = val
	case "natSrc":
		f.natSrc = val
	case "natDst":
		f.natDst = val
	case "natSrcV6":
		f.natSrc6 = val
	case "natDstV6":
		f.natDst6 = val
	case "sent":
		f.sent = val
	case "rcvd":
		f.rcvd = val
	case "spkt":
		f.spkt = val
	case "rpkt":
		f.rpkt = val
	case "usr", "user":
		if f.usr == nil {
			f.usr = val
		}
	case "rule":
		f.rule = val
	case "sid":
		f.sid = val
	case "ipscat":
		f.ipscat = val
	case "Category", "cat":
		if f.category == nil {
			f.category = val
		}
	case "arg":
		f.arg = val
	case "op":
		f.op = val
	case "note":
		f.note = val
	}
}

// endpoint reads "ip:port:interface[:host]" (ip may be empty, and an IPv6
// address may be bracketed, "[ip]:port:interface"), with the IPv6 address
// from v6 when it is given.
func endpoint(v, v6 []byte, side string) (netip.Addr, uint16, error) {
	var ip netip.Addr
	var port uint16
	v = trim(v)
	if len(v) > 0 {
		var rest []byte
		switch {
		case v[0] == '[': // [ipv6]:port:interface
			j := bytes.IndexByte(v, ']')
			a, ok := lex.Addr(v[:max(j+1, 0)])
			if j < 0 || !ok {
				return ip, 0, fmt.Errorf("sonicwall: bad %s address %q", side, clip(v))
			}
			ip, rest = a, v[j+1:]
			if len(rest) > 0 && rest[0] == ':' {
				rest = rest[1:]
			}
		case v[0] == ':': // no address: ":port:interface", or a bare "::1"
			if a, ok := addrOf(v); ok {
				ip = a
			} else {
				rest = v[1:]
			}
		default:
			a, r, _ := lex.Cut(v, ':')
			if addr, ok := addrOf(a); ok && addr.Is4() {
				ip, rest = addr, r
			} else if addr, ok := addrOf(v); ok {
				ip = addr // a bare IPv6 address
			} else if k := bytes.LastIndexByte(v, ':'); k > 0 && !isHex(v[k+1:]) {
				// An IPv6 address followed by ":interface".
				addr, ok := lex.Addr(v[:k])
				if !ok {
					return ip, 0, fmt.Errorf("sonicwall: bad %s address %q", side, clip(a))
				}
				ip = addr
			} else {
				return ip, 0, fmt.Errorf("sonicwall: bad %s address %q", side, clip(a))
			}
		}
		p, _, _ := lex.Cut(rest, ':')
		port, _ = lex.Port(p)
	}
	if v6 = trim(v6); len(v6) > 0 {
		a, ok := lex.Addr(v6)
		if !ok {
			return ip, 0, fmt.Errorf("sonicwall: bad %s IPv6 address %q", side, clip(v6))
		}
		ip = a
	}
	if ip.IsValid() && ip.IsUnspecified() {
		ip = netip.Addr{}
	}
	return ip, port, nil
}

// addrOf parses an address, checking its characters first: a failed
// netip parse allocates its error, and most failed attempts here are not
// addresses at all.
func addrOf(b []byte) (netip.Addr, bool) {
	if !ipChars(b) {
		return netip.Addr{}, false
	}
	return lex.Addr(b)
}

// ipChars reports whether b holds only the characters of an IP address.
func ipChars(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
			return false
		}
	}
	return len(b) > 0
}

func isHex(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// nat reads a NAT address, "ip[:port]", "[ip]:port" or a bare IPv6
// address; it is left out when it is the address itself (no translation)
// or cannot be read.
func nat(v4, v6 []byte, orig netip.Addr) netip.Addr {
	for _, v := range [...][]byte{trim(v4), trim(v6)} {
		if len(v) == 0 {
			continue
		}
		var a []byte
		switch {
		case v[0] == '[':
			j := bytes.IndexByte(v, ']')
			if j < 0 {
				continue
			}
			a = v[1:j]
		case bytes.Count(v, []byte(":")) >= 2:
			a = v
		default:
			a, _, _ = lex.Cut(v, ':')
		}
		ip, ok := addrOf(a)
		if !ok || ip.IsUnspecified() || ip == orig {
			continue
		}
		return ip
	}
	return netip.Addr{}
}

// transport reads proto: "tcp/22", "udp/dns", "icmp". It returns the
// transport and the application protocol when the part after '/' names
// one.
func transport(b []byte) (string, []byte) {
	t, svc, _ := lex.Cut(b, '/')
	var tr string
	switch {
	case lex.EqualFold(t, "tcp"):
		tr = detect.TransportTCP
	case lex.EqualFold(t, "udp"):
		tr = detect.TransportUDP
	case lex.EqualFold(t, "icmp"):
		tr = detect.TransportICMP
	case lex.EqualFold(t, "icmpv6"), lex.EqualFold(t, "ipv6-icmp"), lex.EqualFold(t, "icmp6"):
		tr = detect.TransportIPv6ICMP
	}
	if len(svc) == 0 || len(svc) > 24 || (svc[0] >= '0' && svc[0] <= '9') {
		return tr, nil
	}
	for _, c := range svc {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return tr, nil
		}
	}
	return tr, svc
}

// stamp reads time=: "2026-11-27 10:00:00", optionally followed by a zone
// word (UTC, GMT) or with a numeric offset. A stamp in another named zone
// is not read, and the syslog header's time is used.
func stamp(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) == 0 {
		return time.Time{}, false
	}
	t, n, ok := syslog.ParseISO(b, true, loc)
	if !ok {
		return time.Time{}, false
	}
	rest := trim(b[n:])
	switch {
	case len(rest) == 0:
		return t, true
	case lex.EqualFold(rest, "UTC") || lex.EqualFold(rest, "GMT") || lex.EqualFold(rest, "Z"):
		t, _, _ = syslog.ParseISO(b[:n], true, time.UTC)
		return t, true
	}
	return time.Time{}, false
}

// user returns user.name for a login: usr, unless it is a placeholder.
func (p *Parser) user(f *fields) string {
	u := trim(f.usr)
	if len(u) == 0 || len(u) > 128 || lex.HasPrefixFold(u, "unknown") || lex.EqualFold(u, "N/A") || u[0] == '(' {
		return ""
	}
	return p.names.Bytes(u)
}

// rule fills rule.name, rule.id and rule.category.
func (p *Parser) rule(f *fields, k kind, ev *detect.Event) {
	if k.signed() {
		if sig, id := signature(f.msg); len(sig) > 0 {
			ev.Rule.Name = p.names.Bytes(sig)
			if s := trim(f.sid); len(s) > 0 {
				ev.Rule.ID = p.names.Bytes(s)
			} else if len(id) > 0 {
				ev.Rule.ID = p.names.Bytes(id)
			}
			if c := trim(f.ipscat); len(c) > 0 && !bytes.Equal(c, sig) && !lex.EqualFold(c, "N/A") {
				ev.Rule.Category = p.names.Bytes(c)
			}
			return
		}
		if c := trim(f.ipscat); len(c) > 0 && !lex.EqualFold(c, "N/A") {
			ev.Rule.Name = p.names.Bytes(c)
			if s := trim(f.sid); len(s) > 0 {
				ev.Rule.ID = p.names.Bytes(s)
			}
			return
		}
	}
	if r := trim(f.rule); len(r) > 0 {
		ev.Rule.Name = p.names.Bytes(r)
	} else if ev.Category == detect.CategoryWeb {
		if pol := cfsPolicy(f.note); len(pol) > 0 {
			ev.Rule.Name = p.names.Bytes(pol)
		}
	}
	if ev.Category == detect.CategoryWeb {
		if c := trim(f.category); len(c) > 0 {
			ev.Rule.Category = p.names.Bytes(c)
		}
	}
}

// signature returns the signature (or virus) name in an alert message,
// "IPS Prevention Alert: NAME, SID: 2307, Priority: Low" or "Gateway
// Anti-Virus Alert: NAME blocked.", and the ID the message gives.
func signature(msg []byte) (name, id []byte) {
	i := bytes.Index(msg, []byte("Alert:"))
	if i < 0 {
		return nil, nil
	}
	s := trim(msg[i+len("Alert:"):])
	for _, sep := range [...]string{", SID:", ", ID:", " ID:", ", Priority:"} {
		if j := bytes.Index(s, []byte(sep)); j >= 0 {
			if sep != ", Priority:" && id == nil {
				id = trim(s[j+len(sep):])
				if k := bytes.IndexAny(id, ", "); k >= 0 {
					id = id[:k]
				}
				if _, ok := lex.Uint(id); !ok {
					id = nil
				}
			}
			s = trim(s[:j])
		}
	}
	for len(s) > 0 && (s[len(s)-1] == '.' || s[len(s)-1] == ',') {
		s = trim(s[:len(s)-1])
	}
	for _, suf := range [...]string{" blocked", " detected", " prevented"} {
		if len(s) > len(suf) && lex.EqualFold(s[len(s)-len(suf):], suf) {
			s = trim(s[:len(s)-len(suf)])
		}
	}
	if len(s) > 200 {
		return nil, nil
	}
	return s, id
}

// blocked reports whether an alert message says the threat was blocked.
func blocked(msg []byte) bool {
	return containsFold(msg, " blocked") || containsFold(msg, "prevention alert")
}

// cfsPolicy returns the Content Filter policy in a note ("Policy:
// cfsZonePolicy0, Info: 6148").
func cfsPolicy(note []byte) []byte {
	i := bytes.Index(note, []byte("Policy:"))
	if i < 0 {
		return nil
	}
	s := note[i+len("Policy:"):]
	if j := bytes.IndexByte(s, ','); j >= 0 {
		s = s[:j]
	}
	s = trim(s)
	if len(s) > 64 {
		return nil
	}
	return s
}

// lower interns the lower-case form of a short token.
func (p *Parser) lower(b []byte) string {
	var buf [24]byte
	if len(b) > len(buf) {
		return ""
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return p.names.Bytes(buf[:len(b)])
}

func trim(b []byte) []byte { return lex.Trim(b) }

// containsFold reports whether b contains the lower-case ASCII string s,
// without regard to case.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if lex.EqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// clip shortens text quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

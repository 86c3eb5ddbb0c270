// Package panos parses Palo Alto Networks PAN-OS syslog in the default CSV
// format (PAN-OS 7.x to 11.x, firewalls and Panorama):
//
//	1,2026/11/27 10:00:00,012801000000,TRAFFIC,end,2561,2026/11/27 10:00:00,192.168.1.10,203.0.113.9,...
//	1,2026/11/27 10:00:00,012801000000,THREAT,vulnerability,2561,2026/11/27 10:00:00,...,SSH2 Login Attempt(31914),any,high,...
//
// TRAFFIC logs give network events and THREAT logs give intrusion
// detection, malware and URL filtering events. Administrator logins in
// SYSTEM logs (auth-fail, auth-success, GlobalProtect portal and gateway
// logins) and GLOBALPROTECT portal-auth and gateway-auth logs give
// authentication events. Every other log type (CONFIG, HIPMATCH, USERID,
// DECRYPTION, ...) and every other SYSTEM event is not an event.
//
// Fields are read by position, as documented in "Syslog Field
// Descriptions": the first 31 are common to TRAFFIC and THREAT, and later
// versions only append fields, so shorter lines from older versions and
// longer ones from newer versions are both read.
package panos

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
const Name = "panos"

const (
	vendor  = "Palo Alto Networks"
	product = "PAN-OS"
)

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Palo Alto Networks PAN-OS syslog (default CSV): TRAFFIC, THREAT (IPS, antivirus, WildFire, URL filtering), SYSTEM and GlobalProtect logins",
		New:         func() detect.Parser { return new(Parser) },
		// PAN-OS writes no tag: the CSV follows the host name.
		Tags:  nil,
		Sniff: Sniff,
	}
}

// Sniff reports whether rec looks like a PAN-OS CSV log: a short first
// field, a time stamp, a serial number and an upper-case log type.
func Sniff(rec *detect.Record) bool {
	_, ok := logType(rec.Msg)
	return ok
}

// logType checks the shape of the first four fields and returns the fourth,
// the log type, without splitting the line.
func logType(b []byte) ([]byte, bool) {
	// FUTURE_USE: "1", empty, or a short number.
	i := bytes.IndexByte(b[:min(len(b), 24)], ',')
	if i < 0 {
		return nil, false
	}
	b = b[i+1:]
	// Receive time: 2026/11/27 10:00:00 or an ISO stamp.
	if len(b) < 20 || !isDigit(b[0]) || !isDigit(b[3]) || (b[4] != '/' && b[4] != '-') || b[13] != ':' {
		return nil, false
	}
	i = bytes.IndexByte(b[:min(len(b), 40)], ',')
	if i < 19 {
		return nil, false
	}
	b = b[i+1:]
	// Serial number: may be empty or "unknown".
	i = bytes.IndexByte(b[:min(len(b), 40)], ',')
	if i < 0 {
		return nil, false
	}
	b = b[i+1:]
	n := 0
	for n < len(b) && n < 24 && b[n] >= 'A' && b[n] <= 'Z' {
		n++
	}
	if n < 3 || n >= len(b) || b[n] != ',' {
		return nil, false
	}
	return b[:n], true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Field positions (0-based), from the PAN-OS syslog field descriptions.
const (
	fType      = 3
	fSubtype   = 4
	fGenerated = 6
	fSrc       = 7
	fDst       = 8
	fNATSrc    = 9
	fNATDst    = 10
	fRule      = 11
	fApp       = 14
	fSport     = 24
	fDport     = 25
	fProto     = 29
	fAction    = 30
	nCommon    = 31 // fields common to TRAFFIC and THREAT

	// TRAFFIC
	fBytesSent   = 32
	fBytesRecv   = 33
	fPackets     = 34
	fTrafficHost = 52 // Device Name (PAN-OS 7.0 and later)
	nTraffic     = fTrafficHost + 1

	// THREAT
	fMisc        = 31 // URL or file name
	fThreatID    = 32
	fCategory    = 33
	fSeverity    = 34
	fUserAgent   = 46
	fThreatHost  = 59
	fHTTPMethod  = 63
	fThreatClass = 69 // Threat Category (PAN-OS 9.1 and later)
	nThreat      = fThreatClass + 1

	// SYSTEM
	fSysEventID  = 8
	fSysSeverity = 13
	fSysDesc     = 14
	fSysHost     = 22
	nSystem      = fSysHost + 1

	// GLOBALPROTECT (PAN-OS 9.1 and later)
	fGPEventID  = 8
	fGPUser     = 12
	fGPPublicIP = 15
	fGPPublic6  = 16
	fGPStatus   = 28
	nGP         = fGPStatus + 1
)

// Parser parses PAN-OS lines. Not safe for concurrent use.
type Parser struct {
	f     [][]byte
	names lex.Interner // rule names, signatures, host names, verdicts
	paths lex.Interner // URL paths, user agents
}

var (
	errNotPANOS = errors.New("panos: not a PAN-OS CSV log (want FUTURE_USE,receive time,serial,type,...)")
	errSrc      = errors.New("panos: bad or missing source address")
	errDst      = errors.New("panos: bad or missing destination address")
	errGPStatus = errors.New("panos: GLOBALPROTECT login: status is neither success nor failure")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := rec.Msg
	typ, ok := logType(msg)
	if !ok {
		return errNotPANOS
	}
	var max int
	switch string(typ) {
	case "TRAFFIC":
		max = nTraffic
	case "THREAT":
		max = nThreat
	case "SYSTEM":
		max = nSystem
	case "GLOBALPROTECT":
		max = nGP
	default:
		return detect.ErrNotEvent
	}
	f := split(p.f[:0], msg, max)
	p.f = f
	switch string(typ) {
	case "TRAFFIC":
		return p.traffic(rec, f, ev)
	case "THREAT":
		return p.threat(rec, f, ev)
	case "SYSTEM":
		return p.system(rec, f, ev)
	default:
		return p.globalProtect(rec, f, ev)
	}
}

// split splits a CSV line into at most max fields, like lex.Fields: a
// field in double quotes may hold commas and is returned without its
// quotes, and anything between a closing quote and the next comma is
// skipped. PAN-OS fields are short, so a byte loop beats bytes.IndexByte.
func split(dst [][]byte, b []byte, max int) [][]byte {
	i := 0
	for len(dst) < max {
		if i < len(b) && b[i] == '"' {
			j := i + 1
			for j < len(b) {
				if b[j] == '"' {
					if j+1 < len(b) && b[j+1] == '"' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			dst = append(dst, b[i+1:min(j, len(b))])
			for j < len(b) && b[j] != ',' {
				j++
			}
			if j >= len(b) {
				return dst
			}
			i = j + 1
			continue
		}
		j := i
		for j < len(b) && b[j] != ',' {
			j++
		}
		dst = append(dst, b[i:j])
		if j >= len(b) {
			return dst
		}
		i = j + 1
	}
	return dst
}

// session reads the fields common to TRAFFIC and THREAT logs.
func (p *Parser) session(rec *detect.Record, f [][]byte, ev *detect.Event) error {
	if len(f) < nCommon {
		return fmt.Errorf("panos: %s: %d fields, want at least %d", f[fType], len(f), nCommon)
	}
	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Timestamp = stamp(f[fGenerated], rec.Location())

	src, ok := lex.Addr(f[fSrc])
	if !ok {
		return errSrc
	}
	dst, ok := lex.Addr(f[fDst])
	if !ok {
		return errDst
	}
	ev.Source.IP, ev.Destination.IP = src, dst
	ev.Source.NATIP = natAddr(f[fNATSrc], src)
	ev.Destination.NATIP = natAddr(f[fNATDst], dst)

	icmp := false
	switch string(f[fProto]) {
	case "tcp":
		ev.Network.Transport = detect.TransportTCP
	case "udp":
		ev.Network.Transport = detect.TransportUDP
	case "icmp":
		ev.Network.Transport = detect.TransportICMP
		icmp = true
	case "ipv6-icmp", "icmp6", "icmpv6":
		ev.Network.Transport = detect.TransportIPv6ICMP
		icmp = true
	}
	if !icmp {
		ev.Source.Port, _ = lex.Port(f[fSport])
		ev.Destination.Port, _ = lex.Port(f[fDport])
	}
	if app := f[fApp]; !icmp && isProtocol(app) {
		ev.Network.Protocol = p.lower(app)
	}
	if len(f[fRule]) > 0 {
		ev.Rule.Name = p.names.Bytes(f[fRule])
	}
	if len(f[fAction]) > 0 {
		ev.Action = p.names.Bytes(f[fAction])
	}
	return nil
}

func (p *Parser) traffic(rec *detect.Record, f [][]byte, ev *detect.Event) error {
	if err := p.session(rec, f, ev); err != nil {
		return err
	}
	ev.Category = detect.CategoryNetwork
	ev.Type = trafficVerdict(f[fAction], f[fSubtype])
	if len(f) > fPackets {
		if n, ok := lex.Uint(f[fBytesSent]); ok {
			ev.Source.Bytes = detect.SetCount(n)
		}
		if n, ok := lex.Uint(f[fBytesRecv]); ok {
			ev.Destination.Bytes = detect.SetCount(n)
		}
		if n, ok := lex.Uint(f[fPackets]); ok {
			ev.Network.Packets = detect.SetCount(n)
		}
	}
	p.hostname(f, fTrafficHost, ev)
	return nil
}

func (p *Parser) threat(rec *detect.Record, f [][]byte, ev *detect.Event) error {
	if err := p.session(rec, f, ev); err != nil {
		return err
	}
	sub := f[fSubtype]
	ev.Category = threatCategory(sub)
	ev.Type = threatVerdict(f[fAction])
	url := string(sub) == "url"
	if len(f) > fThreatID {
		name, id := splitThreatID(f[fThreatID])
		if len(name) > 0 {
			ev.Rule.Name = p.names.Bytes(name)
			if len(id) > 0 {
				ev.Rule.ID = p.names.Bytes(id)
			}
		}
	}
	if len(f) > fSeverity {
		ev.Severity = severity(f[fSeverity])
	}
	// Rule category: the URL category for URL filtering, else the threat
	// category of PAN-OS 9.1+, else the Category field when it says more
	// than "any".
	var class []byte
	if url && len(f) > fCategory {
		class = f[fCategory]
	} else if len(f) > fThreatClass && len(f[fThreatClass]) > 0 && string(f[fThreatClass]) != "unknown" {
		class = f[fThreatClass]
	} else if len(f) > fCategory && string(f[fCategory]) != "any" {
		class = f[fCategory]
	}
	if len(class) > 0 && len(class) <= 64 {
		ev.Rule.Category = p.names.Bytes(class)
	}
	if url {
		// The URL field is host and path, perhaps with a query: keep the
		// path only. For other subtypes it is a file name: never copied.
		if path := urlPath(f[fMisc]); len(path) > 0 {
			ev.URLPath = p.paths.Bytes(path)
		}
		if len(f) > fUserAgent && len(f[fUserAgent]) > 0 {
			ev.UserAgent = p.paths.Bytes(f[fUserAgent])
		}
		if len(f) > fHTTPMethod && isToken(f[fHTTPMethod]) {
			ev.HTTPMethod = p.names.Bytes(f[fHTTPMethod])
		}
	}
	p.hostname(f, fThreatHost, ev)
	return nil
}

// system reads administrator and GlobalProtect logins from SYSTEM logs.
func (p *Parser) system(rec *detect.Record, f [][]byte, ev *detect.Event) error {
	if len(f) <= fSysDesc {
		return fmt.Errorf("panos: SYSTEM: %d fields, want at least %d", len(f), fSysDesc+1)
	}
	id := f[fSysEventID]
	desc := f[fSysDesc]
	var user, from []byte
	var ok bool
	switch string(id) {
	case "auth-fail":
		user, from = quotedAfter(desc, "user '"), wordAfter(desc, "From: ")
	case "auth-success":
		user, from = quotedAfter(desc, "user '"), wordAfter(desc, "From: ")
		ok = true
	case "globalprotectportal-auth-fail", "globalprotectgateway-auth-fail":
		user, from = wordAfter(desc, "User name: "), wordAfter(desc, "Login from: ")
	case "globalprotectportal-auth-succ", "globalprotectgateway-auth-succ":
		user, from = wordAfter(desc, "User name: "), wordAfter(desc, "Login from: ")
		ok = true
	default:
		return detect.ErrNotEvent
	}
	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Timestamp = stamp(f[fGenerated], rec.Location())
	ev.Category = detect.CategoryAuthentication
	ev.Code = p.names.Bytes(id)
	ev.Action = ev.Code
	auth(ev, ok)
	ev.Severity = severity(f[fSysSeverity])
	if len(user) > 0 && len(user) <= 128 {
		ev.UserName = p.names.Bytes(user)
	}
	from = bytes.TrimRight(from, ".")
	if a, ok := lex.Addr(from); ok {
		ev.Source.IP = a
	}
	p.hostname(f, fSysHost, ev)
	return nil
}

// globalProtect reads portal and gateway logins from GLOBALPROTECT logs.
func (p *Parser) globalProtect(rec *detect.Record, f [][]byte, ev *detect.Event) error {
	if len(f) < nGP {
		return fmt.Errorf("panos: GLOBALPROTECT: %d fields, want at least %d", len(f), nGP)
	}
	id := f[fGPEventID]
	switch string(id) {
	case "portal-auth", "gateway-auth":
	default:
		return detect.ErrNotEvent
	}
	status := f[fGPStatus]
	var ok bool
	switch string(status) {
	case "success":
		ok = true
	case "failure":
	default:
		return errGPStatus
	}
	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Timestamp = stamp(f[fGenerated], rec.Location())
	ev.Category = detect.CategoryAuthentication
	ev.Code = p.names.Bytes(id)
	ev.Action = p.names.Bytes(status)
	auth(ev, ok)
	if u := f[fGPUser]; len(u) > 0 && len(u) <= 128 {
		ev.UserName = p.names.Bytes(u)
	}
	if a := natAddr(f[fGPPublicIP], netip.Addr{}); a.IsValid() {
		ev.Source.IP = a
	} else if a := natAddr(f[fGPPublic6], netip.Addr{}); a.IsValid() {
		ev.Source.IP = a
	}
	return nil
}

func auth(ev *detect.Event, ok bool) {
	if ok {
		ev.Type, ev.Outcome = detect.TypeAllowed, detect.OutcomeSuccess
	} else {
		ev.Type, ev.Outcome = detect.TypeDenied, detect.OutcomeFailure
	}
}

// hostname sets observer.hostname from the Device Name field when the line
// has one that looks like a host name.
func (p *Parser) hostname(f [][]byte, i int, ev *detect.Event) {
	if len(f) <= i {
		return
	}
	h := f[i]
	if len(h) == 0 || len(h) > 63 {
		return
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == '_' || c == '.') {
			return
		}
	}
	ev.Observer.Hostname = p.names.Bytes(h)
}

// stamp parses "2026/11/27 10:00:00" in loc, or an ISO 8601 stamp (logs
// forwarded by Strata Logging Service); zero if it is neither.
func stamp(b []byte, loc *time.Location) time.Time {
	if len(b) == 19 && b[4] == '/' && b[7] == '/' && b[10] == ' ' && b[13] == ':' && b[16] == ':' {
		y, ok1 := num(b[0:4])
		mo, ok2 := num(b[5:7])
		d, ok3 := num(b[8:10])
		h, ok4 := num(b[11:13])
		mi, ok5 := num(b[14:16])
		s, ok6 := num(b[17:19])
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 60 {
			return time.Time{}
		}
		if s == 60 {
			s = 59
		}
		t := time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
		if t.Day() != d { // 31 April and the like
			return time.Time{}
		}
		return t
	}
	if t, n, ok := syslog.ParseISO(b, true, loc); ok && n == len(b) {
		return t
	}
	return time.Time{}
}

func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// natAddr returns the NAT address of a NAT field, or none when the field
// is empty, 0.0.0.0 or the same as the original address.
func natAddr(b []byte, orig netip.Addr) netip.Addr {
	if len(b) == 0 {
		return netip.Addr{}
	}
	a, ok := lex.Addr(b)
	if !ok || a.IsUnspecified() || a == orig {
		return netip.Addr{}
	}
	return a
}

// isProtocol reports whether an App-ID names an application protocol, not
// one of the placeholders for sessions that App-ID could not classify.
func isProtocol(app []byte) bool {
	if len(app) == 0 || len(app) > 64 {
		return false
	}
	switch string(app) {
	case "incomplete", "insufficient-data", "not-applicable", "unknown", "unknown-tcp", "unknown-udp", "unknown-p2p":
		return false
	}
	return true
}

// lower interns app in lower case.
func (p *Parser) lower(app []byte) string {
	var buf [64]byte
	b := buf[:0]
	for _, c := range app {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return p.names.Bytes(b)
}

// trafficVerdict maps a TRAFFIC action to event.type; an action it does
// not know is read from the subtype.
func trafficVerdict(action, subtype []byte) string {
	switch string(action) {
	case "allow":
		return detect.TypeAllowed
	case "":
	default:
		if t := threatVerdict(action); t == detect.TypeDenied {
			return t
		}
	}
	switch string(subtype) {
	case "deny", "drop":
		return detect.TypeDenied
	}
	return ""
}

// threatVerdict maps a THREAT action to event.type: denied when the
// firewall blocked the session or content, info otherwise (alert, allow,
// continue, override, wildfire-upload-success, ...).
func threatVerdict(action []byte) string {
	switch string(action) {
	case "deny", "drop", "drop-all", "drop-all-packets", "drop-icmp", "drop-packet",
		"reset-client", "reset-server", "reset-both",
		"block", "block-url", "block-continue", "block-override", "block-ip", "blocked",
		"override-lockout", "sinkhole", "random-drop":
		return detect.TypeDenied
	}
	for _, s := range [...]string{"drop", "deny", "block", "reset"} {
		if lex.HasPrefixFold(action, s) {
			return detect.TypeDenied
		}
	}
	return detect.TypeInfo
}

func threatCategory(subtype []byte) string {
	switch string(subtype) {
	case "virus", "wildfire-virus", "wildfire", "ml-virus":
		return detect.CategoryMalware
	case "url":
		return detect.CategoryWeb
	}
	return detect.CategoryIntrusionDetection
}

// severity maps PAN-OS severities to 1 (informational) to 5 (critical).
func severity(b []byte) int {
	switch string(b) {
	case "informational":
		return 1
	case "low":
		return 2
	case "medium":
		return 3
	case "high":
		return 4
	case "critical":
		return 5
	}
	return 0
}

// splitThreatID splits "SSH2 Login Attempt(31914)" into name and id. A
// name without a numeric id in trailing parentheses is returned whole.
func splitThreatID(b []byte) (name, id []byte) {
	b = lex.Trim(b)
	if len(b) > 2 && b[len(b)-1] == ')' {
		if i := bytes.LastIndexByte(b, '('); i >= 0 {
			if in := b[i+1 : len(b)-1]; len(in) > 0 && len(in) <= 20 && allDigits(in) {
				return stripDomain(lex.Trim(b[:i])), in
			}
		}
	}
	return stripDomain(b), nil
}

// stripDomain removes the queried domain that DNS signatures append to
// their names ("generic:bad.example.com", "Suspicious DNS Query
// (generic:bad.example.com)"): it is what the user looked up, not the
// signature.
func stripDomain(b []byte) []byte {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return b
	}
	rest := b[i+1:]
	if j := bytes.IndexByte(rest, ')'); j >= 0 {
		rest = rest[:j]
	}
	if bytes.IndexByte(rest, '.') < 0 || bytes.IndexByte(rest, ' ') >= 0 {
		return b
	}
	start := bytes.LastIndexAny(b[:i], " (") + 1
	if pre := bytes.TrimRight(b[:start], " ("); len(pre) > 0 {
		return pre
	}
	return b[:i]
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// urlPath returns the path of a URL Filtering "host/path?query" field,
// without its query or fragment.
func urlPath(b []byte) []byte {
	if i := bytes.Index(b, []byte("://")); i > 0 && i < 10 {
		b = b[i+3:]
	}
	i := bytes.IndexByte(b, '/')
	if i < 0 {
		return nil
	}
	b = b[i:]
	if j := bytes.IndexAny(b, "?#"); j >= 0 {
		b = b[:j]
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return nil // not a path: spaces or control bytes
		}
	}
	return b
}

// isToken reports whether b is a plausible HTTP method.
func isToken(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

// quotedAfter returns the text between key and the next single quote.
func quotedAfter(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '\'')
	if j < 0 {
		return nil
	}
	return b[:j]
}

// wordAfter returns the text between key and the next space or comma.
func wordAfter(b []byte, key string) []byte {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil
	}
	b = b[i+len(key):]
	if j := bytes.IndexAny(b, " ,"); j >= 0 {
		b = b[:j]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

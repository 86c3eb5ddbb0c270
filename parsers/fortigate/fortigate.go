// Package fortigate parses Fortinet FortiGate (FortiOS 5.x to 7.x) logs in
// the key=value syslog format, "default" or "csv", with or without a BSD or
// RFC 5424 syslog header in front:
//
//	<189>date=2026-11-27 time=10:00:00 devname="FGT60F" devid="FGT60FTK0000000" eventtime=1764237600123456789
//	  tz="+0100" logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root"
//	  srcip=192.168.1.10 srcport=51514 srcintf="port2" dstip=203.0.113.9 dstport=443 dstintf="wan1"
//	  proto=6 action="deny" policyid=0 service="HTTPS" sentbyte=0 rcvdbyte=0 sentpkt=1
//
// It reads traffic logs (forward, local, multicast, sniffer), the UTM
// intrusion prevention, DoS anomaly, antivirus and web filter logs, and the
// administrator and SSL VPN login events; other UTM and event logs are not
// security events here. Keys may come in any order, values quoted or not.
package fortigate

import (
	"bytes"
	"errors"
	"math"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "fortigate"

const (
	vendor  = "Fortinet"
	product = "FortiGate"
)

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Fortinet FortiGate key=value syslog (default and csv): traffic, IPS, DoS anomaly, antivirus, web filter, admin and SSL VPN login",
		New:         func() detect.Parser { return &Parser{names: lex.Interner{Max: 4096}} },
		// FortiGate sends no syslog tag: the message starts with date=.
		Tags:  nil,
		Sniff: Sniff,
	}
}

// Sniff reports whether rec looks like a FortiGate log: a message that
// starts with one of FortiOS's leading keys and holds a logid.
func Sniff(rec *detect.Record) bool {
	m := rec.Msg
	if len(m) < 12 {
		return false
	}
	switch m[0] {
	case 'd':
		if !bytes.HasPrefix(m, []byte("date=")) && !bytes.HasPrefix(m, []byte("devname=")) &&
			!bytes.HasPrefix(m, []byte("devid=")) {
			return false
		}
	case 'l':
		if bytes.HasPrefix(m, []byte("logid=")) {
			return true
		}
		if !bytes.HasPrefix(m, []byte("logver=")) {
			return false
		}
	case 'e':
		if !bytes.HasPrefix(m, []byte("eventtime=")) {
			return false
		}
	case 'i':
		if !bytes.HasPrefix(m, []byte("itime=")) {
			return false
		}
	default:
		return false
	}
	return bytes.Contains(m, []byte("logid="))
}

// Parser parses FortiGate lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	// The device name and log id of the last line: a stream repeats them,
	// and a comparison is cheaper than the interner's map.
	lastDev, lastID string
}

// The keys the parser reads, numbered: fields.v holds their values.
const (
	kNone = iota
	kDate
	kTime
	kTz
	kEventtime
	kDevname
	kLogid
	kType
	kSubtype
	kAction
	kStatus
	kSrcip
	kDstip
	kSrcport
	kDstport
	kProto
	kPolicyid
	kPolicyname
	kTransip
	kTranip
	kSentbyte
	kRcvdbyte
	kSentpkt
	kRcvdpkt
	kAttack
	kAttackid
	kVirus
	kVirusid
	kCat
	kCatdesc
	kUrl
	kHttpmethod
	kAgent
	kUser
	kLogdesc
	kRemip
	kUi
	kMethod
	numKeys
)

// fields are the values of one line that the parser uses, still in the
// input buffer, by key number.
type fields struct {
	v     [numKeys][]byte
	hasTZ bool
}

var (
	errNoPairs = errors.New("fortigate: not a key=value line")
	errNoType  = errors.New("fortigate: no type= field")
)

// lineError is a malformed-line error that names the log id, without
// allocating until it is printed.
type lineError struct {
	logid [10]byte
	n     int
	what  string
}

func (e *lineError) Error() string {
	if e.n == 0 {
		return "fortigate: " + e.what
	}
	return "fortigate: " + string(e.logid[:e.n]) + ": " + e.what
}

func newError(logid []byte, what string) error {
	e := &lineError{what: what}
	if len(logid) <= len(e.logid) && isDigits(logid) {
		e.n = copy(e.logid[:], logid)
	}
	return e
}

func isDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := lex.Trim(rec.Msg)
	if len(msg) == 0 {
		return detect.ErrNotEvent
	}
	var f fields
	if f.scan(msg) == 0 {
		return errNoPairs
	}
	if len(f.v[kType]) == 0 {
		return errNoType
	}
	kind := ""
	switch string(f.v[kType]) {
	case "traffic":
		kind = "traffic"
	case "utm":
		kind = utmKind(f.v[kSubtype])
	case "ips": // FortiOS 5.0: type=ips subtype=signature|anomaly
		kind = "ips"
		if string(f.v[kSubtype]) == "anomaly" {
			kind = "anomaly"
		}
	case "anomaly", "virus", "webfilter": // FortiOS 5.0 and 5.2
		kind = utmKind(f.v[kType])
	case "event":
		return p.event(&f, rec, ev)
	}
	if kind == "" {
		return detect.ErrNotEvent
	}
	if kind == "virus" && len(f.v[kVirus]) == 0 {
		// File type, file name and oversize blocks: no malware found.
		return detect.ErrNotEvent
	}
	if err := p.addresses(&f, ev, kind == "traffic"); err != nil {
		return err
	}
	p.common(&f, rec, ev)
	network(&f, ev)

	act := f.v[kAction]
	if len(act) == 0 {
		act = f.v[kStatus] // FortiOS 4.3 and 5.0 wrote status=
	}
	switch kind {
	case "traffic":
		ev.Category = detect.CategoryNetwork
		ev.Type = trafficType(act)
		p.rule(ev, f.v[kPolicyname], f.v[kPolicyid])
	case "ips", "anomaly":
		ev.Category = detect.CategoryIntrusionDetection
		ev.Type = utmType(act)
		if !p.rule(ev, f.v[kAttack], f.v[kAttackid]) {
			p.rule(ev, f.v[kPolicyname], f.v[kPolicyid])
		}
	case "virus":
		ev.Category = detect.CategoryMalware
		ev.Type = utmType(act)
		p.rule(ev, f.v[kVirus], f.v[kVirusid])
	case "webfilter":
		ev.Category = detect.CategoryWeb
		ev.Type = utmType(act)
		if !p.rule(ev, f.v[kCatdesc], f.v[kCat]) {
			p.rule(ev, f.v[kPolicyname], f.v[kPolicyid])
		}
		p.web(&f, ev)
	}
	ev.Action = p.names.Bytes(act)
	return nil
}

func utmKind(sub []byte) string {
	switch string(sub) {
	case "ips":
		return "ips"
	case "anomaly":
		return "anomaly"
	case "virus":
		return "virus"
	case "webfilter":
		return "webfilter"
	}
	return ""
}

// scan reads the key=value pairs of msg into f and returns how many there
// were. The separator is a space, or a comma for the csv format. A value in
// double quotes may hold the separator and \" escapes; a word without '='
// is skipped. (lex.KV does the same; this loop is a third faster, and this
// is the hot path.)
func (f *fields) scan(b []byte) int {
	sep := separator(b)
	n := 0
	i := 0
	for i < len(b) {
		c := b[i]
		if c == sep || c == ' ' {
			i++
			continue
		}
		ks := i
		for i < len(b) {
			c = b[i]
			if c == '=' || c == sep {
				break
			}
			i++
		}
		if i >= len(b) || c != '=' {
			continue // a word without a value
		}
		k := b[ks:i]
		i++
		var v []byte
		if i < len(b) && b[i] == '"' {
			i++
			vs := i
			for i < len(b) {
				c = b[i]
				if c == '"' {
					break
				}
				if c == '\\' {
					i++
				}
				i++
			}
			if i > len(b) {
				i = len(b)
			}
			v = b[vs:i]
			if i < len(b) {
				i++ // the closing quote
			}
		} else {
			vs := i
			for i < len(b) && b[i] != sep {
				i++
			}
			v = b[vs:i]
		}
		n++
		// A switch on constant strings compiles to length jumps and
		// inline compares: faster than a hash table here.
		switch string(k) {
		case "tz":
			// Some versions write tz twice; the first is the device's.
			if !f.hasTZ {
				f.v[kTz], f.hasTZ = v, true
			}
		case "date":
			f.v[kDate] = v
		case "time":
			f.v[kTime] = v
		case "eventtime":
			f.v[kEventtime] = v
		case "devname":
			f.v[kDevname] = v
		case "logid":
			f.v[kLogid] = v
		case "type":
			f.v[kType] = v
		case "subtype":
			f.v[kSubtype] = v
		case "action":
			f.v[kAction] = v
		case "status":
			f.v[kStatus] = v
		case "srcip":
			f.v[kSrcip] = v
		case "dstip":
			f.v[kDstip] = v
		case "srcport":
			f.v[kSrcport] = v
		case "dstport":
			f.v[kDstport] = v
		case "proto":
			f.v[kProto] = v
		case "policyid":
			f.v[kPolicyid] = v
		case "policyname":
			f.v[kPolicyname] = v
		case "transip":
			f.v[kTransip] = v
		case "tranip":
			f.v[kTranip] = v
		case "sentbyte":
			f.v[kSentbyte] = v
		case "rcvdbyte":
			f.v[kRcvdbyte] = v
		case "sentpkt":
			f.v[kSentpkt] = v
		case "rcvdpkt":
			f.v[kRcvdpkt] = v
		case "attack":
			f.v[kAttack] = v
		case "attackid":
			f.v[kAttackid] = v
		case "virus":
			f.v[kVirus] = v
		case "virusid":
			f.v[kVirusid] = v
		case "cat":
			f.v[kCat] = v
		case "catdesc":
			f.v[kCatdesc] = v
		case "url":
			f.v[kUrl] = v
		case "httpmethod":
			f.v[kHttpmethod] = v
		case "agent":
			f.v[kAgent] = v
		case "user":
			f.v[kUser] = v
		case "logdesc":
			f.v[kLogdesc] = v
		case "remip":
			f.v[kRemip] = v
		case "ui":
			f.v[kUi] = v
		case "method":
			f.v[kMethod] = v
		}
	}
	return n
}

// separator tells the csv format (date=2026-11-27,time=...) from the
// default one by what follows the first value.
func separator(b []byte) byte {
	i := bytes.IndexByte(b, '=')
	if i < 0 {
		return ' '
	}
	i++
	if i < len(b) && b[i] == '"' {
		i++
		for i < len(b) && b[i] != '"' {
			if b[i] == '\\' {
				i++
			}
			i++
		}
		i++
	} else {
		for i < len(b) && b[i] != ' ' && b[i] != ',' {
			i++
		}
	}
	if i < len(b) && b[i] == ',' {
		return ','
	}
	return ' '
}

// common fills the fields every event has: observer, event.code and the
// time stamp.
func (p *Parser) common(f *fields, rec *detect.Record, ev *detect.Event) {
	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Observer.Hostname = p.cached(&p.lastDev, f.v[kDevname])
	ev.Code = p.cached(&p.lastID, f.v[kLogid])
	ev.Timestamp = stamp(f, rec)
}

// cached returns b as a string: *last when it is the same, else from the
// interner, remembered in *last.
func (p *Parser) cached(last *string, b []byte) string {
	if string(b) != *last {
		*last = p.names.Bytes(b)
	}
	return *last
}

// addresses sets source.ip and destination.ip; a traffic log must have
// both, a UTM log its source.
func (p *Parser) addresses(f *fields, ev *detect.Event, needDst bool) error {
	if len(f.v[kSrcip]) == 0 {
		return newError(f.v[kLogid], "no srcip")
	}
	a, ok := lex.Addr(f.v[kSrcip])
	if !ok {
		return newError(f.v[kLogid], "bad srcip")
	}
	ev.Source.IP = a
	if len(f.v[kDstip]) == 0 {
		if needDst {
			return newError(f.v[kLogid], "no dstip")
		}
		return nil
	}
	if a, ok = lex.Addr(f.v[kDstip]); !ok {
		return newError(f.v[kLogid], "bad dstip")
	}
	ev.Destination.IP = a
	return nil
}

// network fills transport, ports, NAT addresses and counters.
func network(f *fields, ev *detect.Event) {
	icmp := false
	switch string(f.v[kProto]) {
	case "6":
		ev.Network.Transport = detect.TransportTCP
	case "17":
		ev.Network.Transport = detect.TransportUDP
	case "1":
		ev.Network.Transport = detect.TransportICMP
		icmp = true
	case "58":
		ev.Network.Transport = detect.TransportIPv6ICMP
		icmp = true
	}
	if !icmp {
		ev.Source.Port, _ = lex.Port(f.v[kSrcport])
		ev.Destination.Port, _ = lex.Port(f.v[kDstport])
	}
	// transip/transport: source NAT; tranip/tranport: destination NAT
	// (a VIP), where dstip is the address the initiator connected to.
	if a, ok := lex.Addr(f.v[kTransip]); ok && !a.IsUnspecified() {
		ev.Source.NATIP = a
	}
	if a, ok := lex.Addr(f.v[kTranip]); ok && !a.IsUnspecified() {
		ev.Destination.NATIP = a
	}
	if n, ok := lex.Uint(f.v[kSentbyte]); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(f.v[kRcvdbyte]); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	sp, okS := lex.Uint(f.v[kSentpkt])
	rp, okR := lex.Uint(f.v[kRcvdpkt])
	if okS || okR {
		ev.Network.Packets = detect.SetCount(sp + rp)
	}
}

// rule sets rule.name and rule.id when either is there, and reports
// whether it did.
func (p *Parser) rule(ev *detect.Event, name, id []byte) bool {
	if len(name) == 0 && len(id) == 0 {
		return false
	}
	ev.Rule.Name = p.names.Bytes(name)
	ev.Rule.ID = p.names.Bytes(id)
	return true
}

// web fills the HTTP fields of a web filter log: the path of url=, never
// its query string, the method and the user agent.
func (p *Parser) web(f *fields, ev *detect.Event) {
	if path := urlPath(f.v[kUrl]); len(path) > 0 {
		ev.URLPath = p.names.Bytes(path)
	}
	ev.HTTPMethod = httpMethod(f.v[kHttpmethod], &p.names)
	ev.UserAgent = p.names.Bytes(f.v[kAgent])
}

// urlPath returns the path of a url= value, which is a path ("/a/b?q") or
// a whole URL ("https://host/a/b?q").
func urlPath(u []byte) []byte {
	path := lex.Path(u)
	if len(path) > 0 && path[0] != '/' {
		// "host/path" without a scheme
		i := bytes.IndexByte(path, '/')
		if i < 0 {
			return nil
		}
		path = path[i:]
	}
	return path
}

func httpMethod(m []byte, in *lex.Interner) string {
	switch string(m) {
	case "":
		return ""
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	case "PATCH":
		return "PATCH"
	}
	if len(m) > 16 {
		return ""
	}
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return ""
		}
	}
	return in.Bytes(m)
}

// trafficType maps a traffic log's action to event.type. FortiOS: "deny"
// is blocked by a policy; every other action is a session the policy
// allowed, and says how it ended.
func trafficType(a []byte) string {
	switch string(a) {
	case "deny", "denied", "drop", "dropped", "block", "blocked", "reject", "reset":
		return detect.TypeDenied
	case "accept", "start", "close", "timeout", "server-rst", "client-rst", "ip-conn", "dns", "pass", "allow":
		return detect.TypeAllowed
	}
	return ""
}

// utmType maps an IPS, anomaly, antivirus or web filter action to
// event.type: denied when the FortiGate stopped the traffic, else info.
func utmType(a []byte) string {
	switch string(a) {
	case "dropped", "drop", "drop_session", "blocked", "block", "deny", "denied", "reject",
		"reset", "reset_client", "reset_server", "clear_session":
		return detect.TypeDenied
	}
	return detect.TypeInfo
}

// event handles type=event logs: administrator logins and SSL VPN login
// failures are authentication events; the rest is not a security event.
func (p *Parser) event(f *fields, rec *detect.Record, ev *detect.Event) error {
	var srcip []byte
	switch string(f.v[kSubtype]) {
	case "system":
		switch {
		case isMsg(f.v[kLogid], "0100", "32002") || string(f.v[kLogdesc]) == "Admin login failed":
			ev.Type, ev.Outcome = detect.TypeDenied, detect.OutcomeFailure
		case isMsg(f.v[kLogid], "0100", "32001") || string(f.v[kLogdesc]) == "Admin login successful":
			ev.Type, ev.Outcome = detect.TypeAllowed, detect.OutcomeSuccess
		default:
			return detect.ErrNotEvent
		}
		srcip = f.v[kSrcip]
		if len(srcip) == 0 {
			srcip = uiAddr(f.v[kUi]) // FortiOS 5.x: ui=https(192.0.2.1)
		}
		ev.Network.Protocol = loginProtocol(f.v[kMethod], f.v[kUi])
		if len(f.v[kDstip]) > 0 {
			a, ok := lex.Addr(f.v[kDstip])
			if !ok {
				return newError(f.v[kLogid], "bad dstip")
			}
			ev.Destination.IP = a
		}
	case "vpn":
		if string(f.v[kAction]) != "ssl-login-fail" && !isMsg(f.v[kLogid], "0101", "39426") {
			return detect.ErrNotEvent
		}
		ev.Type, ev.Outcome = detect.TypeDenied, detect.OutcomeFailure
		srcip = f.v[kRemip]
		if len(srcip) == 0 {
			srcip = f.v[kSrcip]
		}
	default:
		return detect.ErrNotEvent
	}
	if len(srcip) > 0 {
		a, ok := lex.Addr(srcip)
		if !ok {
			return newError(f.v[kLogid], "bad source address")
		}
		ev.Source.IP = a
	}
	p.common(f, rec, ev)
	ev.Category = detect.CategoryAuthentication
	ev.Action = p.names.Bytes(f.v[kAction])
	if u := f.v[kUser]; len(u) > 0 && string(u) != "N/A" {
		ev.UserName = p.names.Bytes(u)
	}
	return nil
}

// isMsg reports whether logid is the message id msg: ten digits, type and
// subtype first, or the five-digit short form.
func isMsg(logid []byte, typeSub, msg string) bool {
	switch len(logid) {
	case 5:
		return string(logid) == msg
	case 10:
		return string(logid[:4]) == typeSub && string(logid[5:]) == msg
	}
	return false
}

// uiAddr returns the address in a ui= value such as "https(192.0.2.1)".
func uiAddr(ui []byte) []byte {
	i := bytes.IndexByte(ui, '(')
	if i < 0 || len(ui) < i+3 || ui[len(ui)-1] != ')' {
		return nil
	}
	return ui[i+1 : len(ui)-1]
}

// loginProtocol returns the administrative access protocol of a login, from
// method= or the start of ui=, or "".
func loginProtocol(method, ui []byte) string {
	m := method
	if len(m) == 0 {
		if i := bytes.IndexByte(ui, '('); i > 0 {
			m = ui[:i]
		}
	}
	switch string(m) {
	case "ssh":
		return "ssh"
	case "https":
		return "https"
	case "http":
		return "http"
	case "telnet":
		return "telnet"
	}
	return ""
}

// stamp returns the event's time: eventtime when it is there, else date=
// and time= in the zone of tz= or the stream's, else zero (the syslog
// header's time).
func stamp(f *fields, rec *detect.Record) time.Time {
	if t, ok := epoch(f.v[kEventtime]); ok {
		return t
	}
	if len(f.v[kDate]) != 10 || len(f.v[kTime]) != 8 {
		return time.Time{}
	}
	var buf [19]byte
	copy(buf[:10], f.v[kDate])
	buf[10] = 'T'
	copy(buf[11:], f.v[kTime])
	off, hasOff := tzOffset(f.v[kTz])
	loc := rec.Location()
	if hasOff {
		loc = time.UTC
	}
	t, n, ok := syslog.ParseISO(buf[:], false, loc)
	if !ok || n != len(buf) {
		return time.Time{}
	}
	if hasOff {
		t = t.Add(-off)
	}
	return t
}

// epoch reads eventtime, which FortiOS writes in seconds, milliseconds,
// microseconds or nanoseconds since 1970 depending on the version: the
// magnitude tells which.
func epoch(b []byte) (time.Time, bool) {
	if len(b) == 0 || len(b) > 19 {
		return time.Time{}, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		u = u*10 + uint64(c-'0')
	}
	if u > math.MaxInt64 {
		return time.Time{}, false
	}
	n := int64(u)
	switch {
	case n >= 1e17:
		return time.Unix(n/1e9, n%1e9).UTC(), true
	case n >= 1e14:
		return time.Unix(n/1e6, n%1e6*1e3).UTC(), true
	case n >= 1e11:
		return time.Unix(n/1e3, n%1e3*1e6).UTC(), true
	case n >= 1e8:
		return time.Unix(n, 0).UTC(), true
	}
	return time.Time{}, false
}

// tzOffset parses tz=: "+0100", "-05:00", or FortiAnalyzer's "UTC+2:00",
// "GMT-5" and "UTC".
func tzOffset(b []byte) (time.Duration, bool) {
	i := 0
	for i < len(b) && i < 4 && (b[i]|0x20 >= 'a' && b[i]|0x20 <= 'z') {
		i++
	}
	named := i > 0
	b = b[i:]
	if len(b) == 0 {
		return 0, named
	}
	neg := false
	switch b[0] {
	case '+':
	case '-':
		neg = true
	default:
		return 0, false
	}
	b = b[1:]
	var h, m int
	switch {
	case len(b) == 4 && isDigits(b): // hhmm
		h = int(b[0]-'0')*10 + int(b[1]-'0')
		m = int(b[2]-'0')*10 + int(b[3]-'0')
	case len(b) == 5 && b[2] == ':' && isDigits(b[:2]) && isDigits(b[3:]): // hh:mm
		h = int(b[0]-'0')*10 + int(b[1]-'0')
		m = int(b[3]-'0')*10 + int(b[4]-'0')
	case len(b) == 4 && b[1] == ':' && isDigits(b[:1]) && isDigits(b[2:]): // h:mm
		h = int(b[0] - '0')
		m = int(b[2]-'0')*10 + int(b[3]-'0')
	case (len(b) == 1 || len(b) == 2) && isDigits(b): // h, hh
		for _, c := range b {
			h = h*10 + int(c-'0')
		}
	default:
		return 0, false
	}
	if h > 14 || m > 59 {
		return 0, false
	}
	off := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if neg {
		off = -off
	}
	return off, true
}

var _ detect.Parser = (*Parser)(nil)

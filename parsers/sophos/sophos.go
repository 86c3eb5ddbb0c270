// Package sophos parses Sophos firewall logs in three families:
//
// Sophos Firewall (SFOS, formerly XG) v19 and later, key=value after the
// syslog PRI:
//
//	<30>device_name="SFW" timestamp="2026-11-27T10:00:00+0000" device_model="XGS2100" ... log_id="010101600001" log_type="Firewall" log_component="Firewall Rule" log_subtype="Denied" ... src_ip="198.51.100.7" dst_ip="192.0.2.10" protocol="TCP" src_port=51514 dst_port=22 ...
//
// SFOS v18 and earlier, key=value with other key names:
//
//	<30>device="SFW" date=2026-11-27 time=10:00:00 timezone="UTC" device_name="XG210" ... log_id=010101600001 log_type="Firewall" ... status="Deny" ... tran_src_ip= tran_dst_ip=
//
// Sophos UTM 9, whose syslog lines carry their own time stamp
// ("2026:11:27-10:00:00", local time, read in the source's zone), host and
// daemon tag, then key="value" pairs:
//
//	<30>2026:11:27-10:00:00 utm01 ulogd[1234]: id="2001" severity="info" sys="SecureNet" sub="packetfilter" name="Packet dropped" action="drop" fwrule="60001" ...
//
// SFOS log types read: Firewall (network, allowed or denied by
// log_subtype), IDP (intrusion_detection: the signature is rule.name, its
// id rule.id, the classification rule.category; Drop is denied, Detect
// info), Anti-Virus (malware: the virus is rule.name, denied; Clean scans
// are not events), ATP (malware: the threat name), Content Filtering (web:
// url.path, HTTP status, user agent, the category as rule.category; the
// Application component is network), and Event logs of subtype
// Authentication, and Admin logins (message id 17507) (authentication:
// Successful is allowed, Failed denied). event.action is log_subtype as
// written ("Denied", "Drop", "Virus"), or status for authentication.
// event.code is log_id and event.severity its severity digit (1 alert ...
// 7 debug; 0, emergency, is left out). rule.id is the signature id, or
// else the firewall rule id (0, no rule, is left out); rule.name is the
// signature or virus name, or else the firewall rule name. The sent and
// received counters are source.bytes and destination.bytes, their packet
// sum network.packets; src_trans_ip/tran_src_ip and
// dst_trans_ip/tran_dst_ip are the NAT addresses. Time: v19's timestamp;
// v18's date and time, in the offset or UTC/GMT its timezone names, or
// else in the source's configured zone (abbreviations such as IST are
// ambiguous).
//
// UTM daemons read: ulogd and afcd (packet filter and application control:
// network, drop and reject denied, accept allowed; other actions such as
// "DNS request" are not events; rule.id is fwrule), snort (IPS:
// intrusion_detection, the reason is the signature, sid rule.id, class
// rule.category; drop denied, alert info), httpproxy (web filter: web,
// block denied, pass allowed, warn info; with a virus, malware and the
// virus as rule.name) and aua (authentication). observer.product is
// "Sophos Firewall" or "UTM". observer.hostname is the UTM's own host
// field, or else the syslog host: SFOS's device_name is a model ("SFW",
// "XG210"), not a host name.
package sophos

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
const Name = "sophos"

const (
	vendor      = "Sophos"
	productSFOS = "Sophos Firewall"
	productUTM  = "UTM"
)

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Sophos Firewall (SFOS v18 and v19+ key=value: firewall, IPS, antivirus, ATP, web filter, authentication) and Sophos UTM 9 (packet filter, IPS, web proxy, authentication)",
		New:         func() detect.Parser { return &Parser{names: lex.Interner{Max: 4096}, paths: lex.Interner{Max: 4096}} },
		// SFOS sends no tag; UTM lines carry their own header, which the
		// shared syslog parser does not take apart, so these tags only
		// match UTM lines relayed with a standard header.
		Tags:  []string{"ulogd", "snort", "httpproxy", "afcd", "aua"},
		Sniff: Sniff,
	}
}

// Sniff reports whether rec looks like a Sophos log.
func Sniff(rec *detect.Record) bool {
	m := rec.Msg
	if isSFOS(m) {
		return true
	}
	if isUTMStamp(m) {
		return true
	}
	return isUTMTag(rec.App) && bytes.HasPrefix(m, []byte(`id="`))
}

// isSFOS: the message starts with SFOS's first key and holds a log_id.
func isSFOS(m []byte) bool {
	if len(m) < 16 || m[0] != 'd' {
		return false
	}
	if !bytes.HasPrefix(m, []byte(`device_name="`)) && !bytes.HasPrefix(m, []byte(`device="`)) {
		return false
	}
	return bytes.Contains(m[:min(len(m), 400)], []byte("log_id="))
}

// isUTMStamp: "2026:11:27-10:00:00 " at the start of m.
func isUTMStamp(m []byte) bool {
	if len(m) < 21 || m[4] != ':' || m[7] != ':' || m[10] != '-' || m[13] != ':' || m[16] != ':' || m[19] != ' ' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if m[i] < '0' || m[i] > '9' {
			return false
		}
	}
	return true
}

func isUTMTag(b []byte) bool {
	switch string(b) {
	case "ulogd", "snort", "httpproxy", "afcd", "aua":
		return true
	}
	return false
}

// Parser parses Sophos logs. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	paths lex.Interner
}

var _ detect.Parser = (*Parser)(nil)

var (
	errUnknown = errors.New(Name + ": not a Sophos Firewall or UTM log line")
	errNoPairs = errors.New(Name + ": no key=value pairs")
	errUTMHead = errors.New(Name + ": UTM: bad host or tag after the time stamp")
	errUTMTime = errors.New(Name + ": UTM: bad time stamp")
)

// lineError is a malformed-line error naming the log id.
type lineError struct {
	id   string
	what string
}

func (e *lineError) Error() string {
	if e.id == "" {
		return Name + ": " + e.what
	}
	return Name + ": " + e.id + ": " + e.what
}

func fail(ev *detect.Event, what string) error { return &lineError{id: ev.Code, what: what} }

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := lex.Trim(rec.Msg)
	switch {
	case isSFOS(m):
		return p.sfos(rec, m, ev)
	case isUTMStamp(m):
		return p.utmLine(rec, m, ev)
	case isUTMTag(rec.App) && bytes.HasPrefix(m, []byte(`id="`)):
		return p.utm(rec.App, m, ev)
	}
	return errUnknown
}

// ---- SFOS ----

type sfFields struct {
	logID, logType, logComp, logSub, status []byte
	stamp, date, clock, tz                  []byte
	ruleID, ruleName                        []byte
	src, dst, sport, dport, proto           []byte
	sentPkts, recvPkts, sentBytes, recvBy   []byte
	natSrc, natDst                          []byte
	sigID, sigMsg, class                    []byte
	virus, threat, url, user                []byte
	httpStatus, ua, method, category        []byte
	appCategory                             []byte
	n                                       int
}

func (f *sfFields) scan(b []byte) {
	kv := lex.NewKV(b, ' ')
	for {
		k, v, ok := kv.Next()
		if !ok {
			return
		}
		if v == nil {
			continue // a token without '=' (device quirks such as "src_mac=00: 0:00")
		}
		f.n++
		switch string(k) {
		case "log_id":
			f.logID = v
		case "log_type":
			f.logType = v
		case "log_component":
			f.logComp = v
		case "log_subtype":
			f.logSub = v
		case "status":
			f.status = v
		case "timestamp":
			f.stamp = v
		case "date":
			f.date = v
		case "time":
			f.clock = v
		case "timezone":
			f.tz = v
		case "fw_rule_id":
			f.ruleID = v
		case "fw_rule_name":
			f.ruleName = v
		case "src_ip":
			f.src = v
		case "dst_ip":
			f.dst = v
		case "src_port":
			f.sport = v
		case "dst_port":
			f.dport = v
		case "protocol":
			f.proto = v
		case "sent_pkts", "packets_sent":
			f.sentPkts = v
		case "recv_pkts", "packets_received":
			f.recvPkts = v
		case "sent_bytes", "bytes_sent":
			f.sentBytes = v
		case "recv_bytes", "bytes_received":
			f.recvBy = v
		case "src_trans_ip", "tran_src_ip":
			f.natSrc = v
		case "dst_trans_ip", "tran_dst_ip":
			f.natDst = v
		case "signature_id":
			f.sigID = v
		case "signature_msg":
			f.sigMsg = v
		case "classification":
			f.class = v
		case "virus":
			f.virus = v
		case "threatname":
			f.threat = v
		case "url":
			f.url = v
		case "user_name":
			f.user = v
		case "http_status", "status_code", "httpresponsecode":
			f.httpStatus = v
		case "http_user_agent", "user_agent", "useragent":
			f.ua = v
		case "http_method", "method":
			f.method = v
		case "http_category", "category":
			if len(f.category) == 0 {
				f.category = v
			}
		case "app_category", "application_category":
			f.appCategory = v
		}
	}
}

func (p *Parser) sfos(rec *detect.Record, m []byte, ev *detect.Event) error {
	var f sfFields
	f.scan(m)
	if f.n == 0 {
		return errNoPairs
	}
	ev.Observer.Vendor = vendor
	ev.Observer.Product = productSFOS
	if id := lex.Trim(f.logID); len(id) > 0 {
		if len(id) <= 16 && isDigits(id) {
			ev.Code = p.names.Bytes(id)
			if len(id) == 12 && id[6] >= '1' && id[6] <= '7' {
				ev.Severity = int(id[6] - '0')
			}
		}
	}
	if len(f.logType) == 0 {
		return fail(ev, "no log_type")
	}
	if err := p.sfosTime(rec, &f, ev); err != nil {
		return err
	}

	switch string(f.logType) {
	case "Firewall":
		return p.sfosFirewall(&f, ev)
	case "IDP":
		return p.sfosIDP(&f, ev)
	case "Anti-Virus":
		return p.sfosAV(&f, ev)
	case "ATP":
		return p.sfosATP(&f, ev)
	case "Content Filtering":
		return p.sfosContent(&f, ev)
	case "Event":
		return p.sfosEvent(&f, ev)
	}
	return detect.ErrNotEvent
}

// sfosTime reads v19's timestamp or v18's date, time and timezone.
func (p *Parser) sfosTime(rec *detect.Record, f *sfFields, ev *detect.Event) error {
	if len(f.stamp) > 0 {
		t, n, ok := syslog.ParseISO(f.stamp, true, rec.Location())
		if !ok || n != len(f.stamp) {
			return fail(ev, "bad timestamp")
		}
		ev.Timestamp = t
		return nil
	}
	if len(f.date) == 0 && len(f.clock) == 0 {
		return nil // the syslog header's time
	}
	if len(f.date) != 10 || len(f.clock) != 8 {
		return fail(ev, "bad date or time")
	}
	var buf [32]byte
	b := append(buf[:0], f.date...)
	b = append(b, 'T')
	b = append(b, f.clock...)
	loc := rec.Location()
	tz := lex.Trim(f.tz)
	switch {
	case lex.EqualFold(tz, "UTC"), lex.EqualFold(tz, "GMT"), lex.EqualFold(tz, "Z"):
		b = append(b, 'Z')
	case len(tz) >= 3 && (tz[0] == '+' || tz[0] == '-') && isOffset(tz[1:]):
		b = append(b, tz...)
		if len(tz) == 3 {
			b = append(b, "00"...)
		}
	}
	t, n, ok := syslog.ParseISO(b, false, loc)
	if !ok || n != len(b) {
		return fail(ev, "bad date or time")
	}
	ev.Timestamp = t
	return nil
}

// isOffset: "05", "0530" or "05:30".
func isOffset(b []byte) bool {
	switch len(b) {
	case 2, 4:
		return isDigits(b)
	case 5:
		return b[2] == ':' && isDigits(b[:2]) && isDigits(b[3:])
	}
	return false
}

// endpoints sets addresses, transport, ports and NAT addresses.
func (p *Parser) endpoints(f *sfFields, ev *detect.Event, need bool) error {
	if len(f.src) > 0 {
		a, ok := lex.Addr(lex.Trim(f.src))
		if !ok {
			return fail(ev, "bad src_ip")
		}
		ev.Source.IP = a
	}
	if len(f.dst) > 0 {
		a, ok := lex.Addr(lex.Trim(f.dst))
		if !ok {
			return fail(ev, "bad dst_ip")
		}
		ev.Destination.IP = a
	}
	if need && (!ev.Source.IP.IsValid() || !ev.Destination.IP.IsValid()) {
		return fail(ev, "no src_ip or dst_ip")
	}
	ev.Network.Transport = transport(lex.Trim(f.proto), ev.Source.IP)
	if !isICMP(ev.Network.Transport) {
		ev.Source.Port, _ = lex.Port(lex.Trim(f.sport))
		ev.Destination.Port, _ = lex.Port(lex.Trim(f.dport))
	}
	setNAT(&ev.Source, f.natSrc)
	setNAT(&ev.Destination, f.natDst)
	return nil
}

func setNAT(e *detect.Endpoint, v []byte) {
	a, ok := lex.Addr(lex.Trim(v))
	if !ok || a.IsUnspecified() || a == e.IP {
		return
	}
	e.NATIP = a
}

func (p *Parser) counts(f *sfFields, ev *detect.Event) {
	if n, ok := lex.Uint(lex.Trim(f.sentBytes)); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(lex.Trim(f.recvBy)); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	s, ok1 := lex.Uint(lex.Trim(f.sentPkts))
	r, ok2 := lex.Uint(lex.Trim(f.recvPkts))
	if ok1 && ok2 {
		ev.Network.Packets = detect.SetCount(s + r)
	}
}

// rule sets rule.id and rule.name from the firewall rule; a signature set
// later overrides both.
func (p *Parser) rule(f *sfFields, ev *detect.Event) {
	if id := lex.Trim(f.ruleID); len(id) > 0 && isDigits(id) && !allZero(id) {
		ev.Rule.ID = p.names.Bytes(id)
	}
	ev.Rule.Name = p.str(f.ruleName)
}

func (p *Parser) str(v []byte) string {
	v = lex.Trim(v)
	if len(v) == 0 || (len(v) == 1 && v[0] == '-') || string(v) == "N/A" {
		return ""
	}
	return p.names.Bytes(v)
}

func (p *Parser) sfosFirewall(f *sfFields, ev *detect.Event) error {
	ev.Category = detect.CategoryNetwork
	if err := p.endpoints(f, ev, true); err != nil {
		return err
	}
	ev.Type = verdict(f.logSub)
	if ev.Type == "" {
		ev.Type = verdict(f.status)
	}
	ev.Action = p.str(f.logSub)
	if ev.Action == "" {
		ev.Action = p.str(f.status)
	}
	p.rule(f, ev)
	p.counts(f, ev)
	return nil
}

func (p *Parser) sfosIDP(f *sfFields, ev *detect.Event) error {
	ev.Category = detect.CategoryIntrusionDetection
	if err := p.endpoints(f, ev, true); err != nil {
		return err
	}
	ev.Action = p.str(f.logSub)
	ev.Type = detect.TypeInfo
	if verdict(f.logSub) == detect.TypeDenied {
		ev.Type = detect.TypeDenied
	}
	p.rule(f, ev)
	if name := p.str(f.sigMsg); name != "" {
		ev.Rule.Name = name
		ev.Rule.ID = ""
	}
	if id := lex.Trim(f.sigID); len(id) > 0 && isDigits(id) {
		ev.Rule.ID = p.names.Bytes(id)
	}
	ev.Rule.Category = p.str(f.class)
	if ev.Rule.Name == "" {
		return fail(ev, "no signature_msg")
	}
	return nil
}

func (p *Parser) sfosAV(f *sfFields, ev *detect.Event) error {
	if lex.EqualFold(lex.Trim(f.logSub), "Clean") {
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryMalware
	if err := p.endpoints(f, ev, false); err != nil {
		return err
	}
	ev.Action = p.str(f.logSub)
	ev.Type = verdict(f.status)
	if ev.Type == "" {
		ev.Type = detect.TypeDenied
	}
	p.rule(f, ev)
	if v := p.str(f.virus); v != "" {
		ev.Rule.Name = v
	} else {
		return fail(ev, "no virus name")
	}
	ev.URLPath = p.path(f.url)
	p.counts(f, ev)
	return nil
}

func (p *Parser) sfosATP(f *sfFields, ev *detect.Event) error {
	ev.Category = detect.CategoryMalware
	if err := p.endpoints(f, ev, false); err != nil {
		return err
	}
	ev.Action = p.str(f.logSub)
	ev.Type = detect.TypeInfo
	if verdict(f.logSub) == detect.TypeDenied {
		ev.Type = detect.TypeDenied
	}
	p.rule(f, ev)
	if v := p.str(f.threat); v != "" {
		ev.Rule.Name = v
	} else {
		return fail(ev, "no threatname")
	}
	ev.URLPath = p.path(f.url)
	return nil
}

func (p *Parser) sfosContent(f *sfFields, ev *detect.Event) error {
	if err := p.endpoints(f, ev, false); err != nil {
		return err
	}
	ev.Action = p.str(f.logSub)
	ev.Type = verdict(f.logSub)
	p.rule(f, ev)
	if string(lex.Trim(f.logComp)) == "Application" {
		ev.Category = detect.CategoryNetwork
		ev.Rule.Category = p.str(f.appCategory)
		return nil
	}
	ev.Category = detect.CategoryWeb
	ev.Rule.Category = p.str(f.category)
	ev.URLPath = p.path(f.url)
	if n, ok := lex.Uint(lex.Trim(f.httpStatus)); ok && n >= 100 && n <= 999 {
		ev.HTTPStatus = int(n)
	}
	ev.HTTPMethod = p.str(f.method)
	if ua := lex.Trim(f.ua); len(ua) > 0 {
		ev.UserAgent = p.names.Bytes(ua)
	}
	p.counts(f, ev)
	return nil
}

// sfosEvent reads the authentication events; other events (DHCP, system,
// VPN tunnels, logouts) are not security events here.
func (p *Parser) sfosEvent(f *sfFields, ev *detect.Event) error {
	sub := lex.Trim(f.logSub)
	msgID := msgID(f.logID)
	switch {
	case string(sub) == "Authentication":
		switch msgID {
		case "17703", "17706", "17709", "17712", "17715": // logouts
			return detect.ErrNotEvent
		}
	case string(sub) == "Admin" && msgID == "17507":
	default:
		return detect.ErrNotEvent
	}
	status := lex.Trim(f.status)
	switch {
	case lex.EqualFold(status, "Successful"), lex.EqualFold(status, "Success"):
		ev.Outcome, ev.Type = detect.OutcomeSuccess, detect.TypeAllowed
	case lex.EqualFold(status, "Failed"), lex.EqualFold(status, "Failure"):
		ev.Outcome, ev.Type = detect.OutcomeFailure, detect.TypeDenied
	default:
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryAuthentication
	ev.Action = p.names.Bytes(status)
	if err := p.endpoints(f, ev, false); err != nil {
		return err
	}
	ev.UserName = p.str(f.user)
	return nil
}

// msgID returns the five-digit message id at the end of a log_id.
func msgID(id []byte) string {
	id = lex.Trim(id)
	if len(id) != 12 {
		return ""
	}
	return lex.String(id[7:])
}

// ---- UTM ----

// utmLine reads the UTM's own header, "2026:11:27-10:00:00 host tag[pid]: ".
func (p *Parser) utmLine(rec *detect.Record, m []byte, ev *detect.Event) error {
	t, ok := utmTime(m[:19], rec.Location())
	if !ok {
		return errUTMTime
	}
	rest := m[20:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || !isHost(rest[:sp]) {
		return errUTMHead
	}
	host := rest[:sp]
	rest = lex.Trim(rest[sp+1:])
	prog, body, ok := utmTag(rest)
	if !ok {
		return errUTMHead
	}
	ev.Timestamp = t
	ev.Observer.Hostname = p.names.Bytes(host)
	if !bytes.HasPrefix(body, []byte(`id="`)) {
		return detect.ErrNotEvent // another daemon's free text
	}
	return p.utm(prog, body, ev)
}

func utmTime(b []byte, loc *time.Location) (time.Time, bool) {
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
		return time.Time{}, false
	}
	if s == 60 {
		s = 59
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, 0, loc)
	if t.Day() != d {
		return time.Time{}, false // 31 February
	}
	return t, true
}

func num(b []byte) (int, bool) {
	n, ok := lex.Uint(b)
	return int(n), ok
}

// utmTag reads "tag[pid]: " or "tag: ".
func utmTag(b []byte) (prog, rest []byte, ok bool) {
	i := 0
	for i < len(b) && i < 64 && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= 'A' && b[i] <= 'Z' || b[i] >= '0' && b[i] <= '9' || b[i] == '-' || b[i] == '_' || b[i] == '.' || b[i] == '/') {
		i++
	}
	if i == 0 || i >= len(b) {
		return nil, nil, false
	}
	prog = b[:i]
	if b[i] == '[' {
		j := bytes.IndexByte(b[i:], ']')
		if j < 2 {
			return nil, nil, false
		}
		i += j + 1
	}
	if i >= len(b) || b[i] != ':' {
		return nil, nil, false
	}
	return prog, lex.Trim(b[i+1:]), true
}

func isHost(b []byte) bool {
	if len(b) > 255 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

type utmFields struct {
	id, sub, name, action, fwrule  []byte
	src, dst, proto, sport, dport  []byte
	reason, sid, class             []byte
	method, url, status, ua, virus []byte
	profile, categoryName, user    []byte
	n                              int
}

func (f *utmFields) scan(b []byte) {
	kv := lex.NewKV(b, ' ')
	for {
		k, v, ok := kv.Next()
		if !ok {
			return
		}
		if v == nil {
			continue
		}
		f.n++
		switch string(k) {
		case "id":
			f.id = v
		case "sub":
			f.sub = v
		case "name":
			f.name = v
		case "action":
			f.action = v
		case "fwrule":
			f.fwrule = v
		case "srcip":
			f.src = v
		case "dstip":
			f.dst = v
		case "proto":
			f.proto = v
		case "srcport":
			f.sport = v
		case "dstport":
			f.dport = v
		case "reason":
			f.reason = v
		case "sid":
			f.sid = v
		case "class":
			f.class = v
		case "method":
			f.method = v
		case "url":
			f.url = v
		case "statuscode":
			f.status = v
		case "ua":
			f.ua = v
		case "virus":
			f.virus = v
		case "profile":
			f.profile = v
		case "categoryname":
			f.categoryName = v
		case "user":
			f.user = v
		}
	}
}

// utm reads the key="value" pairs of one UTM daemon's line.
func (p *Parser) utm(prog, body []byte, ev *detect.Event) error {
	var f utmFields
	f.scan(body)
	if f.n == 0 {
		return errNoPairs
	}
	ev.Observer.Vendor = vendor
	ev.Observer.Product = productUTM
	if id := lex.Trim(f.id); len(id) > 0 && len(id) <= 8 && isDigits(id) {
		ev.Code = p.names.Bytes(id)
	}
	switch string(prog) {
	case "ulogd", "afcd":
		return p.utmPacket(&f, ev)
	case "snort":
		return p.utmIPS(&f, ev)
	case "httpproxy":
		return p.utmWeb(&f, ev)
	case "aua":
		return p.utmAuth(&f, ev)
	}
	switch string(f.sub) {
	case "packetfilter":
		return p.utmPacket(&f, ev)
	case "ips":
		return p.utmIPS(&f, ev)
	case "http":
		return p.utmWeb(&f, ev)
	case "auth":
		return p.utmAuth(&f, ev)
	}
	return detect.ErrNotEvent
}

func (p *Parser) utmAddrs(f *utmFields, ev *detect.Event, need bool) error {
	if len(f.src) > 0 {
		a, ok := lex.Addr(lex.Trim(f.src))
		if !ok {
			return fail(ev, "bad srcip")
		}
		ev.Source.IP = a
	}
	if len(f.dst) > 0 {
		a, ok := lex.Addr(lex.Trim(f.dst))
		if !ok {
			return fail(ev, "bad dstip")
		}
		ev.Destination.IP = a
	}
	if need && (!ev.Source.IP.IsValid() || !ev.Destination.IP.IsValid()) {
		return fail(ev, "no srcip or dstip")
	}
	ev.Network.Transport = transport(lex.Trim(f.proto), ev.Source.IP)
	if !isICMP(ev.Network.Transport) {
		ev.Source.Port, _ = lex.Port(lex.Trim(f.sport))
		ev.Destination.Port, _ = lex.Port(lex.Trim(f.dport))
	}
	return nil
}

func (p *Parser) utmPacket(f *utmFields, ev *detect.Event) error {
	t := verdict(f.action)
	if t == "" {
		return detect.ErrNotEvent // "DNS request" and other notices
	}
	ev.Category = detect.CategoryNetwork
	ev.Type = t
	ev.Action = p.str(f.action)
	if err := p.utmAddrs(f, ev, true); err != nil {
		return err
	}
	if id := lex.Trim(f.fwrule); len(id) > 0 && isDigits(id) && !allZero(id) {
		ev.Rule.ID = p.names.Bytes(id)
	}
	return nil
}

func (p *Parser) utmIPS(f *utmFields, ev *detect.Event) error {
	if len(f.action) == 0 {
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Action = p.str(f.action)
	ev.Type = detect.TypeInfo
	if verdict(f.action) == detect.TypeDenied {
		ev.Type = detect.TypeDenied
	}
	if err := p.utmAddrs(f, ev, true); err != nil {
		return err
	}
	ev.Rule.Name = p.str(f.reason)
	if ev.Rule.Name == "" {
		ev.Rule.Name = p.str(f.name)
	}
	if id := lex.Trim(f.sid); len(id) > 0 && isDigits(id) {
		ev.Rule.ID = p.names.Bytes(id)
	}
	ev.Rule.Category = p.str(f.class)
	return nil
}

func (p *Parser) utmWeb(f *utmFields, ev *detect.Event) error {
	if len(f.action) == 0 || len(f.name) == 0 {
		return detect.ErrNotEvent // debug lines, "warned and proceeded" notices
	}
	ev.Action = p.str(f.action)
	ev.Type = verdict(f.action)
	if ev.Type == "" && lex.EqualFold(lex.Trim(f.action), "warn") {
		ev.Type = detect.TypeInfo
	}
	if err := p.utmAddrs(f, ev, false); err != nil {
		return err
	}
	if v := p.str(f.virus); v != "" {
		ev.Category = detect.CategoryMalware
		ev.Rule.Name = v
		if ev.Type == detect.TypeAllowed {
			ev.Type = detect.TypeInfo
		}
	} else {
		ev.Category = detect.CategoryWeb
		ev.Rule.Name = p.str(f.profile)
		ev.Rule.Category = p.str(f.categoryName)
	}
	ev.URLPath = p.path(f.url)
	ev.HTTPMethod = p.str(f.method)
	if n, ok := lex.Uint(lex.Trim(f.status)); ok && n >= 100 && n <= 999 {
		ev.HTTPStatus = int(n)
	}
	if ua := lex.Trim(f.ua); len(ua) > 0 {
		ev.UserAgent = p.names.Bytes(ua)
	}
	return nil
}

func (p *Parser) utmAuth(f *utmFields, ev *detect.Event) error {
	name := lex.Trim(f.name)
	switch {
	case lex.HasPrefixFold(name, "Authentication failed"):
		ev.Outcome, ev.Type = detect.OutcomeFailure, detect.TypeDenied
	case lex.HasPrefixFold(name, "Authentication successful"):
		ev.Outcome, ev.Type = detect.OutcomeSuccess, detect.TypeAllowed
	default:
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryAuthentication
	ev.Action = p.names.Bytes(name)
	if err := p.utmAddrs(f, ev, false); err != nil {
		return err
	}
	ev.UserName = p.str(f.user)
	return nil
}

// ---- shared ----

// verdict maps a Sophos verdict word to event.type, or "".
func verdict(b []byte) string {
	b = lex.Trim(b)
	for _, s := range [...]string{"drop", "deny", "denied", "reject", "block", "reset", "prevent", "quarantine"} {
		if lex.HasPrefixFold(b, s) {
			return detect.TypeDenied
		}
	}
	for _, s := range [...]string{"allow", "accept", "pass", "permit"} {
		if lex.HasPrefixFold(b, s) {
			return detect.TypeAllowed
		}
	}
	return ""
}

// transport maps "TCP", "ICMP", "6", "58" ...; ICMP over IPv6 is
// ipv6-icmp.
func transport(b []byte, src netip.Addr) string {
	switch {
	case lex.EqualFold(b, "tcp"), string(b) == "6":
		return detect.TransportTCP
	case lex.EqualFold(b, "udp"), string(b) == "17":
		return detect.TransportUDP
	case lex.EqualFold(b, "icmp"), string(b) == "1":
		if src.Is6() && !src.Is4In6() {
			return detect.TransportIPv6ICMP
		}
		return detect.TransportICMP
	case lex.EqualFold(b, "icmpv6"), lex.EqualFold(b, "ipv6-icmp"), string(b) == "58":
		return detect.TransportIPv6ICMP
	}
	return ""
}

func isICMP(t string) bool {
	return t == detect.TransportICMP || t == detect.TransportIPv6ICMP
}

func (p *Parser) path(v []byte) string {
	v = lex.Path(lex.Trim(v))
	if len(v) == 0 || v[0] != '/' {
		return "" // a bare host name, or no path
	}
	return p.paths.Bytes(v)
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

func allZero(b []byte) bool {
	for _, c := range b {
		if c != '0' {
			return false
		}
	}
	return true
}

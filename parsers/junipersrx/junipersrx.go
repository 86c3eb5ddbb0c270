// Package junipersrx parses Juniper SRX (Junos OS) security logs, in both
// syslog formats the SRX writes:
//
// Structured data (RFC 5424, "set system syslog ... structured-data"): the
// fields are read by name from the junos@ element, so any field order and
// any Junos release work:
//
//	<14>1 2026-11-27T10:00:00.123+01:00 srx01 RT_FLOW - RT_FLOW_SESSION_DENY [junos@2636.1.1.1.2.129 source-address="198.51.100.7" ...]
//
// Standard text (BSD syslog), read by position as documented in the Junos
// System Log Explorer. Junos releases insert fields (connection tags,
// NAT rule types), so positions are found from anchors: the address pairs,
// the "0x" connection tags, the "source rule" NAT rule types and the
// "protocol-id(icmp-type)" token:
//
//	<14>Nov 27 10:00:00 srx01 RT_FLOW: RT_FLOW_SESSION_CREATE: session created 198.51.100.7/51514->192.0.2.10/443 0x0 junos-https ...
//
// Messages read, with their logical-system (_LS) variants:
//
//   - RT_FLOW_SESSION_CREATE, RT_FLOW_SESSION_CLOSE: network, allowed;
//     RT_FLOW_SESSION_DENY: network, denied. event.action is the phrase
//     Junos writes in the text form, "session created", "session closed" or
//     "session denied", in both formats, so that one rule matches either;
//     event.code is the message id as written (RT_FLOW_SESSION_DENY_LS).
//     rule.name is the policy name. The close message's bytes-from-client
//     and bytes-from-server are source.bytes and destination.bytes, and the
//     sum of its packet counts is network.packets.
//   - IDP_ATTACK_LOG_EVENT: intrusion_detection; rule.name is the attack
//     name, event.action the IDP action as written (DROP, CLOSE, NONE ...),
//     denied for the DROP and CLOSE actions, info otherwise; event.severity
//     the threat severity, 1 (INFO) to 5 (CRITICAL).
//   - RT_SCREEN_TCP, _UDP, _ICMP, _IP, _TCP_SRC_IP, _TCP_DST_IP ...:
//     intrusion_detection; rule.name is the screen's attack name ("TCP port
//     scan!"), denied when the action is drop, info for alarm-without-drop.
//   - SECINTEL_ACTION_LOG (structured only): intrusion_detection; rule.name
//     is the feed name, rule.category the sub-category, denied for BLOCK.
//   - AV_VIRUS_DETECTED_MT, AV_VIRUS_DETECTED (structured only): malware,
//     denied; rule.name is the virus name.
//   - WEBFILTER_URL_BLOCKED, WEBFILTER_URL_PERMITTED: web; event.action is
//     Junos's own ACTION text, "URL Blocked" or "URL Permitted"; rule.name
//     is the UTM profile, rule.category the URL category, url.path the
//     object without its query.
//
// Addresses are the ones the initiator used (source-address and
// destination-address); the NAT addresses go to source.nat.ip and
// destination.nat.ip when they differ from them; unspecified NAT
// addresses (0.0.0.0) are left out. Ports are left out for ICMP, where
// Junos writes the ICMP id and type in their place. The IDP text form's
// epoch ("at 1795773900") is its time; other lines take the syslog
// header's. observer.hostname is the syslog host. Other Junos messages
// (APPTRACK_*, ANTISPAM, CONTENT_FILTERING, IDP_APPDDOS, system events)
// are not events; the text forms of AV and SECINTEL messages are reported
// as errors (use structured-data syslog).
package junipersrx

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
const Name = "juniper_srx"

const (
	vendor  = "Juniper"
	product = "SRX"
)

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Juniper SRX (Junos) security logs, structured and text: RT_FLOW session create/deny/close, IDP attacks, screens, security intelligence, antivirus and web filtering",
		New:         func() detect.Parser { return &Parser{names: lex.Interner{Max: 4096}, paths: lex.Interner{Max: 4096}} },
		Tags:        []string{"RT_FLOW", "RT_IDS", "RT_IDP", "RT_UTM", "RT_SECINTEL", "RT_SCREEN"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like a Junos security log: one of the
// RT_ tags, or a message id this parser knows.
func Sniff(rec *detect.Record) bool {
	if isTag(rec.App) {
		return true
	}
	if len(rec.MsgID) > 0 && kindOf(rec.MsgID) != kNone {
		return true
	}
	id, _, ok := splitID(rec.Msg)
	return ok && kindOf(id) != kNone
}

func isTag(b []byte) bool {
	if len(b) < 6 || b[0] != 'R' || b[1] != 'T' || b[2] != '_' {
		return false
	}
	switch string(b) {
	case "RT_FLOW", "RT_IDS", "RT_IDP", "RT_UTM", "RT_SECINTEL", "RT_SCREEN":
		return true
	}
	return false
}

// kind is the message family.
type kind uint8

const (
	kNone kind = iota
	kCreate
	kDeny
	kClose
	kIDP
	kScreen
	kSecintel
	kAV
	kWebBlocked
	kWebPermitted
)

// kindOf classifies a message id, with or without the logical-system
// suffix _LS.
func kindOf(id []byte) kind {
	id = bytes.TrimSuffix(id, []byte("_LS"))
	switch string(id) {
	case "RT_FLOW_SESSION_CREATE":
		return kCreate
	case "RT_FLOW_SESSION_DENY":
		return kDeny
	case "RT_FLOW_SESSION_CLOSE":
		return kClose
	case "IDP_ATTACK_LOG_EVENT":
		return kIDP
	case "SECINTEL_ACTION_LOG":
		return kSecintel
	case "AV_VIRUS_DETECTED_MT", "AV_VIRUS_DETECTED":
		return kAV
	case "WEBFILTER_URL_BLOCKED":
		return kWebBlocked
	case "WEBFILTER_URL_PERMITTED":
		return kWebPermitted
	}
	if len(id) > 10 && string(id[:10]) == "RT_SCREEN_" {
		return kScreen
	}
	return kNone
}

// splitID splits "RT_FLOW_SESSION_CREATE: rest" into the message id and
// the rest. An explicit-priority prefix ("%-", "%PFE-6-") is dropped.
func splitID(b []byte) (id, rest []byte, ok bool) {
	i := 0
	for i < len(b) && i < 96 {
		c := b[i]
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '%' || c == '-' {
			i++
			continue
		}
		break
	}
	if i < 3 || i >= len(b) || b[i] != ':' {
		return nil, nil, false
	}
	id = b[:i]
	if id[0] == '%' {
		j := bytes.LastIndexByte(id, '-')
		if j < 0 {
			return nil, nil, false
		}
		id = id[j+1:]
	}
	if len(id) == 0 {
		return nil, nil, false
	}
	return id, lex.Trim(b[i+1:]), true
}

// Parser parses Junos security logs. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	paths lex.Interner
}

var _ detect.Parser = (*Parser)(nil)

// lineError is a malformed-line error naming the message id.
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

func (p *Parser) fail(ev *detect.Event, what string) error {
	return &lineError{id: ev.Code, what: what}
}

var errEmpty = errors.New(Name + ": empty message")

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	id, body := rec.MsgID, rec.Msg
	sd := junosSD(rec.SD)
	if sd == nil {
		if tid, rest, ok := splitID(rec.Msg); ok {
			id, body = tid, rest
		}
	}
	k := kindOf(id)
	if k == kNone {
		if len(rec.Msg) == 0 && len(rec.SD) == 0 && len(id) == 0 {
			return errEmpty
		}
		return detect.ErrNotEvent
	}
	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Code = p.names.Bytes(id)
	if sd != nil {
		return p.structured(k, sd, ev)
	}
	return p.text(k, body, ev)
}

// junosSD returns the structured data when it holds a junos@ element.
func junosSD(sd []byte) []byte {
	if len(sd) == 0 || !bytes.Contains(sd, []byte("[junos@")) {
		return nil
	}
	return sd
}

// fields are the structured-data values the parser reads, as written.
type fields struct {
	src, dst, sport, dport   []byte
	natSrc, natDst           []byte
	proto, protoName         []byte
	policy, attack, action   []byte
	severity                 []byte
	pktC, bytesC             []byte
	pktS, bytesS             []byte
	name, category, profile  []byte
	obj, feed, subcat        []byte
	hasSrc, hasDst, hasProto bool
}

func (p *Parser) structured(k kind, sd []byte, ev *detect.Event) error {
	var f fields
	syslog.SDParams(sd, func(id, name, v []byte) bool {
		if !bytes.HasPrefix(id, []byte("junos@")) {
			return true
		}
		switch string(name) {
		case "source-address":
			f.src, f.hasSrc = v, true
		case "destination-address":
			f.dst, f.hasDst = v, true
		case "source-port":
			f.sport = v
		case "destination-port":
			f.dport = v
		case "nat-source-address":
			f.natSrc = v
		case "nat-destination-address":
			f.natDst = v
		case "protocol-id":
			f.proto, f.hasProto = v, true
		case "protocol-name":
			f.protoName = v
		case "policy-name":
			f.policy = v
		case "attack-name":
			f.attack = v
		case "action":
			f.action = v
		case "threat-severity":
			f.severity = v
		case "packets-from-client":
			f.pktC = v
		case "bytes-from-client":
			f.bytesC = v
		case "packets-from-server":
			f.pktS = v
		case "bytes-from-server":
			f.bytesS = v
		case "name":
			f.name = v
		case "category":
			f.category = v
		case "profile":
			f.profile = v
		case "obj":
			f.obj = v
		case "feed-name":
			f.feed = v
		case "sub-category":
			f.subcat = v
		}
		return true
	})

	if k != kScreen && (!f.hasSrc || !f.hasDst) {
		return p.fail(ev, "no source-address or destination-address")
	}
	src, ok1 := addrOrEmpty(f.src)
	dst, ok2 := addrOrEmpty(f.dst)
	if !ok1 {
		return p.fail(ev, "bad source-address")
	}
	if !ok2 {
		return p.fail(ev, "bad destination-address")
	}
	if !src.IsValid() && !dst.IsValid() {
		return p.fail(ev, "no address")
	}
	ev.Source.IP, ev.Destination.IP = src, dst
	switch {
	case f.hasProto:
		ev.Network.Transport = transport(f.proto)
	case len(f.protoName) > 0:
		ev.Network.Transport = transportName(f.protoName)
	case k == kScreen:
		ev.Network.Transport = screenTransport(ev.Code, src)
	}
	if !isICMP(ev.Network.Transport) {
		ev.Source.Port, _ = lex.Port(f.sport)
		ev.Destination.Port, _ = lex.Port(f.dport)
	}
	setNAT(&ev.Source, f.natSrc)
	setNAT(&ev.Destination, f.natDst)

	switch k {
	case kCreate, kDeny, kClose:
		flowVerdict(k, ev)
		ev.Rule.Name = p.str(f.policy)
		if k == kClose {
			setCounts(ev, f.pktC, f.bytesC, f.pktS, f.bytesS)
		}
	case kIDP:
		ev.Category = detect.CategoryIntrusionDetection
		p.idpAction(f.action, ev)
		ev.Rule.Name = p.str(f.attack)
		ev.Severity = threatSeverity(f.severity)
	case kScreen:
		ev.Category = detect.CategoryIntrusionDetection
		p.screenAction(f.action, ev)
		ev.Rule.Name = p.str(f.attack)
	case kSecintel:
		ev.Category = detect.CategoryIntrusionDetection
		ev.Action = p.str(f.action)
		ev.Type = detect.TypeInfo
		if lex.EqualFold(f.action, "block") {
			ev.Type = detect.TypeDenied
		}
		ev.Rule.Name = p.str(f.feed)
		ev.Rule.Category = p.str(f.subcat)
		if n, ok := lex.Uint(f.severity); ok && n <= 100 {
			ev.Severity = int(n)
		}
	case kAV:
		ev.Category = detect.CategoryMalware
		ev.Type = detect.TypeDenied
		ev.Action = p.str(f.action)
		ev.Rule.Name = p.str(f.name)
	case kWebBlocked, kWebPermitted:
		p.web(k, ev)
		ev.Rule.Name = p.str(f.profile)
		ev.Rule.Category = p.str(f.category)
		ev.URLPath = p.path(f.obj)
	}
	return nil
}

// str returns an SD or text value as an interned string, with RFC 5424
// escapes undone; "", "N/A", "None" and "UNKNOWN" are absent.
func (p *Parser) str(v []byte) string {
	v = lex.Trim(v)
	if absent(v) {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return p.names.Bytes(v)
	}
	var buf [256]byte
	return p.names.Bytes(syslog.UnescapeSD(buf[:0], v))
}

func (p *Parser) path(v []byte) string {
	v = lex.Path(lex.Trim(v))
	if len(v) == 0 || v[0] != '/' {
		return ""
	}
	if bytes.IndexByte(v, '\\') >= 0 {
		var buf [256]byte
		return p.paths.Bytes(syslog.UnescapeSD(buf[:0], v))
	}
	return p.paths.Bytes(v)
}

func absent(v []byte) bool {
	switch string(v) {
	case "", "N/A", "None", "UNKNOWN", "-":
		return true
	}
	return false
}

// addrOrEmpty parses an address; an absent value is not an error.
func addrOrEmpty(v []byte) (netip.Addr, bool) {
	if len(v) == 0 || absent(v) {
		return netip.Addr{}, true
	}
	return lex.Addr(v)
}

func setNAT(e *detect.Endpoint, v []byte) {
	a, ok := lex.Addr(v)
	if !ok || a.IsUnspecified() || a == e.IP {
		return
	}
	e.NATIP = a
}

func setCounts(ev *detect.Event, pktC, bytesC, pktS, bytesS []byte) {
	if n, ok := lex.Uint(bytesC); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(bytesS); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	c, ok1 := lex.Uint(pktC)
	s, ok2 := lex.Uint(pktS)
	if ok1 && ok2 {
		ev.Network.Packets = detect.SetCount(c + s)
	}
}

func flowVerdict(k kind, ev *detect.Event) {
	ev.Category = detect.CategoryNetwork
	switch k {
	case kCreate:
		ev.Type, ev.Action = detect.TypeAllowed, "session created"
	case kClose:
		ev.Type, ev.Action = detect.TypeAllowed, "session closed"
	default:
		ev.Type, ev.Action = detect.TypeDenied, "session denied"
	}
}

func (p *Parser) web(k kind, ev *detect.Event) {
	ev.Category = detect.CategoryWeb
	if k == kWebBlocked {
		ev.Type, ev.Action = detect.TypeDenied, "URL Blocked"
	} else {
		ev.Type, ev.Action = detect.TypeAllowed, "URL Permitted"
	}
}

// idpAction sets the IDP action: DROP, DROP_PACKET, DROP_CONNECTION and the
// CLOSE actions stop the attack; NONE, IGNORE, RECOMMENDED and the rest
// only report it.
func (p *Parser) idpAction(a []byte, ev *detect.Event) {
	a = lex.Trim(a)
	ev.Action = p.str(a)
	ev.Type = detect.TypeInfo
	if lex.HasPrefixFold(a, "drop") || lex.HasPrefixFold(a, "close") || lex.HasPrefixFold(a, "block") {
		ev.Type = detect.TypeDenied
	}
}

// screenAction: "drop" is denied, "alarm-without-drop" (and "alarm") info.
func (p *Parser) screenAction(a []byte, ev *detect.Event) {
	a = lex.Trim(a)
	ev.Action = p.str(a)
	ev.Type = detect.TypeInfo
	if lex.HasPrefixFold(a, "drop") || lex.HasPrefixFold(a, "reject") || lex.HasPrefixFold(a, "block") {
		ev.Type = detect.TypeDenied
	}
}

// threatSeverity maps IDP threat severities to 1 (INFO) .. 5 (CRITICAL).
func threatSeverity(b []byte) int {
	switch {
	case lex.EqualFold(b, "info"):
		return 1
	case lex.EqualFold(b, "low"), lex.EqualFold(b, "minor"):
		return 2
	case lex.EqualFold(b, "medium"), lex.EqualFold(b, "major"):
		return 3
	case lex.EqualFold(b, "high"):
		return 4
	case lex.EqualFold(b, "critical"):
		return 5
	}
	return 0
}

func transport(id []byte) string {
	switch string(lex.Trim(id)) {
	case "6":
		return detect.TransportTCP
	case "17":
		return detect.TransportUDP
	case "1":
		return detect.TransportICMP
	case "58":
		return detect.TransportIPv6ICMP
	}
	return ""
}

func transportName(b []byte) string {
	switch {
	case lex.EqualFold(b, "tcp"):
		return detect.TransportTCP
	case lex.EqualFold(b, "udp"):
		return detect.TransportUDP
	case lex.EqualFold(b, "icmp"):
		return detect.TransportICMP
	case lex.EqualFold(b, "icmpv6"), lex.EqualFold(b, "icmp6"), lex.EqualFold(b, "ipv6-icmp"):
		return detect.TransportIPv6ICMP
	}
	return ""
}

// screenTransport derives the transport from the screen's message id.
func screenTransport(id string, src netip.Addr) string {
	s := id[len("RT_SCREEN_"):]
	switch {
	case len(s) >= 3 && s[:3] == "TCP":
		return detect.TransportTCP
	case len(s) >= 3 && s[:3] == "UDP":
		return detect.TransportUDP
	case len(s) >= 4 && s[:4] == "ICMP":
		if src.Is6() {
			return detect.TransportIPv6ICMP
		}
		return detect.TransportICMP
	}
	return ""
}

func isICMP(t string) bool {
	return t == detect.TransportICMP || t == detect.TransportIPv6ICMP
}

// ---- text (BSD) format ----

func (p *Parser) text(k kind, body []byte, ev *detect.Event) error {
	switch k {
	case kCreate, kDeny, kClose:
		return p.textFlow(k, body, ev)
	case kIDP:
		return p.textIDP(body, ev)
	case kScreen:
		return p.textScreen(body, ev)
	case kWebBlocked, kWebPermitted:
		return p.textWeb(k, body, ev)
	}
	return p.fail(ev, "text format not supported; configure structured-data syslog")
}

// split cuts b into space-separated tokens, at most cap(dst).
func split(dst [][]byte, b []byte) [][]byte {
	dst = dst[:0]
	for len(dst) < cap(dst) {
		for len(b) > 0 && b[0] == ' ' {
			b = b[1:]
		}
		if len(b) == 0 {
			break
		}
		i := bytes.IndexByte(b, ' ')
		if i < 0 {
			i = len(b)
		}
		dst = append(dst, b[:i])
		b = b[i:]
	}
	return dst
}

func at(t [][]byte, i int) []byte {
	if i < 0 || i >= len(t) {
		return nil
	}
	return t[i]
}

var arrow = []byte("->")

func isPair(t []byte) bool { return bytes.Index(t, arrow) > 0 }

// pair parses "addr<sep>port->addr<sep>port".
func pair(t []byte, sep byte) (a netip.Addr, ap uint16, b netip.Addr, bp uint16, ok bool) {
	i := bytes.Index(t, arrow)
	if i <= 0 {
		return
	}
	var ok1, ok2 bool
	a, ap, ok1 = addrPort(t[:i], sep)
	b, bp, ok2 = addrPort(t[i+2:], sep)
	return a, ap, b, bp, ok1 && ok2
}

// addrPort parses "addr<sep>port"; a port of 0 is absent.
func addrPort(t []byte, sep byte) (netip.Addr, uint16, bool) {
	j := bytes.LastIndexByte(t, sep)
	if j < 0 {
		a, ok := lex.Addr(t)
		return a, 0, ok
	}
	a, ok := lex.Addr(t[:j])
	if !ok {
		return a, 0, false
	}
	if _, ok := lex.Uint(t[j+1:]); !ok {
		return a, 0, false
	}
	port, _ := lex.Port(t[j+1:])
	return a, port, true
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

// isConnTag reports whether t is a connection tag, "0x0".
func isConnTag(t []byte) bool {
	if len(t) < 3 || t[0] != '0' || (t[1] != 'x' && t[1] != 'X') {
		return false
	}
	for _, c := range t[2:] {
		if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f') {
			return false
		}
	}
	return true
}

// protoICMP splits "6(0)", protocol-id(icmp-type), into the protocol id.
func protoICMP(t []byte) ([]byte, bool) {
	i := bytes.IndexByte(t, '(')
	if i <= 0 || t[len(t)-1] != ')' || !isDigits(t[:i]) || !isDigits(t[i+1:len(t)-1]) {
		return nil, false
	}
	return t[:i], true
}

// counter splits "12(3456)", packets(bytes).
func counter(t []byte) (pkts, bytes_ []byte) {
	i := bytes.IndexByte(t, '(')
	if i <= 0 || t[len(t)-1] != ')' {
		return nil, nil
	}
	return t[:i], t[i+1 : len(t)-1]
}

// skipType skips a NAT rule type at t[j]: "N/A" or "source rule".
func skipType(t [][]byte, j int) int {
	if string(at(t, j+1)) == "rule" {
		return j + 2
	}
	return j + 1
}

// textFlow reads the RT_FLOW session messages:
//
//	session created S/sp->D/dp [0x0] service NS/nsp->ND/ndp [0x0] [type] srcrule [type] dstrule proto policy from to id ...
//	session closed reason: S/sp->D/dp [0x0] service NS/nsp->ND/ndp ... proto policy from to id p(b) p(b) elapsed ...
//	session denied S/sp->D/dp [0x0] service proto(icmp) policy from to ...
func (p *Parser) textFlow(k kind, body []byte, ev *detect.Event) error {
	var arr [48][]byte
	t := split(arr[:], body)
	if len(t) < 4 || string(t[0]) != "session" {
		return p.fail(ev, "not a session message")
	}
	i := 2
	if k == kClose {
		for i < len(t) && i < 12 && !isPair(t[i]) {
			i++ // the close reason
		}
	}
	if i >= len(t) || !isPair(t[i]) {
		return p.fail(ev, "no address pair")
	}
	src, sport, dst, dport, ok := pair(t[i], '/')
	if !ok {
		return p.fail(ev, "bad address pair")
	}
	j := i + 1
	var proto []byte
	var natSrc, natDst netip.Addr
	if k == kDeny {
		for n := 0; n < 3 && j < len(t); n++ {
			if proto, ok = protoICMP(t[j]); ok {
				break
			}
			j++
		}
		if proto == nil {
			return p.fail(ev, "no protocol-id(icmp-type)")
		}
		j++
	} else {
		for n := 0; n < 3 && j < len(t) && !isPair(t[j]); n++ {
			j++
		}
		if j >= len(t) || !isPair(t[j]) {
			return p.fail(ev, "no NAT address pair")
		}
		natSrc, _, natDst, _, ok = pair(t[j], '/')
		if !ok {
			return p.fail(ev, "bad NAT address pair")
		}
		j++
		typed := false
		if isConnTag(at(t, j)) {
			typed = true
			j++
		} else {
			typed = string(at(t, j+1)) == "rule" || !isDigits(at(t, j+2))
		}
		if typed {
			j = skipType(t, j) + 1
			j = skipType(t, j) + 1
		} else {
			j += 2
		}
		proto = at(t, j)
		j++
		if !isDigits(proto) {
			return p.fail(ev, "bad protocol-id")
		}
	}
	policy := at(t, j)
	if len(policy) == 0 || len(at(t, j+2)) == 0 {
		return p.fail(ev, "truncated after protocol-id")
	}

	ev.Source.IP, ev.Destination.IP = src, dst
	ev.Network.Transport = transport(proto)
	if !isICMP(ev.Network.Transport) {
		ev.Source.Port, ev.Destination.Port = sport, dport
	}
	if natSrc.IsValid() && !natSrc.IsUnspecified() && natSrc != src {
		ev.Source.NATIP = natSrc
	}
	if natDst.IsValid() && !natDst.IsUnspecified() && natDst != dst {
		ev.Destination.NATIP = natDst
	}
	flowVerdict(k, ev)
	ev.Rule.Name = p.str(policy)
	if k == kClose {
		pc, bc := counter(at(t, j+4))
		ps, bs := counter(at(t, j+5))
		if pc == nil || ps == nil {
			return p.fail(ev, "no packets(bytes) counters")
		}
		setCounts(ev, pc, bc, ps, bs)
	}
	return nil
}

// textIDP reads
//
//	IDP: at 1764237600, SIG Attack log <S/sp->D/dp> for TCP protocol and service ... attack: id=1, repeat=0, action=DROP, threat-severity=HIGH, name=..., NAT <NS:nsp->ND:ndp>, ...
func (p *Parser) textIDP(body []byte, ev *detect.Event) error {
	b := bytes.TrimPrefix(body, []byte("IDP: "))
	if bytes.HasPrefix(b, []byte("at ")) {
		k := 3
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if n, ok := lex.Uint(b[3:k]); ok && n >= 946684800 && n < 4102444800 {
			ev.Timestamp = time.Unix(n, 0).UTC()
		}
	}
	lt := bytes.IndexByte(b, '<')
	if lt < 0 {
		return p.fail(ev, "no <address pair>")
	}
	gt := closeAngle(b[lt:])
	if gt < 0 {
		return p.fail(ev, "no <address pair>")
	}
	src, sport, dst, dport, ok := pair(b[lt+1:lt+gt], '/')
	if !ok {
		return p.fail(ev, "bad address pair")
	}
	rest := b[lt+gt+1:]
	if q, ok := bytes.CutPrefix(rest, []byte(" for ")); ok {
		if e := bytes.IndexByte(q, ' '); e > 0 {
			ev.Network.Transport = transportName(q[:e])
		}
	}
	a := bytes.Index(rest, []byte("attack: "))
	if a < 0 {
		return p.fail(ev, "no attack: section")
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Source.IP, ev.Destination.IP = src, dst
	if !isICMP(ev.Network.Transport) {
		ev.Source.Port, ev.Destination.Port = sport, dport
	}
	var action []byte
	for s := rest[a+8:]; len(s) > 0; {
		item := s
		if c := bytes.Index(s, []byte(", ")); c >= 0 {
			item, s = s[:c], s[c+2:]
		} else {
			s = nil
		}
		if nat, ok := bytes.CutPrefix(item, []byte("NAT <")); ok {
			nat = bytes.TrimSuffix(nat, []byte(">"))
			if ns, _, nd, _, ok := pair(nat, ':'); ok {
				if !ns.IsUnspecified() && ns != src {
					ev.Source.NATIP = ns
				}
				if !nd.IsUnspecified() && nd != dst {
					ev.Destination.NATIP = nd
				}
			}
			continue
		}
		k, v, ok := lex.Cut(item, '=')
		if !ok {
			continue
		}
		switch string(k) {
		case "action":
			action = v
		case "threat-severity":
			ev.Severity = threatSeverity(v)
		case "name":
			ev.Rule.Name = p.str(v)
		}
	}
	p.idpAction(action, ev)
	if ev.Rule.Name == "" {
		return p.fail(ev, "no attack name")
	}
	return nil
}

// closeAngle returns the index of the '>' that closes "<a->b>", skipping
// the one in the arrow, or -1.
func closeAngle(b []byte) int {
	for i := 1; i < len(b); i++ {
		if b[i] == '>' && b[i-1] != '-' {
			return i
		}
	}
	return -1
}

// textScreen reads
//
//	TCP port scan! source: 198.51.100.7:51514, destination: 192.0.2.10:22, zone name: untrust, interface name: ge-0/0/0.0, action: drop
func (p *Parser) textScreen(body []byte, ev *detect.Event) error {
	i := bytes.Index(body, []byte("source: "))
	if i < 0 {
		i = bytes.Index(body, []byte("destination: "))
	}
	if i <= 0 {
		return p.fail(ev, "no source: or destination:")
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Rule.Name = p.str(lex.Trim(body[:i]))
	wantPort := false
	switch t := screenTransport(ev.Code, netip.Addr{}); t {
	case detect.TransportTCP, detect.TransportUDP:
		wantPort = true
	}
	var srcV, dstV, proto, action []byte
	for s := body[i:]; len(s) > 0; {
		item := s
		if c := bytes.Index(s, []byte(", ")); c >= 0 {
			item, s = s[:c], s[c+2:]
		} else {
			s = nil
		}
		k, v, ok := bytes.Cut(item, []byte(": "))
		if !ok {
			continue
		}
		switch string(k) {
		case "source":
			srcV = lex.Trim(v)
		case "destination":
			dstV = lex.Trim(v)
		case "protocol-id":
			proto = lex.Trim(v)
		case "action":
			action = lex.Trim(v)
		}
	}
	var ok1, ok2 = true, true
	if srcV != nil {
		ev.Source.IP, ev.Source.Port, ok1 = screenAddr(srcV, wantPort)
	}
	if dstV != nil {
		ev.Destination.IP, ev.Destination.Port, ok2 = screenAddr(dstV, wantPort)
	}
	if !ok1 || !ok2 || (!ev.Source.IP.IsValid() && !ev.Destination.IP.IsValid()) {
		return p.fail(ev, "bad address")
	}
	if proto != nil {
		ev.Network.Transport = transport(proto)
	} else {
		a := ev.Source.IP
		if !a.IsValid() {
			a = ev.Destination.IP
		}
		ev.Network.Transport = screenTransport(ev.Code, a)
	}
	if isICMP(ev.Network.Transport) {
		ev.Source.Port, ev.Destination.Port = 0, 0
	}
	p.screenAction(action, ev)
	return nil
}

// screenAddr parses "addr:port" (TCP and UDP screens) or "addr".
func screenAddr(v []byte, wantPort bool) (netip.Addr, uint16, bool) {
	if wantPort {
		if j := bytes.LastIndexByte(v, ':'); j > 0 && isDigits(v[j+1:]) {
			if a, ok := lex.Addr(v[:j]); ok {
				port, _ := lex.Port(v[j+1:])
				return a, port, true
			}
		}
	}
	a, ok := lex.Addr(v)
	return a, 0, ok
}

// textWeb reads
//
//	WebFilter: ACTION="URL Blocked" 10.0.0.50(50227)->192.0.2.155(80) CATEGORY="..." REASON="..." PROFILE="..." URL=host OBJ=/path USERNAME=... ROLES=...
func (p *Parser) textWeb(k kind, body []byte, ev *detect.Event) error {
	b := bytes.TrimPrefix(body, []byte("WebFilter: "))
	kv := lex.NewKV(b, ' ')
	var action, category, profile, obj []byte
	sawPair := false
	for {
		key, v, ok := kv.Next()
		if !ok {
			break
		}
		if v == nil {
			if !sawPair && isPair(key) {
				src, sport, dst, dport, ok := parenPair(key)
				if !ok {
					return p.fail(ev, "bad address pair")
				}
				sawPair = true
				ev.Source.IP, ev.Source.Port = src, sport
				ev.Destination.IP, ev.Destination.Port = dst, dport
			}
			continue
		}
		switch string(key) {
		case "ACTION":
			action = v
		case "CATEGORY":
			category = v
		case "PROFILE":
			profile = v
		case "OBJ":
			obj = v
		}
	}
	if !sawPair {
		return p.fail(ev, "no address pair")
	}
	p.web(k, ev)
	if a := lex.Trim(action); len(a) > 0 {
		ev.Action = p.names.Bytes(a)
	}
	ev.Rule.Name = p.str(profile)
	ev.Rule.Category = p.str(category)
	ev.URLPath = p.path(obj)
	return nil
}

// parenPair parses "addr(port)->addr(port)".
func parenPair(t []byte) (a netip.Addr, ap uint16, b netip.Addr, bp uint16, ok bool) {
	i := bytes.Index(t, arrow)
	if i <= 0 {
		return
	}
	var ok1, ok2 bool
	a, ap, ok1 = parenAddr(t[:i])
	b, bp, ok2 = parenAddr(t[i+2:])
	return a, ap, b, bp, ok1 && ok2
}

func parenAddr(t []byte) (netip.Addr, uint16, bool) {
	if j := bytes.IndexByte(t, '('); j > 0 && t[len(t)-1] == ')' {
		a, ok := lex.Addr(t[:j])
		if !ok || !isDigits(t[j+1:len(t)-1]) {
			return a, 0, false
		}
		port, _ := lex.Port(t[j+1 : len(t)-1])
		return a, port, true
	}
	a, ok := lex.Addr(t)
	return a, 0, ok
}

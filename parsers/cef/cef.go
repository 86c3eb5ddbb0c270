// Package cef parses ArcSight Common Event Format lines (Micro Focus
// "Implementing ArcSight CEF", revision 25; CEF:0 and CEF:1), from any
// vendor:
//
//	CEF:Version|Device Vendor|Device Product|Device Version|Device Event Class ID|Name|Severity|Extension
//
// sent bare, after a BSD or RFC 5424 syslog header, or after other text
// ("KSMG: CEF:0|...", Cisco's "Tue Aug 13 15:15:49 2019: CEF:0|...",
// FortiGate's "CEF: 0|..."). Header fields escape "|" and "\" with a
// backslash; the extension is key=value pairs whose values run to the next
// " key=" and may hold spaces, with \= \\ \n \r escapes.
//
// Mapping (DESIGN.md §3.1):
//
//   - observer.vendor/product: Device Vendor/Product; observer.hostname:
//     dvchost, else dvc.
//   - event.code: Device Event Class ID. event.severity: Severity, 0-10 as
//     written, or Low/Medium/High/Very-High as 3/6/8/10 (Check Point's
//     cp_severity when the header has none).
//   - rule.name/rule.id: the signature, Name and Device Event Class ID. For
//     network events (firewall logs, whose Name describes the log rather than
//     naming a signature) a custom string labelled as the rule or policy
//     (cs1..cs6 with a label such as "Rule Name", "Policy", "Policy Id") or a
//     vendor policy field takes their place when present. A custom string
//     labelled as the signature ("Attack Name", "Virus Name", ...) or a
//     vendor signature field wins over Name for the other categories.
//   - source/destination: src/dst (else c6a2/c6a3, the IPv6 custom
//     addresses), spt/dpt (none for ICMP); sourceTranslatedAddress and
//     destinationTranslatedAddress go to the NAT fields, src/dst being the
//     addresses the initiator saw. Unspecified addresses (0.0.0.0) count as
//     absent. bytesIn ("in") is data from source to destination and so
//     source.bytes, bytesOut ("out") destination.bytes. network.packets from
//     custom numbers labelled as packet counts. cnt (baseEventCount) is an
//     event count, not a packet count, and is not mapped.
//   - network.transport: proto (names or numbers); network.protocol: app,
//     lower case. deviceDirection is not read: network.direction is the
//     framework's, from the member's internal ranges.
//   - event.action: act as written. event.type, by category: network and web,
//     a blocking act (deny, drop, reject, block, reset, prevent, quarantine,
//     clean, delete, bounce, ...) is denied and a passing one (accept, allow,
//     permit, pass) allowed; intrusion_detection, malware and email, blocked
//     is denied and anything else info ("IDS:Reset", "detectOnly" and "not
//     blocked" are not blocks); authentication: event.outcome from outcome
//     (or act, or words in Name), failure denied and success allowed.
//   - @timestamp: rt, else end, else start: milliseconds (or seconds) since
//     the epoch, "MMM dd [yyyy] HH:mm:ss[.SSS] [zone]", ISO 8601, or "EEE MMM
//     dd HH:mm:ss yyyy"; stamps without a zone are read in the record's zone.
//   - url.path: request without scheme, host and query; http.request.method:
//     requestMethod; user_agent.original: requestClientApplication;
//     http.response.status_code: a custom number labelled as the response
//     code.
//   - user.name, for authentication events only: duser, the account whose
//     credentials were checked (ArcSight maps a logon's target account to
//     duser), else suser. E-mail addresses are never copied.
//   - msg, fname, filePath, query strings and custom strings that are not
//     rule or policy names are never copied.
//
// event.category is derived from the words of the Device Event Class ID and
// cat first, then of Name, then of the Device Product; each is checked for
// these words in this order: virus, malware, trojan, ransom, spyware,
// anti-bot → malware; mail, spam → email; web, url, waf, proxy → web; ids,
// ips, idp (whole words), intrusion, attack, exploit, signature, injection,
// violation, anomaly, smartdefense → intrusion_detection; auth, login,
// logon, log in/on, sign in → authentication; network otherwise. Vendor
// quirks (Trend Micro Deep Security's event ID ranges, Sophos Central's
// event types, FortiGate's byte counters and traffic verdicts, Check
// Point's service-as-Name, Imperva Cloud) are described in quirks.go. A
// network event without any address (system and audit chatter) is not an
// event.
package cef

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "cef"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "ArcSight Common Event Format (CEF:0/1) from any vendor: firewall, IDS/IPS, anti-malware, WAF, mail and authentication events (Check Point, Trend Micro, Imperva, Fortinet, Cisco, Sophos, ...)",
		New:         func() detect.Parser { return New() },
		// FortiGate writes "CEF: 0|...", which a syslog header parser
		// takes for the tag "CEF".
		Tags:  []string{"CEF"},
		Sniff: Sniff,
	}
}

// Sniff reports whether rec holds a CEF header.
//
// Check Point's CEF is left to the checkpoint parser, which knows its
// quirks; refusing it here keeps auto-detection right even when it sticks
// to cef for a stream.
func Sniff(rec *detect.Record) bool {
	i := cefStart(rec)
	if i < 0 {
		return false
	}
	head := rec.Msg[i:min(len(rec.Msg), i+32)]
	return !bytes.Contains(head, []byte("|Check Point|"))
}

// cefStart returns the index in rec.Msg just after "CEF:" (where the version
// starts), or -1.
func cefStart(rec *detect.Record) int {
	m := rec.Msg
	// "CEF: 0|..." after a syslog header: "CEF" became the tag.
	if len(m) > 1 && m[0] >= '0' && m[0] <= '9' && string(rec.App) == "CEF" && (m[1] == '|' || m[1] == '.') {
		return 0
	}
	i := 0
	if !bytes.HasPrefix(m, []byte("CEF:")) {
		if i = bytes.Index(m, []byte("CEF:")); i < 0 {
			return -1
		}
	}
	// A version must follow: "CEF:0|", "CEF: 0|", "CEF:1.1|".
	j := i + 4
	for j < len(m) && m[j] == ' ' {
		j++
	}
	if j+1 < len(m) && m[j] >= '0' && m[j] <= '9' && (m[j+1] == '|' || m[j+1] == '.') {
		return i + 4
	}
	return -1
}

// header is what the last line's header gave.
type header struct {
	hdr                            []byte // the header from the vendor to the severity
	vendor, product, classID, name string
	severity                       int
	quirk                          quirk
	classed                        bool
	cat                            []byte // the cat the class is for
	class                          class
}

// Parser parses CEF lines. Not safe for concurrent use.
type Parser struct {
	last    header
	names   lex.Interner // vendors, products, names, actions, hosts, ...
	classes map[string]class
	key     []byte   // scratch for the class cache key
	buf     [][]byte // scratch for unescaping, one per use in a line
	nbuf    int
}

// New returns a parser.
func New() *Parser {
	return &Parser{names: lex.Interner{Max: 4096}, classes: make(map[string]class, 64)}
}

var errNoHeader = errors.New("cef: no CEF header")

// fields collects what the extension says, as slices of the line, before
// the event is filled.
type fields struct {
	src, dst, srcNAT, dstNAT, src6, dst6 []byte
	spt, dpt, proto, act, in, out        []byte
	suser, duser, request, method, ua    []byte
	outcome, rt, start, end              []byte
	dvchost, dvc, cat, app, cpSeverity   []byte
	sigName, sigID, policyName, policyID []byte
	packets                              [2][]byte
	status                               []byte
	src6Label, dst6Label                 []byte
	cs, csLabel                          [6][]byte
	cn, cnLabel                          [3][]byte
}

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	start := cefStart(rec)
	if start < 0 {
		if bytes.Contains(rec.Msg, []byte("CEF:")) {
			return errNoHeader
		}
		return detect.ErrNotEvent
	}
	p.nbuf = 0
	b := rec.Msg[start:]
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}

	// The header: seven fields, each ended by an unescaped '|'; the
	// extension follows the seventh. A line without an extension may lack
	// the last '|'.
	var h [7][]byte
	var esc uint8 // bit i: h[i] holds a backslash
	n, from := 0, 0
	for i := 0; i < len(b) && n < 7; i++ {
		switch b[i] {
		case '\\':
			esc |= 1 << n
			i++
		case '|':
			h[n] = b[from:i]
			n++
			from = i + 1
		}
	}
	var ext []byte
	switch {
	case n == 7:
		ext = b[from:]
	case n == 6:
		h[6] = b[from:]
		n = 7
	default:
		return fmt.Errorf("cef: header has %d of 7 fields", n+1)
	}
	if !version(h[0]) {
		return fmt.Errorf("cef: unsupported version %q", clip(h[0]))
	}
	// Lines of one device repeat their header: reuse what the last one
	// gave when the header from the vendor to the severity is the same.
	hdr := b[len(h[0])+1 : len(h[0])+1+len(h[1])+len(h[2])+len(h[3])+len(h[4])+len(h[5])+len(h[6])+5]
	c := &p.last
	if !bytes.Equal(hdr, c.hdr) {
		vendor := p.headerString(h[1], esc&(1<<1) != 0)
		product := p.headerString(h[2], esc&(1<<2) != 0)
		if vendor == "" || product == "" {
			return errors.New("cef: no device vendor or product")
		}
		name := h[5]
		if esc&(1<<5) != 0 {
			name = p.unescapeHeader(name)
		}
		*c = header{
			hdr:      append(c.hdr[:0], hdr...),
			vendor:   vendor,
			product:  product,
			classID:  p.headerString(h[4], esc&(1<<4) != 0),
			name:     p.names.Bytes(lex.Trim(name)),
			severity: severity(lex.Trim(h[6])),
			quirk:    quirkOf(vendor, product),
			cat:      c.cat[:0],
		}
	}
	vendor, product, classID, q := c.vendor, c.product, c.classID, c.quirk

	var f fields
	p.extension(ext, q, &f)

	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Code = classID
	ev.Severity = c.severity
	if ev.Severity == 0 && len(f.cpSeverity) > 0 {
		ev.Severity = severity(f.cpSeverity)
	}

	// Addresses.
	ev.Source.IP = addr(f.src)
	if !ev.Source.IP.IsValid() && labelled(f.src6Label, "source") {
		ev.Source.IP = addr(f.src6)
	}
	ev.Destination.IP = addr(f.dst)
	if !ev.Destination.IP.IsValid() && labelled(f.dst6Label, "destination") {
		ev.Destination.IP = addr(f.dst6)
	}
	ev.Source.NATIP = addr(f.srcNAT)
	ev.Destination.NATIP = addr(f.dstNAT)

	icmp := false
	switch t := transport(f.proto); t {
	case detect.TransportICMP, detect.TransportIPv6ICMP:
		icmp = true
		ev.Network.Transport = t
	default:
		ev.Network.Transport = t
	}
	if !icmp {
		ev.Source.Port, _ = lex.Port(f.spt)
		ev.Destination.Port, _ = lex.Port(f.dpt)
	}
	if len(f.app) > 0 {
		ev.Network.Protocol = p.lower(f.app)
	}

	in, out := f.in, f.out
	if q == quirkFortinet {
		in, out = out, in // FortiGate: out=sentbyte, in=rcvdbyte
	}
	if n, ok := lex.Uint(in); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(out); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	var pk int64
	var okPk bool
	for _, v := range f.packets {
		if n, ok := lex.Uint(v); ok {
			pk += n
			okPk = true
		}
	}
	if okPk {
		ev.Network.Packets = detect.SetCount(pk)
	}

	// Observer host.
	if h := f.dvchost; len(h) > 0 && isToken(h) {
		ev.Observer.Hostname = p.names.Bytes(h)
	} else if h := f.dvc; len(h) > 0 && isToken(h) {
		ev.Observer.Hostname = p.names.Bytes(h)
	}

	// Time.
	for _, v := range [...][]byte{f.rt, f.end, f.start} {
		if len(v) == 0 {
			continue
		}
		if t, ok := parseTime(v, rec.Ref, rec.Location()); ok {
			ev.Timestamp = t
			break
		}
	}

	// Web fields.
	if path := urlPath(f.request); len(path) > 0 {
		if bytes.IndexByte(path, '\\') >= 0 {
			path = p.unescapeValue(path)
		}
		ev.URLPath = p.names.Bytes(path)
	}
	if m := f.method; len(m) > 0 && len(m) <= 16 && isLetters(m) {
		ev.HTTPMethod = p.names.Bytes(m)
	}
	if ua := f.ua; len(ua) > 0 {
		if bytes.IndexByte(ua, '\\') >= 0 {
			ua = p.unescapeValue(ua)
		}
		ev.UserAgent = p.names.Bytes(ua)
	}
	if s, ok := lex.Uint(f.status); ok && s >= 100 && s <= 999 {
		ev.HTTPStatus = int(s)
	}

	// Category, verdict, rule.
	if !c.classed || !bytes.Equal(f.cat, c.cat) {
		c.class = p.classify(q, vendor, product, classID, f.cat, c.name)
		c.cat = append(c.cat[:0], f.cat...)
		c.classed = true
	}
	cl := c.class
	ev.Category = cl.category
	act := f.act
	if len(act) == 0 && q == quirkSophosCentral {
		act = sophosAction(classID)
	}
	verdict := verdictNone
	if len(act) > 0 {
		if bytes.IndexByte(act, '\\') >= 0 {
			act = p.unescapeValue(act)
		}
		ev.Action = p.names.Bytes(act)
		verdict = actVerdict(act)
	}
	switch cl.category {
	case detect.CategoryNetwork, detect.CategoryWeb:
		switch verdict {
		case verdictBlocked:
			ev.Type = detect.TypeDenied
		case verdictAllowed:
			ev.Type = detect.TypeAllowed
		default:
			if q == quirkFortinet && bytes.HasPrefix(f.cat, []byte("traffic:")) && len(act) > 0 {
				ev.Type = detect.TypeAllowed // FortiGate: any traffic action but deny passed
			}
		}
	case detect.CategoryAuthentication:
		outcome := outcomeOf(f.outcome)
		if outcome == "" {
			switch verdict {
			case verdictBlocked:
				outcome = detect.OutcomeFailure
			case verdictAllowed:
				outcome = detect.OutcomeSuccess
			default:
				if isLoginAct(act) {
					outcome = detect.OutcomeSuccess
				} else {
					outcome = cl.outcome
				}
			}
		}
		ev.Outcome = outcome
		switch outcome {
		case detect.OutcomeFailure:
			ev.Type = detect.TypeDenied
		case detect.OutcomeSuccess:
			ev.Type = detect.TypeAllowed
		}
		ev.UserName = p.user(f.duser, f.suser)
	default: // intrusion_detection, malware, email
		if verdict == verdictBlocked {
			ev.Type = detect.TypeDenied
		} else {
			ev.Type = detect.TypeInfo
		}
	}

	if cl.category == detect.CategoryNetwork && (len(f.policyName) > 0 || len(f.policyID) > 0) {
		ev.Rule.Name = p.value(f.policyName)
		ev.Rule.ID = p.value(f.policyID)
	} else if q == quirkCheckPoint {
		// Check Point's Name is the service ("https") for firewall logs
		// and its event class is always "Log": only labelled fields name
		// the rule or signature.
		if cl.category != detect.CategoryNetwork {
			ev.Rule.Name = c.name
		}
		if len(f.sigName) > 0 {
			ev.Rule.Name = p.value(f.sigName)
		}
		ev.Rule.ID = p.value(f.sigID)
	} else {
		switch {
		case len(f.sigName) > 0:
			ev.Rule.Name = p.value(f.sigName)
		case q == quirkSophosCentral:
			// Sophos Central's Name is a sentence that quotes file paths.
		default:
			ev.Rule.Name = c.name
		}
		if len(f.sigID) > 0 {
			ev.Rule.ID = p.value(f.sigID)
		} else {
			ev.Rule.ID = classID
		}
	}

	if cl.category == detect.CategoryNetwork && !ev.Source.IP.IsValid() && !ev.Destination.IP.IsValid() {
		return detect.ErrNotEvent // system, audit and health events
	}
	return nil
}

// version reports whether v is a CEF version this parser reads: 0 or 1
// ("1.0", "1.1" and so on too).
func version(v []byte) bool {
	v = lex.Trim(v)
	if len(v) == 0 || (v[0] != '0' && v[0] != '1') {
		return false
	}
	if len(v) == 1 {
		return true
	}
	if v[1] != '.' || len(v) == 2 {
		return false
	}
	for _, c := range v[2:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// headerString interns a header field, unescaping it first if needed.
func (p *Parser) headerString(b []byte, esc bool) string {
	if esc {
		b = p.unescapeHeader(b)
	}
	return p.names.Bytes(lex.Trim(b))
}

// value interns an extension value, unescaping it first if needed.
func (p *Parser) value(b []byte) string {
	if bytes.IndexByte(b, '\\') >= 0 {
		b = p.unescapeValue(b)
	}
	return p.names.Bytes(lex.Trim(b))
}

// scratch returns an empty buffer for one unescaped string of this line.
func (p *Parser) scratch() []byte {
	if p.nbuf == len(p.buf) {
		p.buf = append(p.buf, make([]byte, 0, 128))
	}
	b := p.buf[p.nbuf][:0]
	p.nbuf++
	return b
}

// keep stores back a scratch buffer that grew.
func (p *Parser) keep(b []byte) []byte {
	p.buf[p.nbuf-1] = b
	return b
}

// unescapeHeader undoes the header escapes \| and \\.
func (p *Parser) unescapeHeader(b []byte) []byte {
	out := p.scratch()
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) && (b[i+1] == '|' || b[i+1] == '\\') {
			i++
			c = b[i]
		}
		out = append(out, c)
	}
	return p.keep(out)
}

// unescapeValue undoes the extension escapes \= \\ \n \r (and \|, which
// some vendors write).
func (p *Parser) unescapeValue(b []byte) []byte {
	out := p.scratch()
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case '=', '\\', '|':
				i++
				c = b[i]
			case 'n':
				i++
				c = '\n'
			case 'r':
				i++
				c = '\r'
			}
		}
		out = append(out, c)
	}
	return p.keep(out)
}

// lower interns the lower-case form of a short token, or returns "".
func (p *Parser) lower(b []byte) string {
	b = lex.Trim(b)
	if len(b) == 0 || len(b) > 32 || !isToken(b) {
		return ""
	}
	var buf [32]byte
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return p.names.Bytes(buf[:len(b)])
}

// user returns user.name: the target account (duser), else the source
// account (suser), never an e-mail address or a placeholder.
func (p *Parser) user(duser, suser []byte) string {
	for _, u := range [...][]byte{duser, suser} {
		u = lex.Trim(u)
		if len(u) == 0 || len(u) > 128 || bytes.IndexByte(u, '@') >= 0 || u[0] == '(' {
			continue
		}
		if lex.EqualFold(u, "-") || lex.EqualFold(u, "n/a") || lex.EqualFold(u, "na") ||
			lex.EqualFold(u, "none") || lex.EqualFold(u, "unknown") {
			continue
		}
		return p.value(u)
	}
	return ""
}

// addr parses an address, treating the unspecified address as absent.
func addr(b []byte) netip.Addr {
	a, ok := lex.Addr(lex.Trim(b))
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}

// labelled reports whether a custom address's label, if it has one, names
// the given side.
func labelled(label []byte, side string) bool {
	if len(label) == 0 {
		return true
	}
	return containsFold(label, side)
}

// transport maps proto, by name or number.
func transport(b []byte) string {
	b = lex.Trim(b)
	switch {
	case len(b) == 0:
		return ""
	case lex.EqualFold(b, "tcp") || string(b) == "6":
		return detect.TransportTCP
	case lex.EqualFold(b, "udp") || string(b) == "17":
		return detect.TransportUDP
	case lex.EqualFold(b, "icmp") || string(b) == "1":
		return detect.TransportICMP
	case lex.EqualFold(b, "icmpv6") || lex.EqualFold(b, "ipv6-icmp") || lex.EqualFold(b, "icmp6") || string(b) == "58":
		return detect.TransportIPv6ICMP
	}
	return ""
}

// outcomeOf maps an outcome value.
func outcomeOf(b []byte) string {
	b = lex.Trim(b)
	switch {
	case lex.HasPrefixFold(b, "succ"), lex.EqualFold(b, "ok"), lex.EqualFold(b, "true"):
		return detect.OutcomeSuccess
	case lex.HasPrefixFold(b, "fail"), lex.EqualFold(b, "false"), lex.HasPrefixFold(b, "denied"):
		return detect.OutcomeFailure
	}
	return ""
}

// urlPath returns the path of a request URL: without scheme, host, query
// or fragment. A value without a scheme that does not start with '/' is
// "host/path" (Imperva Cloud, Trend Micro); one without '/' is a bare host
// and has no path.
func urlPath(b []byte) []byte {
	b = lex.Trim(b)
	if i := bytes.IndexAny(b, "?#"); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return nil
	}
	if i := bytes.Index(b, []byte("://")); i > 0 && i < 10 {
		b = b[i+3:]
		j := bytes.IndexByte(b, '/')
		if j < 0 {
			return nil
		}
		return b[j:]
	}
	if b[0] != '/' {
		j := bytes.IndexByte(b, '/')
		if j < 0 {
			return nil
		}
		b = b[j:]
	}
	return b
}

// isToken reports whether b is a printable token without spaces.
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

func isLetters(b []byte) bool {
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// clip shortens a field quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

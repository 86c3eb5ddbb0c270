// Package leef parses IBM QRadar's Log Event Extended Format, LEEF 1.0 and
// 2.0 (IBM "LEEF format guide"), from any vendor, sent bare or after a
// syslog header (or other text, within the first 256 bytes):
//
//	LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value...
//	LEEF:2.0|Vendor|Product|Version|EventID|DelimiterCharacter|key=value^key=value...
//
// The LEEF 2.0 delimiter field is a single character, a hex code ("0x5E",
// "x5E", 1 to 4 hex digits) or empty (a tab); some senders leave the field
// out altogether, and some LEEF 1.0 senders write one (Symantec
// CloudSOC's "|^|"): a field of at most six characters without '=' after
// the EventID is taken for the delimiter in either version. LEEF 1.0 is specified with tabs, but real senders also
// use '|' (Palo Alto Networks' PAN-OS template), '^' or spaces; when the
// header does not declare a delimiter, the first of tab, '|' and '^' that
// separates two key=value pairs is used, else a space. A value runs to the
// next delimiter that is followed by a key and '=', so values may hold the
// delimiter (a space-delimited "DirectionOfAttack=client to server"). Keys
// may hold spaces when the delimiter is not a space (Imperva SecureSphere's
// "Alert Severity=").
//
// Mapping (DESIGN.md §3.1), in the manner of the cef parser:
//
//   - observer.vendor/product: the header's Vendor and Product;
//     observer.hostname: devname, DeviceName or dvchost. event.code: the
//     EventID. event.severity: sev (or severity), 0-10 as written or
//     low/medium/high/critical as 3/6/8/10.
//   - source/destination: srcPreNAT/dstPreNAT when present, else src/dst
//     (and common aliases: srcip, sourceAddress, SourceIP...); srcPort and
//     dstPort (spt, dpt, sport, ...; Check Point's numeric service is the
//     destination port). Pre-NAT addresses are what the connection's
//     initiator used — its own address before source NAT and the
//     destination before destination NAT (the public address) — so they
//     are source.ip and destination.ip, and srcPostNAT/dstPostNAT (Check
//     Point xlatesrc/xlatedst; CEF-style sourceTranslatedAddress and
//     destinationTranslatedAddress) go to source.nat.ip and
//     destination.nat.ip. When pre-NAT fields are given and src/dst differ
//     from them, src/dst are the translated addresses. 0.0.0.0 is absent.
//   - source.bytes/destination.bytes: srcBytes/dstBytes (Fortinet
//     sentbyte/rcvdbyte); network.packets: srcPackets + dstPackets, else
//     totalPackets (Fortinet sentpkt + rcvdpkt). network.transport: proto,
//     by name or number. ("app" is not read: vendors put application
//     names, not protocols, there.)
//   - event.action: action (act, Action, ...) as written; without one, the
//     EventID when it is a verdict word (Check Point's "Drop", Palo Alto's
//     "deny"). event.type from it as in cef: for network and web events a
//     blocking word (deny, drop, reject, block, reset, prevent, quarantine,
//     ...) is denied and a passing one allowed; for intrusion_detection,
//     malware and email, blocked is denied and anything else info; for
//     authentication, event.outcome (from outcome, login_status, status,
//     cat's words such as "Failed", the action, or the EventID's words)
//     gives denied or allowed, and user.name is usrName, else accountName,
//     duser, suser or a vendor user key.
//   - rule: for network, web and authentication events, a rule name key
//     (RuleName, Rule, rule_name, a non-numeric rule, ...), else a policy
//     name key (policy, policyname, "Policy Name", ...), is rule.name, else
//     a signature key, else the EventID; for
//     intrusion_detection, malware and email events a signature key
//     (signature, SignatureName, attack, virus, ThreatName,
//     protection_name, ...) is rule.name, else the EventID. rule.id is the
//     matching id key (policyid, signatureId, attackid, ThreatID, ...),
//     else Palo Alto's "Name(12345)" EventID number, else the EventID.
//   - url.path: url (or request) without scheme, host and query;
//     http.request.method: method/requestMethod; user_agent.original:
//     userAgent/requestClientApplication; http.response.status_code:
//     responseCode and similar keys.
//   - @timestamp: devTime read with devTimeFormat (Java SimpleDateFormat
//     letters y M d H h a m s S E z Z X and quoted literals), else as epoch
//     seconds or milliseconds, ISO 8601, "MMM dd yyyy HH:mm:ss[.SSS] [zone]"
//     (the guide's default) or "EEE MMM dd HH:mm:ss yyyy"; stamps without a
//     zone are read in the record's zone. Without devTime, rt or start (CEF
//     names that some senders use inside LEEF) are read the same way; without
//     a usable stamp the syslog header's time is used.
//
// event.category is derived from words, checked in this order: the
// EventID, cat, the vendor's subtype key (Subtype/SubType, Imperva's
// "Alert type") and the action; then the
// Product; then the Vendor. Each text is searched for: virus, malware,
// trojan, ransom, spyware, wildfire, anti bot, threat emulation → malware;
// mail, spam → email; web, url, waf, proxy → web; ids, ips, idp, scan,
// flood (whole words), intrusion, attack, exploit, vulnerab, signature,
// injection, violation, anomaly, smartdefense → intrusion_detection; auth,
// login, logon, log in/on, sign in → authentication; the first text with a
// match decides and network is the default. Lancope/Cisco Stealthwatch
// alarms are intrusion_detection. A network event without any address
// (system and audit chatter) is not an event.
//
// Privacy: free-text keys (msg, message, reason, subject, fname, fileName,
// Miscellaneous, "Event Description", ...) are never read, and URLs lose
// their query strings.
package leef

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "leef"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "IBM QRadar Log Event Extended Format (LEEF 1.0/2.0) from any vendor: firewall, IDS/IPS, anti-malware, web and authentication events (Palo Alto, Check Point, Fortinet, Imperva, Symantec, Cisco, ...)",
		New:         func() detect.Parser { return New() },
		Sniff:       Sniff,
	}
}

// sniffWindow is how far into the message "LEEF:" may start.
const sniffWindow = 256

// Sniff reports whether rec holds a LEEF header.
func Sniff(rec *detect.Record) bool {
	return leefStart(rec.Msg) >= 0
}

// leefStart returns the index of "LEEF:1.0|" or "LEEF:2.0|" in m, or -1.
func leefStart(m []byte) int {
	if len(m) > sniffWindow+9 {
		m = m[:sniffWindow+9]
	}
	off := 0
	for {
		i := bytes.Index(m[off:], []byte("LEEF:"))
		if i < 0 {
			return -1
		}
		i += off
		if v := m[i+5:]; len(v) >= 4 && (v[0] == '1' || v[0] == '2') && v[1] == '.' && v[2] == '0' && v[3] == '|' {
			return i
		}
		off = i + 5
	}
}

// Parser parses LEEF lines. Not safe for concurrent use.
type Parser struct {
	names   lex.Interner
	classes map[string]class
	key     []byte // scratch for the class cache key
	words   []byte // scratch for classification
	buf     []byte // scratch for unescaping header fields

	// The last header's raw "Vendor|Product|" and what it gave.
	vp              []byte
	vpOK            bool
	vendor, product string
	quirk           quirk
}

// New returns a parser.
func New() *Parser {
	return &Parser{names: lex.Interner{Max: 4096}, classes: make(map[string]class, 64)}
}

var (
	errNoVendor = errors.New("leef: no vendor or product in the header")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	start := leefStart(rec.Msg)
	if start < 0 {
		if bytes.Contains(rec.Msg, []byte("LEEF:")) {
			return errors.New("leef: unsupported LEEF version")
		}
		return detect.ErrNotEvent
	}
	b := rec.Msg[start+len("LEEF:1.0|"):]

	// Vendor|Product|Version|EventID| — '|' in a field is escaped "\|".
	var h [4][]byte
	var esc [4]bool
	n, from := 0, 0
	i := 0
	for ; i < len(b) && n < 4; i++ {
		switch b[i] {
		case '\\':
			esc[n] = true
			i++
		case '|':
			h[n] = b[from:i]
			n++
			from = i + 1
		}
	}
	var attrs []byte
	switch {
	case n == 4:
		attrs = b[from:]
	case n == 3:
		// "EventID<TAB>key=value...": the last '|' is missing.
		rest := b[from:]
		t := bytes.IndexByte(rest, '\t')
		if t < 0 {
			h[3] = rest
		} else {
			h[3], attrs = rest[:t], rest[t:]
		}
	default:
		return fmt.Errorf("leef: header has %d of 5 fields", n+1)
	}
	// A device sends the same Vendor|Product| again and again: reuse the
	// last one's strings and quirk when the raw bytes are the same.
	vp := b[:len(h[0])+1+len(h[1])+1]
	var vendor, product string
	var q quirk
	if p.vpOK && bytes.Equal(vp, p.vp) {
		vendor, product, q = p.vendor, p.product, p.quirk
	} else {
		vendor = p.header(h[0], esc[0])
		product = p.header(h[1], esc[1])
		q = quirkOf(vendor, product)
		p.vp = append(p.vp[:0], vp...)
		p.vendor, p.product, p.quirk, p.vpOK = vendor, product, q, true
	}
	if vendor == "" || product == "" {
		return errNoVendor
	}
	// The EventID is interned by classify, which caches it.
	eid := p.headerBytes(h[3], esc[3])

	var delim byte
	if n == 4 {
		// LEEF 2.0's delimiter field; some LEEF 1.0 senders write one too.
		if j := bytes.IndexByte(attrs, '|'); j >= 0 && j <= 6 && bytes.IndexByte(attrs[:j], '=') < 0 {
			d, ok := delimiter(attrs[:j])
			if !ok {
				return fmt.Errorf("leef: unsupported delimiter %q", clip(attrs[:j]))
			}
			delim, attrs = d, attrs[j+1:]
		}
	}
	if delim == 0 {
		delim = detectDelim(attrs)
	}

	var f fields
	scan(attrs, delim, &f)

	ev.Observer.Vendor = vendor
	ev.Observer.Product = product
	ev.Severity = severity(f.sev)
	for _, h := range [...][]byte{f.devname, f.dvchost} {
		if h = lex.Trim(h); len(h) > 0 && len(h) <= 255 && isToken(h) {
			ev.Observer.Hostname = p.names.Bytes(h)
			break
		}
	}

	p.addresses(ev, &f, q)
	p.counters(ev, &f)
	if len(f.devTime) > 0 {
		if t, ok := parseTime(f.devTime, f.devTimeFormat, rec.Ref, rec.Location()); ok {
			ev.Timestamp = t
		}
	} else if len(f.altTime) > 0 {
		if t, ok := parseTime(f.altTime, nil, rec.Ref, rec.Location()); ok {
			ev.Timestamp = t
		}
	}

	// Category, verdict, rule.
	if len(f.status) == 0 && len(f.cn1) > 0 && (containsFold(f.cn1Label, "response code") || containsFold(f.cn1Label, "status")) {
		f.status = f.cn1
	}
	p.web(ev, &f)
	act := lex.Trim(f.action)
	if len(act) > 64 {
		act = nil
	}
	c := p.classify(q, vendor, product, eid, f.cat, f.subtype, act)
	eventID, cat, verdict := c.eventID, c.category, c.verdict
	ev.Code = eventID
	ev.Category = cat
	ev.Action = c.action
	switch cat {
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
			outcome = catOutcome(f.cat)
		}
		if outcome == "" {
			switch verdict {
			case verdictBlocked:
				outcome = detect.OutcomeFailure
			case verdictAllowed:
				outcome = detect.OutcomeSuccess
			default:
				outcome = nameOutcome(p.lowerWords(act, bs(eventID)))
			}
		}
		ev.Outcome = outcome
		switch outcome {
		case detect.OutcomeFailure:
			ev.Type = detect.TypeDenied
		case detect.OutcomeSuccess:
			ev.Type = detect.TypeAllowed
		}
		ev.UserName = p.user(&f)
	default: // intrusion_detection, malware, email
		if verdict == verdictBlocked {
			ev.Type = detect.TypeDenied
		} else {
			ev.Type = detect.TypeInfo
		}
	}
	p.rule(ev, &f, q, cat, eventID)

	if cat == detect.CategoryNetwork && !ev.Source.IP.IsValid() && !ev.Destination.IP.IsValid() {
		return detect.ErrNotEvent // system, health and audit events
	}
	return nil
}

// header interns a header field, unescaping "\|" and "\\" when needed.
func (p *Parser) header(b []byte, esc bool) string {
	return p.names.Bytes(p.headerBytes(b, esc))
}

// headerBytes returns a header field unescaped (in p.buf, valid until the
// next call), trimmed and at most 256 bytes long.
func (p *Parser) headerBytes(b []byte, esc bool) []byte {
	if esc {
		out := p.buf[:0]
		for i := 0; i < len(b); i++ {
			c := b[i]
			if c == '\\' && i+1 < len(b) && (b[i+1] == '|' || b[i+1] == '\\') {
				i++
				c = b[i]
			}
			out = append(out, c)
		}
		p.buf = out
		b = out
	}
	b = lex.Trim(b)
	if len(b) > 256 {
		b = b[:256]
	}
	return b
}

// delimiter reads LEEF 2.0's delimiter field.
func delimiter(b []byte) (byte, bool) {
	switch {
	case len(b) == 0:
		return '\t', true
	case len(b) == 1:
		return b[0], b[0] != '='
	case string(b) == `\t`:
		return '\t', true
	}
	h := b
	if h[0] == '0' && len(h) > 1 && (h[1] == 'x' || h[1] == 'X') {
		h = h[2:]
	} else if h[0] == 'x' || h[0] == 'X' {
		h = h[1:]
	} else {
		return 0, false
	}
	if len(h) == 0 || len(h) > 4 {
		return 0, false
	}
	v := 0
	for _, c := range h {
		d, ok := hexVal(c)
		if !ok {
			return 0, false
		}
		v = v*16 + d
	}
	if v == 0 || v > 0x7f || v == '=' {
		return 0, false
	}
	return byte(v), true
}

func hexVal(c byte) (int, bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// detectDelim picks the delimiter of an undeclared attribute list: the
// first of tab, '|' and '^' that is followed by a key and '=' somewhere,
// else a space.
func detectDelim(b []byte) byte {
	for _, d := range [...]byte{'\t', '|', '^'} {
		off := 0
		for {
			i := bytes.IndexByte(b[off:], d)
			if i < 0 {
				break
			}
			i += off
			if pairStart(b[i+1:], d) {
				return d
			}
			off = i + 1
		}
	}
	return ' '
}

// pairStart reports whether b starts a key=value pair in a list delimited
// by d: a key of at most 64 bytes, without d, starting with a letter, digit
// or '_', followed by '='. With a space delimiter the key is one word.
func pairStart(b []byte, d byte) bool {
	return pairEq(b, d) > 0
}

// maxKey is the longest key pairStart accepts.
const maxKey = 64

// Flags of key bytes, for pairEq.
const (
	kStart = 1 << iota // may start a key: isKeyStart
	kSpace             // may be in a key of a list delimited by a space or a tab: isKeyByte
	kAny               // may be in a key of a list with another delimiter (which is checked apart)
	kEqual             // '=': ends the key
)

var keyFlags = func() (t [256]uint8) {
	for i := range t {
		c := byte(i)
		if isKeyStart(c) {
			t[i] |= kStart
		}
		if isKeyByte(c) {
			t[i] |= kSpace
		}
		if !(c < ' ' && c != '\t' || c == '|' || c == '=') {
			t[i] |= kAny
		}
	}
	t['='] = kEqual
	return t
}()

// pairEq returns the index of the '=' that ends the key b starts with in a
// list delimited by d (see pairStart), or -1 when b does not start a pair.
func pairEq(b []byte, d byte) int {
	if len(b) == 0 || keyFlags[b[0]]&kStart == 0 {
		return -1
	}
	// The key is at most maxKey bytes: look no further for its '='.
	if len(b) > maxKey+1 {
		b = b[:maxKey+1]
	}
	if d == ' ' || d == '\t' {
		// b[0] is a key byte; isKeyByte excludes the delimiter, control
		// bytes and '|'.
		for i := 1; i < len(b); i++ {
			if t := keyFlags[b[i]]; t&kSpace == 0 {
				if t&kEqual != 0 {
					return i
				}
				return -1
			}
		}
		return -1
	}
	if b[0] == d {
		return -1
	}
	for i := 1; i < len(b); i++ {
		if c := b[i]; keyFlags[c]&kAny == 0 || c == d {
			if c == '=' { // never the delimiter
				return i
			}
			return -1
		}
	}
	return -1
}

// scan reads the attributes into f. Each key is read once: the search for
// the end of a value finds the next key's '=' too.
func scan(b []byte, d byte, f *fields) {
	pos := 0
	for pos < len(b) && (b[pos] == d || b[pos] == ' ' || b[pos] == '\t') {
		pos++
	}
	if pos >= len(b) {
		return
	}
	eq := bytes.IndexByte(b[pos:], '=')
	if eq < 0 {
		return
	}
	eq += pos
	for {
		key := lex.Trim(b[pos:eq])
		end, next, nextEq := len(b), len(b), -1
		for j := eq + 1; j < len(b); {
			k := bytes.IndexByte(b[j:], d)
			if k < 0 {
				break
			}
			k += j
			if e := pairEq(b[k+1:], d); e > 0 {
				end, next, nextEq = k, k+1, k+1+e
				break
			}
			j = k + 1
		}
		f.pair(key, trimRight(b[eq+1:end]))
		if nextEq < 0 {
			return
		}
		pos, eq = next, nextEq
	}
}

// addresses fills source and destination.
func (p *Parser) addresses(ev *detect.Event, f *fields, q quirk) {
	src, dst := addr(f.src), addr(f.dst)
	srcPre, dstPre := addr(f.srcPreNAT), addr(f.dstPreNAT)
	srcPost, dstPost := addr(f.srcPostNAT), addr(f.dstPostNAT)
	ev.Source.IP, ev.Source.NATIP = natPair(src, srcPre, srcPost)
	ev.Destination.IP, ev.Destination.NATIP = natPair(dst, dstPre, dstPost)

	t := transport(f.proto)
	ev.Network.Transport = t
	if t != detect.TransportICMP && t != detect.TransportIPv6ICMP {
		ev.Source.Port, _ = lex.Port(lex.Trim(f.srcPort))
		ev.Destination.Port, _ = lex.Port(lex.Trim(f.dstPort))
		if ev.Destination.Port == 0 && q == quirkCheckPoint {
			ev.Destination.Port, _ = lex.Port(lex.Trim(f.service))
		}
	}
}

// natPair returns the address the initiator used and the translated one.
func natPair(plain, pre, post netip.Addr) (ip, nat netip.Addr) {
	ip = plain
	if pre.IsValid() {
		ip = pre
		if !post.IsValid() && plain.IsValid() && plain != pre {
			post = plain
		}
	}
	if post == ip {
		post = netip.Addr{}
	}
	return ip, post
}

// counters fills the byte and packet counts.
func (p *Parser) counters(ev *detect.Event, f *fields) {
	if n, ok := lex.Uint(lex.Trim(f.srcBytes)); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(lex.Trim(f.dstBytes)); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	sp, ok1 := lex.Uint(lex.Trim(f.srcPackets))
	dp, ok2 := lex.Uint(lex.Trim(f.dstPackets))
	switch {
	case ok1 || ok2:
		ev.Network.Packets = detect.SetCount(sp + dp)
	default:
		if n, ok := lex.Uint(lex.Trim(f.totalPackets)); ok {
			ev.Network.Packets = detect.SetCount(n)
		}
	}
}

// web fills the HTTP fields.
func (p *Parser) web(ev *detect.Event, f *fields) {
	if path := urlPath(f.url); len(path) > 0 && len(path) <= 1024 {
		ev.URLPath = p.names.Bytes(path)
	}
	if m := lex.Trim(f.method); len(m) > 0 && len(m) <= 16 && isLetters(m) {
		ev.HTTPMethod = p.names.Bytes(m)
	}
	if ua := lex.Trim(f.userAgent); len(ua) > 0 && len(ua) <= 512 {
		ev.UserAgent = p.names.Bytes(ua)
	}
	if s, ok := lex.Uint(lex.Trim(f.status)); ok && s >= 100 && s <= 999 {
		ev.HTTPStatus = int(s)
	}
}

// rule fills rule.name, rule.id and rule.category.
func (p *Parser) rule(ev *detect.Event, f *fields, q quirk, cat, eventID string) {
	var name, id []byte
	if cat == detect.CategoryNetwork || cat == detect.CategoryWeb || cat == detect.CategoryAuthentication {
		name, id = f.ruleName, f.policyID
		if len(lex.Trim(name)) == 0 {
			name = f.policyName
		}
		if len(lex.Trim(name)) == 0 && len(lex.Trim(f.sigName)) > 0 {
			name, id = f.sigName, f.sigID
		}
	} else {
		name, id = f.sigName, f.sigID
	}
	if len(lex.Trim(name)) > 0 {
		ev.Rule.Name = p.value(name)
	}
	if ev.Rule.Name == "" {
		ev.Rule.Name = eventID
	}
	switch {
	case len(lex.Trim(id)) > 0:
		ev.Rule.ID = p.value(id)
	case q == quirkPaloAlto && parenNumber(eventID) != "":
		ev.Rule.ID = p.names.Bytes(bs(parenNumber(eventID)))
	}
	if ev.Rule.ID == "" {
		ev.Rule.ID = eventID
	}
	if c := lex.Trim(f.sigCat); len(c) > 0 && cat != detect.CategoryNetwork {
		ev.Rule.Category = p.value(c)
	}
}

// parenNumber returns the digits of a trailing "(12345)", or "".
func parenNumber(s string) string {
	if len(s) < 3 || s[len(s)-1] != ')' {
		return ""
	}
	i := len(s) - 2
	for i >= 0 && s[i] >= '0' && s[i] <= '9' {
		i--
	}
	if i < 0 || s[i] != '(' || i == len(s)-2 {
		return ""
	}
	return s[i+1 : len(s)-1]
}

// user returns user.name for authentication events.
func (p *Parser) user(f *fields) string {
	for _, u := range [...][]byte{f.usrName, f.accountName, f.duser, f.suser, f.vendorUser, f.fullUser} {
		u = lex.Trim(u)
		if len(u) == 0 || len(u) > 128 || !isPrintable(u) {
			continue
		}
		if lex.EqualFold(u, "-") || lex.EqualFold(u, "n/a") || lex.EqualFold(u, "none") || lex.EqualFold(u, "unknown") {
			continue
		}
		return p.names.Bytes(u)
	}
	return ""
}

// value interns an attribute value.
func (p *Parser) value(b []byte) string {
	b = lex.Trim(b)
	if len(b) == 0 || len(b) > 256 || !isPrintable(b) {
		return ""
	}
	return p.names.Bytes(b)
}

// addr parses an address, treating the unspecified address as absent.
func addr(b []byte) netip.Addr {
	a, ok := lex.Addr(lex.Trim(b))
	if !ok || a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
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

// severity maps sev: 0-10 as written, the words to 3/6/8/10.
func severity(b []byte) int {
	b = lex.Trim(b)
	if n, ok := lex.Uint(b); ok {
		if n <= 10 {
			return int(n)
		}
		return 0
	}
	switch {
	case lex.EqualFold(b, "low"):
		return 3
	case lex.EqualFold(b, "medium"):
		return 6
	case lex.EqualFold(b, "high"):
		return 8
	case lex.EqualFold(b, "critical"), lex.EqualFold(b, "very-high"), lex.EqualFold(b, "very high"):
		return 10
	}
	return 0
}

// outcomeOf maps an outcome value.
func outcomeOf(b []byte) string {
	b = lex.Trim(b)
	switch {
	case lex.HasPrefixFold(b, "succ"), lex.EqualFold(b, "ok"), lex.EqualFold(b, "true"), lex.EqualFold(b, "accepted"):
		return detect.OutcomeSuccess
	case lex.HasPrefixFold(b, "fail"), lex.EqualFold(b, "false"), lex.HasPrefixFold(b, "denied"), lex.EqualFold(b, "rejected"):
		return detect.OutcomeFailure
	}
	return ""
}

// catOutcome reads the outcome from cat, which QRadar's guide uses to
// refine login events ("cat=Failed", "cat=Success").
func catOutcome(b []byte) string {
	b = lex.Trim(b)
	for _, s := range [...]string{"fail", "denied", "reject", "invalid"} {
		if containsFold(b, s) {
			return detect.OutcomeFailure
		}
	}
	for _, s := range [...]string{"success", "succeeded", "accepted"} {
		if containsFold(b, s) {
			return detect.OutcomeSuccess
		}
	}
	return ""
}

// urlPath returns the path of a URL: without scheme, host, query or
// fragment. A value without a scheme that does not start with '/' is
// "host/path"; one without '/' has no path.
func urlPath(b []byte) []byte {
	b = lex.Trim(b)
	for i, c := range b {
		if c == '?' || c == '#' {
			b = b[:i]
			break
		}
	}
	if len(b) == 0 || !isToken(b) {
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

func trimRight(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func isKeyStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']'
}

// isToken reports whether b is printable ASCII without spaces.
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// isPrintable reports whether b has no control characters.
func isPrintable(b []byte) bool {
	for _, c := range b {
		if c < ' ' || c == 0x7f {
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

// containsFold reports whether b contains the lower-case ASCII s, without
// regard to case.
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if lex.EqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

// clip shortens a field quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

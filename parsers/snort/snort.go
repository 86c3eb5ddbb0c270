// Package snort parses the alerts of Cisco Snort 2 and Snort 3 in the text
// forms their loggers write:
//
//	11/27-10:00:00.123456  [**] [1:2019401:3] ET SCAN Suspicious inbound to mySQL port 3306 [**] [Classification: Potentially Bad Traffic] [Priority: 2] {TCP} 198.51.100.7:51514 -> 192.0.2.10:3306
//	11/27/26-10:00:00.123456  [**] [1:2019401:3] ...                          (snort -y: two-digit year)
//	11/27-10:00:00.123456 [drop] [**] [1:1000001:1] "ET SCAN ..." [**] [Classification: ...] [Priority: 2] [AppID: ssh] {TCP} [2001:db8::1]:51514 -> [2001:db8::10]:22
//	<33>Nov 27 10:00:00 ids01 snort[1234]: [1:2019401:3] ET SCAN ... [Classification: Potentially Bad Traffic] [Priority: 2]: {TCP} 198.51.100.7:51514 -> 192.0.2.10:3306
//	11/27-10:00:00.123456, 1234, TCP, raw, 60, C2S, 198.51.100.7:51514, 192.0.2.10:3306, 1:2019401:3, allow
//
// that is alert_fast (Snort 2, and Snort 3 with its quoted message and IPS
// action tag), alert_syslog (Snort 2 writes "[Priority: n]:" with a colon,
// Snort 3 without; either may carry "[**]" separators when a relay forwards
// alert_fast lines), Snort 3's alert_csv with its default field list
// (timestamp pkt_num proto pkt_gen pkt_len dir src_ap dst_ap rule action),
// and alert_full, whose alerts span several lines:
//
//	[**] [1:2019401:3] ET SCAN Suspicious inbound to mySQL port 3306 [**]
//	[Classification: Potentially Bad Traffic] [Priority: 2]
//	11/27-10:00:00.123456 198.51.100.7:51514 -> 192.0.2.10:3306
//	TCP TTL:64 TOS:0x0 ID:12345 IpLen:20 DgmLen:60 DF
//	...
//
// For alert_full the parser is stateful, one instance per stream: it keeps
// the first three lines (each detect.ErrNotEvent; the AppID line Snort 3
// may add is skipped) and returns the event on the fourth, which names the
// protocol. The packet detail lines after it are not events. Sniff claims
// the four lines so that auto-detection hands them to the same instance.
// Only the default alert_full layout is read (no -e data link line).
//
// Field choices:
//
//   - category intrusion_detection. event.type is denied when an IPS action
//     tag says the packet was dropped, blocked or reset ("[Drop]", "[drop]",
//     "[block]", "[reset]", "force_drop" and the like), and info otherwise,
//     including the "would" and "can't" tags of inline-test mode ("[WDrop]",
//     "[CDrop]", "would_drop", "cant_block"). event.action is the tag as
//     written, the alert_csv action field as written, or "alert" when the
//     line has none.
//   - rule.name is the rule's message (the signature), without Snort 3's
//     quotes; rule.category the Classification text; event.severity the
//     Priority as written (1 is the highest; rules commonly use 1 to 4).
//   - rule.id is the sid alone for text rules (gid 1), the number that
//     Suricata and rule feeds use for the same signature, and "gid:sid" for
//     every other generator (preprocessor and inspector alerts such as
//     "119:15", and gid 3 shared-object rules), whose sid alone is ambiguous.
//     The revision is left out: it changes with rule updates, not identity.
//   - observer: vendor "Cisco", product "Snort" for both major versions
//     (they write the same alerts, and the line does not always say which
//     wrote it). Suricata writes the same fast.log format but with a
//     four-digit year, which Snort never writes; those lines are read too,
//     with observer "OISF" "Suricata".
//   - The stamp of alert_fast, alert_csv and alert_full sets @timestamp; it
//     has no year (unless snort -y was given) and no zone, so the year
//     nearest the record's reference time is taken and it is read in the
//     record's zone. Syslog alerts keep the syslog header's time.
//   - Addresses: ICMP alerts carry no ports. Snort 3 writes IPv6
//     endpoints in brackets ("[2001:db8::1]:51514"); Snort 2 does not
//     ("2001:db8::1:51514"), so for TCP and UDP the last group is taken for
//     the port when what precedes it is an address, and an alert on a TCP
//     or UDP fragment (written without ports) whose address ends in a
//     group that could be a port is misread: it cannot be told apart. ICMP
//     from or to an IPv6 address is ipv6-icmp.
//
// Lines without an alert's structure (daemon chatter under the "snort" tag,
// alert_full's packet detail lines, payload dumps) are detect.ErrNotEvent;
// an alert line that is cut short or has bad addresses is an error.
package snort

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "snort"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Cisco Snort 2 and Snort 3 alerts: alert_fast (IPS action tags, -y years), alert_syslog, alert_full and Snort 3 alert_csv; IPv4, IPv6, TCP, UDP, ICMP",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"snort", "snort3"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like a Snort alert line, or one of the
// lines of an alert_full record.
func Sniff(rec *detect.Record) bool {
	m := rec.Msg
	if len(m) < 8 {
		return false
	}
	switch c := m[0]; {
	case c == '[':
		if isDigit(m[1]) { // syslog: "[1:2019401:3] msg [Classification: ..] [Priority: 2]"
			return bytes.Contains(m, []byte("[Priority: ")) || bytes.Contains(m, []byte("] [Classification: "))
		}
		return bytes.HasPrefix(m, []byte("[**] [")) ||
			bytes.HasPrefix(m, []byte("[Classification: ")) || bytes.HasPrefix(m, []byte("[Priority: ")) ||
			(isLetter(m[1]) && bytes.Contains(m, []byte("] [**] [")))
	case isDigit(c):
		n, ok := stampLen(m)
		if !ok {
			return false
		}
		rest := m[n:]
		if bytes.HasPrefix(rest, []byte(", ")) {
			return true // alert_csv
		}
		if bytes.Contains(rest, []byte("[**] [")) {
			return true // alert_fast
		}
		// alert_full: "stamp src -> dst"
		return len(rest) > 1 && rest[0] == ' ' && (isDigit(rest[1]) || isHex(rest[1]) || rest[1] == '[') &&
			bytes.Contains(rest, []byte(" -> "))
	case c >= 'A' && c <= 'Z':
		return protoLine(m)
	}
	return false
}

// protoLine reports whether b is alert_full's IP header line, "TCP TTL:...".
func protoLine(b []byte) bool {
	i := bytes.IndexByte(b, ' ')
	if i <= 0 || i > 16 || !bytes.HasPrefix(b[i:], []byte(" TTL:")) {
		return false
	}
	for _, c := range b[:i] {
		if !(c >= 'A' && c <= 'Z' || isDigit(c) || c == '-' || c == ':') {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isHex(c byte) bool    { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'f' }

// stampLen returns the length of a Snort stamp at the start of b:
// "MM/DD-hh:mm:ss.ffffff", with "/YY" or "/YYYY" after the day.
func stampLen(b []byte) (int, bool) {
	if len(b) < 14 || b[2] != '/' {
		return 0, false
	}
	i := 5
	if b[i] == '/' {
		j := i + 1
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if n := j - i - 1; n != 2 && n != 4 {
			return 0, false
		}
		i = j
	}
	if i+9 > len(b) || b[i] != '-' || b[i+3] != ':' || b[i+6] != ':' {
		return 0, false
	}
	i += 9
	if i < len(b) && b[i] == '.' {
		i++
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}

// Parser parses Snort alerts. It keeps the pending lines of an alert_full
// record, so each stream needs its own; not safe for concurrent use.
type Parser struct {
	names lex.Interner
	ids   lex.Interner

	// The alert_full record being read.
	full struct {
		state    uint8 // 0 none, 1 header line seen, 2 address line seen
		name, id string
		category string
		severity int
		t        time.Time
		addrs    []byte // the "src -> dst" text, read once the protocol is known
	}
}

// Errors that quote nothing from the line: the line may carry payload.
var (
	errNoID      = errors.New("snort: no [gid:sid:rev] in the alert")
	errTruncated = errors.New("snort: alert cut short (no closing [**], priority or {protocol} part)")
	errNoArrow   = errors.New("snort: no \"source -> destination\" after the protocol")
	errBadSrc    = errors.New("snort: bad source address")
	errBadDst    = errors.New("snort: bad destination address")
	errStamp     = errors.New("snort: bad time stamp")
	errCSV       = errors.New("snort: alert_csv line is not in the default field order (timestamp pkt_num proto pkt_gen pkt_len dir src_ap dst_ap rule action)")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := rec.Msg
	for len(m) > 0 && (m[len(m)-1] == ' ' || m[len(m)-1] == '\r' || m[len(m)-1] == '\t' || m[len(m)-1] == '\n') {
		m = m[:len(m)-1]
	}
	if len(m) < 4 {
		return detect.ErrNotEvent
	}
	switch c := m[0]; {
	case isDigit(c):
		n, ok := stampLen(m)
		if !ok {
			return detect.ErrNotEvent // a payload dump line, or not Snort's
		}
		t, year4, ok := stamp(m[:n], rec)
		if !ok {
			return errStamp
		}
		rest := m[n:]
		if len(rest) > 0 && rest[0] == ',' {
			return p.csv(rest, t, ev)
		}
		rest = lex.Trim(rest)
		if len(rest) > 0 && rest[0] == '[' && !isAddrStart(rest) {
			if err := p.alert(rest, true, ev); err != nil {
				return err
			}
			ev.Timestamp = t
			if year4 {
				ev.Observer.Vendor, ev.Observer.Product = "OISF", "Suricata"
			}
			return nil
		}
		return p.fullAddrs(rest, t)
	case c == '[':
		switch {
		case bytes.HasPrefix(m, []byte("[Classification: ")), bytes.HasPrefix(m, []byte("[Priority: ")):
			p.fullClass(m)
			return detect.ErrNotEvent
		case bytes.HasPrefix(m, []byte("[AppID: ")), bytes.HasPrefix(m, []byte("[Xref => ")):
			return detect.ErrNotEvent
		}
		if len(m) > 1 && !isDigit(m[1]) && m[1] != '*' && !bytes.Contains(m, []byte("[**] [")) {
			return detect.ErrNotEvent
		}
		return p.alert(m, false, ev)
	case protoLine(m):
		return p.fullEnd(m, ev)
	}
	return detect.ErrNotEvent
}

// isAddrStart reports whether b starts with a bracketed IPv6 endpoint (an
// alert_full address line) rather than an action tag or "[**]".
func isAddrStart(b []byte) bool {
	return len(b) > 2 && (isHex(b[1]) || b[1] == ':') && bytes.Contains(b, []byte(" -> ")) &&
		!bytes.Contains(b, []byte("[**]"))
}

// stamp reads a Snort stamp, as measured by stampLen.
func stamp(b []byte, rec *detect.Record) (t time.Time, year4, ok bool) {
	mon, ok1 := num(b[0:2])
	day, ok2 := num(b[3:5])
	if !ok1 || !ok2 {
		return time.Time{}, false, false
	}
	i := 5
	year := 0
	if b[i] == '/' {
		j := i + 1
		for j < len(b) && b[j] != '-' {
			j++
		}
		y, ok := num(b[i+1 : j])
		if !ok {
			return time.Time{}, false, false
		}
		if j-i-1 == 2 {
			y += 2000
		} else {
			year4 = true
		}
		year, i = y, j
	}
	hh, ok3 := num(b[i+1 : i+3])
	mm, ok4 := num(b[i+4 : i+6])
	ss, ok5 := num(b[i+7 : i+9])
	if !ok3 || !ok4 || !ok5 || mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false, false
	}
	if ss == 60 {
		ss = 59
	}
	ns := 0
	if f := b[i+9:]; len(f) > 1 {
		scale := 100000000
		for _, c := range f[1:] {
			ns += int(c-'0') * scale
			scale /= 10
		}
	}
	loc := rec.Location()
	if year == 0 {
		if day > daysIn(time.Month(mon), 2000) {
			return time.Time{}, false, false
		}
		return syslog.NearestYear(rec.Ref, time.Month(mon), day, hh, mm, ss, ns, loc), false, true
	}
	if day > daysIn(time.Month(mon), year) {
		return time.Time{}, false, false
	}
	return time.Date(year, time.Month(mon), day, hh, mm, ss, ns, loc), year4, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// num parses a short run of digits.
func num(b []byte) (int, bool) {
	n, ok := lex.Uint(b)
	return int(n), ok
}

// alert parses an alert line from its first '[': an optional action tag,
// "[**]", "[gid:sid:rev]", the message and the tail of classification,
// priority, AppID, interface, "{PROTO}" and addresses.
func (p *Parser) alert(b []byte, stamped bool, ev *detect.Event) error {
	var action []byte
	if len(b) > 1 && b[0] == '[' && isLetter(b[1]) {
		j := bytes.IndexByte(b, ']')
		if j < 2 || j > 24 {
			return errNoID
		}
		action = b[1:j]
		b = lex.Trim(b[j+1:])
	}
	starred := false
	if bytes.HasPrefix(b, []byte("[**]")) {
		starred = true
		b = lex.Trim(b[4:])
		if len(b) > 1 && b[0] != '[' && b[1] == ' ' { // MARK_TAGGED: "[**] R [1:..."
			b = lex.Trim(b[2:])
		}
	}
	if len(b) == 0 || b[0] != '[' {
		return errNoID
	}
	j := bytes.IndexByte(b, ']')
	if j < 0 {
		return errNoID
	}
	gid, sid, ok := sigID(b[1:j])
	if !ok {
		return errNoID
	}
	b = lex.Trim(b[j+1:])
	if len(b) > 0 && b[0] == '<' { // interface: " <eth0> "
		if k := bytes.IndexByte(b, '>'); k > 0 {
			b = lex.Trim(b[k+1:])
		}
	}

	// The tail: "{PROTO} addresses" after the last '{'.
	head, proto, addrs := b, []byte(nil), []byte(nil)
	hasTail := false
	if i := bytes.LastIndexByte(b, '{'); i >= 0 {
		if k := bytes.IndexByte(b[i:], '}'); k > 1 && validProto(b[i+1:i+k]) {
			head, proto, addrs = b[:i], b[i+1:i+k], lex.Trim(b[i+k+1:])
			hasTail = true
		}
	}

	// From the right of the head: interface, AppID, priority (with Snort
	// 2's colon after it), classification, the closing "[**]".
	head = lex.Trim(head)
	if n := len(head); n > 0 && head[n-1] == '>' {
		if k := bytes.LastIndexByte(head, '<'); k >= 0 {
			head = lex.Trim(head[:k])
		}
	}
	var class []byte
	prio := 0
	closed, sawPrio := false, false
tail:
	for !closed {
		if n := len(head); n > 0 && head[n-1] == ':' {
			head = lex.Trim(head[:n-1])
		}
		n := len(head)
		if n == 0 || head[n-1] != ']' {
			break
		}
		k := bytes.LastIndexByte(head, '[')
		if k < 0 {
			break
		}
		g := head[k:]
		switch {
		case string(g) == "[**]":
			closed = true
		case bytes.HasPrefix(g, []byte("[Priority: ")) && !sawPrio:
			v, ok := lex.Uint(lex.Trim(g[len("[Priority: ") : len(g)-1]))
			if !ok {
				return fmt.Errorf("%s: bad priority", Name)
			}
			if v < 1000 {
				prio = int(v)
			}
			sawPrio = true
		case bytes.HasPrefix(g, []byte("[Classification: ")) && class == nil:
			class = lex.Trim(g[len("[Classification: ") : len(g)-1])
		case bytes.HasPrefix(g, []byte("[AppID: ")):
		default:
			break tail
		}
		head = lex.Trim(head[:k])
	}
	msg := lex.Trim(head)
	if len(msg) >= 2 && msg[0] == '"' && msg[len(msg)-1] == '"' {
		msg = lex.Trim(msg[1 : len(msg)-1])
	}

	if starred && !closed {
		return errTruncated
	}
	if !hasTail {
		switch {
		case starred && !stamped && class == nil && !sawPrio:
			// alert_full's first line: keep it for the lines that follow.
			f := &p.full
			f.state = 1
			f.name = p.names.Bytes(msg)
			f.id = p.ruleID(gid, sid)
			f.category, f.severity = "", 0
			return detect.ErrNotEvent
		case !starred && !sawPrio:
			return errTruncated
		case bytes.Contains(head, []byte("{")):
			return errTruncated // "{TCP" cut short
		}
	}

	ev.Category = detect.CategoryIntrusionDetection
	ev.Observer.Vendor, ev.Observer.Product = "Cisco", "Snort"
	ev.Type, ev.Action = detect.TypeInfo, "alert"
	if action != nil {
		ev.Action = p.names.Bytes(action)
		if denied(action) {
			ev.Type = detect.TypeDenied
		}
	}
	ev.Rule.Name = p.names.Bytes(msg)
	ev.Rule.ID = p.ruleID(gid, sid)
	ev.Rule.Category = p.names.Bytes(class)
	ev.Severity = prio
	if hasTail {
		return addresses(proto, addrs, ev)
	}
	return nil
}

// validProto reports whether b can be the protocol inside "{...}": TCP,
// UDP, ICMP, IPV6-ICMP, IP, PROTO:255, or a Snort 3 packet type.
func validProto(b []byte) bool {
	if len(b) == 0 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || isDigit(c) || c == '-' || c == ':' || c == '_') {
			return false
		}
	}
	return true
}

// sigID reads "gid:sid:rev" (the revision may be absent).
func sigID(b []byte) (gid, sid int64, ok bool) {
	g, rest, found := lex.Cut(b, ':')
	if !found {
		return 0, 0, false
	}
	s, r, _ := lex.Cut(rest, ':')
	gid, ok1 := lex.Uint(g)
	sid, ok2 := lex.Uint(s)
	if !ok1 || !ok2 || gid > 1<<32 || sid > 1<<32 {
		return 0, 0, false
	}
	if r != nil {
		if _, ok := lex.Uint(r); !ok {
			return 0, 0, false
		}
	}
	return gid, sid, true
}

// ruleID returns rule.id: the sid for gid 1, "gid:sid" otherwise.
func (p *Parser) ruleID(gid, sid int64) string {
	var buf [48]byte
	b := buf[:0]
	if gid != 1 {
		b = strconv.AppendInt(b, gid, 10)
		b = append(b, ':')
	}
	b = strconv.AppendInt(b, sid, 10)
	return p.ids.Bytes(b)
}

// denied reports whether an IPS action tag says the traffic was stopped.
func denied(tag []byte) bool {
	var buf [24]byte
	t := buf[:0]
	for _, c := range tag {
		if len(t) == len(buf) {
			return false
		}
		if c >= 'A' && c <= 'Z' {
			c |= 0x20
		}
		t = append(t, c)
	}
	t = bytes.TrimPrefix(t, []byte("force_"))
	switch string(t) {
	case "drop", "sdrop", "fdrop", "block", "reset", "reject":
		return true
	}
	return false
}

// transport maps the protocol name of "{...}" or an alert_full IP header
// line; "" when it is none of the four.
func transport(proto []byte) string {
	switch {
	case lex.EqualFold(proto, "TCP"):
		return detect.TransportTCP
	case lex.EqualFold(proto, "UDP"):
		return detect.TransportUDP
	case lex.EqualFold(proto, "ICMP"):
		return detect.TransportICMP
	case lex.EqualFold(proto, "IPV6-ICMP"), lex.EqualFold(proto, "ICMPV6"), lex.EqualFold(proto, "ICMP6"):
		return detect.TransportIPv6ICMP
	}
	return ""
}

// addresses reads "src -> dst" for the protocol proto into ev.
func addresses(proto, b []byte, ev *detect.Event) error {
	i := bytes.Index(b, []byte(" -> "))
	if i < 0 {
		return errNoArrow
	}
	tr := transport(proto)
	split := tr == detect.TransportTCP || tr == detect.TransportUDP
	src, sp, ok := endpoint(lex.Trim(b[:i]), split)
	if !ok {
		return errBadSrc
	}
	dst, dp, ok := endpoint(lex.Trim(b[i+4:]), split)
	if !ok {
		return errBadDst
	}
	if tr == detect.TransportICMP && src.Is6() {
		tr = detect.TransportIPv6ICMP
	}
	ev.Network.Transport = tr
	ev.Source.IP, ev.Destination.IP = src, dst
	if tr != detect.TransportICMP && tr != detect.TransportIPv6ICMP {
		ev.Source.Port, ev.Destination.Port = sp, dp
	}
	return nil
}

// endpoint reads "addr", "addr:port" or "[addr]:port". An IPv6 address
// without brackets is split at its last colon only when split is set and
// what precedes the colon is an address. A port of 0 is no port.
func endpoint(b []byte, split bool) (netip.Addr, uint16, bool) {
	if len(b) == 0 {
		return netip.Addr{}, 0, false
	}
	if b[0] == '[' {
		j := bytes.IndexByte(b, ']')
		if j < 0 {
			return netip.Addr{}, 0, false
		}
		a, ok := lex.Addr(b[1:j])
		if !ok {
			return netip.Addr{}, 0, false
		}
		rest := b[j+1:]
		if len(rest) == 0 {
			return a, 0, true
		}
		if rest[0] != ':' {
			return netip.Addr{}, 0, false
		}
		pt, ok := port(rest[1:])
		return a, pt, ok
	}
	c := bytes.Count(b, []byte(":"))
	switch {
	case c == 0:
		a, ok := lex.Addr(b)
		return a, 0, ok
	case c == 1:
		k := bytes.IndexByte(b, ':')
		a, ok := lex.Addr(b[:k])
		if !ok || !a.Is4() {
			return netip.Addr{}, 0, false
		}
		pt, ok := port(b[k+1:])
		return a, pt, ok
	}
	if split {
		k := bytes.LastIndexByte(b, ':')
		if pt, ok := port(b[k+1:]); ok && k > 0 && b[k-1] != ':' {
			if a, ok := lex.Addr(b[:k]); ok {
				return a, pt, true
			}
		}
	}
	a, ok := lex.Addr(b)
	return a, 0, ok
}

// port reads a port number, where 0 means none.
func port(b []byte) (uint16, bool) {
	n, ok := lex.Uint(b)
	if !ok || n > 65535 || len(b) > 5 {
		return 0, false
	}
	return uint16(n), true
}

// csv parses an alert_csv line after its stamp (at the first separator),
// in the default field order.
func (p *Parser) csv(b []byte, t time.Time, ev *detect.Event) error {
	var f [10][]byte
	n := 0
	it := lex.NewCSV(b[1:], ',')
	for {
		v, ok := it.Next()
		if !ok {
			break
		}
		if n == len(f) {
			return errCSV
		}
		f[n] = lex.Trim(v)
		n++
	}
	// f: pkt_num proto pkt_gen pkt_len dir src_ap dst_ap rule action
	if n != 9 {
		return errCSV
	}
	if _, ok := lex.Uint(f[0]); !ok {
		return errCSV
	}
	gid, sid, ok := sigID(f[7])
	if !ok {
		return errCSV
	}
	tr := transport(f[1])
	src, sp, ok := csvEndpoint(f[5])
	if !ok {
		return errBadSrc
	}
	dst, dp, ok := csvEndpoint(f[6])
	if !ok {
		return errBadDst
	}
	if tr == detect.TransportICMP && src.Is6() {
		tr = detect.TransportIPv6ICMP
	}
	ev.Timestamp = t
	ev.Category = detect.CategoryIntrusionDetection
	ev.Observer.Vendor, ev.Observer.Product = "Cisco", "Snort"
	ev.Type, ev.Action = detect.TypeInfo, "alert"
	if a := f[8]; len(a) > 0 && len(a) <= 24 {
		ev.Action = p.names.Bytes(a)
		if denied(a) {
			ev.Type = detect.TypeDenied
		}
	}
	ev.Rule.ID = p.ruleID(gid, sid)
	ev.Network.Transport = tr
	ev.Source.IP, ev.Destination.IP = src, dst
	if tr != detect.TransportICMP && tr != detect.TransportIPv6ICMP {
		ev.Source.Port, ev.Destination.Port = sp, dp
	}
	return nil
}

// csvEndpoint reads alert_csv's "addr:port", which always ends in a port
// (0 when there is none) and never brackets IPv6. An empty address (":0",
// a packet without IP) is no address.
func csvEndpoint(b []byte) (netip.Addr, uint16, bool) {
	if len(b) > 0 && b[0] == '[' {
		return endpoint(b, true)
	}
	k := bytes.LastIndexByte(b, ':')
	if k < 0 {
		return netip.Addr{}, 0, false
	}
	pt, ok := port(b[k+1:])
	if !ok {
		return netip.Addr{}, 0, false
	}
	if k == 0 {
		return netip.Addr{}, 0, true
	}
	a, ok := lex.Addr(b[:k])
	return a, pt, ok
}

// fullClass reads alert_full's second line, "[Classification: ..]
// [Priority: n]".
func (p *Parser) fullClass(b []byte) {
	f := &p.full
	if f.state != 1 {
		return
	}
	if bytes.HasPrefix(b, []byte("[Classification: ")) {
		if j := bytes.IndexByte(b, ']'); j > 0 {
			f.category = p.names.Bytes(lex.Trim(b[len("[Classification: "):j]))
			b = lex.Trim(b[j+1:])
		}
	}
	if bytes.HasPrefix(b, []byte("[Priority: ")) {
		if j := bytes.IndexByte(b, ']'); j > 0 {
			if v, ok := lex.Uint(lex.Trim(b[len("[Priority: "):j])); ok && v < 1000 {
				f.severity = int(v)
			}
		}
	}
}

// fullAddrs reads alert_full's third line after its stamp, "src -> dst".
// The addresses are kept as text: how to split an IPv6 port depends on the
// protocol, which the next line gives.
func (p *Parser) fullAddrs(b []byte, t time.Time) error {
	f := &p.full
	if f.state != 1 || !bytes.Contains(b, []byte(" -> ")) || len(b) > 256 {
		return detect.ErrNotEvent
	}
	f.t = t
	f.addrs = append(f.addrs[:0], b...)
	f.state = 2
	return detect.ErrNotEvent
}

// fullEnd reads alert_full's IP header line, "TCP TTL:64 ...", and returns
// the record's event.
func (p *Parser) fullEnd(b []byte, ev *detect.Event) error {
	f := &p.full
	if f.state != 2 {
		f.state = 0
		return detect.ErrNotEvent
	}
	f.state = 0
	proto := b[:bytes.IndexByte(b, ' ')]
	ev.Timestamp = f.t
	ev.Category = detect.CategoryIntrusionDetection
	ev.Observer.Vendor, ev.Observer.Product = "Cisco", "Snort"
	ev.Type, ev.Action = detect.TypeInfo, "alert"
	ev.Rule.Name, ev.Rule.ID, ev.Rule.Category = f.name, f.id, f.category
	ev.Severity = f.severity
	return addresses(proto, f.addrs, ev)
}

var _ detect.Parser = (*Parser)(nil)

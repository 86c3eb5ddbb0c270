// Package filterlog parses the packet filter log of pfSense (Netgate) and
// OPNsense (Deciso): one CSV line per packet that pf logged, written by the
// filterlog daemon under the syslog tag "filterlog", in BSD syslog or, on
// pfSense 2.6+ and OPNsense, RFC 5424 syslog:
//
//	filterlog[12345]: 5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,198.51.100.7,192.0.2.1,51514,22,0,S,123,,64240,,mss
//
// The layout is the one in Netgate's "Raw Filter Log Format" and OPNsense's
// filterlog description.txt:
//
//	common: rule number, sub rule number, anchor, tracker (pfSense) or
//	        label (OPNsense), interface, reason, action, direction, IP version
//	IPv4:   tos, ecn, ttl, id, offset, flags, proto id, proto text,
//	        length, source, destination
//	IPv6:   class, flow label, hop limit, proto text, proto id,
//	        length, source, destination
//	then    tcp: source port, destination port, data length, flags, seq,
//	             ack, window, urg, options
//	        udp (and pfSense sctp): source port, destination port, length
//	        icmp / ipv6-icmp: type and its details (pfSense: "request,id,seq",
//	             "unreachport,dst,proto,port", "needfrag,dst,mtu", ...;
//	             newer OPNsense: "datalength=N,type,code,id,seq,mtu")
//	        carp: type, ttl, vhid, version, advskew, advbase
//	        other: "datalength=N"
//
// Notices the daemon inserts after the IP version ("truncated-ip=N",
// "error='truncated-ip ...'") are skipped. Non-first fragments carry no
// protocol fields, so they have no ports.
//
// Mapping:
//   - event.action is pf's action as written (pass, block, reject,
//     synproxy-drop, and nat, binat, rdr or scrub for logged translation
//     rules); pass is allowed, block, reject, drop and synproxy-drop are
//     denied, and the translation actions have no event.type.
//   - rule.id is the tracker (pfSense) or label (OPNsense), which stays the
//     same across rule-set reloads; when it is empty or "0" (no label) it is
//     the rule number.
//   - rule.name is the rule's position in the loaded rule set, as pfctl and
//     tcpdump write it: "5", or "5.anchor.2" for sub rule 2 of an anchor.
//   - network.transport comes from the protocol number: 6 tcp, 17 udp,
//     1 icmp, 58 ipv6-icmp; carp, igmp, esp and the rest have none
//     (sctp keeps the ports pfSense writes for it).
//   - The IP length is one packet's length, not a flow's byte count, so
//     source.bytes, destination.bytes and network.packets are left out.
//     The interface, reason, and ICMP and TCP details have no field in the
//     event.
//
// pfSense and OPNsense write the same format under the same tag, and host
// names are the administrator's choice, so the product is told by the
// fourth field alone: a 32-digit hexadecimal rule label is OPNsense
// (vendor Deciso), a non-zero numeric tracker is pfSense (vendor Netgate);
// "0" or an empty field could be either, so those lines get product
// "filterlog" (the daemon) and no vendor.
package filterlog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "filterlog"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "pfSense (Netgate) and OPNsense (Deciso) pf filterlog CSV: pass/block/reject, IPv4 and IPv6, TCP/UDP/ICMP/CARP",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"filterlog"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like a filterlog line: it has the
// filterlog tag, or its message starts with the common CSV fields (a
// numeric or empty rule number, and in/out and 4/6 in the direction and
// IP version fields).
func Sniff(rec *detect.Record) bool {
	if string(rec.App) == "filterlog" {
		return true
	}
	b := rec.Msg
	if len(b) == 0 || !(b[0] == ',' || b[0] >= '0' && b[0] <= '9') {
		return false
	}
	// Find the 8th and 9th fields (direction, IP version) within the
	// first few hundred bytes.
	if len(b) > 512 {
		b = b[:512]
	}
	n := 0
	start := 0
	var dir []byte
	for i := 0; i < len(b); i++ {
		if b[i] != ',' {
			continue
		}
		switch n {
		case 0:
			if !isDigits(b[:i]) {
				return false
			}
		case 7:
			dir = b[start:i]
		case 8:
			v := b[start:i]
			return (string(dir) == "in" || string(dir) == "out" || string(dir) == "in/out") &&
				len(v) == 1 && (v[0] == '4' || v[0] == '6')
		}
		n++
		start = i + 1
	}
	return false
}

// maxFields is the number of CSV fields split off: the last one read is
// the destination port, at most field 24 (IPv4 behind two notices); what
// follows (TCP flags, options, ICMP details) is not needed.
const maxFields = 28

// Parser parses filterlog lines. Not safe for concurrent use.
type Parser struct {
	f     [maxFields][]byte
	names lex.Interner // rule ids, rule names, actions
}

var (
	errFields  = errors.New("filterlog: too few fields")
	errSrc     = errors.New("filterlog: bad source address")
	errDst     = errors.New("filterlog: bad destination address")
	errNoAddr  = errors.New("filterlog: packet header truncated, no addresses")
	errNoVer   = errors.New("filterlog: no IP version")
	errNoVerb  = errors.New("filterlog: no action")
	errBadProt = errors.New("filterlog: bad protocol number")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := trimEnd(rec.Msg)
	// Daemon messages ("Failed to initialize: ...", "[|pflog]") are not
	// packets: a packet line starts with a numeric or empty rule number.
	c := bytes.IndexByte(msg, ',')
	if c < 0 || !isDigits(msg[:c]) {
		return detect.ErrNotEvent
	}
	f := split(p.f[:0], msg)
	if len(f) < 9 {
		return errFields
	}
	action := f[6]
	if len(action) == 0 {
		return errNoVerb
	}

	i := 9
	var proto, ptext []byte
	var src, dst []byte
	switch string(f[8]) {
	case "4":
		if i = skipNotices(f, i); i < len(f) && !isHexNum(f[i]) {
			return errNoAddr // "[|ip])", "bad-hlen=N)", "bad-len=N"
		}
		if i+11 > len(f) {
			return errFields
		}
		// tos, ecn, ttl, id, offset, flags, proto id, proto text, length, src, dst
		proto, ptext = f[i+6], f[i+7]
		src, dst = f[i+9], f[i+10]
		i += 11
	case "6":
		if i = skipNotices(f, i); i < len(f) && !isHexNum(f[i]) {
			return errNoAddr // "truncated-ip6=N"
		}
		if i+8 > len(f) {
			return errFields
		}
		// class, flow label, hop limit, proto text, proto id, length, src, dst
		ptext, proto = f[i+3], f[i+4]
		src, dst = f[i+6], f[i+7]
		i += 8
	case "":
		return errNoVer
	default:
		return fmt.Errorf("filterlog: IP version %q is not 4 or 6", clip(f[8]))
	}

	v6 := f[8][0] == '6'
	var ok bool
	if ev.Source.IP, ok = addr(src, v6); !ok {
		return errSrc
	}
	if ev.Destination.IP, ok = addr(dst, v6); !ok {
		return errDst
	}

	num, ok := lex.Uint(proto)
	if !ok || num > 255 {
		if len(proto) > 0 {
			return errBadProt
		}
		num = protoByName(ptext)
	}
	rest := f[i:]
	switch num {
	case 6, 17, 132: // tcp, udp, sctp: source port, destination port, ...
		if num == 6 {
			ev.Network.Transport = detect.TransportTCP
		} else if num == 17 {
			ev.Network.Transport = detect.TransportUDP
		}
		if len(rest) >= 2 {
			if sp, ok := lex.Port(rest[0]); ok {
				if dp, ok := lex.Port(rest[1]); ok {
					ev.Source.Port, ev.Destination.Port = sp, dp
				}
			}
		}
	case 1:
		ev.Network.Transport = detect.TransportICMP
	case 58:
		ev.Network.Transport = detect.TransportIPv6ICMP
	}

	ev.Category = detect.CategoryNetwork
	ev.Action = p.names.Bytes(action)
	ev.Type = verdict(action)
	p.rule(f[0], f[1], f[2], f[3], ev)
	return nil
}

// rule fills rule.id, rule.name and the observer from the rule number, sub
// rule number, anchor and tracker/label.
func (p *Parser) rule(nr, sub, anchor, tracker []byte, ev *detect.Event) {
	switch {
	case isLabel(tracker):
		ev.Observer.Vendor, ev.Observer.Product = "Deciso", "OPNsense"
	case len(tracker) > 0 && isDigits(tracker) && !allZero(tracker):
		ev.Observer.Vendor, ev.Observer.Product = "Netgate", "pfSense"
	default:
		ev.Observer.Product = "filterlog"
	}
	if len(tracker) > 0 && !allZero(tracker) && len(tracker) <= 64 && printable(tracker) {
		ev.Rule.ID = p.names.Bytes(tracker)
	} else if len(nr) > 0 {
		ev.Rule.ID = p.names.Bytes(nr)
	}
	if len(nr) == 0 {
		return
	}
	if len(anchor) == 0 || len(sub) == 0 || !isDigits(sub) || !printable(anchor) || len(anchor) > 64 {
		ev.Rule.Name = p.names.Bytes(nr)
		return
	}
	var buf [160]byte
	name := append(buf[:0], nr...)
	name = append(name, '.')
	name = append(name, anchor...)
	name = append(name, '.')
	name = append(name, sub...)
	ev.Rule.Name = p.names.Bytes(name)
}

// verdict maps pf's action to event.type.
func verdict(action []byte) string {
	switch string(action) {
	case "pass":
		return detect.TypeAllowed
	case "block", "reject", "drop", "synproxy-drop":
		return detect.TypeDenied
	}
	return ""
}

// skipNotices skips the notices filterlog inserts before the header fields
// of a packet shorter than its IP length: "truncated-ip=N" (OPNsense) and
// "error='truncated-ip N bytes missing!'" (pfSense), and their IPv6 forms.
func skipNotices(f [][]byte, i int) int {
	for i < len(f) {
		s := f[i]
		if bytes.HasPrefix(s, []byte("error=")) {
			i++
			continue
		}
		if bytes.HasPrefix(s, []byte("truncated-ip")) && i+1 < len(f) && bytes.HasPrefix(f[i+1], []byte("0x")) {
			i++
			continue
		}
		break
	}
	return i
}

// addr parses an address, which must be of the line's IP version (an
// IPv4-mapped IPv6 address in an IPv6 line is unmapped by lex.Addr).
func addr(b []byte, v6 bool) (a netip.Addr, ok bool) {
	a, ok = lex.Addr(b)
	if !ok {
		return a, false
	}
	hasColon := bytes.IndexByte(b, ':') >= 0
	return a, hasColon == v6
}

// protoByName maps a protocol name to its number when the number field is
// empty: pfSense writes "TCP"/"ICMPv6", OPNsense "tcp"/"ipv6-icmp".
func protoByName(b []byte) int64 {
	switch {
	case lex.EqualFold(b, "tcp"):
		return 6
	case lex.EqualFold(b, "udp"):
		return 17
	case lex.EqualFold(b, "icmp"):
		return 1
	case lex.EqualFold(b, "ipv6-icmp"), lex.EqualFold(b, "icmpv6"), lex.EqualFold(b, "icmp6"):
		return 58
	}
	return -1
}

// split splits b at commas into dst, up to its capacity. Fields are short,
// so a plain loop beats bytes.IndexByte here.
func split(dst [][]byte, b []byte) [][]byte {
	start := 0
	for j := 0; j < len(b); j++ {
		if b[j] == ',' {
			dst = append(dst, b[start:j])
			if len(dst) == cap(dst) {
				return dst
			}
			start = j + 1
		}
	}
	return append(dst, b[start:])
}

func trimEnd(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// isDigits reports whether b is empty or all decimal digits.
func isDigits(b []byte) bool {
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

// isLabel reports whether b is an OPNsense rule label: 32 hex digits.
func isLabel(b []byte) bool {
	if len(b) != 32 {
		return false
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// isHexNum reports whether b looks like a bare number (a damaged header
// field rather than a notice such as "[|ip])" or "bad-len=20").
func isHexNum(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == 'x') {
			return false
		}
	}
	return true
}

// printable reports whether b is printable ASCII without spaces, as
// trackers, labels and anchor names are.
func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// clip shortens a field quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

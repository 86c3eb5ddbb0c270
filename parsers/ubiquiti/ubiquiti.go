// Package ubiquiti parses the firewall log lines of Ubiquiti gateways:
// EdgeRouter (EdgeOS), UniFi Security Gateway (USG) and UniFi OS gateways
// (UDM, UDM-Pro, UDR, UXG, UCG). They are netfilter LOG lines whose prefix
// is a Ubiquiti rule label, often with no space before IN=:
//
//	kernel: [WAN_LOCAL-default-D]IN=eth0 OUT= MAC=.. SRC=198.51.100.7 DST=192.0.2.10 LEN=60 .. PROTO=TCP SPT=51514 DPT=22 ..   (EdgeOS, USG)
//	kernel: [12345.678] [WAN_LOCAL-D-2147483647]IN=eth8 OUT= ..                                                          (UDM)
//	[LAN_DMZ-A-10000] DESCR="Internal to media" IN=br0 OUT=br40 ..                                                         (UniFi OS 3+)
//
// Two label shapes are recognised, and nothing else, so that ordinary
// iptables prefixes ("[UFW BLOCK]", "IPTABLES-DROP:") are left to the
// netfilter parser:
//
//   - EdgeOS, USG: RULESET-RULE-L, where RULE is a number or "default" and
//     L is A (accept), D (drop) or R (reject): "[WAN_IN-default-D]",
//     "[GUEST-IN-10-D]". observer.product is "EdgeOS": the USG runs an
//     EdgeOS-derived firmware and its lines cannot be told apart.
//   - UniFi OS: CHAIN-ACTION-NUMBER, where ACTION is A, D, R, RET, DNAT or
//     SNAT: "[WAN_LOCAL-D-2147483647]", "[CUSTOM1_IN-A-30000]",
//     "[PREROUTING-DNAT-4]". observer.product is "UniFi".
//
// event.action is the label's action token as written ("A", "D", "R",
// "RET", "DNAT"); event.type is allowed for A, denied for D and R, and
// left out for the others: RET is a RETURN rule (the packet goes back to
// the calling chain, which decides), and DNAT/SNAT are port-forward and
// masquerade rules that translate but do not filter. rule.name is the whole
// label without brackets; rule.id is the rule number, when there is one
// ("default" has none). The DESCR="..." rule description that UniFi OS adds
// is not copied.
//
// UniFi OS writes a host of the form "74acb9aabbcc,UDM-Pro-4.0.21" (or
// "name,mac,firmware"), which a syslog header parser cannot take as a host
// name; its first comma-separated part becomes observer.hostname.
package ubiquiti

import (
	"bytes"
	"errors"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "ubiquiti"

// Info describes the parser to a registry. It must be registered before the
// netfilter parser, which would otherwise take these lines too.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Ubiquiti EdgeRouter/USG (EdgeOS) and UniFi OS gateway (UDM, UXG, UCG) firewall rule logs (IPv4, IPv6, ICMP)",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"kernel"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec is a netfilter log line with a Ubiquiti rule
// label before its packet fields.
func Sniff(rec *detect.Record) bool {
	msg := rec.Msg
	if bytes.IndexByte(msg, '[') < 0 {
		return false
	}
	in := fieldsIndex(msg)
	if in < 0 {
		return false
	}
	_, ok := findLabel(msg[:in])
	return ok
}

// Parser parses Ubiquiti firewall lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
}

var (
	errNoPacket = errors.New("ubiquiti: packet fields without SRC= or DST=")
	errSource   = errors.New("ubiquiti: bad SRC= address")
	errDest     = errors.New("ubiquiti: bad DST= address")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := rec.Msg
	in := fieldsIndex(msg)
	if in < 0 {
		return detect.ErrNotEvent
	}
	head := msg[:in]
	l, ok := findLabel(head)
	if !ok {
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryNetwork
	ev.Observer.Vendor = "Ubiquiti"
	if l.unifi {
		ev.Observer.Product = "UniFi"
	} else {
		ev.Observer.Product = "EdgeOS"
	}
	if h := deviceHost(head); len(h) > 0 {
		ev.Observer.Hostname = p.names.Bytes(h)
	}
	ev.Rule.Name = p.names.Bytes(l.name)
	if len(l.id) > 0 {
		ev.Rule.ID = p.names.Bytes(l.id)
	}
	switch string(l.action) {
	case "A":
		ev.Type, ev.Action = detect.TypeAllowed, "A"
	case "D":
		ev.Type, ev.Action = detect.TypeDenied, "D"
	case "R":
		ev.Type, ev.Action = detect.TypeDenied, "R"
	case "RET":
		ev.Action = "RET"
	case "DNAT":
		ev.Action = "DNAT"
	case "SNAT":
		ev.Action = "SNAT"
	}

	kv := lex.NewKV(msg[in:], ' ')
	var icmp, sawProto, sawSrc, sawDst bool
fields:
	for {
		k, v, ok := kv.Next()
		if !ok || (len(k) > 0 && k[0] == '[') {
			break // the end, or the packet quoted inside an ICMP error
		}
		switch string(k) {
		case "SRC":
			sawSrc = true
			if a, ok := lex.Addr(v); ok {
				ev.Source.IP = a
			}
		case "DST":
			sawDst = true
			if a, ok := lex.Addr(v); ok {
				ev.Destination.IP = a
			}
		case "PROTO":
			sawProto = true
			switch string(v) {
			case "TCP":
				ev.Network.Transport = detect.TransportTCP
			case "UDP", "UDPLITE":
				ev.Network.Transport = detect.TransportUDP
			case "ICMP":
				ev.Network.Transport = detect.TransportICMP
				icmp = true
			case "ICMPv6":
				ev.Network.Transport = detect.TransportIPv6ICMP
				icmp = true
			}
		case "SPT":
			if !icmp {
				ev.Source.Port, _ = lex.Port(v)
			}
		case "DPT":
			if !icmp {
				ev.Destination.Port, _ = lex.Port(v)
			}
			if sawSrc && sawDst {
				break fields // the rest is TCP/UDP header detail
			}
		}
	}
	switch {
	case !sawSrc && !sawDst && !sawProto:
		return detect.ErrNotEvent // ARP and other non-IP frames
	case !sawSrc || !sawDst:
		return errNoPacket
	case !ev.Source.IP.IsValid():
		return errSource
	case !ev.Destination.IP.IsValid():
		return errDest
	}
	return nil
}

// label is a Ubiquiti rule label taken apart.
type label struct {
	name   []byte // the whole label, without brackets
	action []byte // A, D, R, RET, DNAT, SNAT
	id     []byte // the rule number, or nil
	unifi  bool   // the UniFi OS shape, CHAIN-ACTION-NUMBER
}

// findLabel finds the rule label that ends head, the text before the packet
// fields: "... [WAN_IN-default-D]", "... [LAN_LOCAL-A-2000] DESCR=\"..\" ".
// The label is the last bracketed word before any DESCR=.
func findLabel(head []byte) (label, bool) {
	if d := bytes.Index(head, []byte("DESCR=")); d >= 0 {
		head = head[:d]
	}
	head = lex.Trim(head)
	if len(head) < 2 || head[len(head)-1] != ']' {
		return label{}, false
	}
	i := bytes.LastIndexByte(head, '[')
	if i < 0 {
		return label{}, false
	}
	return parseLabel(head[i+1 : len(head)-1])
}

// parseLabel checks the shape of a label and takes it apart.
func parseLabel(b []byte) (label, bool) {
	if len(b) < 5 || len(b) > 64 || !isLetter(b[0]) {
		return label{}, false
	}
	for _, c := range b {
		if !isLetter(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' {
			return label{}, false
		}
	}
	j := bytes.LastIndexByte(b, '-')
	if j <= 0 {
		return label{}, false
	}
	last, rest := b[j+1:], b[:j]
	k := bytes.LastIndexByte(rest, '-')
	if k <= 0 {
		return label{}, false
	}
	mid := rest[k+1:]
	switch {
	case len(last) == 1 && (last[0] == 'A' || last[0] == 'D' || last[0] == 'R'):
		// EdgeOS: RULESET-RULE-L.
		l := label{name: b, action: last}
		if allDigits(mid) {
			l.id = mid
		} else if string(mid) != "default" {
			return label{}, false
		}
		return l, true
	case allDigits(last):
		// UniFi OS: CHAIN-ACTION-NUMBER.
		switch string(mid) {
		case "A", "D", "R", "RET", "DNAT", "SNAT":
			return label{name: b, action: mid, id: last, unifi: true}, true
		}
	}
	return label{}, false
}

// deviceHost returns the device name from a UniFi OS host word at the start
// of head, "74acb9aabbcc,UDM-Pro-4.0.21" or "UDM-RDC,f2e3fac05cfb,udm-1.11.0":
// its first comma-separated part. Such a word is not a valid syslog host
// name, so the header parser leaves it in the message.
func deviceHost(head []byte) []byte {
	sp := bytes.IndexByte(head, ' ')
	if sp <= 0 {
		return nil
	}
	w := head[:sp]
	c := bytes.IndexByte(w, ',')
	if c <= 0 {
		return nil
	}
	for _, ch := range w {
		if !isLetter(ch) && !isDigit(ch) && ch != '-' && ch != '_' && ch != '.' && ch != ',' {
			return nil
		}
	}
	return w[:c]
}

// fieldsIndex finds the start of the packet fields, after the rule
// description that UniFi OS writes before them, DESCR="...", which may hold
// anything.
func fieldsIndex(b []byte) int {
	d := bytes.Index(b, []byte(`DESCR="`))
	if d < 0 {
		return inIndex(b)
	}
	off := d + len(`DESCR="`)
	for off < len(b) && b[off] != '"' {
		if b[off] == '\\' {
			off++
		}
		off++
	}
	if off >= len(b) {
		return -1
	}
	off++
	i := inIndex(b[off:])
	if i < 0 {
		return -1
	}
	return off + i
}

// inIndex finds the "IN=" that starts the packet fields, followed by OUT=.
// Like the netfilter parser, it accepts "IN=" at the start or after a
// space, ']' or ':'.
func inIndex(b []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], []byte("IN="))
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || b[i-1] == ' ' || b[i-1] == ']' || b[i-1] == ':' {
			if rest := b[i+3:]; bytes.HasPrefix(skipValue(rest), []byte(" OUT=")) {
				return i
			}
		}
		off = i + 3
	}
}

func skipValue(b []byte) []byte {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[i:]
	}
	return nil
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(b []byte) bool {
	if len(b) == 0 || len(b) > 10 {
		return false
	}
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

var _ detect.Parser = (*Parser)(nil)

// Package netfilter parses Linux kernel firewall log lines, as written by
// the iptables and ip6tables LOG target, nftables "log" statements and UFW:
//
//	kernel: [ 12.3] [UFW BLOCK] IN=eth0 OUT= MAC=.. SRC=198.51.100.7 DST=192.0.2.10 LEN=60 ... PROTO=TCP SPT=51234 DPT=22 ... SYN URGP=0
//
// The verdict comes from the log prefix, which the administrator chose: a
// prefix holding DROP, DENY, REJECT or BLOCK is denied, ACCEPT, ALLOW,
// PERMIT or PASS is allowed, and any other prefix gives no event.type.
package netfilter

import (
	"bytes"
	"errors"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "netfilter"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Linux netfilter kernel log: iptables, ip6tables, nftables and UFW (IPv4, IPv6, ICMP)",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"kernel"},
		Sniff:       Sniff,
		Generic:     true, // Ubiquiti's lines are netfilter lines too
	}
}

// Sniff reports whether rec looks like a netfilter log line.
func Sniff(rec *detect.Record) bool {
	return inIndex(rec.Msg) >= 0
}

// inIndex finds the "IN=" that starts the packet fields, followed by OUT=.
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

// Parser parses netfilter lines. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
}

var errNoPacket = errors.New("netfilter: no SRC= and DST= in the packet fields")

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := rec.Msg
	in := inIndex(msg)
	if in < 0 {
		return detect.ErrNotEvent
	}
	ev.Category = detect.CategoryNetwork
	ev.Observer.Vendor = "Linux"
	ev.Observer.Product = "netfilter"
	p.prefix(msg[:in], ev)

	kv := lex.NewKV(msg[in:], ' ')
	var icmp, sawProto, sawAddr bool
	for {
		k, v, ok := kv.Next()
		if !ok || (len(k) > 0 && k[0] == '[') {
			break // the end, or the packet quoted inside an ICMP error
		}
		switch string(k) {
		case "SRC":
			sawAddr = true
			if a, ok := lex.Addr(v); ok {
				ev.Source.IP = a
			}
		case "DST":
			sawAddr = true
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
		}
	}
	if !ev.Source.IP.IsValid() || !ev.Destination.IP.IsValid() {
		if !sawAddr && !sawProto {
			return detect.ErrNotEvent // ARP and other non-IP frames
		}
		return errNoPacket
	}
	return nil
}

// prefix reads the verdict and rule name from the administrator's log
// prefix, after any kernel time stamp ("[ 1234.567890] ").
func (p *Parser) prefix(b []byte, ev *detect.Event) {
	b = lex.Trim(b)
	if len(b) > 0 && b[0] == '[' {
		if j := bytes.IndexByte(b, ']'); j > 0 && isKernelStamp(b[1:j]) {
			b = lex.Trim(b[j+1:])
		}
	}
	// The rule name is the prefix without brackets: "[nftables] Refused:"
	// is "nftables Refused".
	var buf [128]byte
	name := buf[:0]
	for _, c := range b {
		if c == '[' || c == ']' {
			c = ' '
		}
		if c == ' ' && (len(name) == 0 || name[len(name)-1] == ' ') {
			continue
		}
		if len(name) < len(buf) {
			name = append(name, c)
		}
	}
	if name = bytes.Trim(name, " :-"); len(name) == 0 {
		return
	}
	ev.Rule.Name = p.names.Bytes(name)
	// Scan the words of the prefix for a verdict; the last one wins, so
	// that "[UFW LIMIT BLOCK]" is BLOCK.
	for len(b) > 0 {
		i := 0
		for i < len(b) && !isLetter(b[i]) {
			i++
		}
		j := i
		for j < len(b) && isLetter(b[j]) {
			j++
		}
		if w := b[i:j]; len(w) > 0 {
			if t := verdict(w); t != "" {
				ev.Type = t
				ev.Action = p.names.Bytes(w)
			} else if lex.EqualFold(w, "audit") {
				if ev.Action == "" {
					ev.Action = p.names.Bytes(w)
				}
			}
		}
		b = b[j:]
	}
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isKernelStamp(b []byte) bool {
	b = lex.Trim(b)
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// verdict maps a word of the prefix to event.type; "" when it is none.
// Words like "Dropped" and "REJECTED" count by their stem.
func verdict(w []byte) string {
	for _, s := range [...]string{"drop", "deny", "denied", "reject", "refuse", "block", "reset"} {
		if lex.HasPrefixFold(w, s) {
			return detect.TypeDenied
		}
	}
	for _, s := range [...]string{"accept", "allow", "permit", "pass"} {
		if lex.HasPrefixFold(w, s) {
			return detect.TypeAllowed
		}
	}
	return ""
}

var _ detect.Parser = (*Parser)(nil)

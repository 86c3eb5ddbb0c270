// Package winfirewall parses the Windows Defender Firewall packet log,
// pfirewall.log, a W3C extended log file:
//
//	#Version: 1.5
//	#Software: Microsoft Windows Firewall
//	#Time Format: Local
//	#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path
//	2026-11-27 10:00:00 DROP TCP 198.51.100.7 192.0.2.10 51514 3389 52 S 123456 0 64240 - - - RECEIVE
//
// Windows 11 and Server 2022 and later add a trailing "pid" field. The
// lines may also arrive forwarded over syslog by an agent (NXLog and the
// like), in which case the record's message is parsed the same way.
//
// The parser is stateful, one instance per stream: it reads the #Fields
// header and maps the columns of the lines that follow by name. Before any
// header it assumes the default field list above. A line may carry fewer
// fields than the header when only a trailing "pid" is missing, and more
// (which are ignored). Header and comment lines ("#...") return
// detect.ErrNotEvent, so `parse --per-line` writes null for them; Sniff
// claims them so that auto-detection hands them to this parser's instance.
//
// Mapping: ALLOW (and the Windows XP verbs OPEN, OPEN-INBOUND and CLOSE) is
// allowed, DROP is denied, and INFO-EVENTS-LOST (the log's note that events
// were dropped by the logger) is not an event. The date and time are the
// Windows host's local time and are read in the record's zone
// (rec.Location()), unless the header says "#Time Format: UTC". "size", the
// length of the logged packet, becomes source.bytes when it is above zero
// (allowed connections log 0). "path" (SEND, RECEIVE, FORWARD) says which
// way the packet went relative to the host; network.direction is left to
// the framework, which derives it from the member's internal ranges.
package winfirewall

import (
	"bytes"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "windows_firewall"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Microsoft Windows Defender Firewall packet log (pfirewall.log, W3C): ALLOW and DROP, TCP, UDP, ICMP, ICMPv6, IPv4 and IPv6",
		New:         func() detect.Parser { return New() },
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like a pfirewall.log line: a
// "YYYY-MM-DD hh:mm:ss " stamp followed by ALLOW, DROP or INFO-EVENTS-LOST,
// or one of the file's own header lines.
func Sniff(rec *detect.Record) bool {
	b := rec.Msg
	if len(b) > 0 && b[0] == '#' {
		return bytes.HasPrefix(b, []byte("#Fields: date time action")) ||
			bytes.HasPrefix(b, []byte("#Software: Microsoft Windows Firewall")) ||
			bytes.HasPrefix(b, []byte("#Version: 1.5")) ||
			bytes.HasPrefix(b, []byte("#Time Format: "))
	}
	if !isStamp(b) {
		return false
	}
	rest := b[20:]
	return bytes.HasPrefix(rest, []byte("DROP ")) || bytes.HasPrefix(rest, []byte("ALLOW ")) ||
		bytes.HasPrefix(rest, []byte("INFO-EVENTS-LOST"))
}

// isStamp reports whether b starts with "YYYY-MM-DD hh:mm:ss ".
func isStamp(b []byte) bool {
	if len(b) < 21 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || b[19] != ' ' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

// Column kinds.
const (
	colOther uint8 = iota
	colDate
	colTime
	colAction
	colProtocol
	colSrcIP
	colDstIP
	colSrcPort
	colDstPort
	colSize
	colPath
	colPID
)

// maxCols bounds the #Fields header; real ones have 17 or 18 fields.
const maxCols = 32

// defaultFields is the field list of every Windows version's header, used
// until the stream shows its own.
const defaultFields = "date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path"

// Parser parses pfirewall.log lines. It keeps the stream's #Fields layout,
// so each stream needs its own; not safe for concurrent use.
type Parser struct {
	cols [maxCols]uint8
	n    int  // columns in the layout
	need int  // fields a line must have: n less a trailing pid
	utc  bool // "#Time Format: UTC"
}

// New returns a parser that assumes the default field list until it reads
// a #Fields header.
func New() *Parser {
	p := new(Parser)
	if err := p.setFields([]byte(defaultFields)); err != nil {
		panic(err) // the constant is well formed
	}
	return p
}

// setFields takes a #Fields value apart into the column layout. The layout
// is left as it was when the header is unusable.
func (p *Parser) setFields(b []byte) error {
	var cols [maxCols]uint8
	n := 0
	var seen [colPID + 1]bool
	for len(b) > 0 {
		var f []byte
		f, b = nextField(b)
		if len(f) == 0 {
			continue
		}
		if n == maxCols {
			return fmt.Errorf("%s: #Fields header has more than %d fields", Name, maxCols)
		}
		k := colOther
		switch string(f) {
		case "date":
			k = colDate
		case "time":
			k = colTime
		case "action":
			k = colAction
		case "protocol":
			k = colProtocol
		case "src-ip":
			k = colSrcIP
		case "dst-ip":
			k = colDstIP
		case "src-port":
			k = colSrcPort
		case "dst-port":
			k = colDstPort
		case "size":
			k = colSize
		case "path":
			k = colPath
		case "pid":
			k = colPID
		}
		if k != colOther {
			if seen[k] {
				return fmt.Errorf("%s: #Fields header names %q twice", Name, f)
			}
			seen[k] = true
		}
		cols[n] = k
		n++
	}
	for _, k := range [...]uint8{colDate, colTime, colAction, colSrcIP, colDstIP} {
		if !seen[k] {
			return fmt.Errorf("%s: #Fields header lacks date, time, action, src-ip or dst-ip", Name)
		}
	}
	p.cols, p.n, p.need = cols, n, n
	if n > 0 && cols[n-1] == colPID {
		p.need = n - 1
	}
	return nil
}

// nextField returns the space-separated field at the start of b and the
// rest after its separator.
func nextField(b []byte) (field, rest []byte) {
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// header handles a "#..." line.
func (p *Parser) header(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte("#Fields:")):
		if err := p.setFields(lex.Trim(b[len("#Fields:"):])); err != nil {
			return err
		}
	case bytes.HasPrefix(b, []byte("#Time Format:")):
		p.utc = lex.EqualFold(lex.Trim(b[len("#Time Format:"):]), "UTC")
	}
	return detect.ErrNotEvent
}

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	b := rec.Msg
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return detect.ErrNotEvent
	}
	if b[0] == '#' {
		return p.header(b)
	}

	var date, clock, action, proto, src, dst, spt, dpt, size, path []byte
	nf := 0
	for i := 0; i < len(b) && nf < p.n; nf++ {
		// Fields are short: a byte loop beats IndexByte here.
		j := i
		for j < len(b) && b[j] != ' ' {
			j++
		}
		f := b[i:j]
		i = j + 1
		switch p.cols[nf] {
		case colDate:
			date = f
		case colTime:
			clock = f
		case colAction:
			action = f
		case colProtocol:
			proto = f
		case colSrcIP:
			src = f
		case colDstIP:
			dst = f
		case colSrcPort:
			spt = f
		case colDstPort:
			dpt = f
		case colSize:
			size = f
		case colPath:
			path = f
		}
	}
	if string(action) == "INFO-EVENTS-LOST" {
		return detect.ErrNotEvent
	}
	if nf < p.need {
		return fmt.Errorf("%s: line has %d fields, the #Fields header %d", Name, nf, p.need)
	}

	t, ok := p.stamp(date, clock, rec.Location())
	if !ok {
		return fmt.Errorf("%s: bad date or time %q %q", Name, date, clock)
	}
	ev.Timestamp = t

	switch string(action) {
	case "DROP":
		ev.Type, ev.Action = detect.TypeDenied, "DROP"
	case "ALLOW":
		ev.Type, ev.Action = detect.TypeAllowed, "ALLOW"
	case "OPEN":
		ev.Type, ev.Action = detect.TypeAllowed, "OPEN"
	case "OPEN-INBOUND":
		ev.Type, ev.Action = detect.TypeAllowed, "OPEN-INBOUND"
	case "CLOSE":
		ev.Type, ev.Action = detect.TypeAllowed, "CLOSE"
	default:
		return fmt.Errorf("%s: unknown action %q", Name, clip(action))
	}
	ev.Category = detect.CategoryNetwork
	ev.Observer.Vendor = "Microsoft"
	ev.Observer.Product = "Windows Firewall"

	var icmp bool
	switch {
	case lex.EqualFold(proto, "TCP") || string(proto) == "6":
		ev.Network.Transport = detect.TransportTCP
	case lex.EqualFold(proto, "UDP") || string(proto) == "17":
		ev.Network.Transport = detect.TransportUDP
	case lex.EqualFold(proto, "ICMP") || string(proto) == "1":
		ev.Network.Transport, icmp = detect.TransportICMP, true
	case lex.EqualFold(proto, "ICMPv6") || string(proto) == "58":
		ev.Network.Transport, icmp = detect.TransportIPv6ICMP, true
	}

	var okS, okD bool
	if ev.Source.IP, okS = lex.Addr(src); !okS {
		return fmt.Errorf("%s: bad source address %q", Name, clip(src))
	}
	if ev.Destination.IP, okD = lex.Addr(dst); !okD {
		return fmt.Errorf("%s: bad destination address %q", Name, clip(dst))
	}
	if !icmp {
		ev.Source.Port, _ = lex.Port(spt)
		ev.Destination.Port, _ = lex.Port(dpt)
	}
	if n, ok := lex.Uint(size); ok && n > 0 {
		ev.Source.Bytes = detect.SetCount(n)
	}
	_ = path // the packet's way relative to the host; see the package comment
	return nil
}

// stamp reads the date and time fields, "YYYY-MM-DD" and "hh:mm:ss".
func (p *Parser) stamp(date, clock []byte, loc *time.Location) (time.Time, bool) {
	if len(date) != 10 || len(clock) != 8 {
		return time.Time{}, false
	}
	var buf [19]byte
	copy(buf[:10], date)
	buf[10] = ' '
	copy(buf[11:], clock)
	if p.utc {
		loc = time.UTC
	}
	t, n, ok := syslog.ParseISO(buf[:], true, loc)
	if !ok || n != len(buf) {
		return time.Time{}, false
	}
	return t, true
}

// clip shortens a field quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

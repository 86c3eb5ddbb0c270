// Package exchange parses Microsoft Exchange Server message tracking logs
// (MSGTRK*.LOG in TransportRoles\Logs\MessageTracking), CSV files with a
// W3C-like header:
//
//	#Software: Microsoft Exchange Server
//	#Version: 15.02.1118.007
//	#Log-type: Message Tracking Log
//	#Date: 2026-11-27T00:00:00.000Z
//	#Fields: date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version
//	2026-11-27T10:00:00.123Z,,EXCH01,,EXCH01,Content Filter Agent,,AGENT,FAIL,...
//
// The lines may also arrive over syslog from a forwarding agent; the
// record's message is then parsed the same way.
//
// The parser is stateful, one instance per stream: it reads the #Fields
// header and maps the columns of the lines that follow by name (Exchange
// 2013 writes 27 fields, 2016 and 2019 add three). Before any header it
// assumes the Exchange 2016/2019 field list above. Header lines ("#...")
// return detect.ErrNotEvent, so `parse --per-line` writes null for them;
// Sniff claims them (#Software: Microsoft Exchange Server, #Log-type:
// Message Tracking Log, the message tracking #Fields, #Version: NN.…,
// #Date: with an ISO stamp) so that auto-detection hands them to this
// parser's instance. Quoted CSV fields are read as CSV.
//
// # Mapping
//
// A message tracking log records every hop of every message; mail volume
// is not a threat signal, so RECEIVE, SEND, DELIVER, SUBMIT, DEFER, DSN
// (the bounce the FAIL line caused), EXPAND, RESOLVE, TRANSFER, the HA*
// shadow-redundancy events and the rest give ErrNotEvent. The events are:
//
//   - FAIL and DROP with source AGENT: a transport agent (Content Filter
//     Agent, Malware Agent, Transport Rule Agent, Sender Filter Agent, ...)
//     rejected or silently deleted the message: event.type denied,
//     rule.name the agent's name (source-context). The Malware Agent's
//     events are event.category malware, the others email.
//   - FAIL of any other source for a message whose directionality is
//     Incoming (or, when the log has no directionality, that carries a
//     client address): delivery of mail received from outside failed
//     (unknown recipient, rejected by routing): denied, rule.name the SMTP
//     reply and enhanced status code of the first recipient
//     ("550 5.1.1"), rule.id the Exchange component code when there is one
//     ("RESOLVER.ADR.RecipNotFound"). Failures of our own outgoing mail
//     give ErrNotEvent.
//   - AGENTINFO whose custom-data carries an anti-malware verdict (S:AMA=
//     with a malware name): category malware, rule.name the malware name,
//     event.action the agent's action code as written ("b"), type denied
//     when it blocked, rejected, deleted or replaced the message
//     (b, ni, ne, s, r) and info otherwise; or an anti-spam verdict (S:SFA=
//     with SFV=SPM, BLK or SKS): category email, event.action the SFV value
//     as written, denied when the message was deleted, quarantined or the
//     sender blocked (DI=SD, SQ, SB), else info. Other AGENTINFO lines
//     (transport rules, clean scans) give ErrNotEvent.
//   - BADMAIL and POISONMESSAGE: a message that could not be processed,
//     or that repeatedly crashed the transport service: email, info.
//
// event.code is the event-id and, unless said otherwise above,
// event.action too. source.ip is original-client-ip when present (the
// client that first handed the message to the organisation), else
// client-ip; source.bytes is total-bytes. observer is Microsoft /
// Exchange Server, with server-hostname as observer.hostname when it is a
// host name. @timestamp is date-time (UTC).
//
// Privacy: addresses (recipient-address, sender-address, return-path,
// related-recipient-address), message-subject, message-id, reference,
// client-hostname (the client's HELO or name), message-info and the free
// text of recipient-status are never copied; from custom-data only the
// verdict codes and the malware name are read, never the file= name.
package exchange

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "exchange"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Microsoft Exchange Server message tracking log (MSGTRK, CSV): agent FAIL/DROP, inbound FAIL, anti-malware and anti-spam AGENTINFO, BADMAIL, POISONMESSAGE",
		New:         func() detect.Parser { return New() },
		Sniff:       Sniff,
	}
}

var bom = []byte("\xef\xbb\xbf")

// line returns the text to parse: the raw line when it is a header or
// starts with the date-time field, else the syslog message.
func line(rec *detect.Record) []byte {
	b := bytes.TrimPrefix(rec.Raw, bom)
	if len(b) > 0 && (b[0] == '#' || stampComma(b)) {
		return b
	}
	return bytes.TrimPrefix(rec.Msg, bom)
}

// stampComma reports whether b starts with the date-time field:
// "YYYY-MM-DDThh:mm:ss[.fff]Z,".
func stampComma(b []byte) bool {
	if !isStamp(b) {
		return false
	}
	i := 19
	if b[i] == '.' {
		i++
		for i < len(b) && i < 30 && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i+1 < len(b) && b[i] == 'Z' && b[i+1] == ','
}

// isStamp reports whether b starts with "YYYY-MM-DDThh:mm:ss".
func isStamp(b []byte) bool {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return false
	}
	for _, i := range [...]int{0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18} {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

// Sniff reports whether rec looks like a message tracking log line: one
// of its header lines, or a line that starts with an ISO date-time
// followed by a comma and has the 27 or more fields of the format.
func Sniff(rec *detect.Record) bool {
	b := line(rec)
	if len(b) == 0 {
		return false
	}
	if b[0] == '#' {
		switch {
		case bytes.HasPrefix(b, []byte("#Software: Microsoft Exchange Server")),
			bytes.HasPrefix(b, []byte("#Log-type: Message Tracking Log")),
			bytes.HasPrefix(b, []byte("#Fields: date-time,client-ip,client-hostname,")):
			return true
		case bytes.HasPrefix(b, []byte("#Version: ")):
			v := b[len("#Version: "):]
			return len(v) > 3 && v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9' && v[2] == '.'
		case bytes.HasPrefix(b, []byte("#Date: ")):
			return isStamp(b[len("#Date: "):])
		}
		return false
	}
	return stampComma(b) && bytes.Count(b, []byte(",")) >= 26
}

// Column kinds.
const (
	colOther uint8 = iota
	colDateTime
	colClientIP
	colServerHostname
	colSourceContext
	colSource
	colEventID
	colRecipientStatus
	colTotalBytes
	colDirectionality
	colOriginalClientIP
	colCustomData
	numCols
)

var fieldNames = [numCols]string{"", "date-time", "client-ip", "server-hostname", "source-context",
	"source", "event-id", "recipient-status", "total-bytes", "directionality", "original-client-ip", "custom-data"}

// maxCols bounds the #Fields header; real ones have 27 to 30 fields.
const maxCols = 64

// defaultFields is the field list of Exchange 2016 and 2019, used until the
// stream shows its own.
const defaultFields = "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,connector-id,source,event-id,internal-message-id,message-id,network-message-id,recipient-address,recipient-status,total-bytes,recipient-count,related-recipient-address,reference,message-subject,sender-address,return-path,message-info,directionality,tenant-id,original-client-ip,original-server-ip,custom-data,transport-traffic-type,log-id,schema-version"

// Parser parses message tracking lines. It keeps the stream's #Fields
// layout, so each stream needs its own; not safe for concurrent use.
type Parser struct {
	cols   [maxCols]uint8
	n      int  // columns in the layout
	last   int  // index of the last column the parser reads
	hasDir bool // the layout has directionality

	names lex.Interner // agent names, status codes, malware names
	hosts lex.Interner // server host names
}

var _ detect.Parser = (*Parser)(nil)

// New returns a parser that assumes the Exchange 2016/2019 field list
// until it reads a #Fields header.
func New() *Parser {
	p := new(Parser)
	if err := p.setFields([]byte(defaultFields)); err != nil {
		panic(err) // the constant is well formed
	}
	return p
}

// setFields takes a #Fields value apart into the column layout. The
// layout is left as it was when the header is unusable.
func (p *Parser) setFields(b []byte) error {
	var cols [maxCols]uint8
	var seen [numCols]bool
	n, last := 0, 0
	c := lex.NewCSV(b, ',')
	for {
		f, ok := c.Next()
		if !ok {
			break
		}
		f = lex.Trim(f)
		if n == maxCols {
			return fmt.Errorf("%s: #Fields header has more than %d fields", Name, maxCols)
		}
		k := colOther
		switch string(f) {
		case "date-time":
			k = colDateTime
		case "client-ip":
			k = colClientIP
		case "server-hostname":
			k = colServerHostname
		case "source-context":
			k = colSourceContext
		case "source":
			k = colSource
		case "event-id":
			k = colEventID
		case "recipient-status":
			k = colRecipientStatus
		case "total-bytes":
			k = colTotalBytes
		case "directionality":
			k = colDirectionality
		case "original-client-ip":
			k = colOriginalClientIP
		case "custom-data":
			k = colCustomData
		}
		if k != colOther {
			if seen[k] {
				return fmt.Errorf("%s: #Fields header names %s twice", Name, fieldNames[k])
			}
			seen[k] = true
			last = n
		}
		cols[n] = k
		n++
	}
	if !seen[colDateTime] || !seen[colEventID] {
		return fmt.Errorf("%s: #Fields header lacks date-time or event-id: not a message tracking log", Name)
	}
	p.cols, p.n, p.last, p.hasDir = cols, n, last, seen[colDirectionality]
	return nil
}

// header handles a "#..." line.
func (p *Parser) header(b []byte) error {
	if r, ok := bytes.CutPrefix(b, []byte("#Fields:")); ok {
		if err := p.setFields(lex.Trim(r)); err != nil {
			return err
		}
	}
	return detect.ErrNotEvent
}

// Event ids of interest.
const (
	evNone = iota
	evFail
	evDrop
	evAgentInfo
	evBadMail
	evPoison
)

func eventKind(b []byte) (int, string) {
	switch string(b) {
	case "FAIL":
		return evFail, "FAIL"
	case "DROP":
		return evDrop, "DROP"
	case "AGENTINFO":
		return evAgentInfo, "AGENTINFO"
	case "BADMAIL":
		return evBadMail, "BADMAIL"
	case "POISONMESSAGE":
		return evPoison, "POISONMESSAGE"
	}
	return evNone, ""
}

var (
	errBadStamp = errors.New("exchange: bad date-time")
	errBadEvent = errors.New("exchange: bad event-id")
	errBadAddr  = errors.New("exchange: bad client-ip or original-client-ip")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	b := line(rec)
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return detect.ErrNotEvent
	}
	if b[0] == '#' {
		return p.header(b)
	}

	var dateTime, clientIP, serverHost, srcContext, source, status, totalBytes, dir, origIP, custom []byte
	kind := evNone
	eventID := ""
	nf := 0
	c := lex.NewCSV(b, ',')
	for nf < p.n {
		f, ok := c.Next()
		if !ok {
			break
		}
		switch p.cols[nf] {
		case colDateTime:
			dateTime = f
		case colClientIP:
			clientIP = f
		case colServerHostname:
			serverHost = f
		case colSourceContext:
			srcContext = f
		case colSource:
			source = f
		case colEventID:
			kind, eventID = eventKind(f)
			if kind == evNone {
				if len(f) == 0 || len(f) > 32 {
					return errBadEvent
				}
				return detect.ErrNotEvent // RECEIVE, SEND, DELIVER, ...
			}
		case colRecipientStatus:
			status = f
		case colTotalBytes:
			totalBytes = f
		case colDirectionality:
			dir = f
		case colOriginalClientIP:
			origIP = f
		case colCustomData:
			custom = f
		}
		nf++
		if nf > p.last {
			break
		}
	}
	if nf <= p.last {
		return fmt.Errorf("%s: line has %d fields, the #Fields header %d", Name, nf, p.n)
	}

	t, n, ok := syslog.ParseISO(dateTime, false, nil)
	if !ok || n != len(dateTime) {
		return errBadStamp
	}

	src, err := addr(origIP)
	if err != nil {
		return err
	}
	if !src.IsValid() {
		if src, err = addr(clientIP); err != nil {
			return err
		}
	}

	agent := string(source) == "AGENT"
	switch kind {
	case evFail, evDrop:
		if agent {
			name := agentName(srcContext)
			ev.Category = detect.CategoryEmail
			if name != nil && bytes.Contains(name, []byte("Malware")) {
				ev.Category = detect.CategoryMalware
			}
			ev.Type = detect.TypeDenied
			ev.Action = eventID
			if name != nil {
				ev.Rule.Name = p.names.Bytes(name)
			}
			break
		}
		if kind == evDrop {
			return detect.ErrNotEvent // moderation and the like
		}
		if p.hasDir {
			if string(dir) != "Incoming" {
				return detect.ErrNotEvent // our own outgoing mail
			}
		} else if !src.IsValid() {
			return detect.ErrNotEvent
		}
		ev.Category = detect.CategoryEmail
		ev.Type = detect.TypeDenied
		ev.Action = eventID
		code, comp := smtpStatus(status)
		if code != nil {
			ev.Rule.Name = p.names.Bytes(code)
		}
		if comp != nil {
			ev.Rule.ID = p.names.Bytes(comp)
		}
	case evAgentInfo:
		if !p.agentInfo(ev, custom) {
			return detect.ErrNotEvent
		}
	case evBadMail, evPoison:
		ev.Category = detect.CategoryEmail
		ev.Type = detect.TypeInfo
		ev.Action = eventID
	}

	ev.Timestamp = t
	ev.Code = eventID
	ev.Observer.Vendor = "Microsoft"
	ev.Observer.Product = "Exchange Server"
	if hostName(serverHost) {
		ev.Observer.Hostname = p.hosts.Bytes(serverHost)
	}
	if src.IsValid() {
		ev.Source.IP = src
		ev.Network.Transport = detect.TransportTCP
		ev.Network.Protocol = "smtp"
	}
	if n, ok := lex.Uint(totalBytes); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	return nil
}

// addr parses an address column, which may be empty.
func addr(b []byte) (netip.Addr, error) {
	if len(b) == 0 {
		return netip.Addr{}, nil
	}
	a, ok := lex.Addr(b)
	if !ok {
		return netip.Addr{}, errBadAddr
	}
	return a, nil
}

// agentName returns source-context when it is a transport agent's name
// ("Content Filter Agent", "Malware Agent"), or nil.
func agentName(b []byte) []byte {
	b = lex.Trim(b)
	if len(b) == 0 || len(b) > 64 {
		return nil
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '-' || c == '_' || c == '.') {
			return nil
		}
	}
	return b
}

// hostName reports whether b is a host name.
func hostName(b []byte) bool {
	if len(b) == 0 || len(b) > 255 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// smtpStatus returns the reply and enhanced status code of the first
// recipient status ("550 5.1.1") and the Exchange component code that
// follows it ("RESOLVER.ADR.RecipNotFound"), each nil when absent.
func smtpStatus(b []byte) (code, comp []byte) {
	if i := bytes.IndexByte(b, ';'); i >= 0 {
		b = b[:i]
	}
	if len(b) < 3 || !digits(b[:3]) || (len(b) > 3 && b[3] != ' ') {
		return nil, nil
	}
	code = b[:3]
	r := b[3:]
	if len(r) > 1 {
		r = r[1:]
		sp := bytes.IndexByte(r, ' ')
		tok := r
		if sp >= 0 {
			tok = r[:sp]
		}
		if enhanced(tok) {
			code = b[:4+len(tok)]
			if sp >= 0 {
				r = r[sp+1:]
				if sp := bytes.IndexByte(r, ' '); sp >= 0 {
					r = r[:sp]
				}
				if component(r) {
					comp = r
				}
			}
		}
	}
	return code, comp
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// enhanced reports whether b is an enhanced status code, "5.7.1".
func enhanced(b []byte) bool {
	parts := 0
	for len(b) > 0 && parts < 4 {
		i := bytes.IndexByte(b, '.')
		part := b
		if i >= 0 {
			part, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(part) == 0 || len(part) > 3 || !digits(part) {
			return false
		}
		parts++
	}
	return parts == 3 && len(b) == 0
}

// component reports whether b is an Exchange status component code:
// upper-case words and a name, dotted ("RESOLVER.ADR.RecipNotFound",
// "QUEUE.Expired").
func component(b []byte) bool {
	if len(b) < 3 || len(b) > 64 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	dot := false
	for _, c := range b {
		switch {
		case c == '.':
			dot = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return dot && b[len(b)-1] != '.'
}

// agentInfo reads the anti-malware (S:AMA=) and anti-spam (S:SFA=)
// verdicts of an AGENTINFO line's custom-data and reports whether there
// was one. Entries are separated by ';', their items by '|'.
func (p *Parser) agentInfo(ev *detect.Event, b []byte) bool {
	var amaAction, malware, sfv, di []byte
	for len(b) > 0 {
		var e []byte
		if i := bytes.IndexByte(b, ';'); i >= 0 {
			e, b = b[:i], b[i+1:]
		} else {
			e, b = b, nil
		}
		switch {
		case bytes.HasPrefix(e, []byte("S:AMA=SUM|")):
			if v := item(e, "action="); v != nil {
				amaAction = v
			}
		case bytes.HasPrefix(e, []byte("S:AMA=EV|")):
			if malware == nil {
				if v := item(e, "name="); len(v) > 0 {
					malware = v
				}
			}
		case bytes.HasPrefix(e, []byte("S:SFA=")):
			if v := item(e, "SFV="); v != nil {
				sfv = v
			}
			if v := item(e, "DI="); v != nil {
				di = v
			}
		}
	}
	if malware != nil {
		ev.Category = detect.CategoryMalware
		ev.Type = detect.TypeInfo
		switch string(amaAction) {
		case "b", "ni", "ne", "s", "r":
			ev.Type = detect.TypeDenied
		}
		if code(amaAction) {
			ev.Action = p.names.Bytes(amaAction)
		}
		if malwareName(malware) {
			ev.Rule.Name = p.names.Bytes(malware)
		}
		return true
	}
	switch string(sfv) {
	case "SPM", "BLK", "SKS":
	default:
		return false
	}
	ev.Category = detect.CategoryEmail
	ev.Type = detect.TypeInfo
	switch string(di) {
	case "SD", "SQ", "SB":
		ev.Type = detect.TypeDenied
	}
	ev.Action = p.names.Bytes(sfv)
	return true
}

// item returns the value of the '|'-separated item key=value in entry e,
// or nil.
func item(e []byte, key string) []byte {
	for len(e) > 0 {
		var it []byte
		if i := bytes.IndexByte(e, '|'); i >= 0 {
			it, e = e[:i], e[i+1:]
		} else {
			it, e = e, nil
		}
		if v, ok := bytes.CutPrefix(it, []byte(key)); ok {
			return v
		}
	}
	return nil
}

// code reports whether b is a short verdict code ("b", "ni").
func code(b []byte) bool {
	if len(b) == 0 || len(b) > 8 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// malwareName reports whether b looks like a malware name
// ("DOS/EICAR_Test_File", "Virus:Win32/Foo.A!ml", "Test_File").
func malwareName(b []byte) bool {
	if len(b) == 0 || len(b) > 128 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '.' || c == '-' || c == '_' || c == '/' || c == ':' || c == '!' || c == '@' || c == '#' || c == '+' || c == '~') {
			return false
		}
	}
	return true
}

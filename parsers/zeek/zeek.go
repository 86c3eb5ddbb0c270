// Package zeek parses the conn.log and notice.log of the Zeek (formerly
// Bro) network security monitor, in both of the forms Zeek writes them:
// tab-separated values with a header,
//
//	#separator \x09
//	#set_separator	,
//	#empty_field	(empty)
//	#unset_field	-
//	#path	conn
//	#open	2026-11-27-10-00-00
//	#fields	ts	uid	id.orig_h	id.orig_p	id.resp_h	id.resp_p	proto	service	duration	...
//	#types	time	string	addr	port	addr	port	enum	string	interval	...
//	1764237600.123456	CHhAvVGS1DHFjwGM9	198.51.100.7	51514	192.0.2.10	22	tcp	ssh	1.2	...
//	#close	2026-11-27-11-00-00
//
// and JSON, one object per line, with epoch or ISO 8601 stamps
// (LogAscii::json_timestamps), and with "_path" when a shipper adds it:
//
//	{"ts":1764237600.123456,"uid":"C...","id.orig_h":"198.51.100.7","id.orig_p":51514,...}
//	{"_path":"conn","ts":"2026-11-27T10:00:00.123456Z",...}
//
// Either may arrive over syslog, under the tag "zeek" or "bro".
//
// # State
//
// For TSV the parser is stateful, one instance per stream: it reads the
// header's #separator, #set_separator, #unset_field, #empty_field, #path
// and #fields lines and maps the columns of the lines that follow by name,
// so extra or reordered columns are fine. Header lines return
// detect.ErrNotEvent (`parse --per-line` writes null for them), and Sniff
// claims them so that auto-detection hands them to this parser's instance.
// Zeek's headerless "tsv" mode, whose one header row is the bare field
// names ("ts\tuid\t..."), is read as a #fields line. A "#separator" line
// starts a new file and resets the state. Before any #fields header, a data
// line is read in the default conn.log field order when it looks like one
// (tab-separated, tcp/udp/icmp in the 7th column, a conn_state in the
// 12th: a collector that joined a stream mid-file); any other line is an
// error that names the missing header. Which log a TSV file is comes from
// #path, or, without one, from its fields (conn_state or note); for JSON
// from "_path", or from the members (conn_state, history or orig_pkts for
// conn, note for notice). Every other log (dns, http, ssl, files, weird,
// x509, ...) is detect.ErrNotEvent.
//
// # conn.log
//
// Category network. event.action is conn_state as written, and event.type
// reads it as a verdict seen from the wire:
//
//	S0, SH, RSTOS0  the originator's SYN was never answered   denied
//	REJ             the connection attempt was refused        denied
//	S1 S2 S3 SF RSTO RSTR OTH   the connection was established,
//	                or traffic flowed                         allowed
//	RSTRH, SHR      only the responder was seen               (none)
//
// S0 and REJ are what a scan of filtered and closed ports leaves, and what
// a firewall's drop and reject look like from a sensor behind it; the same
// holds for UDP and ICMP, where S0 means no reply was seen (so one-way UDP
// such as syslog or NetFlow export is denied as well: count such traffic by
// destination port, not by flow).
//
// orig_bytes and resp_bytes (payload bytes) become source.bytes and
// destination.bytes, orig_pkts plus resp_pkts network.packets, the first
// entry of service network.protocol, proto network.transport. Zeek writes
// "icmp" for ICMPv6 too, which becomes ipv6-icmp for IPv6 addresses, and
// for ICMP the id.orig_p and id.resp_p columns hold the ICMP type and code,
// which are never given as ports.
//
// # notice.log
//
// Category intrusion_detection; rule.name is the note ("Scan::Port_Scan",
// "SSH::Password_Guessing"). The addresses are id.orig_h and id.resp_h
// when the notice is about a connection, otherwise src and dst; the
// destination port is id.resp_p, or p. event.type is denied when the
// actions include Notice::ACTION_DROP (or the old "dropped" column is T),
// and info otherwise; event.action is that drop action, "dropped" when
// only that column says so, or else the first action. msg, sub, file_desc,
// peer_descr and email_dest are free text and are never read.
//
// observer.vendor and observer.product are both "Zeek". The TSV form is
// read at over a million lines a second; JSON is walked with lex.JSON.
package zeek

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "zeek"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Zeek (Bro) conn.log and notice.log, TSV with its header or JSON (epoch or ISO stamps), from files or syslog",
		New:         func() detect.Parser { return New() },
		Tags:        []string{"zeek", "bro"},
		Sniff:       Sniff,
	}
}

// sniffWindow is how far into a JSON line Sniff looks for Zeek's keys.
const sniffWindow = 256

// headers are the TSV header lines Zeek writes, after their '#'.
var headers = [...]string{"separator", "set_separator", "empty_field", "unset_field", "path", "open", "fields", "types", "close"}

// Sniff reports whether rec looks like a Zeek log line: a TSV header or
// data line, or a JSON object with Zeek's keys.
func Sniff(rec *detect.Record) bool {
	m := rec.Msg
	if len(m) < 6 {
		return false
	}
	switch c := m[0]; {
	case c == '#':
		return headerName(m) >= 0
	case c == '{':
		if len(m) > sniffWindow {
			m = m[:sniffWindow]
		}
		if !bytes.Contains(m, []byte(`"ts":`)) {
			return false
		}
		return bytes.Contains(m, []byte(`"uid":`)) || bytes.Contains(m, []byte(`"id.orig_h":`)) ||
			bytes.Contains(m, []byte(`"_path":`)) || bytes.Contains(m, []byte(`"note":`))
	case c >= '0' && c <= '9':
		n, ok := epochLen(m)
		return ok && n < len(m) && (m[n] == '\t' || m[n] == ',')
	case c == 't':
		return bytes.HasPrefix(m, []byte("ts\tuid\t"))
	}
	return false
}

// headerName returns the index in headers of the "#name" that starts b,
// followed by a separator, or -1.
func headerName(b []byte) int {
	for i, h := range headers {
		if len(b) > len(h)+1 && string(b[1:1+len(h)]) == h {
			if c := b[1+len(h)]; !isWordByte(c) && c != ':' {
				return i
			}
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// epochLen returns the length of an epoch stamp at the start of b:
// at least nine digits, optionally a fraction.
func epochLen(b []byte) (int, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i < 9 || i > 12 {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := i + 1
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	return i, true
}

// epoch parses "seconds[.fraction]" exactly.
func epoch(b []byte) (time.Time, bool) {
	n, ok := epochLen(b)
	if !ok || n != len(b) {
		return time.Time{}, false
	}
	i := 0
	var sec int64
	for i < len(b) && b[i] != '.' {
		sec = sec*10 + int64(b[i]-'0')
		i++
	}
	var ns int64
	if i < len(b) {
		scale := int64(100000000)
		for _, c := range b[i+1:] {
			ns += int64(c-'0') * scale
			scale /= 10
		}
	}
	return time.Unix(sec, ns).UTC(), true
}

// Log kinds.
const (
	logUnknown uint8 = iota // not known yet: infer from the fields
	logConn
	logNotice
	logOther
)

func pathKind(b []byte) uint8 {
	switch string(b) {
	case "conn":
		return logConn
	case "notice", "notice_alarm":
		return logNotice
	case "":
		return logUnknown
	}
	return logOther
}

// Column kinds.
const (
	colOther uint8 = iota
	colTS
	colOrigH
	colOrigP
	colRespH
	colRespP
	colProto
	colService
	colOrigBytes
	colRespBytes
	colConnState
	colOrigPkts
	colRespPkts
	colNote
	colSrc
	colDst
	colP
	colActions
	colDropped
	numCols
)

func colKind(name []byte) uint8 {
	switch string(name) {
	case "ts":
		return colTS
	case "id.orig_h":
		return colOrigH
	case "id.orig_p":
		return colOrigP
	case "id.resp_h":
		return colRespH
	case "id.resp_p":
		return colRespP
	case "proto":
		return colProto
	case "service":
		return colService
	case "orig_bytes":
		return colOrigBytes
	case "resp_bytes":
		return colRespBytes
	case "conn_state":
		return colConnState
	case "orig_pkts":
		return colOrigPkts
	case "resp_pkts":
		return colRespPkts
	case "note":
		return colNote
	case "src":
		return colSrc
	case "dst":
		return colDst
	case "p":
		return colP
	case "actions":
		return colActions
	case "dropped":
		return colDropped
	}
	return colOther
}

// maxCols is how many columns of a #fields header are mapped; columns
// after it are read as other columns.
const maxCols = 128

// defaultConn is conn.log's field list since Zeek 2.x, used until the
// stream shows a header.
var defaultConn = []byte("ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents")

// Parser parses Zeek log lines. It keeps the TSV header of its stream, so
// each stream needs its own; not safe for concurrent use.
type Parser struct {
	sep, setSep  byte
	unset, empty [16]byte
	nUnset       int
	nEmpty       int

	path     uint8 // from #path; logUnknown when there was none
	kind     uint8 // the log the columns describe
	cols     [maxCols]uint8
	n        int  // columns in the layout
	assumed  bool // no #fields header yet: the default conn layout
	have     [numCols]bool
	names    lex.Interner
	services lex.Interner
	buf      []byte
}

// New returns a parser that expects a header, and reads conn.log lines in
// the default field order until it has one.
func New() *Parser {
	p := new(Parser)
	p.reset()
	return p
}

// reset returns the parser to its state before any header.
func (p *Parser) reset() {
	p.sep, p.setSep = '\t', ','
	p.nUnset = copy(p.unset[:], "-")
	p.nEmpty = copy(p.empty[:], "(empty)")
	p.path = logUnknown
	p.setFields(defaultConn, '\t')
	p.assumed = true
}

// setFields maps a field list, separated by sep, to the column layout.
func (p *Parser) setFields(b []byte, sep byte) {
	p.n = 0
	p.have = [numCols]bool{}
	p.assumed = false
	for len(b) > 0 {
		f := b
		if i := bytes.IndexByte(b, sep); i >= 0 {
			f, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		k := colKind(lex.Trim(f))
		if p.n < maxCols {
			if p.have[k] {
				k = colOther // a name given twice: the first one counts
			}
			p.cols[p.n] = k
			p.have[k] = true
		}
		p.n++
	}
	p.kind = p.path
	if p.kind == logUnknown {
		switch {
		case p.have[colConnState]:
			p.kind = logConn
		case p.have[colNote]:
			p.kind = logNotice
		default:
			p.kind = logOther
		}
	}
}

func (p *Parser) isUnset(b []byte) bool {
	return len(b) == 0 || string(b) == string(p.unset[:p.nUnset]) || string(b) == string(p.empty[:p.nEmpty])
}

// header handles a "#..." line.
func (p *Parser) header(b []byte) error {
	h := headerName(b)
	if h < 0 {
		return detect.ErrNotEvent // a comment
	}
	name := headers[h]
	val := b[1+len(name):]
	if name == "separator" {
		// "#separator \x09": the value is written escaped, after a space.
		v := lex.Trim(val)
		c, ok := unescapeByte(v)
		if !ok {
			return fmt.Errorf("%s: #separator must be one character", Name)
		}
		p.reset()
		p.sep = c
		return detect.ErrNotEvent
	}
	if len(val) > 0 && (val[0] == p.sep || val[0] == '\t' || val[0] == ' ') {
		val = val[1:]
	}
	switch name {
	case "set_separator":
		if c, ok := unescapeByte(val); ok {
			p.setSep = c
		}
	case "unset_field":
		if len(val) <= len(p.unset) {
			p.nUnset = copy(p.unset[:], val)
		}
	case "empty_field":
		if len(val) <= len(p.empty) {
			p.nEmpty = copy(p.empty[:], val)
		}
	case "path":
		p.path = pathKind(val)
		if !p.assumed {
			p.kind = p.path
			if p.kind == logUnknown {
				p.kind = logOther
			}
		}
	case "fields":
		p.setFields(val, p.sep)
	}
	return detect.ErrNotEvent
}

// unescapeByte reads one character, written as itself or as "\xHH".
func unescapeByte(v []byte) (byte, bool) {
	if len(v) == 1 {
		return v[0], true
	}
	if len(v) == 4 && v[0] == '\\' && v[1] == 'x' {
		hi, lo := unhex(v[2]), unhex(v[3])
		if hi >= 0 && lo >= 0 {
			return byte(hi<<4 | lo), true
		}
	}
	return 0, false
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// record holds the raw values of the fields the parser reads, slices of
// the input, in either form.
type record struct {
	ts                         []byte
	tsISO                      bool
	origH, origP, respH, respP []byte
	proto, service             []byte
	origBytes, respBytes       []byte
	connState                  []byte
	origPkts, respPkts         []byte
	note, src, dst, p          []byte
	actions                    []byte
	actionsJSON                bool
	dropped                    bool
	history                    bool
}

var (
	errNoHeader = errors.New("zeek: no #fields header before this line, and it is not a conn.log line in the default field order")
	errNoTime   = errors.New("zeek: no ts")
	errBadTime  = errors.New("zeek: bad ts")
	errTrailing = errors.New("zeek: data after the JSON object")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	b := rec.Msg
	for len(b) > 0 && (b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return detect.ErrNotEvent
	}
	switch b[0] {
	case '#':
		return p.header(b)
	case '{':
		return p.json(b, ev)
	case 't':
		if bytes.HasPrefix(b, []byte("ts\t")) {
			// The "tsv" mode's header row: the bare field names.
			p.path = logUnknown
			p.setFields(b, '\t')
			p.sep = '\t'
			return detect.ErrNotEvent
		}
	}
	if (b[0] < '0' || b[0] > '9') && p.assumed {
		return detect.ErrNotEvent
	}
	return p.tsv(b, ev)
}

// tsv parses a data line by the stream's column layout.
func (p *Parser) tsv(b []byte, ev *detect.Event) error {
	if p.kind == logOther {
		return detect.ErrNotEvent
	}
	var r record
	nf := 0
	sep := p.sep
	for i := 0; i <= len(b); nf++ {
		j := i
		for j < len(b) && b[j] != sep {
			j++
		}
		f := b[i:j]
		i = j + 1
		if nf >= maxCols || nf >= p.n {
			continue
		}
		switch p.cols[nf] {
		case colTS:
			r.ts = f
		case colOrigH:
			r.origH = f
		case colOrigP:
			r.origP = f
		case colRespH:
			r.respH = f
		case colRespP:
			r.respP = f
		case colProto:
			r.proto = f
		case colService:
			r.service = f
		case colOrigBytes:
			r.origBytes = f
		case colRespBytes:
			r.respBytes = f
		case colConnState:
			r.connState = f
		case colOrigPkts:
			r.origPkts = f
		case colRespPkts:
			r.respPkts = f
		case colNote:
			r.note = f
		case colSrc:
			r.src = f
		case colDst:
			r.dst = f
		case colP:
			r.p = f
		case colActions:
			r.actions = f
		case colDropped:
			r.dropped = string(f) == "T"
		}
	}
	if p.assumed {
		// No header: only a line that looks like a default conn.log line.
		switch p.path {
		case logOther:
			return detect.ErrNotEvent
		case logNotice:
			return errNoHeader
		}
		if sep != '\t' || nf < p.n-1 || nf > p.n+4 || transport(r.proto) == "" || !knownState(r.connState) {
			return errNoHeader
		}
	} else if nf != p.n {
		return fmt.Errorf("%s: line has %d fields, the #fields header %d", Name, nf, p.n)
	}
	// Unset and empty values read as absent.
	for _, f := range [...]*[]byte{&r.origH, &r.origP, &r.respH, &r.respP, &r.proto, &r.service,
		&r.origBytes, &r.respBytes, &r.connState, &r.origPkts, &r.respPkts, &r.note, &r.src, &r.dst, &r.p, &r.actions} {
		if len(*f) > 0 && p.isUnset(*f) {
			*f = nil
		}
	}
	if p.kind == logConn {
		return p.conn(&r, ev)
	}
	return p.notice(&r, ev)
}

// knownState reports whether b is one of Zeek's conn_state values.
func knownState(b []byte) bool {
	_, ok := connVerdict(b)
	return ok
}

// connVerdict maps conn_state to event.type; "" for a state without one.
func connVerdict(b []byte) (string, bool) {
	switch string(b) {
	case "S0", "SH", "RSTOS0", "REJ":
		return detect.TypeDenied, true
	case "S1", "S2", "S3", "SF", "RSTO", "RSTR", "OTH":
		return detect.TypeAllowed, true
	case "RSTRH", "SHR":
		return "", true
	}
	return "", false
}

// stateWord returns conn_state as a string without allocating for the
// states Zeek writes.
func (p *Parser) stateWord(b []byte) string {
	switch string(b) {
	case "S0":
		return "S0"
	case "S1":
		return "S1"
	case "S2":
		return "S2"
	case "S3":
		return "S3"
	case "SF":
		return "SF"
	case "REJ":
		return "REJ"
	case "RSTO":
		return "RSTO"
	case "RSTR":
		return "RSTR"
	case "RSTOS0":
		return "RSTOS0"
	case "RSTRH":
		return "RSTRH"
	case "SH":
		return "SH"
	case "SHR":
		return "SHR"
	case "OTH":
		return "OTH"
	}
	if len(b) > 16 {
		return ""
	}
	return p.names.Bytes(b)
}

// transport maps proto; "" for unknown_transport and anything else.
func transport(b []byte) string {
	switch string(b) {
	case "tcp":
		return detect.TransportTCP
	case "udp":
		return detect.TransportUDP
	case "icmp":
		return detect.TransportICMP
	}
	return ""
}

var (
	errBadOrig = errors.New("zeek: bad originator address")
	errBadResp = errors.New("zeek: bad responder address")
	errBadSrc  = errors.New("zeek: bad src address")
	errBadDst  = errors.New("zeek: bad dst address")
	errBadPort = errors.New("zeek: bad port")
	errBadNum  = errors.New("zeek: bad byte or packet count")
)

// stamp reads ts.
func stamp(r *record, ev *detect.Event) error {
	if r.ts == nil {
		return errNoTime
	}
	if r.tsISO {
		t, n, ok := syslog.ParseISO(r.ts, true, time.UTC)
		if !ok || n != len(r.ts) {
			return errBadTime
		}
		ev.Timestamp = t
		return nil
	}
	t, ok := epoch(r.ts)
	if !ok {
		// JSON::TS_MILLIS writes integer milliseconds.
		if ms, ok2 := lex.Uint(r.ts); ok2 && len(r.ts) == 13 {
			t, ok = time.UnixMilli(ms).UTC(), true
		}
	}
	if !ok {
		return errBadTime
	}
	ev.Timestamp = t
	return nil
}

// addr reads an address field; nil is absent.
func addr(b []byte, bad error) (netip.Addr, error) {
	if b == nil {
		return netip.Addr{}, nil
	}
	a, ok := lex.Addr(b)
	if !ok {
		return netip.Addr{}, bad
	}
	return a, nil
}

// port reads a port field; nil and 0 are absent.
func port(b []byte) (uint16, error) {
	if b == nil {
		return 0, nil
	}
	n, ok := lex.Uint(b)
	if !ok || n > 65535 {
		return 0, errBadPort
	}
	return uint16(n), nil
}

// count reads a counter field; nil is absent.
func count(b []byte) (detect.Count, error) {
	if b == nil {
		return detect.Count{}, nil
	}
	n, ok := lex.Uint(b)
	if !ok {
		return detect.Count{}, errBadNum
	}
	return detect.SetCount(n), nil
}

// conn fills ev from a conn.log record.
func (p *Parser) conn(r *record, ev *detect.Event) error {
	if err := stamp(r, ev); err != nil {
		return err
	}
	var err error
	if ev.Source.IP, err = addr(r.origH, errBadOrig); err != nil {
		return err
	}
	if ev.Destination.IP, err = addr(r.respH, errBadResp); err != nil {
		return err
	}
	if !ev.Source.IP.IsValid() || !ev.Destination.IP.IsValid() {
		return fmt.Errorf("%s: conn record without id.orig_h and id.resp_h", Name)
	}
	ev.Category = detect.CategoryNetwork
	ev.Observer.Vendor, ev.Observer.Product = "Zeek", "Zeek"
	tr := transport(r.proto)
	if tr == detect.TransportICMP && ev.Source.IP.Is6() {
		tr = detect.TransportIPv6ICMP
	}
	ev.Network.Transport = tr
	if tr != detect.TransportICMP && tr != detect.TransportIPv6ICMP {
		if ev.Source.Port, err = port(r.origP); err != nil {
			return err
		}
		if ev.Destination.Port, err = port(r.respP); err != nil {
			return err
		}
	}
	if r.connState != nil {
		ev.Type, _ = connVerdict(r.connState)
		ev.Action = p.stateWord(r.connState)
	}
	if s := r.service; s != nil {
		if i := bytes.IndexByte(s, p.setSep); i >= 0 {
			s = s[:i]
		}
		if i := bytes.IndexByte(s, ','); i >= 0 {
			s = s[:i]
		}
		ev.Network.Protocol = p.protocol(s)
	}
	if ev.Source.Bytes, err = count(r.origBytes); err != nil {
		return err
	}
	if ev.Destination.Bytes, err = count(r.respBytes); err != nil {
		return err
	}
	op, err := count(r.origPkts)
	if err != nil {
		return err
	}
	rp, err := count(r.respPkts)
	if err != nil {
		return err
	}
	if op.Valid || rp.Valid {
		ev.Network.Packets = detect.SetCount(op.N + rp.N)
	}
	return nil
}

// protocol returns a service name in lower case, interned.
func (p *Parser) protocol(s []byte) string {
	if len(s) == 0 || len(s) > 32 {
		return ""
	}
	var buf [32]byte
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			c |= 0x20
		}
		buf[i] = c
	}
	return p.services.Bytes(buf[:len(s)])
}

// notice fills ev from a notice.log record.
func (p *Parser) notice(r *record, ev *detect.Event) error {
	if err := stamp(r, ev); err != nil {
		return err
	}
	if len(r.note) == 0 {
		return fmt.Errorf("%s: notice without a note", Name)
	}
	ev.Category = detect.CategoryIntrusionDetection
	ev.Observer.Vendor, ev.Observer.Product = "Zeek", "Zeek"
	ev.Rule.Name = p.names.Bytes(r.note)

	tr := transport(r.proto)
	var err error
	var sp, dp uint16
	if r.origH != nil {
		if ev.Source.IP, err = addr(r.origH, errBadOrig); err != nil {
			return err
		}
		if sp, err = port(r.origP); err != nil {
			return err
		}
	} else if ev.Source.IP, err = addr(r.src, errBadSrc); err != nil {
		return err
	}
	if r.respH != nil {
		if ev.Destination.IP, err = addr(r.respH, errBadResp); err != nil {
			return err
		}
		if dp, err = port(r.respP); err != nil {
			return err
		}
	} else {
		if ev.Destination.IP, err = addr(r.dst, errBadDst); err != nil {
			return err
		}
		if dp, err = port(r.p); err != nil {
			return err
		}
	}
	if tr == detect.TransportICMP && (ev.Source.IP.Is6() || ev.Destination.IP.Is6()) {
		tr = detect.TransportIPv6ICMP
	}
	ev.Network.Transport = tr
	if tr != detect.TransportICMP && tr != detect.TransportIPv6ICMP {
		ev.Source.Port, ev.Destination.Port = sp, dp
	}

	ev.Type = detect.TypeInfo
	first, drop := p.actions(r)
	if drop || r.dropped {
		ev.Type = detect.TypeDenied
	}
	switch {
	case drop:
		ev.Action = "Notice::ACTION_DROP"
	case r.dropped:
		ev.Action = "dropped"
	case len(first) > 0 && len(first) <= 64:
		ev.Action = p.names.Bytes(first)
	}
	return nil
}

// actions returns the first of a notice's actions, and whether one of them
// is a drop.
func (p *Parser) actions(r *record) (first []byte, drop bool) {
	if r.actions == nil {
		return nil, false
	}
	if r.actionsJSON {
		it := lex.NewJSONArray(r.actions)
		for {
			_, kind, val, ok := it.Next()
			if !ok {
				break
			}
			if kind != lex.JSONString {
				continue
			}
			if first == nil {
				first = val
			}
			drop = drop || isDrop(val)
		}
		return first, drop
	}
	b := r.actions
	for len(b) > 0 {
		a := b
		if i := bytes.IndexByte(b, p.setSep); i >= 0 {
			a, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if first == nil {
			first = a
		}
		drop = drop || isDrop(a)
	}
	return first, drop
}

func isDrop(a []byte) bool {
	return bytes.HasSuffix(a, []byte("ACTION_DROP"))
}

// json parses one JSON object.
func (p *Parser) json(b []byte, ev *detect.Event) error {
	var r record
	path := logUnknown
	hasPath := false
	it := lex.NewJSON(b)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "_path":
			if kind == lex.JSONString {
				path, hasPath = pathKind(val), true
				if path == logOther {
					return detect.ErrNotEvent
				}
			}
		case "ts":
			r.ts, r.tsISO = val, kind == lex.JSONString
		case "id":
			if kind == lex.JSONObject {
				if err := p.jsonID(val, &r); err != nil {
					return err
				}
			}
		case "conn_state":
			r.connState = val
		case "history":
			r.history = true
		case "dropped":
			r.dropped = kind == lex.JSONTrue
		case "actions":
			if kind == lex.JSONArray {
				r.actions, r.actionsJSON = val, true
			} else if kind == lex.JSONString {
				r.actions = val
			}
		default:
			if f := r.field(key); f != nil {
				*f = val
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	if len(lex.Trim(it.Rest())) != 0 {
		return errTrailing
	}
	if !hasPath {
		switch {
		case r.note != nil:
			path = logNotice
		case r.connState != nil || r.history || r.origPkts != nil:
			path = logConn
		default:
			return detect.ErrNotEvent
		}
	}
	// Strings with escapes are decoded; Zeek escapes little in these.
	p.buf = p.buf[:0]
	r.note = p.text(r.note)
	r.actions = p.textIf(r.actions, !r.actionsJSON)
	switch path {
	case logConn:
		return p.conn(&r, ev)
	case logNotice:
		return p.notice(&r, ev)
	}
	return detect.ErrNotEvent
}

// field returns where a JSON member's raw value goes, or nil.
func (r *record) field(key []byte) *[]byte {
	switch string(key) {
	case "id.orig_h", "orig_h":
		return &r.origH
	case "id.orig_p", "orig_p":
		return &r.origP
	case "id.resp_h", "resp_h":
		return &r.respH
	case "id.resp_p", "resp_p":
		return &r.respP
	case "proto":
		return &r.proto
	case "service":
		return &r.service
	case "orig_bytes":
		return &r.origBytes
	case "resp_bytes":
		return &r.respBytes
	case "orig_pkts":
		return &r.origPkts
	case "resp_pkts":
		return &r.respPkts
	case "note":
		return &r.note
	case "src":
		return &r.src
	case "dst":
		return &r.dst
	case "p":
		return &r.p
	}
	return nil
}

// jsonID reads a nested "id" object, {"orig_h":..,"orig_p":..,...}, as some
// shippers write the connection's four-tuple.
func (p *Parser) jsonID(b []byte, r *record) error {
	it := lex.NewJSON(b)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "orig_h":
			r.origH = val
		case "orig_p":
			r.origP = val
		case "resp_h":
			r.respH = val
		case "resp_p":
			r.respP = val
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("%s: %w", Name, err)
	}
	return nil
}

// text decodes the escapes of a raw JSON string, into p.buf when it has
// any.
func (p *Parser) text(raw []byte) []byte {
	if raw == nil || bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	start := len(p.buf)
	b, err := lex.AppendJSONText(p.buf, raw)
	if err != nil {
		return nil
	}
	p.buf = b
	return b[start:]
}

func (p *Parser) textIf(raw []byte, do bool) []byte {
	if !do {
		return raw
	}
	return p.text(raw)
}

var _ detect.Parser = (*Parser)(nil)

// Package suricata parses Suricata's EVE JSON log, one object per line, as
// written to eve.json or sent over syslog with the tag "suricata":
//
//	{"timestamp":"2026-11-27T10:00:00.123456+0000","flow_id":1,"event_type":"alert","src_ip":"203.0.113.5",...,"alert":{...}}
//	<14>Nov 27 10:00:00 ids01 suricata[1234]: {"timestamp":...}
//
// Event types and what they give:
//
//	alert    intrusion_detection; denied when alert.action is "blocked", else info
//	drop     network, denied (IPS mode), with the rule when an alert rides along
//	anomaly  intrusion_detection, info; rule.name is the anomaly event
//	flow     network; allowed, or denied when flow.action is "drop"; byte and packet counts
//	netflow  network, allowed; one direction's byte and packet counts
//	http     web, allowed; url.path, method, status, user agent
//	dns, tls, ssh  network, allowed, with network.protocol
//
// Every other type (stats, fileinfo, smtp, ...) is not an event. Only
// metadata is read: payload, packet, bodies, query strings, certificate
// subjects and mail fields are skipped unread.
package suricata

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "suricata"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "OISF Suricata EVE JSON: alert, drop, anomaly, flow, netflow, http, dns, tls and ssh events (file or syslog)",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"suricata"},
		Sniff:       Sniff,
	}
}

// sniffWindow is how far into a line Sniff looks for the EVE header keys,
// which Suricata writes first.
const sniffWindow = 512

// Sniff reports whether rec looks like an EVE JSON record: an object whose
// first bytes hold "timestamp" and "event_type" keys.
func Sniff(rec *detect.Record) bool {
	m := body(rec.Msg)
	if len(m) == 0 || m[0] != '{' {
		return false
	}
	if len(m) > sniffWindow {
		m = m[:sniffWindow]
	}
	return bytes.Contains(m, []byte(`"event_type":`)) && bytes.Contains(m, []byte(`"timestamp":`))
}

// body returns the JSON text of a message: without leading blanks and
// without an rsyslog "@cee:" cookie.
func body(m []byte) []byte {
	m = lex.Trim(m)
	if bytes.HasPrefix(m, []byte("@cee:")) {
		m = lex.Trim(m[5:])
	}
	return m
}

// Parser parses EVE records. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	// buf holds decoded string values for the duration of one Parse.
	buf []byte
}

// eve holds the raw values of the members that the parser reads, all
// slices of the input.
type eve struct {
	eventType, timestamp, host []byte
	srcIP, destIP              []byte
	srcPort, destPort          []byte
	proto, appProto            []byte
	protoKind                  lex.JSONKind
	alert, flow, netflow       []byte
	http, anomaly              []byte
}

var (
	errNoType   = errors.New("suricata: no event_type")
	errTrailing = errors.New("suricata: data after the JSON object")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	msg := body(rec.Msg)
	if len(msg) == 0 || msg[0] != '{' {
		// Suricata's own daemon messages ("<Notice> - ...") under its tag.
		return detect.ErrNotEvent
	}
	p.buf = p.buf[:0]
	var e eve
	it := lex.NewJSON(msg)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		var dst *[]byte
		want := lex.JSONString
		switch string(key) {
		case "event_type":
			if kind != lex.JSONString {
				return wrongType(key, kind)
			}
			if eventKind(p.text(val)) == kindNone {
				// stats, fileinfo, smtp, ...: skip the rest unread.
				return detect.ErrNotEvent
			}
			e.eventType = val
			continue
		case "timestamp":
			dst = &e.timestamp
		case "host":
			dst = &e.host
		case "src_ip":
			dst = &e.srcIP
		case "dest_ip":
			dst = &e.destIP
		case "app_proto":
			dst = &e.appProto
		case "src_port":
			dst, want = &e.srcPort, lex.JSONNumber
		case "dest_port":
			dst, want = &e.destPort, lex.JSONNumber
		case "proto":
			if kind != lex.JSONString && kind != lex.JSONNumber {
				return wrongType(key, kind)
			}
			e.proto, e.protoKind = val, kind
			continue
		case "alert":
			dst, want = &e.alert, lex.JSONObject
		case "flow":
			dst, want = &e.flow, lex.JSONObject
		case "netflow":
			dst, want = &e.netflow, lex.JSONObject
		case "http":
			dst, want = &e.http, lex.JSONObject
		case "anomaly":
			dst, want = &e.anomaly, lex.JSONObject
		default:
			continue
		}
		if kind == lex.JSONNull {
			continue
		}
		if kind != want {
			return wrongType(key, kind)
		}
		*dst = val
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("suricata: %w", err)
	}
	if len(lex.Trim(bytes.TrimRight(it.Rest(), "\r\n"))) != 0 {
		return errTrailing
	}
	if e.eventType == nil {
		return errNoType
	}
	return p.fill(rec, &e, ev)
}

func wrongType(key []byte, kind lex.JSONKind) error {
	article := "a"
	if kind == lex.JSONArray || kind == lex.JSONObject {
		article = "an"
	}
	return fmt.Errorf("suricata: %s is %s %s", key, article, kind)
}

// text returns the decoded text of a raw string value: raw itself when it
// has no escapes, otherwise a slice of p.buf. A broken escape cannot reach
// here (the walker checks them), but would give nil.
func (p *Parser) text(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	start := len(p.buf)
	b, err := lex.AppendJSONText(p.buf, raw)
	if err != nil {
		return nil
	}
	p.buf = b
	return b[start:len(b):len(b)]
}

type evKind uint8

const (
	kindNone evKind = iota
	kindAlert
	kindDrop
	kindAnomaly
	kindFlow
	kindNetflow
	kindHTTP
	kindDNS
	kindTLS
	kindSSH
)

func eventKind(t []byte) evKind {
	switch string(t) {
	case "alert":
		return kindAlert
	case "drop":
		return kindDrop
	case "anomaly":
		return kindAnomaly
	case "flow":
		return kindFlow
	case "netflow":
		return kindNetflow
	case "http":
		return kindHTTP
	case "dns":
		return kindDNS
	case "tls":
		return kindTLS
	case "ssh":
		return kindSSH
	}
	return kindNone
}

func (p *Parser) fill(rec *detect.Record, e *eve, ev *detect.Event) error {
	k := eventKind(p.text(e.eventType))
	ev.Observer.Vendor = "OISF"
	ev.Observer.Product = "Suricata"
	if len(e.host) > 0 {
		ev.Observer.Hostname = p.names.Bytes(p.text(e.host))
	}
	if len(e.timestamp) > 0 {
		ts := p.text(e.timestamp)
		t, n, ok := syslog.ParseISO(ts, false, rec.Location())
		if !ok || n != len(ts) {
			return fmt.Errorf("suricata: bad timestamp %q", clip(ts))
		}
		ev.Timestamp = t
	}
	if err := p.tuple(e, ev, k != kindAnomaly); err != nil {
		return err
	}
	if len(e.appProto) > 0 {
		ev.Network.Protocol = p.protocol(p.text(e.appProto))
	}

	switch k {
	case kindAlert:
		ev.Category = detect.CategoryIntrusionDetection
		ev.Type = detect.TypeInfo
		if e.alert == nil {
			return errors.New("suricata: alert event without an alert object")
		}
		if err := p.alert(e.alert, ev); err != nil {
			return err
		}
	case kindDrop:
		ev.Category = detect.CategoryNetwork
		ev.Type = detect.TypeDenied
		ev.Action = "drop"
		if e.alert != nil {
			action := ev.Action
			if err := p.alert(e.alert, ev); err != nil {
				return err
			}
			ev.Type, ev.Action = detect.TypeDenied, action
		}
	case kindAnomaly:
		ev.Category = detect.CategoryIntrusionDetection
		ev.Type = detect.TypeInfo
		if e.anomaly == nil {
			return errors.New("suricata: anomaly event without an anomaly object")
		}
		if err := p.anomaly(e.anomaly, ev); err != nil {
			return err
		}
	case kindFlow:
		ev.Category = detect.CategoryNetwork
		ev.Type = detect.TypeAllowed
		if e.flow == nil {
			return errors.New("suricata: flow event without a flow object")
		}
		if err := p.flow(e.flow, ev); err != nil {
			return err
		}
	case kindNetflow:
		ev.Category = detect.CategoryNetwork
		ev.Type = detect.TypeAllowed
		if e.netflow == nil {
			return errors.New("suricata: netflow event without a netflow object")
		}
		if err := p.netflow(e.netflow, ev); err != nil {
			return err
		}
	case kindHTTP:
		ev.Category = detect.CategoryWeb
		ev.Type = detect.TypeAllowed
		if ev.Network.Protocol == "" {
			ev.Network.Protocol = "http"
		}
		if e.http == nil {
			return errors.New("suricata: http event without an http object")
		}
		if err := p.http(e.http, ev); err != nil {
			return err
		}
	case kindDNS, kindTLS, kindSSH:
		ev.Category = detect.CategoryNetwork
		ev.Type = detect.TypeAllowed
		if ev.Network.Protocol == "" {
			ev.Network.Protocol = [...]string{kindDNS: "dns", kindTLS: "tls", kindSSH: "ssh"}[k]
		}
	}
	return nil
}

// tuple sets the addresses, ports and transport. need says whether the
// event type must carry both addresses.
func (p *Parser) tuple(e *eve, ev *detect.Event, need bool) error {
	if e.srcIP != nil {
		a, ok := lex.Addr(p.text(e.srcIP))
		if !ok {
			return fmt.Errorf("suricata: bad src_ip %q", clip(p.text(e.srcIP)))
		}
		ev.Source.IP = a
	}
	if e.destIP != nil {
		a, ok := lex.Addr(p.text(e.destIP))
		if !ok {
			return fmt.Errorf("suricata: bad dest_ip %q", clip(p.text(e.destIP)))
		}
		ev.Destination.IP = a
	}
	if need && (e.srcIP == nil || e.destIP == nil) {
		return fmt.Errorf("suricata: %s event without src_ip and dest_ip", e.eventType)
	}
	if e.proto != nil {
		ev.Network.Transport = transport(p.text(e.proto))
	}
	if t := ev.Network.Transport; t == detect.TransportICMP || t == detect.TransportIPv6ICMP {
		return nil // icmp_type and icmp_code, no ports
	}
	var err error
	if ev.Source.Port, err = port("src_port", e.srcPort); err != nil {
		return err
	}
	ev.Destination.Port, err = port("dest_port", e.destPort)
	return err
}

// port parses a raw port number; 0 and absence are no port.
func port(name string, raw []byte) (uint16, error) {
	if raw == nil {
		return 0, nil
	}
	n, ok := lex.JSONInt(raw)
	if !ok || n < 0 || n > 65535 {
		return 0, fmt.Errorf("suricata: bad %s %s", name, clip(raw))
	}
	return uint16(n), nil
}

// transport maps proto, a name from /etc/protocols or a number (Suricata
// writes unknown protocols as three digits, "047"), to network.transport.
func transport(b []byte) string {
	switch {
	case lex.EqualFold(b, "TCP"):
		return detect.TransportTCP
	case lex.EqualFold(b, "UDP"):
		return detect.TransportUDP
	case lex.EqualFold(b, "ICMP"):
		return detect.TransportICMP
	case lex.EqualFold(b, "IPv6-ICMP"), lex.EqualFold(b, "ICMPv6"):
		return detect.TransportIPv6ICMP
	}
	switch n, _ := lex.Uint(b); {
	case len(b) == 0:
	case n == 6:
		return detect.TransportTCP
	case n == 17:
		return detect.TransportUDP
	case n == 1:
		return detect.TransportICMP
	case n == 58:
		return detect.TransportIPv6ICMP
	}
	return ""
}

// protocol returns app_proto as network.protocol: lower case, and nothing
// for "failed" (detection gave up) or "unknown".
func (p *Parser) protocol(b []byte) string {
	if len(b) == 0 || len(b) > 32 || lex.EqualFold(b, "failed") || lex.EqualFold(b, "unknown") {
		return ""
	}
	var low [32]byte
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
		low[i] = c
	}
	return p.names.Bytes(low[:len(b)])
}

// alert reads the alert object: the verdict and the signature.
func (p *Parser) alert(obj []byte, ev *detect.Event) error {
	it := lex.NewJSON(obj)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "action":
			if kind != lex.JSONString {
				return wrongType([]byte("alert.action"), kind)
			}
			a := p.text(val)
			ev.Action = p.names.Bytes(a)
			if lex.EqualFold(a, "blocked") {
				ev.Type = detect.TypeDenied
			}
		case "signature":
			if kind != lex.JSONString {
				return wrongType([]byte("alert.signature"), kind)
			}
			ev.Rule.Name = p.names.Bytes(p.text(val))
		case "category":
			if kind != lex.JSONString {
				return wrongType([]byte("alert.category"), kind)
			}
			ev.Rule.Category = p.names.Bytes(p.text(val))
		case "signature_id":
			if kind != lex.JSONNumber {
				return wrongType([]byte("alert.signature_id"), kind)
			}
			n, ok := lex.JSONInt(val)
			if !ok || n < 0 {
				return fmt.Errorf("suricata: bad alert.signature_id %s", clip(val))
			}
			var b [20]byte
			ev.Rule.ID = p.names.Bytes(strconv.AppendInt(b[:0], n, 10))
		case "severity":
			n, ok := lex.JSONInt(val)
			if kind != lex.JSONNumber || !ok || n < 0 || n > 255 {
				return fmt.Errorf("suricata: bad alert.severity %s", clip(val))
			}
			ev.Severity = int(n)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("suricata: alert: %w", err)
	}
	return nil
}

// anomaly reads the anomaly object: its event name and type.
func (p *Parser) anomaly(obj []byte, ev *detect.Event) error {
	it := lex.NewJSON(obj)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "event":
			if kind != lex.JSONString {
				return wrongType([]byte("anomaly.event"), kind)
			}
			ev.Rule.Name = p.names.Bytes(p.text(val))
		case "type":
			if kind != lex.JSONString {
				return wrongType([]byte("anomaly.type"), kind)
			}
			ev.Rule.Category = p.names.Bytes(p.text(val))
		case "code":
			// Present when type is "unknown": the raw event code.
			if n, ok := lex.JSONInt(val); kind == lex.JSONNumber && ok && n >= 0 {
				var b [20]byte
				ev.Code = p.names.Bytes(strconv.AppendInt(b[:0], n, 10))
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("suricata: anomaly: %w", err)
	}
	if ev.Rule.Name == "" {
		return errors.New("suricata: anomaly without an event name")
	}
	return nil
}

// count parses a raw counter.
func count(name string, kind lex.JSONKind, raw []byte) (int64, error) {
	n, ok := lex.JSONInt(raw)
	if kind != lex.JSONNumber || !ok || n < 0 {
		return 0, fmt.Errorf("suricata: bad %s %s", name, clip(raw))
	}
	return n, nil
}

// flow reads a flow record's counters and the engine's action on it.
func (p *Parser) flow(obj []byte, ev *detect.Event) error {
	it := lex.NewJSON(obj)
	var pkts int64
	var sawPkts bool
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "pkts_toserver", "pkts_toclient":
			name := "flow.pkts_toserver"
			if key[len(key)-1] == 't' {
				name = "flow.pkts_toclient"
			}
			n, err := count(name, kind, val)
			if err != nil {
				return err
			}
			if n > math.MaxInt64-pkts {
				return errors.New("suricata: flow packet counts overflow")
			}
			pkts += n
			sawPkts = true
		case "bytes_toserver":
			n, err := count("flow.bytes_toserver", kind, val)
			if err != nil {
				return err
			}
			ev.Source.Bytes = detect.SetCount(n)
		case "bytes_toclient":
			n, err := count("flow.bytes_toclient", kind, val)
			if err != nil {
				return err
			}
			ev.Destination.Bytes = detect.SetCount(n)
		case "action":
			// Suricata 7 in IPS mode: "drop" when the flow was dropped.
			if kind != lex.JSONString {
				return wrongType([]byte("flow.action"), kind)
			}
			a := p.text(val)
			ev.Action = p.names.Bytes(a)
			if lex.EqualFold(a, "drop") || lex.EqualFold(a, "reject") {
				ev.Type = detect.TypeDenied
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("suricata: flow: %w", err)
	}
	if sawPkts {
		ev.Network.Packets = detect.SetCount(pkts)
	}
	return nil
}

// netflow reads a one-way netflow record's counters.
func (p *Parser) netflow(obj []byte, ev *detect.Event) error {
	it := lex.NewJSON(obj)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "pkts":
			n, err := count("netflow.pkts", kind, val)
			if err != nil {
				return err
			}
			ev.Network.Packets = detect.SetCount(n)
		case "bytes":
			n, err := count("netflow.bytes", kind, val)
			if err != nil {
				return err
			}
			ev.Source.Bytes = detect.SetCount(n)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("suricata: netflow: %w", err)
	}
	return nil
}

// http reads an HTTP transaction's request line and status. The URL's
// query string, the bodies and the headers are not read.
func (p *Parser) http(obj []byte, ev *detect.Event) error {
	it := lex.NewJSON(obj)
	for {
		key, kind, val, ok := it.Next()
		if !ok {
			break
		}
		if kind == lex.JSONNull {
			continue
		}
		switch string(key) {
		case "url":
			if kind != lex.JSONString {
				return wrongType([]byte("http.url"), kind)
			}
			if path := lex.Path(p.text(val)); len(path) > 0 {
				ev.URLPath = p.names.Bytes(path)
			}
		case "http_method":
			if kind != lex.JSONString {
				return wrongType([]byte("http.http_method"), kind)
			}
			ev.HTTPMethod = p.names.Bytes(p.text(val))
		case "http_user_agent":
			if kind != lex.JSONString {
				return wrongType([]byte("http.http_user_agent"), kind)
			}
			ev.UserAgent = p.names.Bytes(p.text(val))
		case "status":
			// A number; old versions wrote a string.
			var n int64
			var ok bool
			switch kind {
			case lex.JSONNumber:
				n, ok = lex.JSONInt(val)
			case lex.JSONString:
				n, ok = lex.Uint(p.text(val))
			}
			if !ok {
				return fmt.Errorf("suricata: bad http.status %s", clip(val))
			}
			if n >= 100 && n <= 999 {
				ev.HTTPStatus = int(n)
			}
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("suricata: http: %w", err)
	}
	return nil
}

// clip shortens a value quoted in an error message.
func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

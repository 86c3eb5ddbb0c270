// Package checkpoint parses Check Point security gateway and management logs
// as the Log Exporter (cp_log_export) writes them. The default "syslog"
// format has an RFC 5424 header with the app name CheckPoint, then every
// field in one bracketed block of quoted values separated by "; ", with
// backslash escapes (\" \\ \] and \uXXXX):
//
//	<134>1 2026-11-27T10:00:00Z gw CheckPoint 1234 - [action:"Drop"; ifdir:"inbound"; origin:"192.0.2.1"; ... src:"198.51.100.7"]
//
// It is read with the older exporter's header, which has a space in its
// stamp ("<134>1 2026-11-27 10:00:00 gw CheckPoint 1234 - [...]"), and
// behind a second, BSD header when a relay forwarded it. The other formats:
//
//   - the RFC 5424 structured-data variant, [Fields@1.3.6.1.4.1.2620
//     key="value" ...] (ProductName, svc, sport_svc);
//   - the legacy "splunk" format, time=...|hostname=...|product=...|action=...;
//   - the "cef" format, CEF:0|Check Point|product|Check Point|class|name|severity|extension,
//     whose extension carries the CEF keys (act, src, dst, spt, dpt, rt, ...),
//     labelled custom strings (cs1Label=Rule Name, Protection Name,
//     Threat Prevention Rule Name, Matched Category, Virus Name, ...) and
//     Check Point's own field names. The Device Event Class is "Log" or the
//     action; Name is the service for firewall logs, the protection for
//     threat logs and the URL category for URL Filtering.
//
// Mapping (DESIGN.md §3.1):
//
//   - event.category from the blade (product): the firewall (VPN-1 &
//     FireWall-1) and unknown blades network; SmartDefense / IPS
//     intrusion_detection; Anti-Virus, Anti Malware, Anti-Bot, Threat
//     Emulation and Threat Extraction malware; URL Filtering and Application
//     Control web; Anti-Spam and Email Security email. Login logs
//     (action "Log In" / "Failed Log In", Identity Awareness auth_status,
//     management audit operation "Log In") are authentication.
//   - event.action: action as written (a connection log of the
//     structured-data variant may have none; it has no event.type then).
//     event.type: Accept, Allow, Bypass,
//     Encrypt and Decrypt are allowed; Drop, Reject, Block, Prevent, Deny
//     and Reset denied; Detect, Inform, Ask, Redirect, Key Install and the
//     like info. For the threat blades (IDS, malware, e-mail) only a block
//     is denied and anything else info; authentication failure is denied,
//     success allowed.
//   - rule.name: the signature (protection_name, or the CEF Protection Name,
//     Virus Name or Malware Name, or for threat logs the CEF Name) wins over
//     the policy rule (rule_name, the last one when policy layers repeat
//     it, or the CEF Rule Name / Application Rule Name / Threat Prevention
//     Rule Name). rule.id: protection_id for a signature, rule_uid for a
//     rule. rule.category: matched_category (web), attack or protection_type.
//   - source/destination: src, dst, s_port, service (the destination port),
//     proto (no ports for ICMP); xlatesrc/xlatedst to the NAT fields, 0.0.0.0
//     meaning not translated. Bytes: client_outbound_bytes or sent_bytes
//     (CEF in) to source.bytes, server_outbound_bytes or received_bytes (CEF
//     out) to destination.bytes; packets, or the client packet counters, to
//     network.packets.
//   - observer: vendor "Check Point", product the blade, hostname the
//     splunk format's hostname, else the CN of originsicname, else the host
//     of the exporter's own header, else the syslog host.
//   - @timestamp: time (epoch seconds or milliseconds, or ISO 8601; CEF rt).
//   - event.severity: Check Point's severity code, 0 (Informational) to 4
//     (Critical); the CEF cp_severity word is mapped to the same scale.
//   - user.name, for authentication only: user, src_user_name ("John Doe
//     (jdoe)" gives jdoe), administrator, or the CEF duser/suser.
//   - url.path: the path of resource (CEF request), without the query;
//     http.request.method: method; user_agent.original (web only).
//
// Logs that are not security events (system and update status, policy
// installation, audit operations other than logins, logouts) and
// connection logs without any address are not events.
package checkpoint

import (
	"bytes"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// Name is the parser's name and event.dataset.
const Name = "checkpoint"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Check Point Log Exporter (syslog, structured-data, splunk and CEF formats): firewall, IPS, Anti-Virus/Anti-Bot/Threat Emulation, URL Filtering/Application Control, Identity Awareness and VPN logins",
		New:         func() detect.Parser { return New() },
		Tags:        []string{"CheckPoint"},
		Sniff:       Sniff,
	}
}

// Formats of a record's body.
const (
	fmtNone    = iota
	fmtBracket // [key:"value"; key:"value"]
	fmtFields  // [Fields@1.3.6.1.4.1.2620 key="value" ...]
	fmtSplunk  // time=...|key=value|...
	fmtCEF     // CEF:0|Check Point|...
)

// fieldsSDID is the structured-data element of the Fields@ variant, under
// Check Point's private enterprise number.
var fieldsSDID = []byte("[Fields@1.3.6.1.4.1.2620")

// Sniff reports whether rec looks like a Check Point log.
func Sniff(rec *detect.Record) bool {
	f, _, _ := locate(rec)
	return f != fmtNone
}

// locate finds the body of a record: its format, the body, and for the
// bracket format found in rec.Msg the text before it (a header the syslog
// parser did not take).
func locate(rec *detect.Record) (format int, body, pre []byte) {
	if sd := rec.SD; len(sd) > 0 {
		if bracketOpen(sd) {
			return fmtBracket, sd, nil
		}
		if bytes.HasPrefix(sd, fieldsSDID) {
			return fmtFields, sd, nil
		}
	}
	m := rec.Msg
	if i := cefStart(m); i >= 0 {
		return fmtCEF, m[i:], nil
	}
	if bytes.HasPrefix(m, []byte("time=")) && bytes.Contains(m, []byte("|loguid=")) {
		return fmtSplunk, m, nil
	}
	i := bytes.IndexByte(m, '[')
	if i < 0 || i > 192 {
		return fmtNone, nil, nil
	}
	if bracketOpen(m[i:]) {
		if string(rec.App) == "CheckPoint" || bytes.Contains(m[:i], []byte(" CheckPoint ")) {
			return fmtBracket, m[i:], m[:i]
		}
		return fmtNone, nil, nil
	}
	if bytes.HasPrefix(m[i:], fieldsSDID) {
		return fmtFields, m[i:], m[:i]
	}
	return fmtNone, nil, nil
}

// bracketOpen reports whether b starts with "[key:" followed by a quote
// (or "::" and a quote), which no RFC 5424 structured data can.
func bracketOpen(b []byte) bool {
	if len(b) < 4 || b[0] != '[' {
		return false
	}
	i := 1
	for i < len(b) && i < 48 && isKeyByte(b[i]) {
		i++
	}
	if i == 1 || i+1 >= len(b) || b[i] != ':' {
		return false
	}
	i++
	if b[i] == ':' {
		i++
	}
	return i < len(b) && b[i] == '"'
}

func isKeyByte(c byte) bool {
	return keyBytes[c]
}

// keyBytes marks the bytes of a key: letters, digits, '_', '-' and '.'.
var keyBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
	}
	return t
}()

// cefStart returns the index in m of the CEF version ("0|Check Point|..."),
// or -1 when m is not Check Point CEF.
func cefStart(m []byte) int {
	i := bytes.Index(m, []byte("CEF:"))
	if i < 0 {
		return -1
	}
	j := i + 4
	for j < len(m) && m[j] == ' ' {
		j++
	}
	k := j
	for k < len(m) && k-j < 4 && (m[k] >= '0' && m[k] <= '9' || m[k] == '.') {
		k++
	}
	if k == j || !bytes.HasPrefix(m[k:], []byte("|Check Point|")) {
		return -1
	}
	return j
}

// Parser parses Check Point logs. Not safe for concurrent use.
type Parser struct {
	names lex.Interner
	// Caches in front of names, by the value as written; see val.
	vals     [256][2]memo
	actions  [64]memo
	products [64]memo
	hosts    [64]memo
	f        fields
	// cefSet says that the last line set f.cefFields, which the next must
	// clear: the other formats leave them alone, and most lines are not
	// CEF, so that clearing them for every line is not needed.
	cefSet bool
	buf    [][]byte // scratch for unescaped values, one per use in a line
	nbuf   int
}

// New returns a parser.
func New() *Parser {
	return &Parser{names: lex.Interner{Max: 4096}}
}

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	format, body, pre := locate(rec)
	p.f.lineFields = lineFields{}
	if p.cefSet {
		p.f.cefFields, p.cefSet = cefFields{}, false
	}
	p.nbuf = 0
	f := &p.f
	var err error
	switch format {
	case fmtBracket:
		err = p.scanBracket(body)
	case fmtFields:
		err = p.scanFields(body)
	case fmtSplunk:
		err = p.scanSplunk(body)
	case fmtCEF:
		err = p.scanCEF(body)
	default:
		return detect.ErrNotEvent
	}
	if err != nil {
		return err
	}
	if len(pre) > 0 {
		p.preHeader(rec, pre)
	}
	return p.fill(rec, f, ev)
}

var _ detect.Parser = (*Parser)(nil)

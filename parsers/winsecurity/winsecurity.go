// Package winsecurity parses the logon events of the Microsoft Windows
// Security event log, as forwarded by NXLog in JSON and by Snare (or NXLog's
// to_syslog_snare) in the tab-separated MSWinEventLog format:
//
//	4624  An account was successfully logged on.
//	4625  An account failed to log on.
//	4776  The computer attempted to validate the credentials for an account.
//
// Every other event id, and every other event log, gives ErrNotEvent.
//
// # Formats
//
// NXLog (im_msvistalog, then to_json()): one JSON object per line, bare or
// after a syslog header whose tag is the event's source
// (Microsoft-Windows-Security-Auditing) or anything else:
//
//	{"EventTime":"2026-11-27 10:00:00","Hostname":"DC01.corp.example","EventType":"AUDIT_FAILURE","EventID":4625,"SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","Message":"...","TargetUserName":"administrator","Status":"0xc000006d","SubStatus":"0xc000006a","LogonType":"3","AuthenticationPackageName":"NTLM","WorkstationName":"...","IpAddress":"198.51.100.7","IpPort":"51514",...}
//
// The event's own fields are read: EventID (number or string), Hostname,
// EventTime, EventType, TargetUserName, IpAddress, IpPort, LogonType,
// Status, SubStatus, and AuthenticationPackageName (4624, 4625) or
// PackageName (4776). A SourceName other than
// Microsoft-Windows-Security-Auditing or a Channel other than Security
// (or ForwardedEvents, on a Windows Event Forwarding collector, where
// Hostname is still the computer that logged the event) gives
// ErrNotEvent. EventTime is NXLog's "YYYY-MM-DD hh:mm:ss" in the
// sender's local time (read in the zone configured for the source), or an
// ISO 8601 stamp with a zone.
//
// Snare: "MSWinEventLog", then, separated by a tab (or the delimiter the
// agent was configured with, which is the byte after "MSWinEventLog"):
// criticality, log name, Snare counter, date ("Fri Nov 27 10:00:00 2026",
// local time), event id, source, user, SID type, event type ("Success
// Audit", "Failure Audit"), computer name, category, then the expanded
// message text (after an empty data string in some versions) and the event
// log counter. With a space delimiter, which also splits the date and the
// multi-word fields, the date is taken by its fixed width and the computer
// name is the word after the event type. The header is either a syslog
// header ("<13>Nov 27 10:00:00 DC01 MSWinEventLog\t1\t...") or Snare's own
// "DC01\tMSWinEventLog\t...". Snare writes the event's fields only in the
// expanded message, with its tabs and line breaks turned into spaces, so
// the fields are read from it by their English labels, in the order of
// Windows' message template: "Logon Type:", the "Account Name:" of the
// "Account For Which Logon Failed:" (4625) or "New Logon:" (4624) section
// (up to "Account Domain:", so that names with spaces survive), "Status:",
// "Sub Status:", "Source Network Address:", "Source Port:",
// "Authentication Package:", and for 4776 "Logon Account:" and "Error
// Code:". Nothing else of the message is copied. On a Windows installed in
// another language the labels differ: the event then carries only what the
// Snare fields give (event code, outcome, time, computer).
//
// # Mapping
//
// event.category is authentication, network.transport is left out.
// event.code is the event id ("4625"). event.action is the name that
// Elastic's Winlogbeat gives these events, as Windows has no verdict word
// of its own beyond its audit keyword (written differently by each
// forwarder): "logged-in" (4624, outcome success, type allowed),
// "logon-failed" (4625, failure, denied) and "credential-validated"
// (4776). 4776 succeeded when its Status (NXLog) or Error Code (Snare) is
// 0x0, and failed otherwise; without one, the audit keyword decides.
//
// user.name is TargetUserName, as written, without the domain: the
// account that logged on, failed to, or whose credentials were checked
// (4776's "Logon Account"). Machine accounts ("DC01$"), "ANONYMOUS LOGON"
// and the service accounts SYSTEM, LOCAL SERVICE and NETWORK SERVICE are
// kept: they are real logons, and a rule can leave them out by name. "-"
// and empty names are left out.
//
// source.ip and source.port are IpAddress and IpPort (4624, 4625; "Source
// Network Address" and "Source Port" in Snare): the client that tried to
// log on, as Windows saw it ("::1" and "127.0.0.1" for local logons).
// "-", empty and "0" are absent; 4625 without an address (a local console
// failure) is still an event. 4776 carries no address: only the
// workstation name the client claimed, which is not copied.
//
// rule.name is the authentication package ("NTLM", "Kerberos",
// "Negotiate"; 4776: "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"), like the
// authentication method of the sshd parser. rule.category is the logon
// type by its Windows name ("Interactive" 2, "Network" 3, "Batch" 4,
// "Service" 5, "Unlock" 7, "NetworkCleartext" 8, "NewCredentials" 9,
// "RemoteInteractive" 10, "CachedInteractive" 11,
// "CachedRemoteInteractive" 12, "CachedUnlock" 13; other numbers as
// written). rule.id is the NTSTATUS code of a failure, in lower case so
// that both forwarders agree: 4625's SubStatus ("0xc000006a" bad password,
// "0xc0000064" no such user, ...) or its Status when SubStatus is 0x0,
// 4776's Error Code.
//
// observer.vendor is Microsoft, observer.product Windows, and
// observer.hostname the computer that logged the event (NXLog's Hostname,
// Snare's computer name field). @timestamp is the event's own time.
//
// Privacy: the message text, workstation names, process names, SIDs,
// logon ids and GUIDs are never copied.
package winsecurity

import (
	"bytes"
	"errors"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "windows_security"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Microsoft Windows Security log logon events 4624, 4625 and 4776 (NTLM), forwarded by NXLog (JSON) or Snare (MSWinEventLog)",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{provider},
		Sniff:       Sniff,
	}
}

const provider = "Microsoft-Windows-Security-Auditing"

var (
	providerB  = []byte(provider)
	eventIDKey = []byte(`"EventID"`)
	snareWord  = []byte("MSWinEventLog")
)

// Sniff reports whether rec looks like a Windows event: a JSON object
// naming the Security-Auditing provider and an EventID, or a Snare
// MSWinEventLog record.
func Sniff(rec *detect.Record) bool {
	m := lex.Trim(rec.Msg)
	if len(m) > 0 && m[0] == '{' {
		return bytes.Contains(m, providerB) && bytes.Contains(m, eventIDKey)
	}
	_, ok := snareStart(m)
	return ok
}

// snareStart finds "MSWinEventLog" near the start of m, as a field of its
// own, and returns the index of the delimiter after it.
func snareStart(m []byte) (int, bool) {
	w := m
	if len(w) > 300 {
		w = w[:300]
	}
	i := bytes.Index(w, snareWord)
	if i < 0 {
		return 0, false
	}
	if i > 0 && isWordByte(m[i-1]) {
		return 0, false
	}
	// The delimiter, then the criticality, a digit.
	j := i + len(snareWord)
	if j+2 >= len(m) || isWordByte(m[j]) || m[j] == '"' || m[j] == '\'' || m[j+1] < '0' || m[j+1] > '9' {
		return 0, false
	}
	return j, true
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Parser parses Windows Security events. Not safe for concurrent use.
type Parser struct {
	names lex.Interner // host names, user names, packages, status codes
	buf   []byte       // the JSON object without its message text
	esc   []byte       // scratch for JSON strings with escapes
	// The last host name and package, which repeat on every line.
	lastHost, lastPkg string
}

var _ detect.Parser = (*Parser)(nil)

// logon holds the raw fields of one event, whichever format they came in.
type logon struct {
	id        int
	host      []byte
	user      []byte
	ip        []byte
	port      []byte
	logonType []byte
	status    []byte
	subStatus []byte
	pkg       []byte
	audit     int // +1 success, -1 failure, 0 unknown
	// escaped marks the JSON strings that hold escapes.
	escHost, escUser, escPkg bool
}

var (
	errNoID       = errors.New("windows_security: no EventID")
	errBadID      = errors.New("windows_security: bad EventID")
	errBadTime    = errors.New("windows_security: bad EventTime")
	errBadAddr    = errors.New("windows_security: bad source address")
	errBadPort    = errors.New("windows_security: bad source port")
	errBadStatus  = errors.New("windows_security: bad Status")
	err4776       = errors.New("windows_security: 4776 without Status or audit result")
	errSnareShort = errors.New("windows_security: Snare record with too few fields")
	errSnareTime  = errors.New("windows_security: Snare record with a bad date")
	errBadJSON    = errors.New("windows_security: bad JSON")
)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	m := lex.Trim(rec.Msg)
	if len(m) > 0 && m[0] == '{' {
		return p.json(rec, ev, m)
	}
	if i, ok := snareStart(m); ok {
		return p.snare(rec, ev, m, i)
	}
	return detect.ErrNotEvent
}

// ours reports whether id is one of the events this parser maps.
func ours(id int) bool { return id == 4624 || id == 4625 || id == 4776 }

func (p *Parser) json(rec *detect.Record, ev *detect.Event, m []byte) error {
	// Most Security events are of other ids: reject them before the walk.
	if id, ok := peekEventID(m); ok && !ours(id) {
		return detect.ErrNotEvent
	}
	// The message text is most of the object and none of it is read:
	// walk a copy without it, which is quicker than scanning its escapes.
	if vs, ve, ok := messageSpan(m); ok && ve-vs > 256 {
		p.buf = append(append(p.buf[:0], m[:vs]...), m[ve:]...)
		m = p.buf
	}
	var l logon
	var stamp []byte
	sawID := false
	it := lex.NewJSON(m)
	for {
		k, kind, v, ok := it.Next()
		if !ok {
			break
		}
		str := kind == lex.JSONString
		switch string(k) {
		case "EventID":
			if kind != lex.JSONNumber && !str {
				return errBadID
			}
			n, ok := lex.Uint(v)
			if !ok || n > 65535 {
				return errBadID
			}
			if !ours(int(n)) {
				return detect.ErrNotEvent
			}
			l.id, sawID = int(n), true
		case "SourceName":
			if str && string(v) != provider {
				return detect.ErrNotEvent
			}
		case "Channel":
			if str && string(v) != "Security" && string(v) != "ForwardedEvents" {
				return detect.ErrNotEvent
			}
		case "Hostname":
			if str {
				l.host, l.escHost = v, hasEscape(v)
			}
		case "EventTime":
			if str {
				stamp = v
			}
		case "EventType":
			switch string(v) {
			case "AUDIT_SUCCESS":
				l.audit = 1
			case "AUDIT_FAILURE":
				l.audit = -1
			}
		case "TargetUserName":
			if str {
				l.user, l.escUser = v, hasEscape(v)
			}
		case "IpAddress":
			if str {
				l.ip = v
			}
		case "IpPort":
			if str || kind == lex.JSONNumber {
				l.port = v
			}
		case "LogonType":
			if str || kind == lex.JSONNumber {
				l.logonType = v
			}
		case "Status":
			if str {
				l.status = v
			}
		case "SubStatus":
			if str {
				l.subStatus = v
			}
		case "AuthenticationPackageName", "PackageName":
			if str {
				l.pkg, l.escPkg = v, hasEscape(v)
			}
		}
	}
	if it.Err() != nil {
		return errBadJSON
	}
	if !sawID {
		return errNoID
	}
	if len(stamp) > 0 {
		t, n, ok := syslog.ParseISO(stamp, true, rec.Location())
		if !ok || n != len(stamp) {
			return errBadTime
		}
		ev.Timestamp = t
	}
	return p.fill(ev, &l)
}

func hasEscape(v []byte) bool { return bytes.IndexByte(v, '\\') >= 0 }

var (
	eventIDMember = []byte(`"EventID":`)
	messageMember = []byte(`"Message":"`)
)

// peekEventID reads the number after "EventID": (written by NXLog as a
// number, by others as a string). A match cannot lie inside a string
// value, where the quotes would be escaped.
func peekEventID(m []byte) (int, bool) {
	i := bytes.Index(m, eventIDMember)
	if i < 0 {
		return 0, false
	}
	i += len(eventIDMember)
	for i < len(m) && (m[i] == ' ' || m[i] == '"') {
		i++
	}
	n, j := 0, i
	for j < len(m) && j-i < 6 && m[j] >= '0' && m[j] <= '9' {
		n = n*10 + int(m[j]-'0')
		j++
	}
	return n, j > i
}

// messageSpan returns the start and end of the text of the "Message"
// member's string value: after its opening quote, at its closing quote.
func messageSpan(m []byte) (start, end int, ok bool) {
	i := bytes.Index(m, messageMember)
	if i < 0 {
		return 0, 0, false
	}
	start = i + len(messageMember)
	end = lex.Unescaped(m, start, '"')
	return start, end, end >= 0
}

// str returns the string of a field, decoding JSON escapes when it has
// them, interned.
func (p *Parser) str(v []byte, esc bool) string {
	if esc {
		var err error
		p.esc, err = lex.AppendJSONText(p.esc[:0], v)
		if err != nil {
			return ""
		}
		v = p.esc
	}
	return p.names.Bytes(v)
}

// cached is str for values that repeat from line to line.
func (p *Parser) cached(last *string, v []byte, esc bool) string {
	if !esc && string(v) == *last {
		return *last
	}
	s := p.str(v, esc)
	*last = s
	return s
}

// snare parses a Snare record; i is the index of the delimiter after
// "MSWinEventLog".
func (p *Parser) snare(rec *detect.Record, ev *detect.Event, m []byte, i int) error {
	delim := m[i]
	var h snareHeader
	var err error
	if delim == ' ' {
		err = h.spaced(m[i+1:])
	} else {
		err = h.split(m[i+1:], delim)
	}
	if err != nil {
		return err
	}
	if !lex.EqualFold(h.log, "Security") {
		return detect.ErrNotEvent
	}
	id64, ok := lex.Uint(h.id)
	if !ok || id64 > 65535 {
		return errBadID
	}
	if !ours(int(id64)) {
		return detect.ErrNotEvent
	}
	t, ok := ctime(h.date, rec.Location())
	if !ok {
		return errSnareTime
	}
	ev.Timestamp = t
	l := logon{id: int(id64), host: h.computer}
	switch string(h.audit) {
	case "Success Audit", "AUDIT_SUCCESS":
		l.audit = 1
	case "Failure Audit", "AUDIT_FAILURE":
		l.audit = -1
	}
	rest := h.rest
	if delim == ' ' {
		delim = '\t' // values may hold spaces: end them at labels only
	}
	x := text{b: rest, delim: delim}
	switch l.id {
	case 4625:
		if x.seek(lLogonType) {
			l.logonType = x.token()
		}
		if x.seek(lFailedAccount) && x.seek(lAccountName) {
			l.user = x.until(lAccountDomain)
		}
		x.seek(lFailureInfo)
		if x.seekStatus() {
			l.status = x.token()
		}
		if x.seek(lSubStatus) {
			l.subStatus = x.token()
		}
		l.ip, l.port, l.pkg = x.network()
	case 4624:
		if x.seek(lLogonType) {
			l.logonType = x.token()
		}
		if x.seek(lNewLogon) && x.seek(lAccountName) {
			l.user = x.until(lAccountDomain)
		}
		l.ip, l.port, l.pkg = x.network()
	case 4776:
		if x.seek(lAuthPackage) {
			l.pkg = x.until(lLogonAccount)
		}
		if x.seek(lLogonAccount) {
			l.user = x.until(lSourceWorkstation)
		}
		if x.seek(lErrorCode) {
			l.status = x.token()
		}
	}
	return p.fill(ev, &l)
}

// snareHeader holds the fields of a Snare record that come before the
// message text.
type snareHeader struct {
	log, date, id, audit, computer, rest []byte
}

// split reads the fields after "MSWinEventLog" and its delimiter:
// criticality, log name, counter, date, event id, source, user, SID
// type, event type, computer, category, then the rest.
func (h *snareHeader) split(b []byte, delim byte) error {
	var f [11][]byte
	for n := range f {
		j := bytes.IndexByte(b, delim)
		if j < 0 {
			if n < len(f)-1 {
				return errSnareShort
			}
			f[n], b = b, nil
			break
		}
		f[n], b = b[:j], b[j+1:]
	}
	h.log, h.date, h.id = lex.Trim(f[1]), lex.Trim(f[3]), lex.Trim(f[4])
	h.audit, h.computer, h.rest = lex.Trim(f[8]), lex.Trim(f[9]), b
	return nil
}

// spaced reads a record whose delimiter is a space, which also splits
// the date and the multi-word fields: criticality, log name and counter
// are one word each, the date is ctime's 24 bytes, then the event id;
// the event type is found by its words, "Success Audit" or "Failure
// Audit", and the computer name is the word after it.
func (h *snareHeader) spaced(b []byte) error {
	var w [3][]byte
	for n := range w {
		j := bytes.IndexByte(b, ' ')
		if j < 0 {
			return errSnareShort
		}
		w[n], b = b[:j], b[j+1:]
	}
	if len(b) < 26 || b[24] != ' ' {
		return errSnareShort
	}
	h.log, h.date, b = w[1], b[:24], b[25:]
	j := bytes.IndexByte(b, ' ')
	if j < 0 {
		return errSnareShort
	}
	h.id, b = b[:j], b[j+1:]
	h.rest = b
	head := b
	if len(head) > 256 {
		head = head[:256]
	}
	for _, a := range [...]string{" Success Audit ", " Failure Audit "} {
		if k := bytes.Index(head, []byte(a)); k >= 0 {
			h.audit = b[k+1 : k+len(a)-1]
			c := b[k+len(a):]
			if e := bytes.IndexByte(c, ' '); e >= 0 {
				c = c[:e]
			}
			h.computer = c
			break
		}
	}
	return nil
}

// fill maps the fields of an event of one of ours.
func (p *Parser) fill(ev *detect.Event, l *logon) error {
	ev.Category = detect.CategoryAuthentication
	ev.Observer.Vendor = "Microsoft"
	ev.Observer.Product = "Windows"
	if h := trimValue(l.host); len(h) > 0 && !dash(h) {
		ev.Observer.Hostname = p.cached(&p.lastHost, h, l.escHost)
	}
	failed := false
	switch l.id {
	case 4624:
		ev.Code, ev.Action = "4624", "logged-in"
	case 4625:
		ev.Code, ev.Action = "4625", "logon-failed"
		failed = true
	case 4776:
		ev.Code, ev.Action = "4776", "credential-validated"
		if s := trimValue(l.status); len(s) > 0 {
			n, ok := hexStatus(s)
			if !ok {
				return errBadStatus
			}
			failed = n != 0
		} else if l.audit != 0 {
			failed = l.audit < 0
		} else {
			return err4776
		}
	}
	if failed {
		ev.Outcome, ev.Type = detect.OutcomeFailure, detect.TypeDenied
		code := trimValue(l.subStatus)
		if n, ok := hexStatus(code); !ok || n == 0 {
			code = trimValue(l.status)
		}
		if len(code) > 0 {
			n, ok := hexStatus(code)
			if !ok {
				return errBadStatus
			}
			if n != 0 {
				ev.Rule.ID = p.status(code)
			}
		}
	} else {
		ev.Outcome, ev.Type = detect.OutcomeSuccess, detect.TypeAllowed
	}
	if u := trimValue(l.user); len(u) > 0 && !dash(u) {
		ev.UserName = p.str(u, l.escUser)
	}
	if a := trimValue(l.ip); len(a) > 0 && !dash(a) {
		addr, ok := lex.Addr(a)
		if !ok {
			return errBadAddr
		}
		ev.Source.IP = addr
	}
	if s := trimValue(l.port); len(s) > 0 && !dash(s) && string(s) != "0" {
		port, ok := lex.Port(s)
		if !ok {
			return errBadPort
		}
		ev.Source.Port = port
	}
	if s := trimValue(l.pkg); len(s) > 0 && !dash(s) {
		ev.Rule.Name = p.cached(&p.lastPkg, s, l.escPkg)
	}
	if s := trimValue(l.logonType); len(s) > 0 && !dash(s) {
		ev.Rule.Category = p.logonType(s)
	}
	return nil
}

func dash(b []byte) bool { return len(b) == 1 && b[0] == '-' }

// trimValue removes blanks, and the space NXLog leaves after "NtLmSsp ".
func trimValue(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isBlank(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// hexStatus parses an NTSTATUS code, "0xC000006D", or a decimal 0.
func hexStatus(b []byte) (uint32, bool) {
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	if len(b) < 3 || len(b) > 10 || b[0] != '0' || (b[1] != 'x' && b[1] != 'X') {
		return 0, false
	}
	var n uint32
	for _, c := range b[2:] {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint32(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint32(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | uint32(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// status returns a status code in lower case ("0xc000006a").
func (p *Parser) status(b []byte) string {
	var buf [10]byte
	n := copy(buf[:], b)
	for i := range n {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	switch string(buf[:n]) {
	case "0xc000006d":
		return "0xc000006d"
	case "0xc000006a":
		return "0xc000006a"
	case "0xc0000064":
		return "0xc0000064"
	case "0xc000006e":
		return "0xc000006e"
	case "0xc000006f":
		return "0xc000006f"
	case "0xc0000070":
		return "0xc0000070"
	case "0xc0000071":
		return "0xc0000071"
	case "0xc0000072":
		return "0xc0000072"
	case "0xc0000193":
		return "0xc0000193"
	case "0xc0000234":
		return "0xc0000234"
	case "0xc000015b":
		return "0xc000015b"
	case "0xc0000224":
		return "0xc0000224"
	case "0xc0000133":
		return "0xc0000133"
	case "0xc000005e":
		return "0xc000005e"
	}
	return p.names.Bytes(buf[:n])
}

// logonType returns the Windows name of a logon type number.
func (p *Parser) logonType(b []byte) string {
	switch string(b) {
	case "0":
		return "System"
	case "2":
		return "Interactive"
	case "3":
		return "Network"
	case "4":
		return "Batch"
	case "5":
		return "Service"
	case "7":
		return "Unlock"
	case "8":
		return "NetworkCleartext"
	case "9":
		return "NewCredentials"
	case "10":
		return "RemoteInteractive"
	case "11":
		return "CachedInteractive"
	case "12":
		return "CachedRemoteInteractive"
	case "13":
		return "CachedUnlock"
	}
	if _, ok := lex.Uint(b); !ok || len(b) > 5 {
		return ""
	}
	return p.names.Bytes(b)
}

// Labels of Windows' message templates, in English.
var (
	lLogonType         = []byte("Logon Type:")
	lFailedAccount     = []byte("Account For Which Logon Failed:")
	lAccountName       = []byte("Account Name:")
	lAccountDomain     = []byte("Account Domain:")
	lFailureInfo       = []byte("Failure Information:")
	lSubStatus         = []byte("Sub Status:")
	lNewLogon          = []byte("New Logon:")
	lAuthPackage       = []byte("Authentication Package:")
	lLogonAccount      = []byte("Logon Account:")
	lSourceWorkstation = []byte("Source Workstation:")
	lErrorCode         = []byte("Error Code:")
	lSourceAddress     = []byte("Source Network Address:")
	lSourcePort        = []byte("Source Port:")
	lTransited         = []byte("Transited Services:")
	lStatus            = []byte("Status:")
)

// text reads labelled values from Snare's expanded message text, moving
// forward through it as Windows' message template does.
type text struct {
	b     []byte
	pos   int
	delim byte
}

// stop reports whether c ends a value.
func (x *text) stop(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == x.delim
}

// find returns the index after the first label at or after from that
// starts the text or follows a blank or the delimiter, or -1.
func (x *text) find(label []byte, from int) int {
	for from < len(x.b) {
		i := bytes.Index(x.b[from:], label)
		if i < 0 {
			return -1
		}
		i += from
		if i == 0 || x.stop(x.b[i-1]) {
			return i + len(label)
		}
		from = i + 1
	}
	return -1
}

// seek moves past the next label; it reports false, and stays, when there
// is none.
func (x *text) seek(label []byte) bool {
	i := x.find(label, x.pos)
	if i < 0 {
		return false
	}
	x.pos = i
	return true
}

// seekStatus moves past the next "Status:" that is not "Sub Status:".
func (x *text) seekStatus() bool {
	from := x.pos
	for {
		i := x.find(lStatus, from)
		if i < 0 {
			return false
		}
		if s := i - len(lStatus); s >= 4 && string(x.b[s-4:s]) == "Sub " {
			from = i
			continue
		}
		x.pos = i
		return true
	}
}

// token returns the value after the label: the next word.
func (x *text) token() []byte {
	b, i := x.b, x.pos
	for i < len(b) && isBlank(b[i]) && b[i] != x.delim {
		i++
	}
	j := i
	for j < len(b) && !x.stop(b[j]) {
		j++
	}
	x.pos = j
	return b[i:j]
}

// until returns the value after the label, up to the next label (which
// may be empty): values that may hold spaces.
func (x *text) until(next []byte) []byte {
	b, i := x.b, x.pos
	end := len(b)
	if d := bytes.IndexByte(b[i:], x.delim); d >= 0 {
		end = i + d
	}
	if j := x.find(next, i); j >= 0 && j-len(next) < end {
		end = j - len(next)
	}
	x.pos = end
	return trimValue(b[i:end])
}

// network reads the client's address and port and the authentication
// package of 4624 and 4625.
func (x *text) network() (ip, port, pkg []byte) {
	if x.seek(lSourceAddress) {
		ip = x.token()
	}
	if x.seek(lSourcePort) {
		port = x.token()
	}
	if x.seek(lAuthPackage) {
		pkg = x.until(lTransited)
	}
	return ip, port, pkg
}

// ctime parses "Fri Nov 27 10:00:00 2026" (the day padded with a zero or
// a space) in loc.
func ctime(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) != 24 || b[3] != ' ' || b[7] != ' ' || b[10] != ' ' || b[13] != ':' || b[16] != ':' || b[19] != ' ' {
		return time.Time{}, false
	}
	mon := syslog.Month(b[4:7])
	day, ok1 := num(b[8:10], true)
	hh, ok2 := num(b[11:13], false)
	mm, ok3 := num(b[14:16], false)
	ss, ok4 := num(b[17:19], false)
	yy, ok5 := num(b[20:24], false)
	if mon == 0 || !(ok1 && ok2 && ok3 && ok4 && ok5) || day < 1 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	if ss == 60 {
		ss = 59
	}
	t := time.Date(yy, mon, day, hh, mm, ss, 0, loc)
	if t.Day() != day {
		return time.Time{}, false // 31 November and the like
	}
	return t, true
}

// num parses the decimal digits of b; with pad, a leading space counts as
// a zero.
func num(b []byte, pad bool) (int, bool) {
	n := 0
	for i, c := range b {
		if pad && i == 0 && c == ' ' {
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

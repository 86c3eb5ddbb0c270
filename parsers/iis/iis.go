// Package iis parses Microsoft IIS access logs in the W3C extended format
// (u_ex*.log), from files or forwarded over syslog by an agent:
//
//	#Software: Microsoft Internet Information Services 10.0
//	#Version: 1.0
//	#Date: 2026-11-27 10:00:00
//	#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken
//	2026-11-27 10:00:00 192.0.2.10 GET /wp-login.php - 443 - 198.51.100.7 Mozilla/5.0+(Windows+NT+10.0) - 404 0 2 15
//
// The parser is stateful, one instance per stream: it reads the #Fields
// header and maps the columns of the lines that follow by name, so any
// selection of the standard fields (s-sitename, s-computername, cs-host,
// cs-version, sc-bytes, cs-bytes, cs(Cookie) ...) and of IIS 8.5 custom
// fields works. Before any header it assumes IIS's default field list,
// shown above. A line must have as many fields as the header. Header and
// comment lines ("#...") return detect.ErrNotEvent, so `parse --per-line`
// writes null for them; Sniff claims the "#Software: Microsoft Internet
// Information Services" and "#Fields: ... cs-uri-stem ..." lines, so that
// auto-detection hands the layout to this parser's instance. The generic
// W3C lines "#Version: 1.0" and "#Date: ..." carry nothing the parser
// needs and are left unclaimed (other W3C logs write them too); they give
// null either way. The IIS FTP service writes the same kind of log (its
// #Fields has x-session and x-fullpath); its lines are not web requests
// and return detect.ErrNotEvent.
//
// Mapping, shared with the nginx/Apache parser (parsers/httpd):
// event.category is web, network.protocol http, network.transport tcp
// (udp for HTTP/3, from cs-version); event.type follows sc-status
// (httpd.EventType: 401, 403, 407, 429 are denied, anything else allowed);
// event.action is left out. date and time are UTC, as IIS always writes
// them in W3C logs, whatever the record's zone. c-ip is source.ip, unless
// it is an internal proxy and an X-Forwarded-For custom field (named
// "X-Forwarded-For", "cs(X-Forwarded-For)" or "OriginalIP") is logged: the
// chain is then read as httpd.ClientIP says, its rightmost public address
// being the client. s-ip and s-port are destination.ip and
// destination.port; cs-method, cs-uri-stem (as written, not
// percent-decoded) and sc-status are http.request.method, url.path and
// http.response.status_code; cs-username is user.name ("-" is absent);
// sc-bytes is destination.bytes (server to client) and cs-bytes
// source.bytes; s-computername is observer.hostname. W3C writes a space in
// a field as '+', so '+' in cs(User-Agent) is turned back into a space for
// user_agent.original (a literal '+' in a user agent, which is rare, turns
// into a space too). cs-uri-query, cs(Cookie) and cs(Referer) are content
// and are never read.
package iis

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/httpd"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "iis"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "Microsoft IIS access log (W3C extended, u_ex*.log): any #Fields layout, X-Forwarded-For custom field (file or syslog)",
		New:         func() detect.Parser { return New() },
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like an IIS log line: a
// "YYYY-MM-DD hh:mm:ss " stamp followed, within the next few fields, by a
// method and a path ("GET /..."); or one of the IIS header lines above.
func Sniff(rec *detect.Record) bool {
	b := rec.Msg
	if len(b) > 0 && b[0] == '#' {
		return bytes.HasPrefix(b, []byte("#Software: Microsoft Internet Information Services")) ||
			(bytes.HasPrefix(b, []byte("#Fields: ")) && bytes.Contains(b, []byte(" cs-uri-stem")))
	}
	if !isStamp(b) {
		return false
	}
	// IIS writes fields in a fixed order: date time [s-sitename]
	// [s-computername] [s-ip] cs-method cs-uri-stem ...
	b = b[20:]
	for n := 0; n < 6; n++ {
		i := bytes.IndexByte(b, ' ')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		if b[i+1] == '/' && isMethod(b[:i]) {
			return true
		}
		b = b[i+1:]
	}
	return false
}

// isMethod reports whether b looks like a method: 3 to 16 upper-case
// letters.
func isMethod(b []byte) bool {
	if len(b) < 3 || len(b) > 16 {
		return false
	}
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
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
	colComputer
	colServerIP
	colMethod
	colStem
	colServerPort
	colUser
	colClientIP
	colClientPort
	colVersion
	colUserAgent
	colStatus
	colSentBytes
	colRecvBytes
	colXFF
	colFTP // x-session, x-fullpath: an IIS FTP log
	numCols
)

// maxCols bounds the #Fields header; IIS has 21 standard fields, plus
// custom ones.
const maxCols = 64

// DefaultFields is the field list IIS logs by default, assumed until the
// stream shows its own #Fields header.
const DefaultFields = "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"

// Parser parses IIS W3C log lines. It keeps the stream's #Fields layout, so
// each stream needs its own; not safe for concurrent use.
type Parser struct {
	cols [maxCols]uint8
	n    int  // columns in the layout
	ftp  bool // the layout is an IIS FTP log's

	names  lex.Interner // methods, user names, host names
	agents httpd.Cache  // user agents
	paths  httpd.Cache  // URL paths
	buf    []byte       // scratch for the user agent
}

// New returns a parser that assumes DefaultFields until it reads a #Fields
// header.
func New() *Parser {
	p := new(Parser)
	if err := p.setFields([]byte(DefaultFields)); err != nil {
		panic(err) // the constant is well formed
	}
	return p
}

// setFields takes a #Fields value apart into the column layout. The layout
// is left as it was when the header is unusable.
func (p *Parser) setFields(b []byte) error {
	var cols [maxCols]uint8
	var seen [numCols]bool
	n, ftp := 0, false
	for len(b) > 0 {
		var f []byte
		f, b, _ = lex.Cut(b, ' ')
		if len(f) == 0 {
			continue
		}
		if n == maxCols {
			return fmt.Errorf("%s: #Fields header has more than %d fields", Name, maxCols)
		}
		k := kind(f)
		if k == colFTP {
			ftp = true
			k = colOther
		}
		if k != colOther {
			if seen[k] {
				return fmt.Errorf("%s: #Fields header names %q twice", Name, clip(f))
			}
			seen[k] = true
		}
		cols[n] = k
		n++
	}
	if !seen[colDate] || !seen[colTime] {
		return fmt.Errorf("%s: #Fields header lacks date or time", Name)
	}
	if !seen[colMethod] && !seen[colStem] && !seen[colStatus] && !seen[colClientIP] {
		// Another W3C log's header, such as the Windows Firewall's.
		return fmt.Errorf("%s: #Fields header has none of cs-method, cs-uri-stem, sc-status, c-ip", Name)
	}
	p.cols, p.n, p.ftp = cols, n, ftp
	return nil
}

// kind returns the column kind of a W3C field name.
func kind(f []byte) uint8 {
	switch {
	case lex.EqualFold(f, "date"):
		return colDate
	case lex.EqualFold(f, "time"):
		return colTime
	case lex.EqualFold(f, "s-computername"):
		return colComputer
	case lex.EqualFold(f, "s-ip"):
		return colServerIP
	case lex.EqualFold(f, "cs-method"):
		return colMethod
	case lex.EqualFold(f, "cs-uri-stem"):
		return colStem
	case lex.EqualFold(f, "s-port"):
		return colServerPort
	case lex.EqualFold(f, "cs-username"):
		return colUser
	case lex.EqualFold(f, "c-ip"):
		return colClientIP
	case lex.EqualFold(f, "c-port"):
		return colClientPort
	case lex.EqualFold(f, "cs-version"):
		return colVersion
	case lex.EqualFold(f, "cs(User-Agent)"):
		return colUserAgent
	case lex.EqualFold(f, "sc-status"):
		return colStatus
	case lex.EqualFold(f, "sc-bytes"):
		return colSentBytes
	case lex.EqualFold(f, "cs-bytes"):
		return colRecvBytes
	case lex.EqualFold(f, "X-Forwarded-For"), lex.EqualFold(f, "cs(X-Forwarded-For)"), lex.EqualFold(f, "OriginalIP"):
		return colXFF
	case lex.EqualFold(f, "x-session"), lex.EqualFold(f, "x-fullpath"):
		return colFTP
	}
	return colOther // cs-uri-query, cs(Cookie), cs(Referer) and the rest
}

// header handles a "#..." line.
func (p *Parser) header(b []byte) error {
	if bytes.HasPrefix(b, []byte("#Fields:")) {
		if err := p.setFields(lex.Trim(b[len("#Fields:"):])); err != nil {
			return err
		}
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
	if p.ftp {
		return detect.ErrNotEvent
	}

	var f [numCols][]byte
	nf := 0
	for i := 0; i <= len(b); nf++ {
		j := i
		for j < len(b) && b[j] != ' ' {
			j++
		}
		if nf < p.n {
			f[p.cols[nf]] = b[i:j]
		}
		i = j + 1
	}
	if nf != p.n {
		return fmt.Errorf("%s: line has %d fields, the #Fields header %d", Name, nf, p.n)
	}

	t, ok := stamp(f[colDate], f[colTime])
	if !ok {
		return fmt.Errorf("%s: bad date or time %q %q", Name, clip(f[colDate]), clip(f[colTime]))
	}
	ev.Timestamp = t

	if v := f[colStatus]; present(v) {
		n, ok := lex.Uint(v)
		if !ok || n < 100 || n > 999 {
			return fmt.Errorf("%s: bad sc-status %q", Name, clip(v))
		}
		ev.HTTPStatus = int(n)
	}
	var peer []byte
	if v := f[colClientIP]; present(v) {
		if _, ok := httpd.HostAddr(v); !ok {
			return fmt.Errorf("%s: bad c-ip %q", Name, clip(v))
		}
		peer = v
	}
	var xff []byte
	if v := f[colXFF]; present(v) {
		xff = v
	}
	ev.Source.IP = httpd.ClientIP(xff, peer)
	if ev.Source.IP.IsValid() && ev.Source.IP == peerAddr(peer) {
		ev.Source.Port, _ = lex.Port(f[colClientPort])
	}
	if v := f[colServerIP]; present(v) {
		ev.Destination.IP, _ = lex.Addr(v)
	}
	ev.Destination.Port, _ = lex.Port(f[colServerPort])

	ev.Category = detect.CategoryWeb
	ev.Type = httpd.EventType(ev.HTTPStatus)
	ev.Network.Protocol = "http"
	ev.Network.Transport = httpd.Transport(f[colVersion])
	ev.Observer.Vendor = "Microsoft"
	ev.Observer.Product = "IIS"
	if v := f[colComputer]; present(v) {
		ev.Observer.Hostname = p.names.Bytes(v)
	}

	if v := f[colMethod]; present(v) {
		ev.HTTPMethod = httpd.Method(v, &p.names)
	}
	if v := f[colStem]; present(v) {
		if path := httpd.Path(v); len(path) > 0 {
			ev.URLPath = p.paths.Bytes(path)
		}
	}
	if v := f[colUser]; present(v) {
		ev.UserName = p.names.Bytes(v)
	}
	if v := f[colUserAgent]; present(v) {
		p.buf = append(p.buf[:0], v...)
		for i, c := range p.buf {
			if c == '+' {
				p.buf[i] = ' '
			}
		}
		ev.UserAgent = p.agents.Bytes(p.buf)
	}
	if n, ok := lex.Uint(f[colSentBytes]); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	}
	if n, ok := lex.Uint(f[colRecvBytes]); ok {
		ev.Source.Bytes = detect.SetCount(n)
	}
	return nil
}

// peerAddr parses the c-ip field, or returns the zero address.
func peerAddr(b []byte) (a netip.Addr) {
	a, _ = httpd.HostAddr(b)
	return a
}

// present reports whether a field is logged with a value: W3C writes "-"
// for none.
func present(v []byte) bool {
	return len(v) > 0 && !(len(v) == 1 && v[0] == '-')
}

// stamp reads the date and time fields, "YYYY-MM-DD" and "hh:mm:ss", in
// UTC.
func stamp(date, clock []byte) (time.Time, bool) {
	if len(date) != 10 || len(clock) < 8 || len(clock) > 18 {
		return time.Time{}, false
	}
	var buf [29]byte
	copy(buf[:10], date)
	buf[10] = ' '
	n := 11 + copy(buf[11:], clock)
	t, m, ok := syslog.ParseISO(buf[:n], true, time.UTC)
	if !ok || m != n {
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

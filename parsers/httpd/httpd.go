// Package httpd parses the access logs of nginx and Apache httpd (and of
// anything else that writes the NCSA Common Log Format), from files or
// over syslog:
//
//	198.51.100.7 - - [27/Nov/2026:10:00:00 +0100] "GET /index.php?q=1 HTTP/1.1" 200 1234                      (Common)
//	198.51.100.7 - bob [27/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1234 "https://ref/" "Mozilla/5.0"    (Combined)
//	www.example.org:443 198.51.100.7 - - [27/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1234 "-" "curl/8.5" (Apache vhost_combined)
//	10.0.0.2 - - [27/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0" "203.0.113.5"        (nginx "main")
//	203.0.113.5, 10.0.0.1 - - [27/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0"        (Apache, %{X-Forwarded-For}i first)
//
// Fields after the user agent other than nginx's X-Forwarded-For (request
// and upstream times, %I %O byte counts) are ignored. The time may carry a
// fraction ("10:00:00.123 +0100") or be nginx's $time_iso8601.
//
// Mapping. event.category is web, network.protocol http and
// network.transport tcp (udp for HTTP/3). event.type follows the response
// status (EventType): denied when the server refused the client (401, 403,
// 407, 429, 444, 495, 496), allowed otherwise; event.action is left out,
// since a web server writes no verdict word. http.request.method,
// url.path (the request target without its query string or fragment, not
// percent-decoded), http.response.status_code and user_agent.original come
// from the request line, status and User-Agent field, with the log's own
// escapes (nginx's \x22, Apache's \" and \\) left as written;
// destination.bytes is the response size (%b, %O, $body_bytes_sent; "-" is
// absent); user.name is the authenticated user (%u, $remote_user; "-" is
// absent, and a user name holding spaces is left out); destination.port is
// the port of vhost_combined's "%v:%p" prefix. destination.ip is left
// out: the server's address is not logged. A client field that is a host
// name (HostnameLookups On) or "-" gives no source.ip. A request line that
// is not "METHOD TARGET [PROTOCOL]" (a TLS handshake sent to a plain HTTP
// port, "-" for a connection that sent nothing) still gives an event,
// without method and path. The referrer and the query string are content and are
// never copied.
//
// source.ip: the client address is the connecting address (%h,
// $remote_addr), unless that is one of the site's own proxies, in which
// case the X-Forwarded-For chain is followed back: see ClientIP. The
// X-Forwarded-For value is read from nginx's "main" format (a third quoted
// field after the user agent whose last element is an address) or from a
// first field that is a comma-separated list (Apache's %{X-Forwarded-For}i in
// place of %h). A public connecting address is always the client; an
// X-Forwarded-For chain counts only through internal proxies, and then the
// client is its rightmost public address, never a spoofable leftmost one.
//
// observer: the Common Log Format does not say which server wrote it, so
// observer.vendor and observer.product come from the syslog tag only: a tag
// starting with "nginx" gives nginx/nginx, one starting with "apache" or
// "httpd" gives Apache/httpd; without a tag they are left out.
// observer.hostname is the syslog host, as the framework fills it.
//
// nginx and Apache error log lines ("2026/11/27 10:00:00 [error] ...",
// "[Fri Nov 27 10:00:00.123 2026] [core:error] ...") that reach this
// parser return detect.ErrNotEvent.
package httpd

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// Name is the parser's name and event.dataset.
const Name = "web_access"

// Info describes the parser to a registry.
func Info() detect.ParserInfo {
	return detect.ParserInfo{
		Name:        Name,
		Description: "nginx and Apache httpd access logs: Common, Combined, vhost_combined, nginx main with X-Forwarded-For (file or syslog)",
		New:         func() detect.Parser { return new(Parser) },
		Tags:        []string{"nginx", "httpd", "apache2", "apache"},
		Sniff:       Sniff,
	}
}

// Sniff reports whether rec looks like an access log line: a
// "[dd/Mon/yyyy:hh:mm:ss" (or ISO 8601) stamp after a space, closed by
// "] \"".
func Sniff(rec *detect.Record) bool {
	_, _, ok := findStamp(rec.Msg)
	return ok
}

// findStamp finds the bracketed time stamp: the index of its '[' and its
// ']'. It looks at the first few '[' only.
func findStamp(b []byte) (lb, rb int, ok bool) {
	off := 0
	for try := 0; try < 4; try++ {
		i := bytes.IndexByte(b[off:], '[')
		if i < 0 {
			return 0, 0, false
		}
		i += off
		off = i + 1
		if i == 0 || b[i-1] != ' ' || !stampShape(b[i+1:]) {
			continue
		}
		// The stamp is 20 to 35 bytes; the request's quote follows it.
		end := min(len(b), i+40)
		j := bytes.IndexByte(b[i+20:end], ']')
		if j < 0 {
			continue
		}
		j += i + 20
		if j+2 < len(b) && b[j+1] == ' ' && b[j+2] == '"' {
			return i, j, true
		}
	}
	return 0, 0, false
}

// stampShape reports whether b starts like "27/Nov/2026:10:00:00" or
// "2026-11-27T10:00:00".
func stampShape(b []byte) bool {
	if len(b) < 20 {
		return false
	}
	if b[2] == '/' && b[6] == '/' && b[11] == ':' && b[14] == ':' && b[17] == ':' {
		return isDigit(b[0]) && isDigit(b[1]) && isDigit(b[7]) && isDigit(b[10]) && isDigit(b[19])
	}
	return b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && isDigit(b[0]) && isDigit(b[18])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Parser parses access log lines. Not safe for concurrent use.
type Parser struct {
	names  lex.Interner // methods, user names
	agents Cache        // user agents
	paths  Cache        // URL paths
}

var errNoStamp = errors.New(Name + `: no "[dd/Mon/yyyy:hh:mm:ss zone] \"request\"" fields`)

// Parse implements detect.Parser.
func (p *Parser) Parse(rec *detect.Record, ev *detect.Event) error {
	b := rec.Msg
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\r' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return detect.ErrNotEvent
	}
	lb, rb, ok := findStamp(b)
	if !ok {
		if isErrorLog(b) {
			return detect.ErrNotEvent
		}
		return errNoStamp
	}
	t, ok := parseStamp(b[lb+1:rb], rec.Location())
	if !ok {
		return fmt.Errorf("%s: bad time %q", Name, clip(b[lb+1:rb]))
	}
	ev.Timestamp = t

	peer, err := p.prefix(b[:lb], ev)
	if err != nil {
		return err
	}

	// "request" status bytes
	req, rest, ok := quoted(b[rb+2:])
	if !ok {
		return fmt.Errorf("%s: unterminated request field", Name)
	}
	status, rest := token(rest)
	n, ok := lex.Uint(status)
	if !ok || len(status) != 3 || n < 100 {
		return fmt.Errorf("%s: bad status %q", Name, clip(status))
	}
	ev.HTTPStatus = int(n)
	size, rest := token(rest)
	if n, ok := lex.Uint(size); ok {
		ev.Destination.Bytes = detect.SetCount(n)
	} else if len(size) > 0 && string(size) != "-" {
		return fmt.Errorf("%s: bad response size %q", Name, clip(size))
	}

	ev.Category = detect.CategoryWeb
	ev.Type = EventType(ev.HTTPStatus)
	ev.Network.Protocol = "http"
	p.request(req, ev)
	observer(rec.App, ev)

	// Combined: "referrer" "user agent", then nginx main's "x-forwarded-for".
	var xff []byte
	if rest = skipSpaces(rest); len(rest) > 0 && rest[0] == '"' {
		if _, rest, ok = quoted(rest); ok { // the referrer: content, never read
			if rest = skipSpaces(rest); len(rest) > 0 && rest[0] == '"' {
				var ua []byte
				if ua, rest, ok = quoted(rest); ok && len(ua) > 0 && string(ua) != "-" {
					ev.UserAgent = p.agents.Bytes(ua)
				}
				if rest = skipSpaces(rest); ok && len(rest) > 0 && rest[0] == '"' {
					if v, _, ok := quoted(rest); ok && EndsWithAddr(v) {
						xff = v
					}
				}
			}
		}
	}
	ev.Source.IP = ClientIP(xff, peer)
	return nil
}

// prefix reads what precedes the time stamp: an optional "%v:%p" virtual
// host, the client address (or an X-Forwarded-For list), the ident and
// the user. It returns the client address field.
func (p *Parser) prefix(b []byte, ev *detect.Event) (peer []byte, err error) {
	s, e := tokenAt(b, 0)
	if s == e {
		return nil, fmt.Errorf("%s: no client address", Name)
	}
	if b[e-1] != ',' && countTokens(b[e:]) >= 3 {
		// A bare address ("2001:db8::7") is the client; "host:port" or
		// "192.0.2.10:443" followed by three fields is a virtual host.
		if _, ok := lex.Addr(b[s:e]); !ok {
			if port, ok := vhostPort(b[s:e]); ok {
				ev.Destination.Port = port
				s, e = tokenAt(b, e)
			}
		}
	}
	// The client field, which may be a list: "203.0.113.5, 10.0.0.1".
	hs := s
	for e > s && b[e-1] == ',' {
		s2, e2 := tokenAt(b, e)
		if s2 == e2 {
			break
		}
		s, e = s2, e2
	}
	peer = b[hs:e]
	if _, ok := HostAddr(peer); !ok && looksLikeAddr(peer) {
		return nil, fmt.Errorf("%s: bad client address %q", Name, clip(peer))
	}

	is, ie := tokenAt(b, e)  // ident
	us, ue := tokenAt(b, ie) // user
	if is == ie || us == ue {
		return nil, fmt.Errorf("%s: no ident and user fields before the time", Name)
	}
	// A user name holding spaces cannot be told from another layout: leave
	// it out.
	if xs, xe := tokenAt(b, ue); xs == xe {
		if user := b[us:ue]; string(user) != "-" && string(user) != `""` {
			ev.UserName = p.names.Bytes(user)
		}
	}
	return peer, nil
}

// looksLikeAddr reports whether b is written like an IP address (digits
// and dots, or hex digits and colons) rather than a host name, "-" or a
// list.
func looksLikeAddr(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	colon := bytes.IndexByte(b, ':') >= 0
	for _, c := range b {
		switch {
		case isDigit(c), c == '.', c == ':', c == '[', c == ']':
		case colon && (c|0x20 >= 'a' && c|0x20 <= 'f'):
		default:
			return false
		}
	}
	return true
}

// tokenAt returns the bounds of the space-separated field at or after b[i].
func tokenAt(b []byte, i int) (start, end int) {
	for i < len(b) && b[i] == ' ' {
		i++
	}
	start = i
	for i < len(b) && b[i] != ' ' {
		i++
	}
	return start, i
}

// vhostPort reports whether b is "host:port" and returns the port.
func vhostPort(b []byte) (uint16, bool) {
	i := bytes.LastIndexByte(b, ':')
	if i <= 0 {
		return 0, false
	}
	port, ok := lex.Port(b[i+1:])
	return port, ok
}

// request reads "METHOD TARGET PROTOCOL".
func (p *Parser) request(req []byte, ev *detect.Event) {
	ev.Network.Transport = detect.TransportTCP
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 {
		return // "-", "", or junk without a space
	}
	method := Method(req[:sp], &p.names)
	if method == "" {
		return // junk: a TLS handshake, binary
	}
	ev.HTTPMethod = method
	target := req[sp+1:]
	if i := bytes.LastIndexByte(target, ' '); i >= 0 && bytes.HasPrefix(target[i+1:], []byte("HTTP/")) {
		ev.Network.Transport = Transport(target[i+1:])
		target = target[:i]
	}
	target = lex.Trim(target)
	if method == "CONNECT" {
		return // the target is a host and port, not a path
	}
	if path := Path(target); len(path) > 0 {
		ev.URLPath = p.paths.Bytes(path)
	}
}

// observer names the server from the syslog tag.
func observer(app []byte, ev *detect.Event) {
	switch {
	case len(app) == 0:
	case lex.HasPrefixFold(app, "nginx"):
		ev.Observer.Vendor, ev.Observer.Product = "nginx", "nginx"
	case lex.HasPrefixFold(app, "apache"), lex.HasPrefixFold(app, "httpd"):
		ev.Observer.Vendor, ev.Observer.Product = "Apache", "httpd"
	}
}

// parseStamp reads "27/Nov/2026:10:00:00 +0100", with an optional fraction
// after the seconds and an optional zone (read in loc when absent), or an
// ISO 8601 stamp.
func parseStamp(b []byte, loc *time.Location) (time.Time, bool) {
	if len(b) >= 19 && b[4] == '-' {
		t, n, ok := syslog.ParseISO(b, true, loc)
		return t, ok && n == len(b)
	}
	if len(b) < 20 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' {
		return time.Time{}, false
	}
	day, ok1 := num(b[0:2])
	month := syslog.Month(b[3:6])
	year, ok2 := num(b[7:11])
	hour, ok3 := num(b[12:14])
	minute, ok4 := num(b[15:17])
	sec, ok5 := num(b[18:20])
	if !(ok1 && ok2 && ok3 && ok4 && ok5) || month == 0 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	if sec == 60 {
		sec = 59 // leap second: keep the stamp in its minute
	}
	i := 20
	ns := 0
	if i < len(b) && (b[i] == '.' || b[i] == ',') {
		i++
		scale := 100000000
		start := i
		for i < len(b) && isDigit(b[i]) {
			if scale > 0 {
				ns += int(b[i]-'0') * scale
				scale /= 10
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
	}
	var t time.Time
	switch {
	case i == len(b):
		if loc == nil {
			loc = time.UTC
		}
		t = time.Date(year, month, day, hour, minute, sec, ns, loc)
	case len(b)-i == 6 && b[i] == ' ' && (b[i+1] == '+' || b[i+1] == '-'):
		zh, ok1 := num(b[i+2 : i+4])
		zm, ok2 := num(b[i+4 : i+6])
		if !ok1 || !ok2 || zh > 23 || zm > 59 {
			return time.Time{}, false
		}
		off := time.Duration(zh*60+zm) * time.Minute
		if b[i+1] == '-' {
			off = -off
		}
		// In UTC, shifted by the offset: time.FixedZone would allocate.
		t = time.Date(year, month, day, hour, minute, sec, ns, time.UTC).Add(-off)
	default:
		return time.Time{}, false
	}
	return t, true
}

// daysIn returns the number of days in a month.
func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// num parses a short run of digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// isErrorLog reports whether b is an nginx or Apache error log line.
func isErrorLog(b []byte) bool {
	// nginx: "2026/11/27 10:00:00 [error] 1234#1234: ..."
	if len(b) > 21 && b[4] == '/' && b[7] == '/' && b[10] == ' ' && b[13] == ':' && b[19] == ' ' && b[20] == '[' {
		return isDigit(b[0]) && isDigit(b[9])
	}
	// Apache: "[Fri Nov 27 10:00:00.123456 2026] [core:error] ..."
	if len(b) > 10 && b[0] == '[' && b[4] == ' ' && syslog.Month(b[5:8]) != 0 {
		return bytes.Contains(b[:min(len(b), 48)], []byte("] ["))
	}
	return false
}

// quoted reads the double-quoted field at the start of b, allowing
// backslash escapes inside (Apache writes \" and \\), and returns its value
// and what follows it.
func quoted(b []byte) (val, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, b, false
	}
	i := 1
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return nil, nil, false
		}
		j += i
		k := j
		for k > 1 && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return b[1:j], b[j+1:], true
		}
		i = j + 1
	}
}

// token returns the space-separated field at the start of b (after any
// spaces) and what follows it.
func token(b []byte) (tok, rest []byte) {
	b = skipSpaces(b)
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

func skipSpaces(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// countTokens counts the space-separated fields of b, up to 3.
func countTokens(b []byte) int {
	n := 0
	for n < 3 {
		var t []byte
		t, b = token(b)
		if len(t) == 0 {
			break
		}
		n++
	}
	return n
}

// clip shortens a field quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}

var _ detect.Parser = (*Parser)(nil)

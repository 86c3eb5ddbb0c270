package httpd

import (
	"bytes"
	"net/netip"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// The helpers below are shared with the IIS parser (parsers/iis), so that
// every web server log maps the same way.

// EventType returns event.type for an HTTP response status. A web server
// has no verdict word of its own, so event.type says whether the server's
// access control let the request through: 401, 403 and 407 (authentication
// or authorisation refused), 429 (rate limited), nginx's 444 (connection
// closed without a response, the usual way of blocking bad clients) and
// nginx's 495 and 496 (client certificate bad or missing) are denied; any
// other status, including 404 and 5xx, is allowed (the server took the
// request and answered it). Rules that care about the outcome of a request
// read http.response.status_code. A status of 0 (absent) gives "".
func EventType(status int) string {
	switch status {
	case 0:
		return ""
	case 401, 403, 407, 429, 444, 495, 496:
		return detect.TypeDenied
	}
	return detect.TypeAllowed
}

// Transport returns network.transport for a request's protocol version
// ("HTTP/1.1", "HTTP/2.0", "HTTP/3"): udp for HTTP/3, which runs over QUIC,
// and tcp for anything else, since every other HTTP version, and anything
// that reached a web server without a valid request line, came over TCP.
func Transport(proto []byte) string {
	if len(proto) >= 6 && lex.HasPrefixFold(proto, "HTTP/3") {
		return detect.TransportUDP
	}
	return detect.TransportTCP
}

// Path returns url.path for a request target: the path without its query
// string or fragment, not percent-decoded; for an absolute target
// ("http://host/p?q", as sent to proxies) the path part. It returns nil when
// the target has no path.
func Path(target []byte) []byte {
	if len(target) > 0 && target[0] == '/' {
		for i, c := range target {
			if c == '?' || c == '#' {
				return target[:i]
			}
		}
		return target
	}
	return lex.Path(target)
}

// ClientIP returns the address of the client of a request, source.ip, from
// the chain of addresses the request passed through: xff, the value of the
// X-Forwarded-For header (a comma-separated list, oldest first), followed
// by peer, the address that connected to the server (which may itself be
// such a list, when a log format writes the header in place of the
// connecting address). Either may be empty or "-".
//
// The chain is read from the right, the end that the server can trust: an
// internal address (private, loopback or link-local, detect.DefaultInternal)
// is taken to be one of the site's own proxies or load balancers, which
// vouches for the address to its left; the first address that is not
// internal is the client, whatever the addresses to its left say, because
// they came from the client and are spoofable. When every address is
// internal, the leftmost one is the client. An element that is not an
// address ("unknown", a host name) ends the walk: the client is then the
// last internal address read, or there is none.
//
// So a public peer is always the client, and an X-Forwarded-For header
// counts only when the request came through an internal proxy.
func ClientIP(xff, peer []byte) netip.Addr {
	var cand netip.Addr
	for _, list := range [2][]byte{peer, xff} {
		for len(list) > 0 {
			var e []byte
			if j := bytes.LastIndexByte(list, ','); j >= 0 {
				e, list = list[j+1:], list[:j]
			} else {
				e, list = list, nil
			}
			e = trimList(e)
			if len(e) == 0 || (len(e) == 1 && e[0] == '-') {
				continue
			}
			a, ok := HostAddr(e)
			if !ok {
				return cand
			}
			if !detect.DefaultInternal(a) {
				return a
			}
			cand = a
		}
	}
	return cand
}

// EndsWithAddr reports whether b could be an X-Forwarded-For value: its
// last comma-separated element, the one the nearest proxy appended, is an
// address (with or without a port). Earlier elements come from the client
// and may be anything; ClientIP stops at the first that is not an address.
func EndsWithAddr(b []byte) bool {
	if i := bytes.LastIndexByte(b, ','); i >= 0 {
		b = b[i+1:]
	}
	_, ok := HostAddr(trimList(b))
	return ok
}

// HostAddr parses an address written alone, with a port ("192.0.2.1:443",
// "[2001:db8::1]:443") or in brackets.
func HostAddr(b []byte) (netip.Addr, bool) {
	if a, ok := lex.Addr(b); ok {
		return a, true
	}
	i := bytes.LastIndexByte(b, ':')
	if i <= 0 || i == len(b)-1 {
		return netip.Addr{}, false
	}
	for _, c := range b[i+1:] {
		if c < '0' || c > '9' {
			return netip.Addr{}, false
		}
	}
	h := b[:i]
	if h[0] == '[' {
		if h[len(h)-1] != ']' {
			return netip.Addr{}, false
		}
	} else if bytes.IndexByte(h, ':') >= 0 {
		return netip.Addr{}, false // an IPv6 address without brackets has no port
	}
	return lex.Addr(h)
}

// trimList trims the spaces (and W3C's '+' for a space) around a list
// element.
func trimList(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '+' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '+' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// Cache returns one shared string for each distinct byte string it is
// given, like lex.Interner, but for strings that are longer and vary more:
// user agents and URL paths. It holds at most Max entries (1024 when zero)
// of at most MaxLen bytes (512 when zero), and starts afresh when full, so
// memory stays bounded; longer strings are copied each time. Not safe for
// concurrent use.
type Cache struct {
	Max    int
	MaxLen int
	m      map[string]string
}

// Bytes returns b as a string, from the cache when it is there.
func (c *Cache) Bytes(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := c.m[string(b)]; ok {
		return s
	}
	s := string(b)
	maxLen := c.MaxLen
	if maxLen <= 0 {
		maxLen = 512
	}
	if len(b) > maxLen {
		return s
	}
	max := c.Max
	if max <= 0 {
		max = 1024
	}
	if c.m == nil {
		c.m = make(map[string]string, 64)
	} else if len(c.m) >= max {
		clear(c.m)
	}
	c.m[s] = s
	return s
}

// Method returns an HTTP method as a shared string: a constant for the
// common ones, else from names. It returns "" when b is not a method token
// (RFC 9110: 1 to 32 token characters), as for the TLS handshakes and other
// junk that scanners send to web ports.
func Method(b []byte, names *lex.Interner) string {
	switch string(b) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "HEAD":
		return "HEAD"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	case "PATCH":
		return "PATCH"
	case "CONNECT":
		return "CONNECT"
	case "TRACE":
		return "TRACE"
	case "PROPFIND":
		return "PROPFIND"
	}
	if len(b) == 0 || len(b) > 32 {
		return ""
	}
	for _, c := range b {
		if !isTchar(c) {
			return ""
		}
	}
	return names.Bytes(b)
}

// isTchar reports whether c may appear in an HTTP token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

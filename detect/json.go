package detect

import (
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e as one nested ECS JSON object (DESIGN.md §3.1) to dst.
// Absent fields are left out. It does not allocate when dst has room.
func (e *Event) AppendJSON(dst []byte) []byte { return e.AppendJSONWith(dst, nil) }

// Personal fields of an event: what an EventEncoder may hold back.
type PersonalField uint8

// Personal fields.
const (
	FieldUserName  PersonalField = iota // user.name
	FieldURLPath                        // url.path
	FieldUserAgent                      // user_agent.original
)

// An EventEncoder changes how AppendJSONWith writes an event: its addresses
// (the collector writes pseudonyms), and which personal fields it keeps.
// The collector's egress policy is one.
type EventEncoder interface {
	// AppendAddress appends a, without quotes.
	AppendAddress(b []byte, a netip.Addr) []byte
	// Keep reports whether the field is written.
	Keep(f PersonalField) bool
}

// AppendJSONWith is AppendJSON with enc writing the addresses and choosing
// the personal fields; a nil enc writes everything as it is.
func (e *Event) AppendJSONWith(dst []byte, enc EventEncoder) []byte {
	w := jsonWriter{b: dst, enc: enc}
	w.b = append(w.b, '{')
	if !e.Timestamp.IsZero() {
		w.key("@timestamp")
		w.b = append(w.b, '"')
		w.b = AppendTimestamp(w.b, e.Timestamp)
		w.b = append(w.b, '"')
	}

	w.open("event")
	w.str("category", e.Category)
	w.str("type", e.Type)
	w.str("action", e.Action)
	w.str("outcome", e.Outcome)
	w.str("dataset", e.Dataset)
	w.str("code", e.Code)
	w.int("severity", int64(e.Severity))
	w.close()

	w.open("observer")
	w.str("vendor", e.Observer.Vendor)
	w.str("product", e.Observer.Product)
	w.str("hostname", e.Observer.Hostname)
	w.close()

	w.endpoint("source", &e.Source)
	w.endpoint("destination", &e.Destination)

	w.open("network")
	w.str("transport", e.Network.Transport)
	w.str("protocol", e.Network.Protocol)
	w.str("direction", e.Network.Direction)
	w.count("bytes", e.Network.Bytes)
	w.count("packets", e.Network.Packets)
	w.close()

	w.open("rule")
	w.str("name", e.Rule.Name)
	w.str("id", e.Rule.ID)
	w.str("category", e.Rule.Category)
	w.close()

	if w.keep(FieldUserName) {
		w.open("user")
		w.str("name", e.UserName)
		w.close()
	}

	if w.keep(FieldURLPath) {
		w.open("url")
		w.str("path", e.URLPath)
		w.close()
	}

	if e.HTTPMethod != "" || e.HTTPStatus != 0 {
		w.open("http")
		if e.HTTPMethod != "" {
			w.open("request")
			w.str("method", e.HTTPMethod)
			w.close()
		}
		if e.HTTPStatus != 0 {
			w.open("response")
			w.int("status_code", int64(e.HTTPStatus))
			w.close()
		}
		w.close()
	}

	if w.keep(FieldUserAgent) {
		w.open("user_agent")
		w.str("original", e.UserAgent)
		w.close()
	}

	if e.Indicator != "" {
		w.open("threat")
		w.open("feed")
		w.str("name", e.Indicator)
		w.close()
		w.close()
	}

	w.b = append(w.b, '}')
	return w.b
}

// jsonWriter writes nested objects, opening each only when its first member
// arrives so that empty objects never appear.
type jsonWriter struct {
	b   []byte
	enc EventEncoder // nil: everything as it is
	// names is a stack of n objects; the first opened of them are written.
	names  [4]string
	n      int
	opened int
}

func (w *jsonWriter) open(name string) {
	w.names[w.n] = name
	w.n++
}

func (w *jsonWriter) close() {
	if w.opened == w.n {
		w.b = append(w.b, '}')
		w.opened--
	}
	w.n--
}

// key writes a member name, first opening any pending objects.
func (w *jsonWriter) key(k string) {
	for w.opened < w.n {
		w.sep()
		w.b = append(w.b, '"')
		w.b = append(w.b, w.names[w.opened]...)
		w.b = append(w.b, '"', ':', '{')
		w.opened++
	}
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// sep writes a comma unless the member is the first of its object.
func (w *jsonWriter) sep() {
	if w.b[len(w.b)-1] != '{' {
		w.b = append(w.b, ',')
	}
}

func (w *jsonWriter) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = AppendJSONString(w.b, v)
}

func (w *jsonWriter) int(k string, v int64) {
	if v == 0 {
		return
	}
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) count(k string, c Count) {
	if !c.Valid {
		return
	}
	w.key(k)
	w.b = strconv.AppendInt(w.b, c.N, 10)
}

func (w *jsonWriter) ip(k string, a netip.Addr) {
	if !a.IsValid() {
		return
	}
	w.key(k)
	w.b = w.appendAddress(w.b, a)
}

// appendAddress appends a in quotes, as the encoder writes it.
func (w *jsonWriter) appendAddress(b []byte, a netip.Addr) []byte {
	b = append(b, '"')
	if w.enc != nil {
		b = w.enc.AppendAddress(b, a)
	} else {
		b = a.AppendTo(b)
	}
	return append(b, '"')
}

func (w *jsonWriter) keep(f PersonalField) bool { return w.enc == nil || w.enc.Keep(f) }

func (w *jsonWriter) endpoint(name string, p *Endpoint) {
	w.open(name)
	w.ip("ip", p.IP)
	w.int("port", int64(p.Port))
	w.count("bytes", p.Bytes)
	if p.NATIP.IsValid() {
		w.open("nat")
		w.ip("ip", p.NATIP)
		w.close()
	}
	w.close()
}

// AppendTimestamp appends t in UTC as RFC 3339, with as many fractional
// digits as it needs (none for whole seconds).
func AppendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so output is always valid JSON.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript readers of JSON.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

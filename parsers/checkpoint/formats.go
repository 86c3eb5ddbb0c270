package checkpoint

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

var (
	errUnterminated = errors.New("checkpoint: unterminated field list (no closing ']')")
	errValue        = errors.New("checkpoint: unterminated quoted value")
)

// scanBracket reads the default syslog format's body:
// [key:"value"; key:"value"; ...]. Values are quoted, with \" \\ \] and
// \uXXXX escapes; a few keys are written with two colons (sys_message::).
func (p *Parser) scanBracket(b []byte) error {
	f := &p.f
	i := 1 // after '['
	for {
		// Fields are separated by "; ", which is skipped without a loop.
		if i+1 < len(b) && b[i] == ';' && b[i+1] == ' ' {
			i += 2
		}
		for i < len(b) && (b[i] == ' ' || b[i] == ';') {
			i++
		}
		if i >= len(b) {
			return errUnterminated
		}
		if b[i] == ']' {
			return nil
		}
		ks := i
		i = keyEnd(b, i)
		if i >= len(b) {
			return errUnterminated
		}
		if b[i] != ':' || i == ks {
			return fmt.Errorf("checkpoint: malformed field at %q", clip(b[ks:]))
		}
		key := b[ks:i]
		i++
		for i < len(b) && b[i] == ':' {
			i++
		}
		if i < len(b) && b[i] == '"' {
			i++
			end := bytes.IndexByte(b[i:], '"')
			if end < 0 {
				return errValue
			}
			end += i
			if end > i && b[end-1] == '\\' {
				if end = closingQuote(b, i); end < 0 {
					return errValue
				}
			}
			if mayBeNative(key) {
				f.native(key, b[i:end])
			}
			i = end + 1
			continue
		}
		// An unquoted value runs to the next ';' or the end.
		vs := i
		for i < len(b) && b[i] != ';' && b[i] != ']' {
			i++
		}
		if mayBeNative(key) {
			f.native(key, trim(b[vs:i]))
		}
	}
}

// closingQuote returns the index of the first quote at or after i that no
// backslash escapes, or -1.
func closingQuote(b []byte, i int) int { return lex.Unescaped(b, i, '"') }

// keyStop is 1 for the bytes that end a key of the bracket format.
var keyStop = [256]uint8{':': 1, ';': 1, ']': 1, '"': 1}

// keyEnd returns the index of the first byte at or after i that ends a key
// (':', ';', ']' or '"'), or len(b). It tests four bytes a step.
func keyEnd(b []byte, i int) int {
	for i+4 <= len(b) {
		c := b[i : i+4 : i+4]
		if keyStop[c[0]]|keyStop[c[1]]|keyStop[c[2]]|keyStop[c[3]] != 0 {
			break
		}
		i += 4
	}
	for i < len(b) && keyStop[b[i]] == 0 {
		i++
	}
	return i
}

// scanFields reads the structured-data variant:
// [Fields@1.3.6.1.4.1.2620 key="value" key="value" ...].
func (p *Parser) scanFields(b []byte) error {
	f := &p.f
	i := len(fieldsSDID)
	for i < len(b) && b[i] != ' ' && b[i] != ']' {
		i++
	}
	for {
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i >= len(b) {
			return errUnterminated
		}
		if b[i] == ']' {
			return nil
		}
		ks := i
		for i < len(b) && b[i] != '=' && b[i] != ' ' && b[i] != ']' {
			i++
		}
		if i+1 >= len(b) || b[i] != '=' || b[i+1] != '"' || i == ks {
			return fmt.Errorf("checkpoint: malformed structured-data parameter at %q", clip(b[ks:]))
		}
		key := b[ks:i]
		i += 2
		end := closingQuote(b, i)
		if end < 0 {
			return errValue
		}
		f.native(key, b[i:end])
		i = end + 1
	}
}

// scanSplunk reads the legacy splunk format: key=value pairs separated by
// '|', with \| and \= escapes in values.
func (p *Parser) scanSplunk(b []byte) error {
	f := &p.f
	i := 0
	for i < len(b) {
		ks := i
		for i < len(b) && b[i] != '=' && b[i] != '|' {
			i++
		}
		if i >= len(b) || b[i] == '|' {
			i++ // a token without '=' (or a trailing "|"): skip it
			continue
		}
		key := b[ks:i]
		i++
		vs := i
		for i < len(b) && b[i] != '|' {
			if b[i] == '\\' {
				i++
			}
			i++
		}
		if i > len(b) {
			i = len(b)
		}
		f.native(key, b[vs:i])
		i++
	}
	if f.action == nil && f.product == nil {
		return errors.New("checkpoint: splunk format line without action or product")
	}
	return nil
}

// scanCEF reads a CEF line from its version on:
// Version|Vendor|Product|Version|Class|Name|Severity|Extension.
func (p *Parser) scanCEF(b []byte) error {
	f := &p.f
	p.cefSet = true
	var h [6][]byte
	n, from := 0, 0
	for n < 6 {
		j := cefPipe(b, from)
		if j < 0 {
			break
		}
		h[n] = b[from:j]
		n++
		from = j + 1
	}
	if n < 6 {
		return fmt.Errorf("checkpoint: CEF header has %d of 7 fields", n+1)
	}
	// h[0] is the CEF version and h[1] the vendor, Check Point. Severity
	// and extension remain.
	var ext []byte
	if j := cefPipe(b, from); j >= 0 {
		f.cefSeverity = b[from:j]
		ext = b[j+1:]
	} else {
		f.cefSeverity = b[from:]
	}
	f.cefProduct = h[2]
	f.cefClass = h[4]
	f.cefName = h[5]
	p.extension(ext)
	f.labels()
	return nil
}

// cefPipe returns the index of the first '|' at or after i that no
// backslash escapes, or -1.
func cefPipe(b []byte, i int) int { return lex.Unescaped(b, i, '|') }

// extension reads the CEF extension: key=value pairs whose values run to
// the space before the next key (a run of key characters followed by an
// unescaped '=').
func (p *Parser) extension(ext []byte) {
	var key []byte
	from := -1
	for pos := 0; ; {
		e, k := nextKey(ext, pos)
		if from >= 0 {
			end := len(ext)
			if e >= 0 {
				end = k - 1
			}
			if end < from {
				end = from
			}
			p.cefPair(key, trim(ext[from:end]))
		}
		if e < 0 {
			return
		}
		key, from, pos = ext[k:e], e+1, e+1
	}
}

// nextKey finds the next key at or after pos: it returns the index of its
// '=' and of its first byte, or -1, -1.
func nextKey(b []byte, pos int) (eq, k int) {
	for pos < len(b) {
		i := bytes.IndexByte(b[pos:], '=')
		if i < 0 {
			return -1, -1
		}
		e := pos + i
		pos = e + 1
		// A key is a run of key bytes: an '=' after a backslash, escaped
		// or not, has none.
		s := e
		for s > 0 && keyBytes[b[s-1]] {
			s--
		}
		if s < e && (s == 0 || b[s-1] == ' ') && !(b[s] >= '0' && b[s] <= '9') {
			return e, s
		}
	}
	return -1, -1
}

// cefPair files one CEF extension pair.
func (p *Parser) cefPair(key, val []byte) {
	f := &p.f
	switch string(key) {
	case "act", "deviceAction":
		f.action = val
	case "src", "sourceAddress":
		f.src, f.sawSrc = val, true
	case "dst", "destinationAddress":
		f.dst, f.sawDst = val, true
	case "spt", "sourcePort":
		f.sport = val
	case "dpt", "destinationPort":
		f.dport = val
	case "sourceTranslatedAddress":
		f.xsrc = val
	case "destinationTranslatedAddress":
		f.xdst = val
	case "c6a2", "deviceCustomIPv6Address2":
		f.src6 = val
	case "c6a2Label", "deviceCustomIPv6Address2Label":
		f.c6a2Label = val
	case "c6a3", "deviceCustomIPv6Address3":
		f.dst6 = val
	case "c6a3Label", "deviceCustomIPv6Address3Label":
		f.c6a3Label = val
	case "rt", "deviceReceiptTime":
		f.time = val
	case "start":
		if f.time == nil {
			f.time = val
		}
	case "suser", "sourceUserName":
		f.suser = val
	case "duser", "destinationUserName":
		f.duser = val
	case "request", "requestUrl":
		f.resource = val
	case "requestMethod":
		f.method = val
	case "requestClientApplication":
		f.ua = val
	case "in", "bytesIn":
		f.cefIn = val
	case "out", "bytesOut":
		f.cefOut = val
	case "outcome", "eventOutcome":
		f.outcome = val
	case "cs1", "deviceCustomString1":
		f.cs[0] = val
	case "cs2", "deviceCustomString2":
		f.cs[1] = val
	case "cs3", "deviceCustomString3":
		f.cs[2] = val
	case "cs4", "deviceCustomString4":
		f.cs[3] = val
	case "cs5", "deviceCustomString5":
		f.cs[4] = val
	case "cs6", "deviceCustomString6":
		f.cs[5] = val
	case "cs1Label", "deviceCustomString1Label":
		f.csLabel[0] = val
	case "cs2Label", "deviceCustomString2Label":
		f.csLabel[1] = val
	case "cs3Label", "deviceCustomString3Label":
		f.csLabel[2] = val
	case "cs4Label", "deviceCustomString4Label":
		f.csLabel[3] = val
	case "cs5Label", "deviceCustomString5Label":
		f.csLabel[4] = val
	case "cs6Label", "deviceCustomString6Label":
		f.csLabel[5] = val
	default:
		if mayBeNative(key) {
			f.native(key, val)
		}
	}
}

// preHeader reads a header that the syslog parser left in the message: the
// old exporter's "1 2026-11-27 10:00:00 host CheckPoint pid - ", possibly
// after a "<PRI>" when the line was relayed behind a BSD header.
func (p *Parser) preHeader(rec *detect.Record, pre []byte) {
	b := pre
	if len(b) > 0 && b[0] == '<' {
		j := bytes.IndexByte(b, '>')
		if j < 0 || j > 4 {
			return
		}
		b = b[j+1:]
	}
	if len(b) < 2 || b[0] < '1' || b[0] > '9' || b[1] != ' ' {
		return
	}
	b = b[2:]
	t, n, ok := syslog.ParseISO(b, true, rec.Location())
	if !ok {
		return
	}
	p.f.preTime = t
	b = trim(b[n:])
	if sp := bytes.IndexByte(b, ' '); sp > 0 && !(sp == 1 && b[0] == '-') {
		p.f.preHost = b[:sp]
	}
}

// clip shortens text quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

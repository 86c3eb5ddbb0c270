package syslog

import (
	"bytes"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Parse takes the syslog header of rec.Raw apart into rec's header fields and
// sets rec.Msg to what follows it. A line without a recognisable header is
// left whole in rec.Msg with rec.Syslog == SyslogNone; that is not an error,
// because many devices write bare lines to files.
//
// Accepted shapes, each with or without <PRI>:
//
//	<PRI>1 2026-11-27T10:00:00.1Z host app procid msgid [sd] msg   (RFC 5424)
//	Nov 27 10:00:00 host tag[pid]: msg                              (RFC 3164)
//	Nov 27 2026 10:00:00 host tag: msg                              (year)
//	2026-11-27T10:00:00+01:00 host tag: msg                         (ISO stamp)
//	Nov 27 10:00:00 tag[pid]: msg                                   (no host)
//	Nov 27 2026 10:00:00: %ASA-...   host : %ASA-...                (Cisco)
//	tag[pid]: msg                                                   (no stamp)
//
// rec.Ref and rec.Loc are read for stamps without a year or zone.
func Parse(rec *detect.Record) {
	b := rec.Raw
	rec.Msg = b
	rec.Syslog = detect.SyslogNone
	rec.Priority = -1
	rec.Time = timeZero
	rec.Host, rec.App, rec.ProcID, rec.MsgID, rec.SD = nil, nil, nil, nil, nil

	i := 0
	if len(b) > 2 && b[0] == '<' {
		pri, n := 0, 0
		for j := 1; j < len(b) && j <= 4; j++ {
			c := b[j]
			if c == '>' {
				if n > 0 && pri <= 191 {
					rec.Priority = pri
					i = j + 1
				}
				break
			}
			if c < '0' || c > '9' {
				break
			}
			pri = pri*10 + int(c-'0')
			n++
		}
		if rec.Priority >= 0 && i+1 < len(b) && b[i] >= '1' && b[i] <= '9' && b[i+1] == ' ' {
			if parse5424(rec, b, i+2) {
				return
			}
		}
	}
	rest := b[i:]
	rec.Msg = rest
	if rec.Priority >= 0 {
		rec.Syslog = detect.SyslogRFC3164
	}

	loc := rec.Location()
	t, n, ok := ParseBSD(rest, rec.Ref, loc)
	if !ok {
		t, n, ok = ParseISO(rest, false, loc)
	}
	if !ok {
		// No stamp: only a tag may follow ("filterlog[123]: ...").
		if app, pid, m, ok := tag(rest); ok {
			rec.Syslog = detect.SyslogRFC3164
			rec.App, rec.ProcID, rec.Msg = app, pid, m
		}
		return
	}
	rec.Syslog = detect.SyslogRFC3164
	rec.Time = t
	rest = rest[n:]
	if len(rest) > 0 && rest[0] == ':' { // Cisco: "Nov 27 2026 10:00:00: %ASA..."
		rest = rest[1:]
	}
	rest = trimSpace(rest)
	rec.Msg = rest

	// A token that is itself a tag means there is no host name.
	if app, pid, m, ok := tag(rest); ok {
		rec.App, rec.ProcID, rec.Msg = app, pid, m
		return
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 || !isHost(rest[:sp]) {
		return
	}
	rec.Host = rest[:sp]
	rest = trimSpace(rest[sp:])
	rec.Msg = rest
	if len(rest) > 0 && rest[0] == ':' { // Cisco: "host : %ASA..."
		rec.Msg = trimSpace(rest[1:])
		return
	}
	if app, pid, m, ok := tag(rest); ok {
		rec.App, rec.ProcID, rec.Msg = app, pid, m
	}
}

// tag recognises "tag[pid]: msg" or "tag: msg" at the start of b.
func tag(b []byte) (app, pid, msg []byte, ok bool) {
	i := 0
	for i < len(b) && i < 64 && isTagByte(b[i]) {
		i++
	}
	if i == 0 || i >= len(b) {
		return nil, nil, nil, false
	}
	app = b[:i]
	if b[i] == '[' {
		j := bytes.IndexByte(b[i:], ']')
		if j < 2 || j > 24 {
			return nil, nil, nil, false
		}
		pid = b[i+1 : i+j]
		i += j + 1
		if i >= len(b) || b[i] != ':' {
			// "tag[pid] msg" without a colon is rare but real (some BSDs).
			if i < len(b) && b[i] == ' ' {
				return app, pid, trimSpace(b[i:]), true
			}
			return nil, nil, nil, false
		}
		return app, pid, trimSpace(b[i+1:]), true
	}
	if b[i] != ':' {
		return nil, nil, nil, false
	}
	// "tag:" must be followed by a space or the end, so that "CEF:0|",
	// "IN=..." and "2026-..." are not taken for tags.
	if i+1 < len(b) && b[i+1] != ' ' {
		return nil, nil, nil, false
	}
	return app, nil, trimSpace(b[i+1:]), true
}

func isTagByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '/'
}

// isHost reports whether b can be a host name or address.
func isHost(b []byte) bool {
	if len(b) > 255 || b[0] == '%' || b[len(b)-1] == ':' {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':' || c == '%') {
			return false
		}
	}
	return true
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// nextField returns the space-separated field at b[i:] and the index after
// its separator.
func nextField(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) {
		return nil, i, false
	}
	j := bytes.IndexByte(b[i:], ' ')
	if j < 0 {
		return b[i:], len(b), true
	}
	return b[i : i+j], i + j + 1, true
}

func nilDash(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

// parse5424 parses the RFC 5424 header after "<PRI>V ", at b[i:].
func parse5424(rec *detect.Record, b []byte, i int) bool {
	ts, i, ok := nextField(b, i)
	if !ok {
		return false
	}
	var t = timeZero
	if !(len(ts) == 1 && ts[0] == '-') {
		var n int
		t, n, ok = ParseISO(ts, false, rec.Location())
		if !ok || n != len(ts) {
			return false
		}
	}
	host, i, ok1 := nextField(b, i)
	app, i, ok2 := nextField(b, i)
	procid, i, ok3 := nextField(b, i)
	msgid, i, ok4 := nextField(b, i)
	if !(ok1 && ok2 && ok3 && ok4) {
		return false
	}
	var sd []byte
	if i < len(b) && b[i] == '-' {
		i++
	} else if i < len(b) && b[i] == '[' {
		end := sdEnd(b, i)
		if end < 0 {
			return false
		}
		sd = b[i:end]
		i = end
	} else {
		return false
	}
	var msg []byte
	if i < len(b) {
		if b[i] != ' ' {
			return false
		}
		msg = b[i+1:]
		msg = bytes.TrimPrefix(msg, bom)
	}
	rec.Syslog = detect.SyslogRFC5424
	rec.Time = t
	rec.Host, rec.App, rec.ProcID, rec.MsgID = nilDash(host), nilDash(app), nilDash(procid), nilDash(msgid)
	rec.SD = sd
	rec.Msg = msg
	return true
}

var bom = []byte{0xef, 0xbb, 0xbf}

// sdEnd returns the index after the structured data that starts at b[i]
// with '[', or -1 if it is malformed. Inside quoted values, \" \\ and \]
// are escapes. Juniper and Check Point send kilobytes of structured data
// per line, so it works a span at a time: from one ']' or backslash to the
// next, it counts quotes with one vector pass instead of stopping at each.
func sdEnd(b []byte, i int) int {
	for i < len(b) && b[i] == '[' {
		p := i + 1
		in := false // inside a quoted value
		for {
			j := bytes.IndexByte(b[p:], ']')
			if j < 0 {
				return -1
			}
			r := p + j
			for {
				e := r
				k := bytes.IndexByte(b[p:r], '\\')
				if k >= 0 {
					e = p + k
				}
				if bytes.Count(b[p:e], quote)%2 == 1 {
					in = !in
				}
				if k < 0 {
					break
				}
				n := 1
				for b[e+n] == '\\' { // stops at b[r] == ']' at the latest
					n++
				}
				p = e + n
				if in && n%2 == 1 && b[p] == '"' {
					p++ // an escaped quote
				}
			}
			if !in {
				i = r + 1
				break
			}
			p = r + 1
		}
	}
	return i
}

var quote = []byte{'"'}

var timeZero time.Time

// SDParams calls fn for each parameter of RFC 5424 structured data, with
// the SD-ID of its element and the value as written (escapes intact; see
// UnescapeSD). It stops when fn returns false.
func SDParams(sd []byte, fn func(id, name, value []byte) bool) {
	i := 0
	for i < len(sd) && sd[i] == '[' {
		i++
		j := i
		for j < len(sd) && sd[j] != ' ' && sd[j] != ']' {
			j++
		}
		id := sd[i:j]
		i = j
		for i < len(sd) && sd[i] == ' ' {
			i++
			k := bytes.IndexByte(sd[i:], '=')
			if k < 0 || i+k+1 >= len(sd) || sd[i+k+1] != '"' {
				return
			}
			name := sd[i : i+k]
			v := i + k + 2
			e := v
			for e < len(sd) && sd[e] != '"' {
				if sd[e] == '\\' {
					e++
				}
				e++
			}
			if e >= len(sd) {
				return
			}
			if !fn(id, name, sd[v:e]) {
				return
			}
			i = e + 1
		}
		if i < len(sd) && sd[i] == ']' {
			i++
		}
	}
}

// SDParam returns the value of the named parameter in the element with the
// given SD-ID prefix ("" matches any element).
func SDParam(sd []byte, idPrefix, name string) (val []byte, found bool) {
	SDParams(sd, func(id, n, v []byte) bool {
		if string(n) == name && bytes.HasPrefix(id, []byte(idPrefix)) {
			val, found = v, true
			return false
		}
		return true
	})
	return val, found
}

// UnescapeSD appends v with the RFC 5424 escapes \" \\ \] undone.
func UnescapeSD(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
		}
		dst = append(dst, v[i])
	}
	return dst
}

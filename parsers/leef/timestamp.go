package leef

import (
	"time"
	"unsafe"

	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// bs returns s as a read-only byte slice, without copying.
func bs(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// parseTime reads devTime: with devTimeFormat when it is given and fits,
// else by its shape. A stamp without a zone is read in loc; one without a
// year takes the year nearest to ref.
func parseTime(v, format []byte, ref time.Time, loc *time.Location) (time.Time, bool) {
	v = lex.Trim(v)
	if len(v) == 0 {
		return time.Time{}, false
	}
	if f := lex.Trim(format); len(f) > 0 {
		if t, ok := parseFormat(v, f, ref, loc); ok {
			return t, true
		}
	}
	return parseAuto(v, ref, loc)
}

// parseAuto reads the usual devTime shapes:
//
//	1795773600000 / 1795773600        milliseconds or seconds since the epoch
//	2026-11-27T10:00:00[.SSS][zone]   ISO 8601, 'T' or ' ' between date and time
//	Nov 27 2026 10:00:00[.SSS] [zone] MMM dd [yyyy] HH:mm:ss (the LEEF default)
//	Fri Nov 27 10:00:00 2026 [zone]   EEE MMM dd HH:mm:ss yyyy
func parseAuto(b []byte, ref time.Time, loc *time.Location) (time.Time, bool) {
	if n, ok := lex.Uint(b); ok {
		switch {
		case n <= 0:
			return time.Time{}, false
		case n >= 100_000_000_000: // milliseconds: after 1973
			return time.UnixMilli(n).UTC(), true
		default:
			return time.Unix(n, 0).UTC(), true
		}
	}
	if b[0] >= '0' && b[0] <= '9' {
		t, n, ok := syslog.ParseISO(b, true, time.UTC)
		if !ok {
			return time.Time{}, false
		}
		z := 19
		if z < n && (b[z] == '.' || b[z] == ',') {
			for z++; z < n && b[z] >= '0' && b[z] <= '9'; z++ {
			}
		}
		if n > z {
			return t, true // the stamp has its own offset
		}
		if rest := lex.Trim(b[n:]); len(rest) > 0 {
			off, ok := zoneOffset(rest)
			if !ok {
				return time.Time{}, false
			}
			return t.Add(-time.Duration(off) * time.Second), true
		}
		return inZone(t, loc), true
	}
	weekday := false
	if len(b) > 4 && b[3] == ' ' && syslog.Month(b[:3]) == 0 && isLetter(b[0]) {
		b = b[4:]
		weekday = true
	}
	t, n, ok := syslog.ParseBSD(b, ref, time.UTC)
	if !ok {
		return time.Time{}, false
	}
	rest := b[n:]
	if weekday && len(rest) >= 5 && rest[0] == ' ' {
		if y, ok := lex.Uint(rest[1:5]); ok && (len(rest) == 5 || rest[5] == ' ') {
			t = time.Date(int(y), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			rest = rest[5:]
		}
	}
	rest = lex.Trim(rest)
	if len(rest) == 0 {
		return inZone(t, loc), true
	}
	off, ok := zoneOffset(rest)
	if !ok {
		return time.Time{}, false
	}
	return t.Add(-time.Duration(off) * time.Second), true
}

// parseFormat reads v with a Java SimpleDateFormat pattern. It knows the
// letters y M d H k h K a m s S E z Z X and quoted literals; any other
// pattern letter makes it fail (and parseAuto is tried).
func parseFormat(v, f []byte, ref time.Time, loc *time.Location) (time.Time, bool) {
	year, month, day := -1, 0, 0
	hour, min, sec, nsec := 0, 0, 0, 0
	pm, ampm := false, false
	off, hasOff := 0, false
	i := 0 // position in v
	for j := 0; j < len(f); {
		c := f[j]
		if c == '\'' {
			// 'literal' or '' (a quote).
			k := j + 1
			if k < len(f) && f[k] == '\'' {
				if i >= len(v) || v[i] != '\'' {
					return time.Time{}, false
				}
				i++
				j += 2
				continue
			}
			for k < len(f) && f[k] != '\'' {
				if i >= len(v) || v[i] != f[k] {
					return time.Time{}, false
				}
				i++
				k++
			}
			j = k + 1
			continue
		}
		if !isLetter(c) {
			if i >= len(v) || v[i] != c {
				return time.Time{}, false
			}
			i++
			j++
			continue
		}
		n := 1
		for j+n < len(f) && f[j+n] == c {
			n++
		}
		j += n
		// The next pattern byte, to know where an unpadded number ends.
		var ok bool
		switch c {
		case 'y':
			var y int
			if n == 2 {
				y, i, ok = digitsN(v, i, 2, 2)
				y += 2000
			} else {
				y, i, ok = digitsN(v, i, 4, 4)
			}
			year = y
		case 'M':
			if n >= 3 {
				month, i, ok = monthName(v, i)
			} else {
				month, i, ok = digitsN(v, i, 1, 2)
			}
		case 'd':
			day, i, ok = digitsN(v, i, 1, 2)
		case 'H', 'k':
			hour, i, ok = digitsN(v, i, 1, 2)
			if c == 'k' && hour == 24 {
				hour = 0
			}
		case 'h', 'K':
			hour, i, ok = digitsN(v, i, 1, 2)
			ampm = true
		case 'a':
			if i+2 <= len(v) && (v[i]|0x20 == 'a' || v[i]|0x20 == 'p') && v[i+1]|0x20 == 'm' {
				pm = v[i]|0x20 == 'p'
				i += 2
				ok = true
			}
		case 'm':
			min, i, ok = digitsN(v, i, 1, 2)
		case 's':
			sec, i, ok = digitsN(v, i, 1, 2)
		case 'S':
			// Fraction digits: "SSS" is milliseconds; read however many
			// digits are there as a decimal fraction.
			start := i
			ns, scale := 0, 100000000
			for i < len(v) && v[i] >= '0' && v[i] <= '9' && i-start < 9 {
				ns += int(v[i]-'0') * scale
				scale /= 10
				i++
			}
			for i < len(v) && v[i] >= '0' && v[i] <= '9' {
				i++
			}
			nsec, ok = ns, i > start
		case 'E':
			start := i
			for i < len(v) && isLetter(v[i]) {
				i++
			}
			ok = i > start
		case 'z', 'Z', 'X':
			k := i
			for k < len(v) && v[k] != ' ' {
				k++
			}
			off, ok = zoneOffset(v[i:k])
			hasOff = ok
			i = k
		default:
			return time.Time{}, false
		}
		if !ok {
			return time.Time{}, false
		}
	}
	if i != len(v) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 {
		return time.Time{}, false
	}
	if ampm {
		if hour > 12 {
			return time.Time{}, false
		}
		if hour == 12 {
			hour = 0
		}
		if pm {
			hour += 12
		}
	}
	if sec == 60 {
		sec = 59
	}
	zone := loc
	if hasOff || zone == nil {
		zone = time.UTC
	}
	var t time.Time
	if year < 0 {
		t = syslog.NearestYear(ref, time.Month(month), day, hour, min, sec, nsec, zone)
	} else {
		t = time.Date(year, time.Month(month), day, hour, min, sec, nsec, zone)
	}
	if t.Day() != day {
		return time.Time{}, false // 31 February
	}
	if hasOff {
		t = t.Add(-time.Duration(off) * time.Second)
	}
	return t, true
}

// digitsN reads between lo and hi digits at b[i:].
func digitsN(b []byte, i, lo, hi int) (int, int, bool) {
	v, n := 0, 0
	for i < len(b) && n < hi && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int(b[i]-'0')
		i++
		n++
	}
	return v, i, n >= lo
}

// monthName reads a month's English name or abbreviation at b[i:].
func monthName(b []byte, i int) (int, int, bool) {
	if i+3 > len(b) {
		return 0, i, false
	}
	m := syslog.Month(b[i : i+3])
	if m == 0 {
		return 0, i, false
	}
	i += 3
	for i < len(b) && isLetter(b[i]) {
		i++
	}
	return int(m), i, true
}

// inZone re-reads the clock of t, a UTC time, in loc.
func inZone(t time.Time, loc *time.Location) time.Time {
	if loc == nil || loc == time.UTC {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// zoneOffset reads a zone: UTC, GMT, Z, "+01:00", "+0100", "GMT+01:00", or
// a common abbreviation. It returns seconds east of UTC.
func zoneOffset(b []byte) (int, bool) {
	if lex.HasPrefixFold(b, "GMT") || lex.HasPrefixFold(b, "UTC") {
		if len(b) == 3 {
			return 0, true
		}
		b = b[3:]
	}
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		return numericOffset(b)
	}
	switch string(b) {
	case "Z", "UT", "WET":
		return 0, true
	case "CET", "BST", "WEST":
		return 3600, true
	case "IST":
		return 5*3600 + 1800, true
	case "CEST", "EET":
		return 2 * 3600, true
	case "EEST", "MSK":
		return 3 * 3600, true
	case "EST", "CDT":
		return -5 * 3600, true
	case "EDT":
		return -4 * 3600, true
	case "CST", "MDT":
		return -6 * 3600, true
	case "MST", "PDT":
		return -7 * 3600, true
	case "PST":
		return -8 * 3600, true
	case "JST":
		return 9 * 3600, true
	case "AEST":
		return 10 * 3600, true
	case "AEDT":
		return 11 * 3600, true
	}
	return 0, false
}

// numericOffset reads "+hh:mm", "+hhmm" or "+hh".
func numericOffset(b []byte) (int, bool) {
	sign := 1
	if b[0] == '-' {
		sign = -1
	}
	b = b[1:]
	var h, m int64
	var ok bool
	switch {
	case len(b) == 2:
		h, ok = lex.Uint(b)
	case len(b) == 4:
		if h, ok = lex.Uint(b[:2]); ok {
			m, ok = lex.Uint(b[2:])
		}
	case len(b) == 5 && b[2] == ':':
		if h, ok = lex.Uint(b[:2]); ok {
			m, ok = lex.Uint(b[3:])
		}
	}
	if !ok || h > 14 || m > 59 {
		return 0, false
	}
	return sign * int(h*3600+m*60), true
}

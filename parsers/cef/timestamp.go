package cef

import (
	"time"

	"github.com/cyberalarm/cyberalarm/parsers/lex"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// parseTime reads a CEF time stamp (rt, start, end):
//
//	1795773600000                     milliseconds since the epoch (seconds too)
//	Nov 27 2026 10:00:00[.SSS] [zone] MMM dd [yyyy] HH:mm:ss, with or without year
//	2026-11-27T10:00:00[.SSS][zone]   ISO 8601, 'T' or ' ' between date and time
//	Tue Nov 27 10:00:00 2026 [zone]   EEE MMM dd HH:mm:ss yyyy (Cisco)
//
// A stamp without a zone is read in loc; a year-less one takes the year
// nearest to ref. A zone this function does not know makes the stamp
// unusable rather than wrong.
func parseTime(b []byte, ref time.Time, loc *time.Location) (time.Time, bool) {
	b = lex.Trim(b)
	if len(b) == 0 {
		return time.Time{}, false
	}
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
			off, ok := zoneOffset(rest) // "2026-11-27 10:00:00 UTC"
			if !ok {
				return time.Time{}, false
			}
			return t.Add(-time.Duration(off) * time.Second), true
		}
		return inZone(t, loc), true
	}

	// "Tue Nov 27 ...": skip the weekday.
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
		// ctime: the year follows the clock.
		if y, ok := lex.Uint(rest[1:5]); ok && (len(rest) == 5 || rest[5] == ' ') {
			t = time.Date(int(y), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
			rest = rest[5:]
		}
	}
	rest = lex.Trim(rest)
	if len(rest) == 0 {
		// No zone: the clock is loc's.
		return inZone(t, loc), true
	}
	off, ok := zoneOffset(rest)
	if !ok {
		return time.Time{}, false
	}
	return t.Add(-time.Duration(off) * time.Second), true
}

// inZone re-reads the clock of t, a UTC time, in loc.
func inZone(t time.Time, loc *time.Location) time.Time {
	if loc == nil || loc == time.UTC {
		return t
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc)
}

// zoneOffset reads a zone after a stamp: UTC, GMT, Z, "+01:00", "+0100",
// "GMT+01:00", or a common abbreviation. It returns seconds east of UTC.
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

// Package syslog takes syslog headers apart (RFC 3164 in its many real-world
// shapes, and RFC 5424) and frames syslog streams (newline and octet
// counting). It is hand-written because it is on every line's path; the
// tests check it against go-syslog/v4 and the benchmarks compare the two.
package syslog

import (
	"time"
)

// Month returns the month of a three-letter English abbreviation, matched
// without regard to case, or 0.
func Month(b []byte) time.Month {
	if len(b) != 3 {
		return 0
	}
	k := uint32(b[0]|0x20)<<16 | uint32(b[1]|0x20)<<8 | uint32(b[2]|0x20)
	switch k {
	case 'j'<<16 | 'a'<<8 | 'n':
		return time.January
	case 'f'<<16 | 'e'<<8 | 'b':
		return time.February
	case 'm'<<16 | 'a'<<8 | 'r':
		return time.March
	case 'a'<<16 | 'p'<<8 | 'r':
		return time.April
	case 'm'<<16 | 'a'<<8 | 'y':
		return time.May
	case 'j'<<16 | 'u'<<8 | 'n':
		return time.June
	case 'j'<<16 | 'u'<<8 | 'l':
		return time.July
	case 'a'<<16 | 'u'<<8 | 'g':
		return time.August
	case 's'<<16 | 'e'<<8 | 'p':
		return time.September
	case 'o'<<16 | 'c'<<8 | 't':
		return time.October
	case 'n'<<16 | 'o'<<8 | 'v':
		return time.November
	case 'd'<<16 | 'e'<<8 | 'c':
		return time.December
	}
	return 0
}

// NearestYear returns the time with the given month, day and clock in loc,
// in whichever of the years around ref puts it nearest to ref. A zero ref
// means now.
func NearestYear(ref time.Time, month time.Month, day, hour, min, sec, nsec int, loc *time.Location) time.Time {
	if ref.IsZero() {
		ref = time.Now()
	}
	y := ref.In(loc).Year()
	t := time.Date(y, month, day, hour, min, sec, nsec, loc)
	// Only a stamp more than half a year from ref can be nearer in the
	// year before or after, so the common case builds one time.
	const halfYear = 183 * 24 * time.Hour
	switch d := t.Sub(ref); {
	case d > halfYear:
		if p := time.Date(y-1, month, day, hour, min, sec, nsec, loc); absDur(p.Sub(ref)) < d {
			return p
		}
	case d < -halfYear:
		if n := time.Date(y+1, month, day, hour, min, sec, nsec, loc); absDur(n.Sub(ref)) < -d {
			return n
		}
	}
	return t
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// digits parses exactly n ASCII digits at b[i:], returning the value and
// whether they were all digits.
func digits(b []byte, i, n int) (int, bool) {
	if i < 0 || i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// fraction parses "." or "," followed by digits at b[i:], returning the
// nanoseconds and the index after it. Without a fraction it returns 0, i.
func fraction(b []byte, i int) (int, int) {
	if i >= len(b) || (b[i] != '.' && b[i] != ',') {
		return 0, i
	}
	j := i + 1
	ns, scale := 0, 100000000
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		ns += int(b[j]-'0') * scale
		scale /= 10
		j++
	}
	if j == i+1 {
		return 0, i
	}
	return ns, j
}

// validDate reports whether the fields form a real date and clock (time.Date
// would silently normalise 31 February).
func validDate(year int, month time.Month, day, hour, min, sec int) bool {
	if month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 60 {
		return false
	}
	return day <= daysIn(month, year)
}

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

// ParseISO parses an ISO 8601 / RFC 3339 stamp at the start of b:
// YYYY-MM-DD, then 'T' or (when space is true) ' ', then hh:mm:ss, an
// optional fraction and an optional zone (Z, ±hh:mm, ±hhmm). A stamp without
// a zone is read in loc. It returns the time and its length in bytes.
func ParseISO(b []byte, space bool, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, 0, false
	}
	if !(b[10] == 'T' || (space && b[10] == ' ')) {
		return time.Time{}, 0, false
	}
	year, ok1 := digits(b, 0, 4)
	mon, ok2 := digits(b, 5, 2)
	day, ok3 := digits(b, 8, 2)
	hour, ok4 := digits(b, 11, 2)
	min, ok5 := digits(b, 14, 2)
	sec, ok6 := digits(b, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validDate(year, time.Month(mon), day, hour, min, sec) {
		return time.Time{}, 0, false
	}
	ns, i := fraction(b, 19)
	zone := loc
	if zone == nil {
		zone = time.UTC
	}
	off, hasOff := 0, false
	if i < len(b) {
		switch b[i] {
		case 'Z', 'z':
			hasOff = true
			i++
		case '+', '-':
			zh, okh := digits(b, i+1, 2)
			var zm int
			var okm bool
			n := 0
			if i+3 < len(b) && b[i+3] == ':' {
				zm, okm = digits(b, i+4, 2)
				n = 6
			} else {
				zm, okm = digits(b, i+3, 2)
				n = 5
			}
			if okh && okm && zh <= 23 && zm <= 59 {
				off = zh*3600 + zm*60
				if b[i] == '-' {
					off = -off
				}
				hasOff = true
				i += n
			}
		}
	}
	if sec == 60 {
		sec = 59 // leap second: keep the stamp in its minute
	}
	if hasOff {
		// In UTC, shifted by the offset: time.FixedZone would allocate.
		t := time.Date(year, time.Month(mon), day, hour, min, sec, ns, time.UTC)
		return t.Add(-time.Duration(off) * time.Second), i, true
	}
	return time.Date(year, time.Month(mon), day, hour, min, sec, ns, zone), i, true
}

// ParseBSD parses a BSD syslog stamp at the start of b: "Mmm dd hh:mm:ss",
// where dd may be padded with a space, optionally with a year after the day
// ("Nov 27 2026 10:00:00") and an optional fraction. A stamp without a year
// takes the year nearest to ref; the stamp is read in loc. It returns the
// time and its length.
func ParseBSD(b []byte, ref time.Time, loc *time.Location) (time.Time, int, bool) {
	if len(b) < 15 || b[3] != ' ' {
		return time.Time{}, 0, false
	}
	month := Month(b[:3])
	if month == 0 {
		return time.Time{}, 0, false
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	n := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && n < 2 {
		day = day*10 + int(b[i]-'0')
		i++
		n++
	}
	if n == 0 || i >= len(b) || b[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	year := 0
	if y, ok := digits(b, i, 4); ok && i+4 < len(b) && b[i+4] == ' ' {
		year = y
		i += 5
	}
	if i+8 > len(b) || b[i+2] != ':' || b[i+5] != ':' {
		return time.Time{}, 0, false
	}
	hour, ok1 := digits(b, i, 2)
	min, ok2 := digits(b, i+3, 2)
	sec, ok3 := digits(b, i+6, 2)
	if !(ok1 && ok2 && ok3) {
		return time.Time{}, 0, false
	}
	checkYear := year
	if checkYear == 0 {
		checkYear = 2000 // a leap year, so 29 February passes here
	}
	if !validDate(checkYear, month, day, hour, min, sec) {
		return time.Time{}, 0, false
	}
	if sec == 60 {
		sec = 59
	}
	ns, end := fraction(b, i+8)
	if loc == nil {
		loc = time.UTC
	}
	var t time.Time
	if year != 0 {
		t = time.Date(year, month, day, hour, min, sec, ns, loc)
	} else {
		t = NearestYear(ref, month, day, hour, min, sec, ns, loc)
	}
	return t, end, true
}

package leef

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

func TestDelimiter(t *testing.T) {
	for in, want := range map[string]byte{"": '\t', "^": '^', "0x5E": '^', "x5e": '^', "0X7C": '|', "x09": '\t', `\t`: '\t', " ": ' ', "0x0009": '\t'} {
		got, ok := delimiter([]byte(in))
		if !ok || got != want {
			t.Errorf("delimiter(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"0xZZ", "0x", "=", "0x3D", "0x12345", "abc", "0x00"} {
		if d, ok := delimiter([]byte(in)); ok {
			t.Errorf("delimiter(%q) = %q, want failure", in, d)
		}
	}
}

func TestParseFormat(t *testing.T) {
	ref := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct{ v, f, want string }{
		{"Nov 27 2026 10:06:00.250 CET", "MMM dd yyyy HH:mm:ss.SSS zzz", "2026-11-27T09:06:00.25Z"},
		{"2026-11-27T10:06:01.500+0100", "yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2026-11-27T09:06:01.5Z"},
		{"2026-11-27T10:06:01+01:00", "yyyy-MM-dd'T'HH:mm:ssXXX", "2026-11-27T09:06:01Z"},
		{"27/11/2026 02:06:02 PM", "dd/MM/yyyy hh:mm:ss a", "2026-11-27T14:06:02Z"},
		{"27/11/26 12:06:02 AM", "dd/MM/yy hh:mm:ss a", "2026-11-27T00:06:02Z"},
		{"Fri, 27 Nov 2026 10:00:00 GMT", "EEE, dd MMM yyyy HH:mm:ss z", "2026-11-27T10:00:00Z"},
		{"Nov 27 10:00:00", "MMM dd HH:mm:ss", "2026-11-27T10:00:00Z"},
		{"20261127 100000", "yyyyMMdd HHmmss", "2026-11-27T10:00:00Z"},
		{"27 November 2026 at 10:00", "d MMMM yyyy 'at' HH:mm", "2026-11-27T10:00:00Z"},
	} {
		got, ok := parseTime([]byte(c.v), []byte(c.f), ref, time.UTC)
		if !ok || got.UTC().Format(time.RFC3339Nano) != c.want {
			t.Errorf("parseTime(%q, %q) = %v, %v; want %s", c.v, c.f, got, ok, c.want)
		}
	}
	// A format that does not fit falls back to the shape of the value.
	if got, ok := parseTime([]byte("1795773600000"), []byte("yyyy-MM-dd"), ref, time.UTC); !ok || !got.Equal(time.UnixMilli(1795773600000)) {
		t.Errorf("epoch fallback = %v, %v", got, ok)
	}
	for _, v := range []string{"Feb 31 2026 10:00:00", "2026-13-01T00:00:00", "garbage", "Nov 27 2026 10:00:00 XYZ"} {
		if got, ok := parseTime([]byte(v), nil, ref, time.UTC); ok {
			t.Errorf("parseTime(%q) = %v, want failure", v, got)
		}
	}
	if _, ok := parseFormat([]byte("31/02/2026"), []byte("dd/MM/yyyy"), ref, time.UTC); ok {
		t.Error("31 February accepted")
	}
}

func TestDetectDelim(t *testing.T) {
	for in, want := range map[string]byte{
		"a=1\tb=2":                '\t',
		"a=1|b=2":                 '|',
		"a=1^b=2":                 '^',
		"a=x y b=2":               ' ',
		"a=x|y\tb=2":              '\t',
		"Alert ID=1|Alert type=x": '|',
	} {
		if got := detectDelim([]byte(in)); got != want {
			t.Errorf("detectDelim(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScanValuesWithDelimiter(t *testing.T) {
	var f fields
	scan([]byte("src=198.51.100.1 DirectionOfAttack=client to server dst=192.0.2.1 usrName= action=drop-reset"), ' ', &f)
	if string(f.src) != "198.51.100.1" || string(f.dst) != "192.0.2.1" || string(f.action) != "drop-reset" || len(f.usrName) != 0 {
		t.Errorf("fields = %+v", f)
	}
}

// TestPairEq checks pairEq against the definition of a pair start.
func TestPairEq(t *testing.T) {
	ref := func(b []byte, d byte) int {
		e := bytes.IndexByte(b, '=')
		if e <= 0 || e > maxKey || !isKeyStart(b[0]) {
			return -1
		}
		for _, c := range b[:e] {
			if c == d || c < ' ' && c != '\t' || c == '|' && d != '|' {
				return -1
			}
			if (d == ' ' || d == '\t') && !isKeyByte(c) {
				return -1
			}
		}
		return e
	}
	long := strings.Repeat("k", maxKey)
	for _, in := range []string{
		"", "=", "a", "a=", "a=1", "_x=1", ".x=1", "Alert type=x", "a b=1", "a\tb=1", "a|b=1", "a^b=1",
		"a\x01b=1", "a.b-c:d[0]=1", "aXb=1", "xa=1", "a\x80=1", "a==", "1=2",
		long + "=1", long + "k=1", long[1:] + "=" + long,
	} {
		for _, d := range []byte{' ', '\t', '|', '^', 'X', 'x', 0x80, 0x01} {
			if got, want := pairEq([]byte(in), d), ref([]byte(in), d); got != want {
				t.Errorf("pairEq(%q, %q) = %d, want %d", in, d, got, want)
			}
		}
	}
}

// TestClassCacheKey checks that texts holding NUL bytes do not share a
// class cache entry with other texts.
func TestClassCacheKey(t *testing.T) {
	p := New()
	for _, c := range []struct{ line, code, cat string }{
		{"LEEF:1.0|V|P|1|virus\x00x|src=192.0.2.1", "virus\x00x", detect.CategoryMalware},
		{"LEEF:1.0|V|P|1|virus|cat=x|src=192.0.2.1", "virus", detect.CategoryMalware},
		{"LEEF:1.0|V|P|1|login|cat=\x00x|src=192.0.2.1", "login", detect.CategoryAuthentication},
		{"LEEF:1.0|V|P|1|login\x00|cat=x|src=192.0.2.1", "login\x00", detect.CategoryAuthentication},
	} {
		var ev detect.Event
		rec := detect.Record{Raw: []byte(c.line), Msg: []byte(c.line)}
		if err := p.Parse(&rec, &ev); err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		if ev.Code != c.code || ev.Category != c.cat {
			t.Errorf("%q: code %q, category %q; want %q, %q", c.line, ev.Code, ev.Category, c.code, c.cat)
		}
	}
}

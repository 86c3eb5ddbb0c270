package pf

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

func TestParseStamp(t *testing.T) {
	rec := &detect.Record{Ref: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	for in, want := range map[string]string{
		"Nov 27 10:00:00.123456":     "2026-11-27T10:00:00.123456Z",
		"2026-11-27 10:00:00.123456": "2026-11-27T10:00:00.123456Z",
		"1795773600.123456":          "2026-11-27T10:00:00.123456Z",
		"1795773600":                 "2026-11-27T10:00:00Z",
	} {
		got, ok := parseStamp([]byte(in), rec)
		if !ok || got.UTC().Format(time.RFC3339Nano) != want {
			t.Errorf("parseStamp(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	// Clocks and deltas do not say when: the header's time is used.
	for _, in := range []string{"10:00:00.123456", "00:00:00.000123", "0.000123", "123.456789", "1795773600.12x"} {
		if got, ok := parseStamp([]byte(in), rec); ok {
			t.Errorf("parseStamp(%q) = %v, want none", in, got)
		}
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.7.51514":  "198.51.100.7:51514",
		"198.51.100.7":        "198.51.100.7:0",
		"2001:db8::1.51514":   "[2001:db8::1]:51514",
		"2001:db8::1":         "[2001:db8::1]:0",
		"::ffff:192.0.2.1.80": "192.0.2.1:80",
		"::ffff:192.0.2.1":    "192.0.2.1:0",
		"198.51.100.7.0":      "198.51.100.7:0",
		"2001:DB8::AB.33000":  "[2001:db8::ab]:33000",
	} {
		a, port, err := hostPort([]byte(in), errBadSource)
		if err != nil {
			t.Errorf("hostPort(%q): %v", in, err)
			continue
		}
		got := a.String() + ":" + itoa(int(port))
		if a.Is6() {
			got = "[" + a.String() + "]:" + itoa(int(port))
		}
		if got != want {
			t.Errorf("hostPort(%q) = %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"host.example.com.ssh", "198.51.100.7.99999", "1.2.3", "fw.ssh", "", "a.b.c.d.e.f"} {
		if a, p, err := hostPort([]byte(in), errBadSource); err == nil {
			t.Errorf("hostPort(%q) = %v %d, want an error", in, a, p)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [8]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

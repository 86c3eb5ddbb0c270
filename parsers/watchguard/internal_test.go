package watchguard

import (
	"testing"
	"time"
)

func TestParenStamp(t *testing.T) {
	for in, want := range map[string]string{
		"801002AB12345 (2026-04-02T06:06:21)":      "2026-04-02T06:06:21Z",
		"(2026-04-04T05:05:35)":                    "2026-04-04T05:05:35Z",
		"801002AB12345 (2026-04-02T06:06:21) FB-1": "2026-04-02T06:06:21Z",
	} {
		got, ok := parenStamp([]byte(in))
		if !ok || got.Format(time.RFC3339) != want {
			t.Errorf("parenStamp(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"801002AB12345", "(2026-04-02T06:06:21", "(garbage)", "(2026-02-31T00:00:00)", ""} {
		if got, ok := parenStamp([]byte(in)); ok {
			t.Errorf("parenStamp(%q) = %v, want none", in, got)
		}
	}
}

func TestAddrGuard(t *testing.T) {
	for _, in := range []string{"198.51.100.7", "2001:db8::1", "::1", "fe80::20c:29ff:fe59:7afa"} {
		if _, ok := addr([]byte(in)); !ok {
			t.Errorf("addr(%q) failed", in)
		}
	}
	for _, in := range []string{"1-Trusted", "52", "tcp", "20", "Firebox", "a:b", "1.2.3", "ac::d0:::1", "deadbeef"} {
		if a, ok := addr([]byte(in)); ok {
			t.Errorf("addr(%q) = %v", in, a)
		}
	}
}

func TestIDs(t *testing.T) {
	for _, in := range []string{`3000-0148"`, `1AFF-0021"`, `2cff-000a"`} {
		if !validID([]byte(in)) {
			t.Errorf("validID(%q) = false", in)
		}
	}
	for _, in := range []string{`3000-0148`, `3000_0148"`, `G000-0148"`, `300-00148"`, ``} {
		if validID([]byte(in)) {
			t.Errorf("validID(%q) = true", in)
		}
	}
}

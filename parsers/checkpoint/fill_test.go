package checkpoint

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/lex"
)

// TestIPv4 checks ipv4, the fast path for addresses, against lex.Addr: it
// must take the dotted quads and read them the same way, and may leave the
// rest to lex.Addr.
func TestIPv4(t *testing.T) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "198.51.100.7", "10.20.14.37"} {
		a, ok := ipv4([]byte(s))
		if want, _ := lex.Addr([]byte(s)); !ok || a != want {
			t.Errorf("ipv4(%q) = %v, %v; want %v", s, a, ok, want)
		}
	}
	for _, s := range []string{
		"01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.",
		"256.1.1.1", "1.2.3.256", "1234.1.1.1", "1.2.3.4 ", "1.2.3.a", "::ffff:1.2.3.4", "",
	} {
		if a, ok := ipv4([]byte(s)); ok {
			t.Errorf("ipv4(%q) = %v, want none", s, a)
		}
	}
}

// FuzzIPv4 checks that ipv4 only takes what lex.Addr reads the same way.
func FuzzIPv4(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3.256"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if a, ok := ipv4(b); ok {
			if want, wantOK := lex.Addr(b); !wantOK || a != want {
				t.Fatalf("ipv4(%q) = %v, lex.Addr says %v, %v", b, a, want, wantOK)
			}
		}
	})
}

func TestURLPathSchemeOnly(t *testing.T) {
	for _, in := range []string{"https://", "http://", " https:// ", "https://?q=1"} {
		if got := urlPath([]byte(in)); got != nil {
			t.Errorf("urlPath(%q) = %q, want nil", in, got)
		}
	}
	if got := string(urlPath([]byte("https://host/a/b?q=1"))); got != "/a/b" {
		t.Errorf("urlPath = %q", got)
	}
}

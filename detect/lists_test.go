package detect

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/bits-and-blooms/bloom/v3"
)

func TestParseList(t *testing.T) {
	src := "# trusted\n198.51.100.7\n  203.0.113.0/24  # partner\n2001:db8::/32\nscanner.example.org.\n\n"
	l, err := ParseList("trusted", "trusted.txt", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"198.51.100.7", true}, {"198.51.100.8", false}, {"203.0.113.99", true},
		{"2001:db8::5", true}, {"2001:db9::5", false}, {"::ffff:198.51.100.7", true},
		{"Scanner.Example.org", true}, {"example.org", false},
	} {
		if got := l.Contains(tt.s); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.s, got, tt.want)
		}
	}
	if l.Len() != 4 || !l.Exact() {
		t.Errorf("Len %d, Exact %v", l.Len(), l.Exact())
	}
}

func TestParseListErrors(t *testing.T) {
	for src, want := range map[string]string{
		"198.51.100.7\n10.0.0.0/33\n": "t.txt:2:1: \"10.0.0.0/33\" is not a CIDR range",
		"ok.example\n   bad_host!\n":  "t.txt:2:4: \"bad_host!\" is not an IP address, CIDR range or host name",
		"1.2.3.4 5.6.7.8\n":           "t.txt:1:1: \"1.2.3.4 5.6.7.8\": one entry per line",
		"999.1.1.1\n":                 "t.txt:1:1: \"999.1.1.1\" is not an IP address, CIDR range or host name",
	} {
		_, err := ParseList("t", "t.txt", strings.NewReader(src))
		var le *ListError
		if !errors.As(err, &le) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %s", src, err, want)
		}
	}
}

// TestBloomFalsePositiveNeverDrops fills a deliberately overfull filter so
// that it has false positives, and checks that the exact set stops every
// one of them: no attacker is dropped as trusted by chance.
func TestBloomFalsePositiveNeverDrops(t *testing.T) {
	var addrs []netip.Addr
	for i := 0; i < 1000; i++ {
		addrs = append(addrs, netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}))
	}
	l := NewList("trusted", addrs, nil, nil)
	l.filter = bloom.New(256, 2) // far too small: many false positives
	var key [16]byte
	for _, a := range addrs {
		key = a.As16()
		l.filter.Add(key[:])
	}
	fp := 0
	lists := NewLists(nil)
	lists.Trusted = l
	for i := 0; i < 10000; i++ {
		a := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		key = a.As16()
		if l.filter.Test(key[:]) {
			fp++
		}
		ev := Event{Source: Endpoint{IP: a}, Destination: Endpoint{IP: netip.MustParseAddr("192.168.1.1")}}
		var st ClassifyStats
		if lists.Classify(&ev, &st) != Keep {
			t.Fatalf("%v dropped as trusted", a)
		}
	}
	if fp == 0 {
		t.Fatal("the filter had no false positives: the test proves nothing")
	}
	// A filter-only list (as central ships indicators) does report them.
	only := FilterList("bad", l.filter)
	if !only.ContainsAddr(addrs[0]) {
		t.Error("filter-only list misses a member")
	}
}

func TestClassify(t *testing.T) {
	lists := NewLists([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	lists.Trusted = NewList("trusted", []netip.Addr{netip.MustParseAddr("203.0.113.5")}, nil, nil)
	lists.Indicators = []*List{NewList("botnet", []netip.Addr{netip.MustParseAddr("198.51.100.66")}, nil, nil)}
	ip := netip.MustParseAddr
	for _, tt := range []struct {
		src, dst  string
		want      Verdict
		dir, feed string
	}{
		{"10.0.0.1", "192.0.2.10", DropInternal, DirectionInternal, ""},
		{"203.0.113.5", "192.0.2.10", DropTrusted, DirectionInbound, ""},
		{"192.0.2.10", "203.0.113.5", DropTrusted, DirectionOutbound, ""},
		{"198.51.100.66", "192.0.2.10", Keep, DirectionInbound, "botnet"},
		{"192.0.2.10", "198.51.100.66", Keep, DirectionOutbound, "botnet"},
		{"198.51.100.7", "192.0.2.10", Keep, DirectionInbound, ""},
	} {
		ev := Event{Source: Endpoint{IP: ip(tt.src)}, Destination: Endpoint{IP: ip(tt.dst)}}
		var st ClassifyStats
		if got := lists.Classify(&ev, &st); got != tt.want || ev.Network.Direction != tt.dir || ev.Indicator != tt.feed {
			t.Errorf("%s -> %s: %v %s %q, want %v %s %q", tt.src, tt.dst, got, ev.Network.Direction, ev.Indicator, tt.want, tt.dir, tt.feed)
		}
	}
}

func benchList(n int) (*List, []netip.Addr) {
	var addrs []netip.Addr
	for i := 0; i < n; i++ {
		addrs = append(addrs, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	l := NewList("b", addrs, []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")}, nil)
	var probe []netip.Addr
	for i := 0; i < 1024; i++ {
		probe = append(probe, netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}))
	}
	return l, probe
}

// BenchmarkListMiss is the common case: an attacker is not on the list.
func BenchmarkListMiss(b *testing.B) {
	l, probe := benchList(100_000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if l.ContainsAddr(probe[i&1023]) {
			b.Fatal("hit")
		}
	}
}

func BenchmarkListHit(b *testing.B) {
	l, _ := benchList(100_000)
	a := netip.AddrFrom4([4]byte{10, 0, 1, 2})
	for b.Loop() {
		if !l.ContainsAddr(a) {
			b.Fatal("miss")
		}
	}
}

func BenchmarkInternalLookup(b *testing.B) {
	lists := NewLists([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	_, probe := benchList(1)
	for i := 0; b.Loop(); i++ {
		_ = lists.Internal(probe[i&1023])
	}
}

func BenchmarkClassify(b *testing.B) {
	lists := NewLists(nil)
	lists.Trusted, _ = benchList(10_000)
	_, probe := benchList(1)
	ev := Event{Destination: Endpoint{IP: netip.MustParseAddr("192.168.1.10")}}
	var st ClassifyStats
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev.Source.IP = probe[i&1023]
		lists.Classify(&ev, &st)
	}
}

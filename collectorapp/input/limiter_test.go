package input

import (
	"net/netip"
	"testing"
	"time"
)

func TestLimiterBucket(t *testing.T) {
	l := newLimiter(10, 3, 100)
	a := netip.MustParseAddr("192.0.2.1")
	now := time.Unix(1000, 0)
	for i := range 3 {
		if d := l.take(a, now); d != 0 {
			t.Fatalf("take %d within the burst waited %v", i, d)
		}
	}
	d := l.take(a, now)
	if d < 99*time.Millisecond || d > 101*time.Millisecond {
		t.Fatalf("wait after the burst = %v, want 100ms at 10/s", d)
	}
	if d := l.take(a, now.Add(d)); d != 0 {
		t.Fatalf("take after the wait waited %v", d)
	}
	// Another source is metered on its own.
	if d := l.take(netip.MustParseAddr("2001:db8::1"), now); d != 0 {
		t.Fatalf("another source waited %v", d)
	}
	// Refill is capped at the burst.
	later := now.Add(time.Hour)
	for i := range 3 {
		if d := l.take(a, later); d != 0 {
			t.Fatalf("take %d after an hour waited %v", i, d)
		}
	}
	if d := l.take(a, later); d == 0 {
		t.Fatal("bucket refilled past its burst")
	}
}

// A flood of sources keeps the map bounded, and eviction takes refilled
// buckets, so that a source over its rate stays metered.
func TestLimiterEviction(t *testing.T) {
	const maxSources = 1000
	l := newLimiter(10, 1, maxSources)
	now := time.Unix(1000, 0)
	busy := netip.MustParseAddr("198.51.100.7")
	passed := 0
	const steps = 100_000 // one a millisecond: 100 seconds
	for i := range steps {
		at := now.Add(time.Duration(i) * time.Millisecond)
		l.take(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), at)
		if l.take(busy, at) == 0 {
			passed++
		}
		if n := l.sources(); n > maxSources {
			t.Fatalf("%d sources tracked, bound %d", n, maxSources)
		}
	}
	// 10 a second for 100 seconds, and the first.
	if passed < 999 || passed > 1001 {
		t.Errorf("the busy source passed %d times, want 1001", passed)
	}
}

package input

import (
	"net/netip"
	"sync"
	"time"
)

// defaultMaxSources bounds the sources a limiter tracks.
const defaultMaxSources = 16384

// limiter meters lines per source with a token bucket for each source
// address. The map of buckets is bounded: when it is full, buckets that have
// refilled are evicted first, since a full bucket is the same as a new one;
// if that frees too little (a flood of spoofed UDP sources), arbitrary
// buckets go too, which only makes the limit more lenient for them. Sweeping
// down to three quarters keeps eviction's cost amortised O(1) per line.
type limiter struct {
	mu      sync.Mutex
	perNano float64 // tokens per nanosecond
	burst   float64
	max     int
	buckets map[netip.Addr]bucket
}

type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last refill
}

func newLimiter(rate float64, burst, maxSources int) *limiter {
	return &limiter{perNano: rate / 1e9, burst: float64(burst), max: maxSources, buckets: make(map[netip.Addr]bucket)}
}

// take takes a token for src at now. It returns 0 if one was taken, or how
// long until one is available (none is taken then).
func (l *limiter) take(src netip.Addr, now time.Time) time.Duration {
	t := now.UnixNano()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[src]
	if !ok {
		if len(l.buckets) >= l.max {
			l.evict(t)
		}
		b = bucket{tokens: l.burst, last: t}
	} else if t > b.last {
		b.tokens = min(l.burst, b.tokens+float64(t-b.last)*l.perNano)
		b.last = t
	}
	if b.tokens >= 1 {
		b.tokens--
		l.buckets[src] = b
		return 0
	}
	l.buckets[src] = b
	return time.Duration((1-b.tokens)/l.perNano) + 1
}

func (l *limiter) evict(now int64) {
	for a, b := range l.buckets {
		if b.tokens+float64(now-b.last)*l.perNano >= l.burst {
			delete(l.buckets, a)
		}
	}
	keep := l.max * 3 / 4
	for a := range l.buckets {
		if len(l.buckets) <= keep {
			break
		}
		delete(l.buckets, a)
	}
}

// sources returns the number of sources tracked.
func (l *limiter) sources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

package auth

import (
	"container/list"
	"sync"
	"time"
)

// Backoff is how failed logins slow down further attempts under one key (an
// account name or a client address): the first Free failures cost nothing,
// each one after locks the key for Base, doubling up to Max. A key with no
// failure for Forget starts afresh.
type Backoff struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
}

// Default backoffs. An address gets more free tries than an account because
// many people may share one address (NAT).
var (
	DefaultAccountBackoff = Backoff{Free: 5, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
	DefaultIPBackoff      = Backoff{Free: 20, Base: time.Second, Max: 15 * time.Minute, Forget: time.Hour}
)

func (b Backoff) withDefaults(d Backoff) Backoff {
	if b == (Backoff{}) {
		return d
	}
	if b.Base <= 0 {
		b.Base = d.Base
	}
	if b.Max < b.Base {
		b.Max = b.Base
	}
	if b.Forget <= 0 {
		b.Forget = d.Forget
	}
	return b
}

// limiter tracks failures per key in bounded memory: past capacity it
// forgets the key whose last failure is oldest. An attacker who sprays keys
// to push a victim's entry out is himself held back by the per-address
// limiter.
type limiter struct {
	b        Backoff
	capacity int

	mu    sync.Mutex
	byKey map[string]*list.Element
	order list.List // of *failures, most recent failure first
}

type failures struct {
	key   string
	n     int
	last  time.Time
	until time.Time // locked until
}

func newLimiter(b Backoff, capacity int) *limiter {
	return &limiter{b: b, capacity: capacity, byKey: make(map[string]*list.Element)}
}

// wait returns how long key is still locked.
func (l *limiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.byKey[key]
	if !ok {
		return 0
	}
	f := e.Value.(*failures)
	if now.Sub(f.last) >= l.b.Forget {
		l.remove(e)
		return 0
	}
	return max(f.until.Sub(now), 0)
}

// fail records a failure under key and returns how long it is now locked.
func (l *limiter) fail(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var f *failures
	if e, ok := l.byKey[key]; ok {
		f = e.Value.(*failures)
		l.order.MoveToFront(e)
		if now.Sub(f.last) >= l.b.Forget {
			*f = failures{key: key}
		}
	} else {
		f = &failures{key: key}
		l.byKey[key] = l.order.PushFront(f)
		for len(l.byKey) > l.capacity {
			l.remove(l.order.Back())
		}
	}
	f.n++
	f.last = now
	if over := f.n - l.b.Free; over > 0 {
		d := l.b.Max
		if over <= 32 {
			d = min(l.b.Base<<(over-1), l.b.Max)
			if d <= 0 { // overflow
				d = l.b.Max
			}
		}
		f.until = now.Add(d)
	}
	return max(f.until.Sub(now), 0)
}

// reset forgets key's failures.
func (l *limiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.byKey[key]; ok {
		l.remove(e)
	}
}

func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey)
}

func (l *limiter) remove(e *list.Element) {
	delete(l.byKey, e.Value.(*failures).key)
	l.order.Remove(e)
}

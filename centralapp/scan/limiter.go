package scan

import (
	"context"
	"sync"
	"time"
)

// pacer spaces events at most rate a second: each Wait reserves the next
// free slot and sleeps until it. There is no burst: a scan of a member's
// host should look the same to its IDS in the first second as in the
// hundredth.
type pacer struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{every: time.Duration(float64(time.Second) / rate)}
}

// Wait returns when the caller may go, or ctx's error. A nil pacer never
// waits.
func (p *pacer) Wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	slot := now
	if p.next.After(now) {
		slot = p.next
	}
	p.next = slot.Add(p.every)
	p.mu.Unlock()
	d := slot.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pacers hands out one pacer per key (a target address).
type pacers struct {
	rate float64
	mu   sync.Mutex
	m    map[string]*pacer
}

func (ps *pacers) get(key string) *pacer {
	if ps.rate <= 0 {
		return nil
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*pacer{}
	}
	p := ps.m[key]
	if p == nil {
		p = newPacer(ps.rate)
		ps.m[key] = p
	}
	return p
}

package queue_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/queue/queuetest"
)

// TestKVLease: one holder at a time; a release hands over at once; a
// holder that cannot renew loses the lease before another node gets it.
func TestKVLease(t *testing.T) {
	c := queuetest.Start(t, 1)
	ctx := t.Context()
	const ttl = 2 * time.Second
	lease := func(q *queue.JetStream, node string) *queue.KVLease {
		l, err := q.Lease(ctx, "leader", node, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	qa, qb := openJS(t, c.URLs(), 1), openJS(t, c.URLs(), 1)
	a, b := lease(qa, "a"), lease(qb, "b")

	heldA, releaseA, err := a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, ttl+time.Second)
	if _, _, err := b.Acquire(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b acquired a held lease: %v", err)
	}
	cancel()
	if heldA.Err() != nil {
		t.Fatal("a lost the lease while renewing it")
	}
	start := time.Now()
	releaseA()
	if heldA.Err() == nil {
		t.Fatal("held context still live after release")
	}
	heldB, releaseB, err := b.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > ttl {
		t.Errorf("b took %v to take over a released lease; want less than the ttl %v", d, ttl)
	}

	// b's connection goes: b gives the lease up by itself, and a gets it
	// only after that.
	qb.Close()
	heldA, releaseA, err = a.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()
	select {
	case <-heldB.Done():
	default:
		t.Fatal("a acquired the lease while b still believed it held it")
	}
	releaseB()
	if heldA.Err() != nil {
		t.Fatal("a's lease ended")
	}
}

// TestSolo: the single-node lease is held at once, until released.
func TestSolo(t *testing.T) {
	held, release, err := queue.Solo{}.Acquire(t.Context())
	if err != nil || held.Err() != nil {
		t.Fatal(err)
	}
	release()
	if held.Err() == nil {
		t.Fatal("still held after release")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := (queue.Solo{}).Acquire(ctx); err == nil {
		t.Fatal("acquired with an ended context")
	}
}

package postgres_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
)

const leaseTTL = 2 * time.Second

func leases(t *testing.T, n int) (dsn string, ls []*postgres.Lease) {
	t.Helper()
	_, dsn = newStore(t)
	for range n {
		s, err := open(t, dsn)
		must(t, err)
		t.Cleanup(func() { s.Close() })
		l, err := s.Lease("shared", leaseTTL)
		must(t, err)
		ls = append(ls, l)
	}
	return dsn, ls
}

// TestLeaseHandover: one holder at a time; a release hands over at once.
func TestLeaseHandover(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	_, ls := leases(t, 2)
	a, b := ls[0], ls[1]
	heldA, releaseA, err := a.Acquire(ctx)
	must(t, err)
	wctx, cancel := context.WithTimeout(ctx, leaseTTL+time.Second)
	if _, _, err := b.Acquire(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("b acquired a held lease: %v", err)
	}
	cancel()
	if heldA.Err() != nil {
		t.Fatal("a lost the lease while holding it")
	}
	start := time.Now()
	releaseA()
	if heldA.Err() == nil {
		t.Fatal("held context still live after release")
	}
	_, releaseB, err := b.Acquire(ctx)
	must(t, err)
	defer releaseB()
	if d := time.Since(start); d > leaseTTL {
		t.Errorf("b took %v to take over a released lease; want less than the ttl %v", d, leaseTTL)
	}
}

// TestLeaseConnectionKilled: the holder's session is ended by the server
// (pg_terminate_backend). The holder gives the lease up, and the other
// node holds it only after that.
func TestLeaseConnectionKilled(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn, ls := leases(t, 2)
	a, b := ls[0], ls[1]
	heldA, releaseA, err := a.Acquire(ctx)
	must(t, err)
	defer releaseA()

	bHeld := make(chan struct{})
	var heldB context.Context
	var releaseB func()
	var errB error
	go func() {
		defer close(bHeld)
		heldB, releaseB, errB = b.Acquire(ctx)
	}()
	admin, err := pgx.Connect(ctx, dsn)
	must(t, err)
	defer admin.Close(ctx)
	var killed int
	must(t, admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND pid IN (SELECT pid FROM pg_stat_activity WHERE application_name = 'cyberalarm-central lease shared')`).Scan(&killed))
	if killed != 1 {
		t.Fatalf("terminated %d lease sessions, want 1", killed)
	}
	<-bHeld
	must(t, errB)
	defer releaseB()
	select {
	case <-heldA.Done():
	default:
		t.Fatal("b acquired the lease while a still believed it held it")
	}
	if heldB.Err() != nil {
		t.Fatal("b's lease ended")
	}
	// a tries again and waits behind b.
	wctx, cancel := context.WithTimeout(ctx, leaseTTL)
	defer cancel()
	if _, _, err := a.Acquire(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a acquired b's lease: %v", err)
	}
}

// TestLeaseExclusive: three nodes take turns at a lease for a while,
// dropping it at random; never do two hold it at once.
func TestLeaseExclusive(t *testing.T) {
	t.Parallel()
	_, ls := leases(t, 3)
	ctx, cancel := context.WithTimeout(t.Context(), 6*time.Second)
	defer cancel()
	var holding, turns atomic.Int32
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() {
			for ctx.Err() == nil {
				held, release, err := l.Acquire(ctx)
				if err != nil {
					return
				}
				if n := holding.Add(1); n != 1 {
					t.Errorf("node %d: %d holders at once", i, n)
				}
				turns.Add(1)
				select {
				case <-held.Done():
				case <-time.After(time.Duration(100+i*150) * time.Millisecond):
				}
				holding.Add(-1)
				release()
			}
		})
	}
	wg.Wait()
	if turns.Load() < 3 {
		t.Errorf("%d turns in 6s; the lease is not handed over", turns.Load())
	}
}

func TestLeaseState(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	if data, err := s.LoadState(ctx, "aggregate"); err != nil || data != nil {
		t.Fatalf("no state: %q, %v", data, err)
	}
	for _, v := range []string{"one", "two"} {
		must(t, s.SaveState(ctx, "aggregate", []byte(v)))
		data, err := s.LoadState(ctx, "aggregate")
		must(t, err)
		if string(data) != v {
			t.Fatalf("loaded %q, want %q", data, v)
		}
	}
	if _, err := s.Lease("", time.Minute); err == nil {
		t.Error("lease without a name")
	}
	if _, err := s.Lease("x", time.Millisecond); err == nil {
		t.Error("lease with a 1ms ttl")
	}
}

package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
)

// TestGroupCommitRowFailsAlone sends good batches and batches that pass
// the checks before the database but break it in COPY (a NUL byte in a
// text column), each twice at once, as a retrying collector would: a
// failing batch must fail alone, give its batch id back, and fail its twin
// too, which must not be told it is a duplicate of a batch never stored.
func TestGroupCommitRowFailsAlone(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	const senders, batches, per = 6, 12, 30
	bad := func(w, i int) bool { return (w+i)%4 == 0 }
	mk := func(w, i int) *store.Batch {
		ds := make([]store.Detection, per)
		for j := range ds {
			ds[j] = detection(t, "r1", fmt.Sprintf("203.0.%d.%d", w, j), base.Add(time.Duration(i)*time.Minute), 1)
		}
		if bad(w, i) {
			ds[per-1].RuleName = "bad\x00name"
		}
		return &store.Batch{ID: fmt.Sprintf("w%d-b%d", w, i), CollectorID: "c0", MemberID: "m0", Seq: 1,
			Created: base, Received: base, Detections: ds}
	}
	type outcome struct {
		dup bool
		err error
	}
	var mu sync.Mutex
	got := map[string][]outcome{}
	var wg sync.WaitGroup
	for w := range senders {
		for range 2 {
			wg.Go(func() {
				for i := range batches {
					b := mk(w, i)
					dup, err := s.IngestBatch(t.Context(), b)
					mu.Lock()
					got[b.ID] = append(got[b.ID], outcome{dup, err})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	var want store.Counts
	for w := range senders {
		for i := range batches {
			id := fmt.Sprintf("w%d-b%d", w, i)
			o := got[id]
			if bad(w, i) {
				for _, x := range o {
					if !errors.Is(x.err, store.ErrInvalid) || x.dup {
						t.Errorf("bad batch %s: duplicate %v, err %v; want ErrInvalid", id, x.dup, x.err)
					}
				}
				continue
			}
			want.Batches++
			want.Detections += per
			if o[0].err != nil || o[1].err != nil || o[0].dup == o[1].dup {
				t.Errorf("good batch %s: %+v; want one stored and one duplicate", id, o)
			}
		}
	}
	n, err := s.Counts(t.Context(), "")
	must(t, err)
	if n != want {
		t.Fatalf("counts = %+v, want %+v", n, want)
	}
	// The rollups hold exactly the stored detections.
	rs, err := s.Rollups(t.Context(), store.RollupFilter{})
	must(t, err)
	var rolled int64
	for _, r := range rs {
		rolled += r.Detections
	}
	if rolled != want.Detections {
		t.Errorf("rollups hold %d detections, want %d", rolled, want.Detections)
	}
	// A refused batch left its id free: mended, it is stored.
	b := mk(0, 0)
	b.Detections[per-1].RuleName = "mended"
	dup, err := s.IngestBatch(t.Context(), b)
	if err != nil || dup {
		t.Fatalf("mended batch: duplicate %v, err %v", dup, err)
	}
}

// TestCloseDrains closes the store while batches are being sent: each
// call either stored its batch, and said so, or failed, and then stored
// nothing.
func TestCloseDrains(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	const senders = 8
	var mu sync.Mutex
	stored := map[string]bool{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range senders {
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-b%d", w, i)
				_, err := s.IngestBatch(t.Context(), &store.Batch{ID: id, CollectorID: "c0", MemberID: "m0", Seq: 1,
					Created: base, Received: base, Detections: []store.Detection{detection(t, "r1", "203.0.113.1", base, 1)}})
				if err != nil {
					return
				}
				mu.Lock()
				stored[id] = true
				mu.Unlock()
			}
		})
	}
	close(start)
	time.Sleep(200 * time.Millisecond)
	must(t, s.Close())
	wg.Wait()
	s2, err := postgres.Open(t.Context(), postgres.Options{DSN: dsn})
	must(t, err)
	defer s2.Close()
	n, err := s2.Counts(t.Context(), "")
	must(t, err)
	if n.Batches != int64(len(stored)) || n.Detections != int64(len(stored)) {
		t.Fatalf("counts after close = %+v, want %d batches stored", n, len(stored))
	}
	if len(stored) == 0 {
		t.Fatal("nothing stored before close")
	}
}

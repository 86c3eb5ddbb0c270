package queue_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/queue/queuetest"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

var quiet = slog.New(slog.DiscardHandler)

func openJS(t testing.TB, urls []string, replicas int) *queue.JetStream {
	t.Helper()
	q, err := queue.OpenJetStream(context.Background(), queue.JetStreamConfig{
		URLs: urls, Replicas: replicas, AckWait: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

// TestJetStreamDeliversOnce: batches published to a single-node stream are
// stored once each, a batch published again is a duplicate, a store
// failure is retried until it passes, and a batch the store refuses for
// good is dropped rather than retried forever.
func TestJetStreamDeliversOnce(t *testing.T) {
	c := queuetest.Start(t, 1)
	st := newStore(t)
	q := openJS(t, c.URLs(), 1)
	ctx := t.Context()

	var failures atomic.Int32
	failures.Store(3)
	var calls atomic.Int32
	consume(t, q, func(ctx context.Context, b *store.Batch) (bool, error) {
		calls.Add(1)
		if failures.Add(-1) >= 0 {
			return false, errFlaky
		}
		return st.IngestBatch(ctx, b)
	})

	var batches []*store.Batch
	for i := range 30 {
		b := batchOf(t, members[i%len(members)], uint64(i/len(members)+1), 5)
		batches = append(batches, b)
		dup, err := q.Publish(ctx, b)
		if err != nil || dup {
			t.Fatalf("publish %d: duplicate %v, %v", i, dup, err)
		}
	}
	// A collector that did not hear the answer sends the batch again.
	if dup, err := q.Publish(ctx, batches[4]); err != nil || !dup {
		t.Fatalf("publish again: duplicate %v, %v; want a duplicate", dup, err)
	}
	waitFor(t, 10*time.Second, "30 batches stored", func() bool { return counts(t, st).Batches == 30 })
	waitFor(t, 5*time.Second, "nothing pending", func() bool { n, err := q.Pending(ctx); return err == nil && n == 0 })
	if got := counts(t, st); got.Detections != 150 || got.Summaries != 30 {
		t.Errorf("stored %+v; want 150 detections and 30 summaries", got)
	}
	if n := calls.Load(); n < 33 {
		t.Errorf("handler called %d times; want 30 batches plus 3 retries", n)
	}

	// A collector revoked after the ingest API accepted its batch.
	if err := st.RevokeCollector(ctx, "c-m3", time.Now()); err != nil {
		t.Fatal(err)
	}
	before := calls.Load()
	if _, err := q.Publish(ctx, batchOf(t, "m3", 99, 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the refused batch handled", func() bool {
		n, err := q.Pending(ctx)
		return err == nil && n == 0 && calls.Load() > before
	})
	time.Sleep(200 * time.Millisecond)
	if n := calls.Load() - before; n != 1 {
		t.Errorf("a refused batch was offered %d times; want once", n)
	}
	if got := counts(t, st).Batches; got != 30 {
		t.Errorf("%d batches stored; want 30", got)
	}
}

// TestKillStreamLeader publishes to a 3-node R3 stream from several
// publishers, as ingest nodes do, with two consumers storing, and shuts
// down the stream's leader in the middle. Publishers retry what failed,
// as collectors do. Every acknowledged batch is stored, and none twice.
func TestKillStreamLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster failover")
	}
	c := queuetest.Start(t, 3)
	st := newStore(t)
	urls := c.URLs()
	pub := []*queue.JetStream{openJS(t, urls, 3), openJS(t, urls[1:], 3)}
	for _, w := range []*queue.JetStream{openJS(t, urls, 3), openJS(t, urls[2:], 3)} {
		consume(t, w, storeWith(st))
	}
	ctx := t.Context()

	const perPublisher = 150
	var (
		mu      sync.Mutex
		acked   = map[string]int{} // batch id → detections
		retries atomic.Int32
		wg      sync.WaitGroup
		killed  = make(chan struct{})
	)
	for p := range 4 {
		wg.Go(func() {
			q := pub[p%len(pub)]
			member := members[p%len(members)]
			for i := range perPublisher {
				b := batchOf(t, member, uint64(p*perPublisher+i+1), 1+i%4)
				for {
					pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
					_, err := q.Publish(pctx, b)
					cancel()
					if err == nil {
						break
					}
					retries.Add(1)
					if ctx.Err() != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				mu.Lock()
				acked[b.ID] = len(b.Detections)
				n := len(acked)
				mu.Unlock()
				if n == perPublisher {
					close(killed)
				}
			}
		})
	}
	<-killed
	leader := c.StreamLeader("INGEST")
	t.Logf("shutting down stream leader %s after %d acknowledged batches", leader.Name(), perPublisher)
	leader.Shutdown()
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("test ended before every batch was published")
	}
	newLeader := c.StreamLeader("INGEST")
	if newLeader.Name() == leader.Name() {
		t.Fatalf("stream leader is still %s", leader.Name())
	}

	wantDet := 0
	for _, n := range acked {
		wantDet += n
	}
	want := store.Counts{Batches: int64(len(acked)), Detections: int64(wantDet), Summaries: int64(len(acked))}
	waitFor(t, 30*time.Second, "every acknowledged batch stored", func() bool { return counts(t, st).Batches >= want.Batches })
	// Let redeliveries after the failover land, if any are coming.
	time.Sleep(300 * time.Millisecond)
	if got := counts(t, st); got != want {
		t.Fatalf("stored %+v; want %+v", got, want)
	}
	ds, err := st.Detections(ctx, store.DetectionFilter{Limit: store.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	perBatch := map[string]int{}
	for _, d := range ds {
		perBatch[d.BatchID]++
	}
	for id, n := range acked {
		if perBatch[id] != n {
			t.Errorf("batch %s: %d detections stored; want %d", id, perBatch[id], n)
		}
	}
	t.Logf("%d batches, %d publish retries across the failover, new leader %s", len(acked), retries.Load(), newLeader.Name())
}

// TestFollow: the aggregation feed sees every batch in stream order, from
// a given sequence on.
func TestFollow(t *testing.T) {
	c := queuetest.Start(t, 1)
	q := openJS(t, c.URLs(), 1)
	ctx := t.Context()
	var ids []string
	for i := range 10 {
		b := batchOf(t, members[i%3], uint64(i+1), 1)
		ids = append(ids, b.ID)
		if _, err := q.Publish(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	last, err := q.LastSeq(ctx)
	if err != nil || last != 10 {
		t.Fatalf("last sequence %d, %v; want 10", last, err)
	}
	fctx, cancel := context.WithCancel(ctx)
	var got []string
	var seqs []uint64
	err = q.Follow(fctx, 4, func(seq uint64, b *store.Batch) error {
		got, seqs = append(got, b.ID), append(seqs, seq)
		if seq == last {
			cancel()
		}
		return nil
	})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || seqs[0] != 5 || got[0] != ids[4] || got[5] != ids[9] {
		t.Fatalf("followed %v at %v; want batches 5 to 10", got, seqs)
	}
	stop := errors.New("stop")
	if err := q.Follow(ctx, 0, func(uint64, *store.Batch) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Follow returned %v; want fn's error", err)
	}
}

// TestStateRoundTrip: saved state comes back; nothing saved is nil.
func TestStateRoundTrip(t *testing.T) {
	c := queuetest.Start(t, 1)
	q := openJS(t, c.URLs(), 1)
	ctx := t.Context()
	if data, err := q.LoadState(ctx, "aggregate"); err != nil || data != nil {
		t.Fatalf("load before save: %q, %v", data, err)
	}
	big := make([]byte, 3<<20) // above a message's size: stored in chunks
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, want := range [][]byte{[]byte("one"), big} {
		if err := q.SaveState(ctx, "aggregate", want); err != nil {
			t.Fatal(err)
		}
		got, err := q.LoadState(ctx, "aggregate")
		if err != nil || string(got) != string(want) {
			t.Fatalf("load: %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	}
}

// TestConsumeConcurrent: one Consume stores up to Workers batches at once,
// never more, so a store that commits concurrent batches together gets
// groups to commit; each batch is still acknowledged once, after its
// handler returned.
func TestConsumeConcurrent(t *testing.T) {
	c := queuetest.Start(t, 1)
	st := newStore(t)
	const workers, n = 6, 40
	q, err := queue.OpenJetStream(t.Context(), queue.JetStreamConfig{URLs: c.URLs(), Workers: workers,
		AckWait: 5 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	var inflight, most atomic.Int32
	var calls atomic.Int32
	full := make(chan struct{})
	var fullOnce sync.Once
	consume(t, q, func(ctx context.Context, b *store.Batch) (bool, error) {
		calls.Add(1)
		now := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := most.Load()
			if now <= m || most.CompareAndSwap(m, now) {
				break
			}
		}
		if now == workers {
			fullOnce.Do(func() { close(full) })
		}
		// The first batches wait until every worker holds one.
		select {
		case <-full:
		case <-time.After(10 * time.Second):
		}
		return st.IngestBatch(ctx, b)
	})
	for i := range n {
		if _, err := q.Publish(t.Context(), batchOf(t, members[i%len(members)], uint64(i/len(members)+1), 3)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "every batch stored", func() bool { return counts(t, st).Batches == n })
	waitFor(t, 5*time.Second, "nothing pending", func() bool { p, err := q.Pending(t.Context()); return err == nil && p == 0 })
	select {
	case <-full:
	default:
		t.Fatalf("at most %d batches were stored at once; want %d", most.Load(), workers)
	}
	if m := most.Load(); m != workers {
		t.Errorf("%d batches stored at once; want at most %d", m, workers)
	}
	if got := calls.Load(); got != n {
		t.Errorf("handler called %d times for %d batches; want each once", got, n)
	}
}

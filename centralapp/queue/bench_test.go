package queue_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/queue/queuetest"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
)

// benchDetections is the detections per batch: a collector's batch after
// edge filtering.
const benchDetections = 100

// BenchmarkIngest measures sustained ingest from verified batch to
// committed store transaction, in events (detections) a second: on one
// node with the in-process queue (SQLite, and PostgreSQL), and through a
// 3-node JetStream cluster (R3) with 2 ingest nodes publishing and 2
// workers storing into SQLite or, as separate nodes, into PostgreSQL
// (durable: fsync and synchronous commit on). The HTTP, TLS and
// verification work before it is the same either way.
func BenchmarkIngest(b *testing.B) {
	b.Run("inprocess-postgres", func(b *testing.B) {
		dsn := postgresDSN(b)
		st := openPostgres(b, dsn)
		enrolAll(b, st)
		q := queue.NewInProcess(storeWith(st))
		batches := benchBatches(b, b.N)
		b.ResetTimer()
		publishAll(b, []queue.Queue{q, q}, batches)
		b.StopTimer()
		b.ReportMetric(float64(b.N*benchDetections)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("jetstream-R3-postgres", func(b *testing.B) {
		dsn := postgresDSN(b)
		c := queuetest.Start(b, 3)
		st := openPostgres(b, dsn)
		enrolAll(b, st)
		urls := c.URLs()
		ingest := []queue.Queue{openJS(b, urls, 3), openJS(b, urls[1:], 3)}
		for _, w := range []*queue.JetStream{openJS(b, urls[2:], 3), openJS(b, urls, 3)} {
			consume(b, w, storeWith(openPostgres(b, dsn)))
		}
		batches := benchBatches(b, b.N)
		base := counts(b, st).Batches
		b.ResetTimer()
		publishAll(b, ingest, batches)
		waitFor(b, 5*time.Minute, "every batch stored", func() bool { return counts(b, st).Batches-base == int64(b.N) })
		b.StopTimer()
		b.ReportMetric(float64(b.N*benchDetections)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("inprocess", func(b *testing.B) {
		st := newStore(b)
		q := queue.NewInProcess(storeWith(st))
		batches := benchBatches(b, b.N)
		b.ResetTimer()
		publishAll(b, []queue.Queue{q, q}, batches)
		b.StopTimer()
		b.ReportMetric(float64(b.N*benchDetections)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("jetstream-R3", func(b *testing.B) {
		c := queuetest.Start(b, 3)
		st := newStore(b)
		urls := c.URLs()
		ingest := []queue.Queue{openJS(b, urls, 3), openJS(b, urls[1:], 3)}
		for _, w := range []*queue.JetStream{openJS(b, urls[2:], 3), openJS(b, urls, 3)} {
			consume(b, w, storeWith(st))
		}
		batches := benchBatches(b, b.N)
		base := counts(b, st).Batches
		b.ResetTimer()
		publishAll(b, ingest, batches)
		waitFor(b, 5*time.Minute, "every batch stored", func() bool { return counts(b, st).Batches-base == int64(b.N) })
		b.StopTimer()
		b.ReportMetric(float64(b.N*benchDetections)/b.Elapsed().Seconds(), "events/s")
	})
}

func benchBatches(b *testing.B, n int) []*store.Batch {
	out := make([]*store.Batch, n)
	for i := range out {
		out[i] = batchOf(b, members[i%len(members)], uint64(i+1), benchDetections)
	}
	return out
}

// publishAll publishes batches from 8 goroutines (collectors' requests)
// spread over the ingest nodes' queues.
func publishAll(b *testing.B, qs []queue.Queue, batches []*store.Batch) {
	const senders = 8
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			q := qs[s%len(qs)]
			for i := s; i < len(batches); i += senders {
				if _, err := q.Publish(context.Background(), batches[i]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// postgresDSN starts a durable PostgreSQL cluster for b and returns a new
// database's DSN; it skips b when PostgreSQL is not installed.
func postgresDSN(b *testing.B) string {
	c := pgtest.New(b, pgtest.Options{Durable: true})
	dsn, err := c.CreateDatabase(context.Background(), "central")
	if err != nil {
		b.Fatal(err)
	}
	return dsn
}

// openPostgres opens a PostgreSQL store on dsn: one node's.
func openPostgres(b *testing.B, dsn string) store.Store {
	st, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

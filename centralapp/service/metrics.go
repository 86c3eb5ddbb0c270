package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// metrics are a node's metrics beside the server's: what it stores from
// the queue, and whether it leads the shared work.
type metrics struct {
	batches      *prometheus.CounterVec
	storeSeconds prometheus.Histogram
}

func (s *Service) newMetrics(reg prometheus.Registerer) error {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyberalarm_central_queue_batches_total",
			Help: "Batches a worker took from the queue, by result (stored, duplicate, refused, failed: offered again).",
		}, []string{"result"}),
		storeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cyberalarm_central_queue_store_seconds",
			Help:    "Time to store a batch taken from the queue.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
	}
	cs := []prometheus.Collector{m.batches, m.storeSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cyberalarm_central_leading",
			Help: "1 while this node holds the lease of shared work (aggregation, reports, scans, retention).",
		}, func() float64 {
			if s.leading.Load() {
				return 1
			}
			return 0
		}),
	}
	if s.js != nil {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cyberalarm_central_queue_pending",
			Help: "Batches in the stream that no worker has stored yet (NaN when the stream does not answer).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := s.js.Pending(ctx)
			if err != nil {
				return math.NaN()
			}
			return float64(n)
		}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	s.metrics = m
	return nil
}

// storeQueued is the handler of the queue's consumer: IngestBatch,
// counted.
func (s *Service) storeQueued(ctx context.Context, b *store.Batch) (bool, error) {
	start := time.Now()
	dup, err := s.Store.IngestBatch(ctx, b)
	s.metrics.storeSeconds.Observe(time.Since(start).Seconds())
	result := "stored"
	switch {
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrRevoked), errors.Is(err, store.ErrNotFound):
		result = "refused"
	case err != nil:
		result = "failed"
	case dup:
		result = "duplicate"
	}
	s.metrics.batches.WithLabelValues(result).Inc()
	return dup, err
}

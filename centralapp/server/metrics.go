package server

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	// batches counts batch requests by result (accepted, duplicate,
	// rejected, failed) and, for rejected and failed ones, reason.
	batches *prometheus.CounterVec
	// accepted and duplicate are batches' two results without a reason,
	// resolved once.
	accepted, duplicate prometheus.Counter
	detections          prometheus.Counter
	summaries           prometheus.Counter
	ingestSeconds       prometheus.Histogram
	enrolments          *prometheus.CounterVec
	renewals            prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyberalarm_central_batches_total",
			Help: "Batch requests by result (accepted, duplicate, rejected, failed) and reason.",
		}, []string{"result", "reason"}),
		detections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyberalarm_central_detections_ingested_total",
			Help: "Detections stored from accepted batches.",
		}),
		summaries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyberalarm_central_summaries_ingested_total",
			Help: "Flow summaries stored from accepted batches.",
		}),
		ingestSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cyberalarm_central_ingest_seconds",
			Help:    "Time to read, check and store a batch, duplicates included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		enrolments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyberalarm_central_enrolments_total",
			Help: "Enrolment requests by result (ok, bad_token, bad_csr).",
		}, []string{"result"}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyberalarm_central_renewals_total",
			Help: "Client certificates renewed.",
		}),
	}
	m.accepted = m.batches.WithLabelValues("accepted", "")
	m.duplicate = m.batches.WithLabelValues("duplicate", "")
	for _, c := range []prometheus.Collector{m.batches, m.detections, m.summaries, m.ingestSeconds, m.enrolments, m.renewals} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: metrics: %w", err)
		}
	}
	return m, nil
}

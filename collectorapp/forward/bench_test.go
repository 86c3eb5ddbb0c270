package forward_test

import (
	"context"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
)

// BenchmarkForward measures delivery of 1,000-detection batches over mTLS on
// loopback, to a receiver that decompresses and strictly decodes each one.
func BenchmarkForward(b *testing.B) {
	r := newReceiver(b, forwardtest.Options{})
	c, _ := enrol(b, r)
	m := forwardtest.NewBatchMaker(c.Identity())
	dets := detections(1000)
	o := forwardtest.NewMemOutbox()
	// Build the batches up front: the benchmark is of sending, not of
	// sealing.
	ids := make([]string, b.N)
	bodies := make([][]byte, b.N)
	var size int64
	for i := range b.N {
		id, body, err := m.Next(dets...)
		if err != nil {
			b.Fatal(err)
		}
		ids[i], bodies[i] = id, body
		size += int64(len(body))
	}
	f, err := forward.New(o, forward.Config{Central: c.Central(), Credentials: c, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size / int64(b.N))
	b.ResetTimer()
	for i := range b.N {
		o.Add(ids[i], bodies[i])
	}
	stop := run(b, f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := r.WaitBatches(ctx, b.N); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	stop()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "detections/s")
}

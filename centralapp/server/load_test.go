package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/server"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
	"github.com/cyberalarm/cyberalarm/detect"
)

// loadBatch is a batch of n detections and n flow summaries.
func loadBatch(c *forward.Credentials, seq uint64, n int) *detect.Batch {
	b := batchOf(c, seq, n)
	b.Summaries = make([]detect.FlowSummary, n)
	minute := time.Now().UTC().Truncate(time.Minute)
	for i := range b.Summaries {
		b.Summaries[i] = detect.FlowSummary{
			Minute: minute, SourceIP: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}),
			DestinationPort: uint16(i%1024 + 1), Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 1,
		}
	}
	return b
}

// runCollectors enrols n collectors, fills each one's outbox with batches
// batches of size detections and size summaries, then runs their real
// forwarders at once and waits until everything is delivered. It returns
// the time from start to the last delivery.
func runCollectors(t testing.TB, e *env, n, batches, size int) time.Duration {
	t.Helper()
	enc := newEncoder(t)
	outs := make([]*forwardtest.MemOutbox, n)
	fwds := make([]*forward.Forwarder, n)
	for i := range n {
		member := fmt.Sprintf("m%02d", i%10)
		if i < 10 {
			e.addMember(member)
		}
		creds := e.enrol(member)
		outs[i] = forwardtest.NewMemOutbox()
		fwds[i] = fastForwarder(t, creds, outs[i])
		for s := range batches {
			b := loadBatch(creds, uint64(s+1), size)
			outs[i].Add(b.BatchID, enc.batch(t, b))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	start := time.Now()
	for _, f := range fwds {
		wg.Go(func() { f.Run(ctx) })
	}
	waitFor(t, 5*time.Minute, "every batch delivered", func() bool {
		for _, o := range outs {
			if o.Pending() != 0 {
				return false
			}
		}
		return true
	})
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	for i, o := range outs {
		if q := o.QuarantinedBatches(); len(q) != 0 {
			t.Fatalf("collector %d: %d batches quarantined: %+v", i, len(q), q[0])
		}
	}
	return elapsed
}

// TestConcurrentCollectors runs 50 collectors at once on loopback and
// logs the sustained ingest rate into SQLite.
func TestConcurrentCollectors(t *testing.T) {
	const collectors, batches, size = 50, 4, 50
	e := newEnv(t, server.Config{Limits: server.Limits{Rate: 1000, Burst: 1000}})
	elapsed := runCollectors(t, e, collectors, batches, size)
	want := store.Counts{Batches: collectors * batches, Detections: collectors * batches * size, Summaries: collectors * batches * size}
	if got := e.counts(""); got != want {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	t.Logf("%d collectors: %d batches, %d detections + %d summaries in %v: %.0f batches/s, %.0f events/s",
		collectors, want.Batches, want.Detections, want.Summaries, elapsed.Round(time.Millisecond),
		float64(want.Batches)/elapsed.Seconds(), float64(want.Detections+want.Summaries)/elapsed.Seconds())
}

// BenchmarkIngest50Collectors measures batches/s and events/s (detections
// plus summaries) stored in SQLite from 50 concurrent collectors, by
// records per batch, half detections and half summaries: small batches are
// what a quiet collector sends, large ones what a busy one does.
func BenchmarkIngest50Collectors(b *testing.B) {
	const collectors = 50
	for _, size := range []int{100, 500, 2500} {
		b.Run(fmt.Sprintf("records=%d", 2*size), func(b *testing.B) {
			per := max(1, b.N/collectors)
			e := newEnv(b, server.Config{Limits: server.Limits{Rate: 1e6, Burst: 1e6}})
			b.ResetTimer()
			elapsed := runCollectors(b, e, collectors, per, size)
			b.StopTimer()
			n := collectors * per
			b.ReportMetric(float64(n)/elapsed.Seconds(), "batches/s")
			b.ReportMetric(float64(n*2*size)/elapsed.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// TestRestartMidIngest restarts central, store and all, three times while
// a collector keeps sending: every batch the collector was told is in
// is stored, and none twice.
func TestRestartMidIngest(t *testing.T) {
	const batches, size = 300, 20
	// A short shutdown grace, so that restarts also cut requests off in
	// the middle of ingest.
	e := newEnv(t, server.Config{Limits: server.Limits{Rate: 1e6, Burst: 1e6}, ShutdownTimeout: time.Millisecond})
	e.addMember("m1")
	creds := e.enrol("m1")
	out := forwardtest.NewMemOutbox()
	f := fastForwarder(t, creds, out)
	run(t, f)
	enc := newEncoder(t)

	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range batches {
			b := loadBatch(creds, uint64(s+1), size)
			js, _ := json.Marshal(b)
			out.Add(b.BatchID, enc.raw(js))
			time.Sleep(time.Millisecond)
		}
	}()
	for i := range 3 {
		waitFor(t, 30*time.Second, "some batches delivered", func() bool { return len(out.DeliveredIDs()) > (i+1)*batches/5 })
		e.restart()
	}
	<-done
	waitFor(t, time.Minute, "every batch delivered", func() bool { return out.Pending() == 0 })
	if q := out.QuarantinedBatches(); len(q) != 0 {
		t.Fatalf("%d batches quarantined: %+v", len(q), q[0])
	}
	want := store.Counts{Batches: batches, Detections: batches * size, Summaries: batches * size}
	if got := e.counts(""); got != want {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	st := f.Stats()
	t.Logf("forwarder: %d sent, %d answered as duplicates, %d retries", st.Sent, st.Duplicates, st.Retries)
	if st.Retries == 0 {
		t.Error("no request failed across three restarts; the test did not exercise them")
	}
}

// BenchmarkBatchHandler measures one batch of 100 detections and 100
// summaries through the handler into SQLite, without network or TLS: the
// decompression, strict decoding, checks and the store's transaction.
func BenchmarkBatchHandler(b *testing.B) {
	e := newEnv(b, server.Config{Limits: server.Limits{Rate: 1e9, Burst: 1e9}})
	e.addMember("m1")
	creds := e.enrol("m1")
	enc := newEncoder(b)
	peer := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{creds.Leaf()}}
	h := e.srv.Handler()
	const size = 100
	bodies := make([][]byte, b.N)
	keys := make([]string, b.N)
	for i := range bodies {
		bt := loadBatch(creds, uint64(i+1), size)
		keys[i], bodies[i] = bt.BatchID, enc.batch(b, bt)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest(http.MethodPost, server.BatchesPath, bytes.NewReader(bodies[i]))
		req.TLS = peer
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "zstd")
		req.Header.Set("Idempotency-Key", keys[i])
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*2*size)/b.Elapsed().Seconds(), "events/s")
}

package forward_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
	"github.com/cyberalarm/cyberalarm/detect"
)

func newForwarder(t *testing.T, o forward.Outbox, cfg forward.Config) *forward.Forwarder {
	t.Helper()
	f, err := forward.New(o, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDeliveryInOrder(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	m := forwardtest.NewBatchMaker(c.Identity())
	want := addBatches(t, o, m, 5, 3)

	f := newForwarder(t, o, fastConfig(c, nil))
	run(t, f)
	// Batches sealed while the forwarder runs follow the backlog.
	want = append(want, addBatches(t, o, m, 15, 3)...)
	got := waitBatches(t, r, len(want))

	if ids := batchIDs(got); !slices.Equal(ids, want) {
		t.Errorf("central received\n%v\nwant\n%v", ids, want)
	}
	eventually(t, "outbox drained", func() bool { return o.Pending() == 0 })
	if d := o.DeliveredIDs(); !slices.Equal(d, want) {
		t.Errorf("outbox delivered %v, want %v", d, want)
	}
	for _, a := range got {
		if a.Batch.MemberID != "m1" || a.Batch.CollectorID != c.Identity().CollectorID || len(a.Batch.Detections) != 3 {
			t.Errorf("batch %s: member %q collector %q, %d detections", a.Batch.BatchID, a.Batch.MemberID, a.Batch.CollectorID, len(a.Batch.Detections))
		}
	}
	s := f.Stats()
	if s.Sent != 20 || s.Duplicates != 0 || s.Quarantined != 0 || s.Retries != 0 {
		t.Errorf("stats %+v", s)
	}
	if s.SendLag != 0 || time.Since(s.LastSuccess) > time.Minute {
		t.Errorf("lag %v, last success %v", s.SendLag, s.LastSuccess)
	}
}

func TestRetryOn5xx(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	want := addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 4, 1)
	r.SetFault(&forwardtest.Fault{Status: http.StatusServiceUnavailable, Body: "busy", Times: 3})
	log, logs := newLogger()

	f := newForwarder(t, o, fastConfig(c, log))
	run(t, f)
	got := waitBatches(t, r, len(want))

	if ids := batchIDs(got); !slices.Equal(ids, want) {
		t.Errorf("received %v, want %v", ids, want)
	}
	if s := f.Stats(); s.Retries != 3 || s.Quarantined != 0 {
		t.Errorf("stats %+v, want 3 retries", s)
	}
	if req, _, _ := r.Stats(); req != 7 {
		t.Errorf("central saw %d requests, want 7", req)
	}
	if !strings.Contains(logs.String(), "503 Service Unavailable: busy") {
		t.Errorf("log does not name the failure:\n%s", logs)
	}
}

func TestBacklogDrainsAfterOutage(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	m := forwardtest.NewBatchMaker(c.Identity())
	f := newForwarder(t, o, fastConfig(c, nil))
	run(t, f)

	want := addBatches(t, o, m, 2, 2)
	// Wait for the answers too: a batch whose answer the outage cuts off
	// is resent, and rightly counted as a duplicate.
	eventually(t, "first batches delivered", func() bool { return o.Pending() == 0 })
	r.Down()
	// Traffic goes on while central is unreachable.
	for range 5 {
		want = append(want, addBatches(t, o, m, 3, 2)...)
		time.Sleep(10 * time.Millisecond)
	}
	eventually(t, "retries against the refused connection", func() bool { return f.Stats().Retries >= 5 })
	if lag := f.Stats().SendLag; lag < 40*time.Millisecond {
		t.Errorf("send lag %v during the outage, want at least the outage's age", lag)
	}
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	got := waitBatches(t, r, len(want))
	if ids := batchIDs(got); !slices.Equal(ids, want) {
		t.Errorf("received %v\nwant %v", ids, want)
	}
	eventually(t, "outbox drained", func() bool { return o.Pending() == 0 })
	if _, dups, _ := r.Stats(); dups != 0 {
		t.Errorf("%d duplicates after a refused connection", dups)
	}
	eventually(t, "lag back to zero", func() bool { return f.Stats().SendLag == 0 })
}

func TestResumesAfterRestart(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	m := forwardtest.NewBatchMaker(c.Identity())
	// The first process delivers two batches, then dies with the third in
	// flight.
	first := newForwarder(t, o, fastConfig(c, nil))
	stop := run(t, first)
	want := addBatches(t, o, m, 2, 1)
	eventually(t, "two delivered", func() bool { return len(o.DeliveredIDs()) == 2 })
	r.SetFault(&forwardtest.Fault{Delay: time.Hour})
	want = append(want, addBatches(t, o, m, 4, 1)...)
	eventually(t, "a request in flight", func() bool { req, _, _ := r.Stats(); return req == 3 })
	stop()
	r.SetFault(nil)

	second := newForwarder(t, o, fastConfig(c, nil))
	run(t, second)
	eventually(t, "outbox drained", func() bool { return o.Pending() == 0 })
	if ids := batchIDs(r.Batches()); !slices.Equal(ids, want) {
		t.Errorf("received %v, want %v", ids, want)
	}
	if d := o.DeliveredIDs(); !slices.Equal(d, want) {
		t.Errorf("delivered %v, want %v", d, want)
	}
}

func TestDuplicateAnswerCountsAsDelivered(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	want := addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 3, 1)
	// Central stores the first batch but its answer is lost.
	r.SetFault(&forwardtest.Fault{Status: http.StatusBadGateway, AfterAccept: true, Times: 1})

	f := newForwarder(t, o, fastConfig(c, nil))
	run(t, f)
	eventually(t, "outbox drained", func() bool { return o.Pending() == 0 })

	if ids := batchIDs(r.Batches()); !slices.Equal(ids, want) {
		t.Errorf("stored %v, want each of %v once", ids, want)
	}
	if _, dups, _ := r.Stats(); dups != 1 {
		t.Errorf("central answered %d duplicates, want 1", dups)
	}
	if s := f.Stats(); s.Sent != 3 || s.Duplicates != 1 || s.Retries != 1 {
		t.Errorf("stats %+v", s)
	}
	if d := o.DeliveredIDs(); !slices.Equal(d, want) {
		t.Errorf("delivered %v", d)
	}
}

func TestRejectedBatchIsQuarantined(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	m := forwardtest.NewBatchMaker(c.Identity())
	ids := addBatches(t, o, m, 1, 1)

	// A batch for another member: central's own check refuses it.
	foreign := detect.Batch{BatchID: "01JDQ0000000000000000000AA", CollectorID: c.Identity().CollectorID,
		MemberID: "m2", Seq: 9, Created: time.Now(), Detections: []json.RawMessage{}}
	body, err := m.Encode(&foreign)
	if err != nil {
		t.Fatal(err)
	}
	o.Add(foreign.BatchID, body)
	ids = append(ids, addBatches(t, o, m, 1, 1)...)
	// Not JSON at all.
	o.Add("01JDQ0000000000000000000BB", []byte("not zstd"))
	ids = append(ids, addBatches(t, o, m, 1, 1)...)

	f := newForwarder(t, o, fastConfig(c, nil))
	run(t, f)
	eventually(t, "outbox drained", func() bool { return o.Pending() == 0 })

	if got := batchIDs(r.Batches()); !slices.Equal(got, ids) {
		t.Errorf("stored %v, want %v", got, ids)
	}
	q := o.QuarantinedBatches()
	if len(q) != 2 || q[0].ID != foreign.BatchID || q[0].Status != http.StatusForbidden ||
		q[1].ID != "01JDQ0000000000000000000BB" || q[1].Status != http.StatusBadRequest {
		t.Fatalf("quarantined %+v", q)
	}
	if !strings.Contains(q[0].Reason, "another collector or member") || !strings.Contains(q[1].Reason, "zstd") {
		t.Errorf("reasons do not say why: %q, %q", q[0].Reason, q[1].Reason)
	}
	if s := f.Stats(); s.Quarantined != 2 || s.Sent != 3 || s.Retries != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestQuarantineReasonIsBounded(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 1, 1)
	r.SetFault(&forwardtest.Fault{Status: http.StatusUnprocessableEntity, Body: "bad\x00\x1b[31m" + strings.Repeat("x", 100<<10), Times: 1})

	run(t, newForwarder(t, o, fastConfig(c, nil)))
	eventually(t, "quarantine", func() bool { return len(o.QuarantinedBatches()) == 1 })
	q := o.QuarantinedBatches()[0]
	if q.Status != 422 || len(q.Reason) > 600 || !strings.HasPrefix(q.Reason, "422 Unprocessable Entity: bad  [31mxxx") {
		t.Errorf("quarantined with status %d, reason (%d bytes) %.80q", q.Status, len(q.Reason), q.Reason)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	for _, status := range []int{http.StatusTooManyRequests, http.StatusRequestTimeout, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			r := newReceiver(t, forwardtest.Options{})
			c, _ := enrol(t, r)
			o := forwardtest.NewMemOutbox()
			want := addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 1, 1)
			r.SetFault(&forwardtest.Fault{Status: status, RetryAfter: "1", Times: 1})
			f := newForwarder(t, o, fastConfig(c, nil))
			start := time.Now()
			run(t, f)
			got := waitBatches(t, r, 1)
			if waited := got[0].Received.Sub(start); waited < time.Second {
				t.Errorf("resent after %v; Retry-After asked for 1s", waited)
			}
			if got[0].Batch.BatchID != want[0] || len(o.QuarantinedBatches()) != 0 || f.Stats().Retries != 1 {
				t.Errorf("stats %+v, quarantined %v", f.Stats(), o.QuarantinedBatches())
			}
		})
	}
}

func TestTLS12Refused(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	r.Down()
	r.SetTLSVersion(tls.VersionTLS12)
	if err := r.Up(); err != nil {
		t.Fatal(err)
	}
	o := forwardtest.NewMemOutbox()
	addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 1, 1)
	log, logs := newLogger()
	f := newForwarder(t, o, fastConfig(c, log))
	stop := run(t, f)
	eventually(t, "refused handshakes", func() bool { return f.Stats().Retries >= 3 })
	stop()
	if req, _, _ := r.Stats(); req != 0 || o.Pending() != 1 || len(o.QuarantinedBatches()) != 0 {
		t.Errorf("central saw %d requests; pending %d", req, o.Pending())
	}
	if !strings.Contains(logs.String(), "protocol version") {
		t.Errorf("log does not name the TLS version:\n%.500s", logs)
	}

	// Enrolment refuses it too.
	_, err := forward.Enrol(t.Context(), r.URL(), r.Token("m1", time.Hour), t.TempDir(),
		forward.EnrolOptions{CASHA256: r.CAFingerprint()})
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("enrol over TLS 1.2: %v", err)
	}
}

func TestWrongCARefused(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	impostor := newReceiver(t, forwardtest.Options{})
	o := forwardtest.NewMemOutbox()
	addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 1, 1)
	log, logs := newLogger()
	cfg := fastConfig(c, log)
	cfg.Central = impostor.URL()
	f := newForwarder(t, o, cfg)
	stop := run(t, f)
	eventually(t, "refused handshakes", func() bool { return f.Stats().Retries >= 3 })
	stop()
	if req, _, _ := impostor.Stats(); req != 0 || o.Pending() != 1 {
		t.Errorf("impostor saw %d requests; pending %d", req, o.Pending())
	}
	if !strings.Contains(logs.String(), "certificate signed by unknown authority") {
		t.Errorf("log does not name the CA failure:\n%.500s", logs)
	}
}

func TestRunStopsMidRequest(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 1, 1)
	r.SetFault(&forwardtest.Fault{Delay: time.Hour})
	f := newForwarder(t, o, fastConfig(c, nil))
	stop := run(t, f)
	eventually(t, "request in flight", func() bool { req, _, _ := r.Stats(); return req == 1 })
	start := time.Now()
	stop()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to return", d)
	}
	if o.Pending() != 1 {
		t.Error("the batch in flight left the outbox")
	}
}

func TestSlowCentralTimesOut(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	want := addBatches(t, o, forwardtest.NewBatchMaker(c.Identity()), 2, 1)
	r.SetFault(&forwardtest.Fault{Delay: time.Hour, Times: 1})
	cfg := fastConfig(c, nil)
	cfg.Timeout = 200 * time.Millisecond
	f := newForwarder(t, o, cfg)
	run(t, f)
	if got := batchIDs(waitBatches(t, r, 2)); !slices.Equal(got, want) {
		t.Errorf("received %v, want %v", got, want)
	}
	if s := f.Stats(); s.Retries != 1 {
		t.Errorf("stats %+v, want one retry after the timeout", s)
	}
}

func TestNewRefusesWeakTLS(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := forwardtest.NewMemOutbox()
	weak := c.TLSConfig()
	weak.MinVersion = tls.VersionTLS12
	unpinned := c.TLSConfig()
	unpinned.RootCAs = nil
	for name, cfg := range map[string]forward.Config{
		"tls12":      {Central: r.URL(), TLS: weak},
		"unpinned":   {Central: r.URL(), TLS: unpinned},
		"no tls":     {Central: r.URL()},
		"http":       {Central: "http://127.0.0.1:1", Credentials: c},
		"bad window": {Central: r.URL(), Credentials: c, MinBackoff: time.Minute, MaxBackoff: time.Second},
	} {
		if _, err := forward.New(o, cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := forward.Backoff{Min: 10 * time.Millisecond, Max: time.Second}
	for n := range 100 {
		ceil := min(b.Max, b.Min<<min(n, 20))
		seen := map[time.Duration]bool{}
		for range 50 {
			d := b.Delay(n)
			if d < b.Min || d > ceil {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v]", n, d, b.Min, ceil)
			}
			seen[d] = true
		}
		if n > 0 && len(seen) < 10 {
			t.Errorf("Delay(%d) took only %d values in 50 draws: not jittered", n, len(seen))
		}
	}
}

// flakyOutbox fails the first Oldest and the first Delivered.
type flakyOutbox struct {
	*forwardtest.MemOutbox
	mu                      sync.Mutex
	oldestFail, deliverFail bool
}

func (o *flakyOutbox) Oldest(ctx context.Context) (string, []byte, bool, error) {
	o.mu.Lock()
	fail := !o.oldestFail
	o.oldestFail = true
	o.mu.Unlock()
	if fail {
		return "", nil, false, errors.New("database is locked")
	}
	return o.MemOutbox.Oldest(ctx)
}

func (o *flakyOutbox) Delivered(id string) error {
	o.mu.Lock()
	fail := !o.deliverFail
	o.deliverFail = true
	o.mu.Unlock()
	if fail {
		return errors.New("disk I/O error")
	}
	return o.MemOutbox.Delivered(id)
}

func TestOutboxErrorsAreRetried(t *testing.T) {
	r := newReceiver(t, forwardtest.Options{})
	c, _ := enrol(t, r)
	o := &flakyOutbox{MemOutbox: forwardtest.NewMemOutbox()}
	want := addBatches(t, o.MemOutbox, forwardtest.NewBatchMaker(c.Identity()), 2, 1)
	log, logs := newLogger()
	f := newForwarder(t, o, fastConfig(c, log))
	run(t, f)
	eventually(t, "outbox drained", func() bool { return o.Pending() == 0 })
	if d := o.DeliveredIDs(); !slices.Equal(d, want) {
		t.Errorf("delivered %v, want %v", d, want)
	}
	// The batch whose delivery could not be recorded was resent, and central
	// knew it.
	if _, dups, _ := r.Stats(); dups != 1 || len(r.Batches()) != 2 {
		t.Errorf("central: %d duplicates, %d stored", dups, len(r.Batches()))
	}
	for _, msg := range []string{"database is locked", "disk I/O error"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("log does not mention %q", msg)
		}
	}
}

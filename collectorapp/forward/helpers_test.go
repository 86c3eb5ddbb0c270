package forward_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/collectorapp/forward"
	"github.com/cyberalarm/cyberalarm/collectorapp/forward/forwardtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newReceiver starts a receiver that is closed when the test ends.
func newReceiver(t testing.TB, opts forwardtest.Options) *forwardtest.Receiver {
	t.Helper()
	r, err := forwardtest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// enrol enrols a collector of member m1 with r and loads its credentials.
func enrol(t testing.TB, r *forwardtest.Receiver) (*forward.Credentials, string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := forward.Enrol(context.Background(), r.URL(), r.Token("m1", time.Hour), dir,
		forward.EnrolOptions{CASHA256: r.CAFingerprint()}); err != nil {
		t.Fatal(err)
	}
	c, err := forward.LoadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c, dir
}

// fastConfig is a forwarder configuration with short waits.
func fastConfig(c *forward.Credentials, log *slog.Logger) forward.Config {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return forward.Config{
		Central:     c.Central(),
		Credentials: c,
		Timeout:     5 * time.Second,
		MinBackoff:  5 * time.Millisecond,
		MaxBackoff:  40 * time.Millisecond,
		Poll:        time.Second,
		Logger:      log,
	}
}

// run starts f and returns a function that stops it and waits for Run to
// return.
func run(t testing.TB, f interface{ Run(context.Context) error }) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Error("Run did not return within 5s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// addBatches seals n batches of d detections each in o and returns their
// ids, oldest first.
func addBatches(t testing.TB, o *forwardtest.MemOutbox, m *forwardtest.BatchMaker, n, d int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		id, body, err := m.Next(detections(d)...)
		if err != nil {
			t.Fatal(err)
		}
		o.Add(id, body)
		ids[i] = id
	}
	return ids
}

// detections returns n detection objects of realistic size.
func detections(n int) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"rule":{"id":"scan.tcp.vertical","name":"TCP port scan of one host"},`+
			`"event":{"severity":50,"kind":"alert"},"threat":{"technique":{"id":["T1046"]}},`+
			`"source":{"ip":"203.0.113.%d"},"detection":{"count":%d,"first_seen":"2026-11-27T10:00:00Z",`+
			`"last_seen":"2026-11-27T10:01:00Z"},"member":{"id":"m1"}}`, i%250+1, 20+i))
	}
	return out
}

func waitBatches(t testing.TB, r *forwardtest.Receiver, n int) []forwardtest.Accepted {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got, err := r.WaitBatches(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// eventually polls cond until it holds or 10s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func batchIDs(acc []forwardtest.Accepted) []string {
	ids := make([]string, len(acc))
	for i, a := range acc {
		ids[i] = a.Batch.BatchID
	}
	return ids
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	buf := new(logBuffer)
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

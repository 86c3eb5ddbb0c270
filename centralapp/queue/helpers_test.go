package queue_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/queue"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var members = []string{"m1", "m2", "m3"}

// newStore returns a SQLite store with members m1-m3 and one collector
// each, c-m1 to c-m3.
func newStore(t testing.TB) store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(t.TempDir(), "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	enrolAll(t, st)
	return st
}

// enrolAll adds members m1-m3 and their collectors c-m1 to c-m3 to st.
func enrolAll(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for _, m := range members {
		if err := st.AddMember(ctx, store.Member{ID: m, Name: m, TimeZone: "UTC", Created: now}); err != nil {
			t.Fatal(err)
		}
		tok := store.HashToken("token-" + m)
		if err := st.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: m, Created: now, Expires: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		c := store.Collector{ID: "c-" + m, MemberID: m, CertSerial: "01" + m, CertNotAfter: now.Add(time.Hour), Created: now}
		if err := st.UseEnrolToken(ctx, tok, now, c); err != nil {
			t.Fatal(err)
		}
	}
}

// batchOf returns a verified batch of member's collector with n
// detections and a flow summary, as the ingest API hands it on.
func batchOf(t testing.TB, member string, seq uint64, n int) *store.Batch {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	b := &store.Batch{
		ID: ulid.Make().String(), CollectorID: "c-" + member, MemberID: member, Seq: seq,
		Created: now.Add(-time.Second), Received: now,
		Summaries: []detect.FlowSummary{{
			Minute: now.Truncate(time.Minute), SourceIP: netip.MustParseAddr("198.51.100.7"),
			DestinationPort: 22, Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 3,
		}},
		Health: &detect.Health{Time: now, Started: now.Add(-time.Hour), Version: "test",
			Devices: []detect.DeviceHealth{{Device: "fw1", Dataset: "cisco_asa", LastSeen: now}}},
	}
	for i := range n {
		d := detect.Detection{
			RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50,
			Techniques: []string{"T1046"}, Source: netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", i%250+1)),
			Count: int64(i + 1), FirstSeen: now.Add(-time.Minute), LastSeen: now, MemberID: member,
		}
		sd, err := store.DecodeDetection(d.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		b.Detections = append(b.Detections, sd)
	}
	return b
}

// storeWith is the workers' handler: the store's own ingest.
func storeWith(st store.Store) queue.Handler {
	return func(ctx context.Context, b *store.Batch) (bool, error) { return st.IngestBatch(ctx, b) }
}

// consume runs q.Consume with h until the test ends.
func consume(t testing.TB, q queue.Queue, h queue.Handler) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Consume(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func counts(t testing.TB, st store.Store) store.Counts {
	t.Helper()
	c, err := st.Counts(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// errFlaky is a store failure that passes.
var errFlaky = errors.New("store briefly unavailable")

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
	"github.com/cyberalarm/cyberalarm/centralapp/store/storetest"
	"github.com/cyberalarm/cyberalarm/detect"
)

var cluster *pgtest.Cluster

func TestMain(m *testing.M) {
	// Each test's database starts migrated.
	pgtest.Main(m, &cluster, pgtest.Options{Template: func(ctx context.Context, dsn string) error {
		s, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
		if err != nil {
			return err
		}
		return s.Close()
	}})
}

func open(t *testing.T, dsn string) (*postgres.Store, error) {
	return postgres.Open(t.Context(), postgres.Options{DSN: dsn})
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		NewDSN: func(t *testing.T) string { return cluster.NewDatabase(t) },
		Open: func(t *testing.T, dsn string) (store.Store, error) {
			return open(t, dsn)
		},
	})
}

var base = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// newStore opens a store on a new database, with member m0 and its
// collector c0.
func newStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := cluster.NewDatabase(t)
	s, err := open(t, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	enrolC0(t, s)
	return s, dsn
}

func enrolC0(t *testing.T, s store.Store) {
	t.Helper()
	must(t, enrol(t.Context(), s))
}

// enrol adds member m0 and its collector c0.
func enrol(ctx context.Context, s store.Store) error {
	if err := s.AddMember(ctx, store.Member{ID: "m0", Name: "M0", Created: base}); err != nil {
		return err
	}
	tok := store.HashToken("t")
	if err := s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: "m0", Created: base, Expires: base.Add(time.Hour)}); err != nil {
		return err
	}
	return s.UseEnrolToken(ctx, tok, base, store.Collector{ID: "c0", MemberID: "m0", CertSerial: "01",
		CertNotAfter: base.Add(time.Hour), Created: base})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// detection is a detection as a collector sends it.
func detection(t testing.TB, rule string, src string, lastSeen time.Time, count int64) store.Detection {
	t.Helper()
	d := detect.Detection{RuleID: rule, RuleName: "Rule " + rule, Severity: 50, Techniques: []string{"T1046"},
		Count: count, FirstSeen: lastSeen.Add(-time.Minute), LastSeen: lastSeen,
		Sample: detect.Event{Timestamp: lastSeen, Category: detect.CategoryNetwork, Type: detect.TypeDenied, Dataset: "cisco_asa"}}
	if src != "" {
		d.Source = netip.MustParseAddr(src)
	}
	out, err := store.DecodeDetection(d.AppendJSON(nil))
	must(t, err)
	return out
}

func ingest(t testing.TB, s store.Store, id string, received time.Time, ds []store.Detection, fs ...detect.FlowSummary) {
	t.Helper()
	dup, err := s.IngestBatch(context.Background(), &store.Batch{ID: id, CollectorID: "c0", MemberID: "m0", Seq: 1,
		Created: received, Received: received, Detections: ds, Summaries: fs})
	must(t, err)
	if dup {
		t.Fatalf("batch %s: duplicate", id)
	}
}

func summary(src string, minute time.Time) detect.FlowSummary {
	return detect.FlowSummary{Minute: minute, SourceIP: netip.MustParseAddr(src), DestinationPort: 22, Transport: "tcp",
		EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 2}
}

// partitionNames lists the partitions of detections and summaries.
func partitionNames(t *testing.T, dsn string) []string {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	must(t, err)
	defer c.Close(context.Background())
	rows, err := c.Query(t.Context(), `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent IN ('detections'::regclass, 'summaries'::regclass) ORDER BY 1`)
	must(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, err)
	return names
}

// TestRetainDropsMonths checks that months wholly before the cutoff go as
// partitions, the month that straddles it row by row, and that the count
// returned is exact either way.
func TestRetainDropsMonths(t *testing.T) {
	t.Parallel()
	s, dsn := newStore(t)
	ctx := t.Context()
	sep, oct, nov := time.Date(2026, 9, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), base
	ingest(t, s, "b-sep", sep, []store.Detection{detection(t, "r1", "203.0.113.1", sep, 1)}, summary("203.0.113.1", sep))
	ingest(t, s, "b-oct", oct, []store.Detection{detection(t, "r1", "203.0.113.2", oct, 1), detection(t, "r2", "", oct, 3)})
	ingest(t, s, "b-nov1", nov, []store.Detection{detection(t, "r1", "203.0.113.3", nov, 1)}, summary("203.0.113.3", nov))
	ingest(t, s, "b-nov2", nov.Add(2*time.Hour), []store.Detection{detection(t, "r1", "203.0.113.4", nov.Add(2*time.Hour), 1)})
	for _, want := range []string{"detections_p202609", "detections_p202610", "detections_p202611", "detections_p202612",
		"summaries_p202609", "summaries_p202612"} {
		if !slices.Contains(partitionNames(t, dsn), want) {
			t.Fatalf("no partition %s: %v", want, partitionNames(t, dsn))
		}
	}

	n, err := s.Retain(ctx, nov.Add(time.Hour))
	must(t, err)
	if n != 6 { // September 2, October 2, November 2
		t.Errorf("retain deleted %d, want 6", n)
	}
	for _, p := range partitionNames(t, dsn) {
		if strings.HasSuffix(p, "202609") || strings.HasSuffix(p, "202610") {
			t.Errorf("partition %s kept", p)
		}
	}
	ds, err := s.Detections(ctx, store.DetectionFilter{})
	must(t, err)
	if len(ds) != 1 || ds[0].BatchID != "b-nov2" {
		t.Fatalf("left: %+v", ds)
	}
	c, err := s.Counts(ctx, "")
	must(t, err)
	if c != (store.Counts{Batches: 1, Detections: 1}) {
		t.Errorf("counts after retention: %+v", c)
	}
	rs, err := s.Rollups(ctx, store.RollupFilter{})
	must(t, err)
	if len(rs) != 1 || !rs[0].Hour.Equal(nov.Add(2*time.Hour)) {
		t.Errorf("rollups after retention: %+v", rs)
	}

	// A month dropped, then received again (a clock set back): its
	// partition is made anew.
	ingest(t, s, "b-sep-again", sep, []store.Detection{detection(t, "r1", "203.0.113.1", sep, 1)})
	c, err = s.Counts(ctx, "")
	must(t, err)
	if c.Detections != 2 {
		t.Errorf("counts after a late September batch: %+v", c)
	}
}

// TestPartitionDroppedByAnotherNode: a node whose cache says a month's
// partition exists, after another node's retention dropped it, makes it
// again and ingests.
func TestPartitionDroppedByAnotherNode(t *testing.T) {
	t.Parallel()
	a, dsn := newStore(t)
	b, err := open(t, dsn)
	must(t, err)
	defer b.Close()
	oct := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	ingest(t, a, "b1", oct, []store.Detection{detection(t, "r1", "203.0.113.1", oct, 1)})
	ingest(t, b, "b2", oct, []store.Detection{detection(t, "r1", "203.0.113.1", oct, 1)})
	n, err := a.Retain(t.Context(), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
	must(t, err)
	if n != 2 {
		t.Fatalf("retain deleted %d, want 2", n)
	}
	ingest(t, b, "b3", oct, []store.Detection{detection(t, "r1", "203.0.113.1", oct, 1)})
	c, err := b.Counts(t.Context(), "")
	must(t, err)
	if c.Detections != 1 {
		t.Fatalf("counts: %+v", c)
	}
}

func TestRollups(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	h := base.Truncate(time.Hour)
	ingest(t, s, "b1", base, []store.Detection{
		detection(t, "r1", "203.0.113.1", h.Add(5*time.Minute), 2),
		detection(t, "r1", "203.0.113.1", h.Add(50*time.Minute), 3),
		detection(t, "r1", "2001:db8::1", h.Add(10*time.Minute), 1),
		detection(t, "r2", "", h.Add(10*time.Minute), 7),
		detection(t, "r1", "203.0.113.1", h.Add(70*time.Minute), 1),
	})
	// A second batch adds to the same rollups.
	ingest(t, s, "b2", base, []store.Detection{
		detection(t, "r1", "203.0.113.1", h.Add(20*time.Minute), 10),
		detection(t, "r2", "", h.Add(30*time.Minute), 1),
	})
	got, err := s.Rollups(t.Context(), store.RollupFilter{MemberID: "m0"})
	must(t, err)
	v4, v6 := netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")
	// Every detection here has the same name, techniques and sample; the
	// ids are 1 to 7 in ingest order.
	rollup := func(r store.Rollup) store.Rollup {
		r.MemberID, r.RuleName, r.Techniques, r.EventType, r.EventCategory = "m0", "Rule "+r.RuleID, []string{"T1046"}, "denied", "network"
		r.Severity = 50
		return r
	}
	want := []store.Rollup{
		rollup(store.Rollup{Hour: h, RuleID: "r1", Source: v4, Detections: 3, Count: 15, FirstSeen: h.Add(4 * time.Minute), LastSeen: h.Add(50 * time.Minute), FirstID: 1}),
		rollup(store.Rollup{Hour: h, RuleID: "r1", Source: v6, Detections: 1, Count: 1, FirstSeen: h.Add(9 * time.Minute), LastSeen: h.Add(10 * time.Minute), FirstID: 3}),
		rollup(store.Rollup{Hour: h, RuleID: "r2", Detections: 2, Count: 8, FirstSeen: h.Add(9 * time.Minute), LastSeen: h.Add(30 * time.Minute), FirstID: 4}),
		rollup(store.Rollup{Hour: h.Add(time.Hour), RuleID: "r1", Source: v4, Detections: 1, Count: 1, FirstSeen: h.Add(69 * time.Minute), LastSeen: h.Add(70 * time.Minute), FirstID: 5}),
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("rollups (-want +got):\n%s", diff)
	}
	got, err = s.Rollups(t.Context(), store.RollupFilter{RuleID: "r1", Since: h.Add(time.Hour)})
	must(t, err)
	if len(got) != 1 || got[0].Count != 1 {
		t.Errorf("rollups of r1 from the second hour: %+v", got)
	}
	// A batch that fails leaves the rollups as they were.
	bad := detection(t, "r1", "203.0.113.1", h.Add(5*time.Minute), 2)
	bad.Severity = 0
	if _, err := s.IngestBatch(t.Context(), &store.Batch{ID: "b3", CollectorID: "c0", MemberID: "m0", Received: base,
		Detections: []store.Detection{detection(t, "r1", "203.0.113.1", h, 100), bad}}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad batch: %v", err)
	}
	got, err = s.Rollups(t.Context(), store.RollupFilter{})
	must(t, err)
	if got[0].Count != 15 {
		t.Errorf("rollup changed by a refused batch: %+v", got[0])
	}
}

// TestPagingWhileIngesting pages through detections while several
// goroutines ingest: every committed row is seen exactly once, which needs
// ids to rise in commit order.
func TestPagingWhileIngesting(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	const writers, batches, per = 4, 25, 40
	ctx := t.Context()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range batches {
				ds := make([]store.Detection, per)
				for j := range ds {
					ds[j] = detection(t, "r1", "203.0.113.1", base, 1)
				}
				ingest(t, s, fmt.Sprintf("w%d-b%d", w, i), base, ds)
			}
		})
	}
	seen := map[int64]bool{}
	var after int64
	page := func() int {
		ds, err := s.Detections(ctx, store.DetectionFilter{After: after, Limit: 37})
		must(t, err)
		for _, d := range ds {
			if seen[d.ID] {
				t.Fatalf("id %d seen twice", d.ID)
			}
			seen[d.ID] = true
			after = d.ID
		}
		return len(ds)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			page()
		}
	}
	for page() > 0 {
	}
	if len(seen) != writers*batches*per {
		t.Fatalf("paged %d detections, want %d", len(seen), writers*batches*per)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, dsn := range []string{"", "postgres://u:secret@127.0.0.1:bad/db", "host=127.0.0.1 port=1 connect_timeout=1"} {
		s, err := postgres.Open(t.Context(), postgres.Options{DSN: dsn})
		if err == nil {
			s.Close()
			t.Errorf("%q: opened", dsn)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: error shows the password: %v", dsn, err)
		}
	}
}

// TestNodesMakePartitionsTogether: nodes that meet a new month at once
// make its partitions once, and both ingest.
func TestNodesMakePartitionsTogether(t *testing.T) {
	t.Parallel()
	first, dsn := newStore(t)
	nodes := []*postgres.Store{first}
	for range 2 {
		s, err := open(t, dsn)
		must(t, err)
		defer s.Close()
		nodes = append(nodes, s)
	}
	jan := time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for i, s := range nodes {
		wg.Go(func() {
			dup, err := s.IngestBatch(t.Context(), &store.Batch{ID: fmt.Sprint("b", i), CollectorID: "c0", MemberID: "m0",
				Received: jan, Detections: []store.Detection{detection(t, "r1", "203.0.113.1", jan, 1)}})
			if err != nil || dup {
				t.Errorf("node %d: duplicate %v, %v", i, dup, err)
			}
		})
	}
	wg.Wait()
	c, err := first.Counts(t.Context(), "")
	must(t, err)
	if c.Detections != int64(len(nodes)) {
		t.Errorf("counts: %+v", c)
	}
}

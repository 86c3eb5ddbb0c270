package service

import (
	"context"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

// BenchmarkSnapshotPause measures what a publish tick holds ingest for on
// one SQLite node: the copy of the aggregator's state of 1M observations
// from 200k sources at five members (the encoding runs after).
func BenchmarkSnapshotPause(b *testing.B) {
	s := openNode(b, b.TempDir())
	defer s.Close()
	const observations, sources, members = 1_000_000, 200_000, 5
	now := time.Now().UTC()
	batch := store.Batch{Detections: make([]store.Detection, 1000)}
	for n := 0; n < observations; n += len(batch.Detections) {
		batch.MemberID = string(rune('a' + n/len(batch.Detections)%members))
		for k := range batch.Detections {
			i := n + k
			src := netip.AddrFrom4([4]byte{100, byte(i % sources >> 16), byte(i % sources >> 8), byte(i % sources)})
			seen := now.Add(-time.Duration(observations-i) * time.Millisecond)
			batch.Detections[k] = store.Detection{RuleID: "scan.tcp.vertical", RuleName: "scan", Severity: 50,
				Techniques: []string{"T1046"}, Source: src, Destination: netip.MustParseAddr("192.0.2.1"),
				DestinationPort: uint16(i%1024 + 1), Count: 3, FirstSeen: seen.Add(-time.Minute), LastSeen: seen,
				MemberID: batch.MemberID}
		}
		s.observe(batch)
	}
	var snap *aggregate.Snapshot
	for b.Loop() {
		_, snap = s.soloState()
	}
	// Encoding runs after ingest resumed.
	data, err := snap.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(data))/(1<<20), "MiB")
	b.ReportMetric(float64(s.Agg.Stats().Observations), "observations")
}

// BenchmarkReplay measures the feed from the store after a crash: 100
// batches of 1,000 detections, from an empty aggregator.
func BenchmarkReplay(b *testing.B) {
	s := openNode(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	batches := makeBatches(b, s, 100, 1000)
	for i := range batches {
		if _, err := s.Store.IngestBatch(ctx, &batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if err := s.Agg.UnmarshalBinary(s.emptyAggregate); err != nil {
			b.Fatal(err)
		}
		s.fed = fedPosition{}
		if _, _, err := s.catchUp(ctx, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(100*1000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkInlineFeed is the feed as ingest does it, for comparison with
// BenchmarkReplay: the same batches, fed as they are stored.
func BenchmarkInlineFeed(b *testing.B) {
	s := openNode(b, b.TempDir())
	defer s.Close()
	batches := makeBatches(b, s, 100, 1000)
	for b.Loop() {
		if err := s.Agg.UnmarshalBinary(s.emptyAggregate); err != nil {
			b.Fatal(err)
		}
		for i := range batches {
			s.observe(batches[i])
		}
	}
	b.ReportMetric(float64(100*1000*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkRebuild10M rebuilds the aggregation from 10M stored detections,
// as a node without its state file does: the database the benchmarks of
// store/sqlite build at $CYBERALARM_BENCH_DB (30 days from 2026-11-01 of
// 1M background sources and one campaign source at a time).
func BenchmarkRebuild10M(b *testing.B) {
	path := os.Getenv("CYBERALARM_BENCH_DB")
	if path == "" {
		b.Skip("set CYBERALARM_BENCH_DB to the 10M-detection database: " +
			"CYBERALARM_BENCH_DB=/some/dir/central10M.db go test -run '^$' -bench 10M ./centralapp/store/sqlite builds it there")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	s := &Service{Store: st, log: quiet}
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(-time.Hour)
	now := since.Add(30*24*time.Hour + 2*time.Hour)
	var rows int
	for b.Loop() {
		if s.Agg, err = aggregate.New(aggregate.Config{Now: func() time.Time { return now }}); err != nil {
			b.Fatal(err)
		}
		ds, ss, _, err := s.rebuild(ctx, since, now)
		if err != nil {
			b.Fatal(err)
		}
		rows += ds + ss
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s")
	b.ReportMetric(float64(len(s.Agg.Campaigns(time.Time{}))), "campaigns")
	b.ReportMetric(float64(s.Agg.Sources()), "sources")
	// What a restart with the state file costs instead: loading it.
	data, err := s.Agg.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := s.Agg.UnmarshalBinary(data); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "load-s")
	b.ReportMetric(float64(len(data))/1e6, "state-MB")
}

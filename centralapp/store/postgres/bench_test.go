package postgres_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
	"github.com/cyberalarm/cyberalarm/detect"
)

var benchBase = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// benchStore returns a store on a durable cluster of its own (fsync and
// synchronous commit on, as in production), with collectors c0..c{n-1} of
// member m0.
func benchStore(b *testing.B, collectors int) *postgres.Store {
	b.Helper()
	c := pgtest.New(b, pgtest.Options{Durable: true, Settings: map[string]string{"shared_buffers": "512MB",
		"max_wal_size": "4GB"}})
	s, err := postgres.Open(context.Background(), postgres.Options{DSN: c.NewDatabase(b), MaxConns: 2 * collectors})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	ctx := context.Background()
	if err := s.AddMember(ctx, store.Member{ID: "m0", Name: "M0", Created: benchBase}); err != nil {
		b.Fatal(err)
	}
	for i := range collectors {
		tok := store.HashToken(fmt.Sprint("t", i))
		if err := s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: "m0", Created: benchBase, Expires: benchBase.Add(time.Hour)}); err != nil {
			b.Fatal(err)
		}
		if err := s.UseEnrolToken(ctx, tok, benchBase, store.Collector{ID: fmt.Sprint("c", i), MemberID: "m0",
			CertSerial: "01", CertNotAfter: benchBase.Add(time.Hour), Created: benchBase}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// benchDetections are detections as the collector serialises them, with a
// sample event (about 600 bytes of JSON each): the SQLite benchmark's.
func benchDetections(b testing.TB, n int) []store.Detection {
	ds := make([]store.Detection, n)
	for i := range ds {
		src := netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
		t := benchBase.Add(time.Duration(i) * time.Second)
		d := detect.Detection{RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50,
			Techniques: []string{"T1046"}, Tags: []string{"attack.discovery"}, Source: src, Count: int64(20 + i%50),
			FirstSeen: t.Add(-time.Minute), LastSeen: t, MemberID: "m0",
			Sample: detect.Event{Timestamp: t, Category: detect.CategoryNetwork, Type: detect.TypeDenied, Action: "Deny",
				Dataset: "cisco_asa", Code: "106023", Observer: detect.Observer{Vendor: "Cisco", Product: "ASA", Hostname: "fw1.example"},
				Source:      detect.Endpoint{IP: src, Port: 51234},
				Destination: detect.Endpoint{IP: netip.MustParseAddr("192.0.2.10"), Port: 445},
				Network:     detect.Network{Transport: detect.TransportTCP, Direction: detect.DirectionInbound},
				Rule:        detect.Rule{Name: "outside_access_in"}},
		}
		var err error
		if ds[i], err = store.DecodeDetection(d.AppendJSON(nil)); err != nil {
			b.Fatal(err)
		}
	}
	return ds
}

func benchSummaries(n int) []detect.FlowSummary {
	fs := make([]detect.FlowSummary, n)
	for i := range fs {
		fs[i] = detect.FlowSummary{Minute: benchBase.Add(time.Duration(i/100) * time.Minute),
			SourceIP: netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)}), DestinationPort: uint16(1 + i%1024),
			Transport: "tcp", EventType: "denied", Device: "fw1.example", Dataset: "cisco_asa", Count: int64(1 + i%7)}
	}
	return fs
}

// benchBatch is batch i of collector c: the next span of time, sources
// from a pool of 200,000, as in the SQLite benchmark.
func benchBatch(c, i int, ds []store.Detection, fs []detect.FlowSummary) *store.Batch {
	shift := time.Duration(i) * 1000 * time.Second
	ds, fs = append([]store.Detection(nil), ds...), append([]detect.FlowSummary(nil), fs...)
	for k := range ds {
		n := uint32((i*1000 + k) * 2654435761 % 200_000)
		ds[k].Source = netip.AddrFrom4([4]byte{203, byte(n >> 16), byte(n >> 8), byte(n)})
		ds[k].FirstSeen = benchBase.Add(shift + time.Duration(k)*time.Second - time.Minute)
		ds[k].LastSeen = ds[k].FirstSeen.Add(time.Minute)
	}
	for k := range fs {
		n := uint32((i*1000 + k) * 2654435761 % 200_000)
		fs[k].SourceIP = netip.AddrFrom4([4]byte{198, byte(n >> 16), byte(n >> 8), byte(n)})
		fs[k].Minute = benchBase.Add(shift + time.Duration(k/100)*time.Minute)
	}
	return &store.Batch{ID: fmt.Sprintf("01JBENCH%06d%012d", c, i), CollectorID: fmt.Sprint("c", c), MemberID: "m0",
		Seq: uint64(i + 1), Created: benchBase.Add(shift), Received: benchBase.Add(shift), Detections: ds, Summaries: fs}
}

// BenchmarkIngestBatch ingests batches of 1,000 records (events/s counts
// detections plus summaries), from one sender and from four at once, as
// several worker nodes would.
func BenchmarkIngestBatch(b *testing.B) {
	for _, mix := range []struct {
		name       string
		detections int
	}{{"detections", 1000}, {"mixed", 200}, {"summaries", 0}} {
		for _, senders := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/senders=%d", mix.name, senders), func(b *testing.B) {
				s := benchStore(b, senders)
				ds, fs := benchDetections(b, mix.detections), benchSummaries(1000-mix.detections)
				ctx := context.Background()
				var next atomic.Int64
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for c := range senders {
					wg.Go(func() {
						for {
							i := int(next.Add(1)) - 1
							if i >= b.N {
								return
							}
							if _, err := s.IngestBatch(ctx, benchBatch(c, i, ds, fs)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.ReportMetric(float64(1000*b.N)/time.Since(start).Seconds(), "events/s")
			})
		}
	}
}

// The large database is built once per test binary, in the test cluster:
// -count 6 would otherwise rebuild it six times.
var large struct {
	once sync.Once
	dsn  string
	err  error
}

const (
	largeRows    = 10_000_000
	largeSources = 1_000_000
	largeMembers = 50
	largeDays    = 30
)

func largeStore(b *testing.B) *postgres.Store {
	b.Helper()
	if cluster == nil {
		b.Skip(pgtest.ErrNotInstalled)
	}
	large.once.Do(func() {
		start := time.Now()
		large.dsn, large.err = buildLarge()
		b.Logf("built %d detections in %v", largeRows, time.Since(start).Round(time.Second))
	})
	if large.err != nil {
		b.Fatal(large.err)
	}
	s, err := postgres.Open(context.Background(), postgres.Options{DSN: large.dsn})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// buildLarge fills a new store with largeRows detections in SQL, as the
// SQLite benchmark does: sources repeat across members, last_seen spreads
// over largeDays days, and raw is 560 bytes.
func buildLarge() (string, error) {
	ctx := context.Background()
	dsn, err := cluster.CreateDatabase(ctx, "large")
	if err != nil {
		return "", err
	}
	s, err := postgres.Open(ctx, postgres.Options{DSN: dsn})
	if err != nil {
		return "", err
	}
	if err := enrol(ctx, s); err != nil {
		return "", err
	}
	// Empty batches make the partitions of the months the rows land in.
	for _, m := range []time.Time{benchBase, benchBase.AddDate(0, 1, 0)} {
		if _, err := s.IngestBatch(ctx, &store.Batch{ID: "b" + m.Format("200601"), CollectorID: "c0", MemberID: "m0",
			Created: m, Received: m}); err != nil {
			return "", err
		}
	}
	s.Close()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	step := int64(largeDays*24*time.Hour/time.Microsecond) / largeRows // µs between rows' last_seen
	_, err = c.Exec(ctx, `INSERT INTO detections (member_id, collector_id, batch_id, rule_id, rule_name, severity,
			techniques, source_ip, destination_ip, destination_port, related_ips, distinct_sources, count, first_seen,
			last_seen, received, raw)
		SELECT 'm' || ((i / 7) % $3), 'c' || ((i / 7) % $3), 'b' || (i / 1000), 'scan.tcp.vertical', 'TCP port scan', 50,
			CASE i % 3 WHEN 0 THEN '{T1046}'::text[] WHEN 1 THEN '{T1110}' ELSE '{T1046,T1110}' END,
			'203.0.0.0'::inet + ((i * 2654435761) % $2), NULL,
			CASE WHEN i % 4 = 0 THEN 22 + i % 5 END, NULL, 0, 1 + i % 50,
			$4::timestamptz + make_interval(secs => (i * $5 - 60000000) / 1e6),
			$4::timestamptz + make_interval(secs => i * $5 / 1e6),
			$4::timestamptz + make_interval(secs => (i * $5 + 60000000) / 1e6),
			decode(repeat('7b22', 280), 'hex')
		FROM generate_series(0, $1::bigint - 1) AS i`, largeRows, largeSources, largeMembers, benchBase, step)
	if err != nil {
		return "", fmt.Errorf("bulk insert: %w", err)
	}
	_, err = c.Exec(ctx, "VACUUM ANALYZE detections")
	return dsn, err
}

func BenchmarkSourceActivity10M(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	for _, w := range []struct {
		name string
		days int
	}{{"1h", 0}, {"1d", 1}, {"7d", 7}, {"30d", 30}} {
		b.Run(w.name, func(b *testing.B) {
			until := benchBase.Add(largeDays * 24 * time.Hour)
			since := until.Add(-time.Duration(w.days) * 24 * time.Hour)
			if w.days == 0 {
				since = until.Add(-time.Hour)
			}
			var n int
			for b.Loop() {
				acts, err := s.SourceActivity(ctx, since, until)
				if err != nil {
					b.Fatal(err)
				}
				n = len(acts)
			}
			b.ReportMetric(float64(n), "sources")
		})
	}
}

func BenchmarkSourceMembers10M(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	sources := make([]netip.Addr, 1000)
	for i := range sources {
		sources[i] = netip.AddrFrom4([4]byte{203, 0, byte(i >> 8), byte(i)})
	}
	since := benchBase.Add((largeDays - 7) * 24 * time.Hour)
	for b.Loop() {
		if _, err := s.SourceMembers(ctx, sources, since); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDetectionsPage10M(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	since := benchBase.Add((largeDays - 1) * 24 * time.Hour)
	for b.Loop() {
		ds, err := s.Detections(ctx, store.DetectionFilter{MemberID: "m7", Since: since, Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		if len(ds) == 0 {
			b.Fatal("no detections")
		}
	}
}

package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

var benchBase = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func openBench(b testing.TB, path string) *sqlite.Store {
	b.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchStore returns a store with one member and collector, "m0"/"c0".
func benchStore(b testing.TB) *sqlite.Store {
	b.Helper()
	s := openBench(b, filepath.Join(b.TempDir(), "central.db"))
	ctx := context.Background()
	if err := s.AddMember(ctx, store.Member{ID: "m0", Name: "M0", Created: benchBase}); err != nil {
		b.Fatal(err)
	}
	tok := store.HashToken("t")
	if err := s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: "m0", Created: benchBase, Expires: benchBase.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	if err := s.UseEnrolToken(ctx, tok, benchBase, store.Collector{ID: "c0", MemberID: "m0", CertSerial: "01",
		CertNotAfter: benchBase.Add(time.Hour), Created: benchBase}); err != nil {
		b.Fatal(err)
	}
	return s
}

// realistic records: detections as the collector serialises them, with a
// sample event (about 600 bytes of JSON each), and flow summaries.
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

// BenchmarkIngestBatch ingests batches of 1,000 records; events/s counts
// detections plus summaries. As in real traffic, each batch covers the next
// span of time, and its sources come from a pool of 200,000, so the time
// indexes append and the source index takes scattered inserts.
func BenchmarkIngestBatch(b *testing.B) {
	for _, mix := range []struct {
		name       string
		detections int
	}{{"detections", 1000}, {"mixed", 200}, {"summaries", 0}} {
		b.Run(mix.name, func(b *testing.B) {
			s := benchStore(b)
			ds, fs := benchDetections(b, mix.detections), benchSummaries(1000-mix.detections)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				shift := time.Duration(i) * 1000 * time.Second
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
				batch := &store.Batch{ID: fmt.Sprintf("01JBENCH%018d", i), CollectorID: "c0", MemberID: "m0", Seq: uint64(i + 1),
					Created: benchBase.Add(shift), Received: benchBase.Add(shift), Detections: ds, Summaries: fs}
				if _, err := s.IngestBatch(ctx, batch); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(1000*i)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// The 10M-detection database is built once per test binary, in a directory
// TestMain removes: -count 6 would otherwise rebuild it six times.
var large struct {
	once sync.Once
	dir  string
	path string
	err  error
}

const (
	largeRows    = 10_000_000
	largeSources = 1_000_000
	largeMembers = 50
	largeDays    = 30
)

func largeStore(b *testing.B) *sqlite.Store {
	b.Helper()
	large.once.Do(func() {
		// $CYBERALARM_BENCH_DB keeps the database between runs: it is
		// built there when missing and never removed.
		if large.path = os.Getenv("CYBERALARM_BENCH_DB"); large.path != "" {
			if _, large.err = os.Stat(large.path); large.err == nil {
				return
			}
		} else {
			if large.dir, large.err = os.MkdirTemp("", "storebench"); large.err != nil {
				return
			}
			large.path = filepath.Join(large.dir, "central.db")
		}
		start := time.Now()
		// Built aside and renamed, so an interrupted build is not kept.
		tmp := large.path + ".building"
		os.Remove(tmp)
		if large.err = buildLarge(tmp, largeRows); large.err == nil {
			large.err = os.Rename(tmp, large.path)
		}
		b.Logf("built %d detections in %v", largeRows, time.Since(start).Round(time.Second))
	})
	if large.err != nil {
		b.Fatal(large.err)
	}
	return openBench(b, large.path)
}

// buildLarge fills a new store with largeRows detections in SQL, the fast
// bulk path: the detections indexes are dropped, the rows made by a
// recursive CTE in one transaction, and the indexes rebuilt by sorting.
// Sources repeat across members (a source's rows land on several members)
// and last_seen spreads over largeDays days. Every tenth row is a campaign:
// one source of 198.51.100.0/22 at a time, for 10,000 rows (43 minutes),
// hitting every member; the other rows come from 1M background sources,
// each seen every three days.
func buildLarge(path string, n int) error {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=OFF&_cache_size=-1000000")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'detections' AND sql IS NOT NULL")
	if err != nil {
		return err
	}
	var names, defs []string
	for rows.Next() {
		var n, d string
		if err := rows.Scan(&n, &d); err != nil {
			rows.Close()
			return err
		}
		names, defs = append(names, n), append(defs, d)
	}
	rows.Close()
	for _, n := range names {
		if _, err := db.ExecContext(ctx, "DROP INDEX "+n); err != nil {
			return err
		}
	}
	step := int64(largeDays*24*time.Hour) / int64(n) // between consecutive rows' last_seen
	_, err = db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
		INSERT INTO detections (member_id, collector_id, batch_id, rule_id, rule_name, severity, techniques, source_ip,
			destination_ip, destination_port, related_ips, distinct_sources, count, first_seen, last_seen, received, raw)
		SELECT 'm' || ((i / 7) % ?3), 'c' || ((i / 7) % ?3), 'b' || (i / 1000), 'scan.tcp.vertical', 'TCP port scan', 50,
			CASE i % 3 WHEN 0 THEN 'T1046' WHEN 1 THEN 'T1110' ELSE 'T1046,T1110' END,
			unhex('00000000000000000000ffff' || printf('%08x', CASE WHEN i % 10 = 0 THEN 3325256704 + (i / 10000) % 1000
				ELSE 3405803776 + (i * 2654435761) % ?2 END)),
			NULL, CASE WHEN i % 4 = 0 THEN 22 + i % 5 END, NULL, 0, 1 + i % 50,
			?4 + i * ?5 - 60000000000, ?4 + i * ?5, ?4 + i * ?5 + 60000000000, randomblob(560)
		FROM n`, n, largeSources, largeMembers, benchBase.UnixNano(), step)
	if err != nil {
		return fmt.Errorf("bulk insert: %w", err)
	}
	for _, d := range defs {
		if _, err := db.ExecContext(ctx, d); err != nil {
			return err
		}
	}
	_, err = db.ExecContext(ctx, "ANALYZE")
	return err
}

func BenchmarkSourceActivity10M(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	for _, w := range []struct {
		name string
		days int
	}{{"1d", 1}, {"7d", 7}, {"30d", 30}} {
		b.Run(w.name, func(b *testing.B) {
			until := benchBase.Add(largeDays * 24 * time.Hour)
			since := until.Add(-time.Duration(w.days) * 24 * time.Hour)
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

// BenchmarkDetectionsScan10M reads all 10M detections in pages of
// MaxLimit by id, as a rebuild of the aggregation or a replay after a
// crash does; ns/row is the cost of one row.
func BenchmarkDetectionsScan10M(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		var after int64
		for {
			ds, err := s.Detections(ctx, store.DetectionFilter{After: after, Limit: store.MaxLimit})
			if err != nil {
				b.Fatal(err)
			}
			if len(ds) == 0 {
				break
			}
			rows += len(ds)
			after = ds[len(ds)-1].ID
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// BenchmarkReplay10M reads all 10M detections as a rebuild of the
// aggregation does (Store.Replay, through the time index alone); the
// rebuild itself is service's BenchmarkRebuild10M.
func BenchmarkReplay10M(b *testing.B) {
	s := largeStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	rows := 0
	for b.Loop() {
		err := s.Replay(ctx, time.Time{}, time.Time{}, func(page []store.Replayed) error {
			rows += len(page)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

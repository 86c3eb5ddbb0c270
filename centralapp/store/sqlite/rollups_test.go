package sqlite_test

import (
	"database/sql"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	_ "github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestRollupMigration checks that a store migrated from the rollups of
// migration 00003 makes them again, keyed as 00004 keys them, from its
// detections.
func TestRollupMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "central.db")
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.AddMember(ctx, store.Member{ID: "m0", Name: "M0", Created: base}))
	tok := store.HashToken("t")
	must(s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: "m0", Created: base, Expires: base.Add(time.Hour)}))
	must(s.UseEnrolToken(ctx, tok, base, store.Collector{ID: "c0", MemberID: "m0", CertSerial: "01",
		CertNotAfter: base.Add(time.Hour), Created: base}))
	var ds []store.Detection
	for i, sample := range []detect.Event{
		{Category: detect.CategoryIntrusionDetection, Type: detect.TypeDenied, Rule: detect.Rule{Name: "ET EXPLOIT CVE-2021-44228"}},
		{Category: detect.CategoryIntrusionDetection, Type: detect.TypeDenied, Rule: detect.Rule{Name: "ET EXPLOIT CVE-2021-44228"}},
		{Category: detect.CategoryNetwork, Type: detect.TypeAllowed, Network: detect.Network{Direction: detect.DirectionOutbound},
			Destination: detect.Endpoint{IP: netip.MustParseAddr("198.51.100.9")}},
	} {
		last := base.Add(time.Duration(10*i) * time.Minute)
		sample.Timestamp = last
		d := detect.Detection{RuleID: "r1", RuleName: "Rule r1", Severity: 40 + 10*i, Techniques: []string{"T1190"},
			Source: netip.MustParseAddr("203.0.113.5"), Related: []netip.Addr{netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})},
			DistinctSources: 1, Count: 2, FirstSeen: last.Add(-time.Minute), LastSeen: last, Sample: sample}
		sd, err := store.DecodeDetection(d.AppendJSON(nil))
		must(err)
		ds = append(ds, sd)
	}
	_, err = s.IngestBatch(ctx, &store.Batch{ID: "b1", CollectorID: "c0", MemberID: "m0", Seq: 1, Created: base,
		Received: base, Detections: ds})
	must(err)
	want, err := s.Rollups(ctx, store.RollupFilter{})
	must(err)
	if len(want) != 2 || want[1].Detections != 2 || len(want[1].Related) != 2 || want[1].Severity != 50 {
		t.Fatalf("rollups: %+v", want)
	}
	must(s.Close())

	// Back to the old rollups, which a read of the old store made, then
	// up again.
	db, err := sql.Open("sqlite3", path)
	must(err)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	must(err)
	_, err = p.DownTo(ctx, 3)
	must(err)
	_, err = db.ExecContext(ctx, `INSERT INTO detection_rollups SELECT 1, 'm0', 'r1', X'', 1, 1, 1, 1`)
	must(err)
	must(db.Close())
	s, err = sqlite.Open(ctx, sqlite.Options{Path: path})
	must(err)
	defer s.Close()
	got, err := s.Rollups(ctx, store.RollupFilter{})
	must(err)
	if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("rollups after migrating (-before +after):\n%s", d)
	}
}

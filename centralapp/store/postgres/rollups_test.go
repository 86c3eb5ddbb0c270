package postgres_test

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestRollupMigration checks that migration 00004, which makes the rollups
// again from the stored detections in SQL, makes what ingest keeps.
func TestRollupMigration(t *testing.T) {
	s, dsn := newStore(t)
	ctx := t.Context()
	hour := base.Truncate(time.Hour)
	det := func(rule, src string, at time.Duration, mod func(*detect.Detection)) store.Detection {
		d := detect.Detection{RuleID: rule, RuleName: "Rule " + rule, Severity: 50, Techniques: []string{"T1046", "T1595"},
			Count: 3, FirstSeen: hour.Add(at - time.Minute), LastSeen: hour.Add(at),
			Sample: detect.Event{Timestamp: hour.Add(at), Category: detect.CategoryNetwork, Type: detect.TypeDenied}}
		if src != "" {
			d.Source = netip.MustParseAddr(src)
		}
		if mod != nil {
			mod(&d)
		}
		out, err := store.DecodeDetection(d.AppendJSON(nil))
		must(t, err)
		return out
	}
	ids := func(sev int, related ...string) func(*detect.Detection) {
		return func(d *detect.Detection) {
			d.Severity, d.DestinationPort = sev, 443
			d.Sample.Category, d.Sample.Rule.Name = detect.CategoryIntrusionDetection, "ET EXPLOIT CVE-2021-44228"
			for _, r := range related {
				d.Related = append(d.Related, netip.MustParseAddr(r))
			}
			d.DistinctSources = len(d.Related)
		}
	}
	outbound := func(d *detect.Detection) {
		d.Techniques = nil
		d.Sample.Type, d.Sample.Network.Direction = detect.TypeAllowed, detect.DirectionOutbound
		d.Sample.Destination.IP = netip.MustParseAddr("198.51.100.9")
	}
	ingest(t, s, "b1", base, []store.Detection{
		det("ids", "203.0.113.5", 5*time.Minute, ids(60, "203.0.113.3", "203.0.113.2")),
		det("ids", "203.0.113.5", 15*time.Minute, ids(80, "2001:db8::4", "203.0.113.3")),
		det("c2", "10.0.0.5", 20*time.Minute, outbound),
		det("scan", "", 90*time.Minute, nil),
	})
	ingest(t, s, "b2", base.Add(time.Hour), []store.Detection{
		det("ids", "203.0.113.5", 25*time.Minute, ids(70, "203.0.113.1")),
		det("scan", "::1", 30*time.Minute, nil),
		det("c2", "10.0.0.5", 40*time.Minute, outbound),
	})
	want, err := s.Rollups(ctx, store.RollupFilter{})
	must(t, err)
	if len(want) != 4 || len(want[1].Related) != 4 {
		t.Fatalf("rollups before: %+v", want)
	}

	pool, err := pgxpool.New(ctx, dsn)
	must(t, err)
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"), goose.WithDisableGlobalRegistry(true))
	must(t, err)
	_, err = p.DownTo(ctx, 3)
	must(t, err)
	_, err = p.UpTo(ctx, 4)
	must(t, err)
	got, err := s.Rollups(ctx, store.RollupFilter{})
	must(t, err)
	if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("rollups made by the migration (-kept by ingest +migrated):\n%s", d)
	}
}

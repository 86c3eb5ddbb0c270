package report

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres/pgtest"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

// countingStore counts the reads of detections and rollups, to tell
// which way a report counted.
type countingStore struct {
	store.Store
	detections, rollups atomic.Int64
}

func (s *countingStore) Detections(ctx context.Context, f store.DetectionFilter) ([]store.Detection, error) {
	s.detections.Add(1)
	return s.Store.Detections(ctx, f)
}

func (s *countingStore) Rollups(ctx context.Context, f store.RollupFilter) ([]store.Rollup, error) {
	s.rollups.Add(1)
	return s.Store.Rollups(ctx, f)
}

// reportOpts compare reports: locations by name, NaN targetedness equal.
var reportOpts = cmp.Options{
	cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() }),
	cmpopts.EquateComparable(netip.Addr{}),
	cmpopts.EquateNaNs(),
}

// bothWays builds the reports of members and the analyst report for
// periods from the rollups and from the detections, compares them, and
// checks which way each went.
func bothWays(t *testing.T, st store.Store, o Options, members []store.Member, periods func(loc *time.Location) []Period) {
	t.Helper()
	ctx := t.Context()
	cs := &countingStore{Store: st}
	o.Store = cs
	byRollups, err := NewBuilder(o)
	must(t, err)
	o.Store = st
	byDetections, err := NewBuilder(o)
	must(t, err)
	byDetections.noRollups = true
	check := func(what string, p Period, build func(b *Builder) (any, error)) {
		t.Helper()
		before := cs.detections.Load()
		got, err := build(byRollups)
		must(t, err)
		read := cs.detections.Load() - before
		want, err := build(byDetections)
		must(t, err)
		if d := cmp.Diff(want, got, reportOpts); d != "" {
			t.Errorf("%s, %s: report from rollups differs (-from detections +from rollups):\n%s", what, p, d)
		}
		// Either way reads the period before too, with no days.
		if onUTCHours(p, true) && onUTCHours(p.Previous(), false) && read != 0 {
			t.Errorf("%s, %s: read detections %d times with whole-hour days", what, p, read)
		}
		if !onUTCHours(p, true) && read == 0 {
			t.Errorf("%s, %s: did not read detections with days off the hour", what, p)
		}
	}
	for _, m := range members {
		for _, p := range periods(Location(m.TimeZone)) {
			check(m.ID, p, func(b *Builder) (any, error) { return b.Member(ctx, m.ID, p) })
		}
	}
	for _, loc := range []*time.Location{time.UTC, Location("Europe/London"), Location("Asia/Kolkata")} {
		for _, p := range periods(loc) {
			check("analyst", p, func(b *Builder) (any, error) { return b.Analyst(ctx, p) })
		}
	}
	if cs.rollups.Load() == 0 {
		t.Error("no report read the rollups")
	}
}

// testPeriods are a week of whole days, a period on UTC hours that does
// not start at midnight, and one off the hour.
func testPeriods(loc *time.Location) []Period {
	return []Period{
		Ending(now, Week, loc),
		{Start: day(23, 7, 0), End: day(26, 19, 0), Loc: loc},
		{Start: day(22, 7, 30), End: day(27, 12, 0), Loc: loc},
	}
}

func TestRollupsMatchDetections(t *testing.T) {
	t.Run("fixture", func(t *testing.T) {
		f := newFixture(t)
		bothWays(t, f.st, Options{Agg: f.agg, Geo: testGeo(t), Now: func() time.Time { return now }}, fixtureMembers, testPeriods)
	})
	for seed := range uint64(3) {
		t.Run(fmt.Sprintf("random %d", seed), func(t *testing.T) {
			st, err := sqlite.Open(t.Context(), sqlite.Options{Path: filepath.Join(t.TempDir(), "central.db")})
			must(t, err)
			t.Cleanup(func() { st.Close() })
			members := randomFill(t, st, seed)
			bothWays(t, st, Options{Geo: testGeo(t), Now: func() time.Time { return now }}, members, testPeriods)
		})
	}
	t.Run("postgres", func(t *testing.T) {
		c := pgtest.New(t, pgtest.Options{})
		st, err := postgres.Open(t.Context(), postgres.Options{DSN: c.NewDatabase(t)})
		must(t, err)
		t.Cleanup(func() { st.Close() })
		members := randomFill(t, st, 7)
		bothWays(t, st, Options{Geo: testGeo(t), Now: func() time.Time { return now }}, members, testPeriods)
	})
}

// randomMembers are in whole-hour zones, with and without summer time,
// and in +05:30 and +05:45.
var randomMembers = []store.Member{
	{ID: "london", Name: "London Ltd", Sector: "transport", Region: "south-east", TimeZone: "Europe/London"},
	{ID: "newyork", Name: "New York Inc", Sector: "education", Region: "abroad", TimeZone: "America/New_York"},
	{ID: "utc", Name: "UTC plc", Sector: "transport", Region: "north-west"},
	{ID: "kolkata", Name: "Kolkata Pvt", Sector: "health", Region: "abroad", TimeZone: "Asia/Kolkata"},
	{ID: "kathmandu", Name: "Kathmandu Pvt", Sector: "health", Region: "abroad", TimeZone: "Asia/Kathmandu"},
}

// randomFill stores randomMembers and random detections for them over
// the three weeks to now, in several batches, and returns the members.
func randomFill(t *testing.T, st store.Store, seed uint64) []store.Member {
	t.Helper()
	ctx := t.Context()
	rnd := rand.New(rand.NewPCG(seed, 42))
	pick := func(xs ...string) string { return xs[rnd.IntN(len(xs))] }
	outside := []string{"203.0.113.7", "198.51.100.23", "185.220.101.4", "45.155.205.9", "2001:db8::7", "192.0.2.200"}
	inside := []string{"10.0.0.5", "192.168.1.20", "fd00::5"}
	rules := []struct{ id, category, signature string }{
		{"scan.tcp.vertical", "network", ""},
		{"bruteforce.ssh", "authentication", ""},
		{"ids.exploit", "intrusion_detection", "ET EXPLOIT Apache Path Traversal CVE-2021-41773"},
		{"ids.exploit", "intrusion_detection", "ET EXPLOIT Log4j CVE-2021-44228 Attempt"},
		{"ids.policy", "intrusion_detection", "ET POLICY curl User-Agent"},
		{"c2.beacon", "network", ""},
		{"amplification.reflector.dns", "network", ""},
		{"exploit.cve-2023-4966", "web", ""},
	}
	for i, m := range randomMembers {
		m.Created = day(1, 0, 0)
		must(t, st.AddMember(ctx, m))
		tok := store.HashToken("token-" + m.ID)
		must(t, st.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: m.ID, Created: m.Created, Expires: day(2, 0, 0)}))
		col := store.Collector{ID: fmt.Sprintf("01COLLECTOR%02d", i), MemberID: m.ID, CertSerial: fmt.Sprint(i + 1),
			CertNotAfter: day(30, 0, 0), Created: m.Created}
		must(t, st.UseEnrolToken(ctx, tok, day(1, 1, 0), col))
		for bi := range 4 {
			b := &store.Batch{ID: fmt.Sprintf("01BATCH%02d%02d", i, bi), CollectorID: col.ID, MemberID: m.ID, Seq: uint64(bi + 1),
				Created: now, Received: now}
			for range 60 + rnd.IntN(60) {
				r := rules[rnd.IntN(len(rules))]
				d := det{rule: r.id, name: "Rule " + r.id, severity: 10 + rnd.IntN(90), techniques: []string{"T1046"},
					count: 1 + rnd.Int64N(50), verdict: pick("denied", "denied", "allowed", "info"), category: r.category,
					signature: r.signature, direction: pick("inbound", "inbound", "outbound", "")}
				if rnd.IntN(4) == 0 {
					d.name = "Rule " + r.id + ", renamed" // the first detection's name is the finding's
				}
				switch rnd.IntN(4) {
				case 0:
					d.techniques = []string{"T1190", "T1595.002"}
				case 1:
					d.techniques = []string{"T1071"}
				}
				if d.direction == "outbound" {
					d.src, d.dst = pick(inside...), pick(outside...)
				} else {
					d.src = pick(append(outside, inside...)...)
					if rnd.IntN(5) == 0 {
						d.dst = pick(inside...)
					}
				}
				if rnd.IntN(8) == 0 {
					d.src = "" // about no one source
				}
				if rnd.IntN(3) != 0 {
					d.port = []uint16{22, 80, 443, 3389}[rnd.IntN(4)]
				}
				if rnd.IntN(6) == 0 {
					d.related = []string{pick(outside...), pick(outside...)}
					if d.related[0] == d.related[1] {
						d.related = d.related[:1]
					}
				}
				// Three weeks to now, to the minute; some on the hour and
				// at midnight in London, New York and Kolkata.
				d.first = now.Add(-time.Duration(rnd.IntN(21*24*60)) * time.Minute)
				switch rnd.IntN(10) {
				case 0:
					d.first = d.first.Truncate(time.Hour)
				case 1:
					d.first = d.first.Truncate(24 * time.Hour).Add(-30 * time.Minute)
				}
				d.last = time.Duration(rnd.IntN(90)) * time.Minute
				if d.first.Add(d.last).After(now) {
					d.last = 0
				}
				sd, err := store.DecodeDetection(d.raw(m.ID))
				must(t, err)
				b.Detections = append(b.Detections, sd)
			}
			for range 20 {
				b.Summaries = append(b.Summaries, detect.FlowSummary{Minute: now.Add(-time.Duration(rnd.IntN(21*24*60)) * time.Minute).Truncate(time.Minute),
					SourceIP: netip.MustParseAddr(pick(outside...)), DestinationPort: 23, Transport: "tcp", EventType: "denied",
					Device: "fw1", Dataset: "cisco_asa", Count: 1 + rnd.Int64N(9)})
			}
			if _, err := st.IngestBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
			if bi == 1 {
				// A read between batches: later ones add to rollups
				// already made.
				_, err := st.Rollups(ctx, store.RollupFilter{})
				must(t, err)
			}
		}
	}
	return randomMembers
}

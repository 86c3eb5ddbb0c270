package aggregate

import (
	"bytes"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

// daily adds, on the day d days before today (t0's day), the given number
// of distinct sources each seen once at every one of the given members, on
// port 22 with rule r and technique T1110.
func daily(t *testing.T, a *Aggregator, d, sources, members int, r string) {
	t.Helper()
	day := t0.AddDate(0, 0, -d)
	var obs []Observation
	for s := range sources {
		for m := range members {
			obs = append(obs, Observation{
				Member: "m" + string(rune('a'+m)), Source: netip.AddrFrom4([4]byte{198, 18, byte(s >> 8), byte(s)}),
				Techniques: []string{"T1110"}, RuleID: r, Port: 22, Count: 3, First: day, Last: day, Kind: KindDetection,
			})
		}
	}
	mustAdd(t, a, obs...)
}

func TestTrends(t *testing.T) {
	a := mustNew(t, Config{})
	// r.flat: 2 sources at 1 member every day for 30 days; today 10 at 4.
	// r.wavy: alternately 1 source at 1 member and 3 sources at 3 members;
	// today as a high day.
	for d := 30; d >= 1; d-- {
		daily(t, a, d, 2, 1, "r.flat")
		if d%2 == 0 {
			daily(t, a, d, 1, 1, "r.wavy")
		} else {
			daily(t, a, d, 3, 3, "r.wavy")
		}
	}
	daily(t, a, 0, 10, 4, "r.flat")
	daily(t, a, 0, 3, 3, "r.wavy")

	ln := math.Log1p
	flatAct, wavyLow, wavyHigh := ln(10)*ln(4), ln(1)*ln(1), ln(3)*ln(3)
	flatBase := ln(2) * ln(1)
	wavyMean := (wavyLow + wavyHigh) / 2
	wavyStd := (wavyHigh - wavyLow) / 2
	want := []Trend{
		{Dimension: DimSignature, Key: "r.flat", Today: DayCounts{Records: 120, Sources: 10, Targets: 4}, Activity: flatAct,
			BaselineMean: flatBase, BaselineStd: 0, BaselineDays: 30, Score: (flatAct - flatBase) / (math.Ln2 * math.Ln2)},
		{Dimension: DimSignature, Key: "r.wavy", Today: DayCounts{Records: 27, Sources: 3, Targets: 3}, Activity: wavyHigh,
			BaselineMean: wavyMean, BaselineStd: wavyStd, BaselineDays: 30, Score: (wavyHigh - wavyMean) / wavyStd},
	}
	approx := cmpopts.EquateApprox(0, 1e-9)
	if diff := cmp.Diff(want, a.Trends(t0, DimSignature, 0), approx); diff != "" {
		t.Errorf("signature trends (-want +got):\n%s", diff)
	}
	if got := a.Trends(t0, DimSignature, 1); len(got) != 1 || got[0].Key != "r.flat" {
		t.Errorf("top 1: %+v", got)
	}
	// Port 22 and T1110 carry both rules; today's sources of r.wavy are
	// among those of r.flat.
	for _, dim := range []Dimension{DimPort, DimTechnique} {
		got := a.Trends(t0, dim, 0)
		if len(got) != 1 || got[0].Today.Sources != 10 || got[0].Today.Targets != 4 || got[0].Today.Records != 147 {
			t.Errorf("%s trends: %+v", dim, got)
		}
	}
	// Nothing today on another day.
	if got := a.Trends(t0.AddDate(0, 0, 1), DimSignature, 0); len(got) != 0 {
		t.Errorf("tomorrow: %+v", got)
	}

	// A baseline no longer than the data: first data yesterday.
	b := mustNew(t, Config{})
	daily(t, b, 1, 2, 1, "r")
	daily(t, b, 0, 2, 1, "r")
	got := b.Trends(t0, DimSignature, 0)
	if len(got) != 1 || got[0].BaselineDays != 1 || got[0].Score != 0 {
		t.Errorf("short baseline: %+v", got)
	}
}

func TestDistinct(t *testing.T) {
	for _, n := range []int{0, 1, 32, 33, 100, 1000, 100000} {
		var d distinct
		for i := range n {
			d.add(mix(uint64(i)))
			d.add(mix(uint64(i))) // twice: distinct
		}
		got := float64(d.count())
		tol := 0.0
		if n > smallDistinct {
			tol = 0.2 * float64(n) // about three standard errors
		}
		if math.Abs(got-float64(n)) > tol {
			t.Errorf("%d distinct: counted %v", n, got)
		}
	}
}

func TestTargetedness(t *testing.T) {
	a := mustNew(t, Config{})
	lone, shared, scanner, noisy := "203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"
	mustAdd(t, a,
		det("ma", lone, 0, 1, 5, 22, "T1110"),
		det("ma", shared, 0, 1, 50, 22, "T1110"),
		sum("mb", shared, 3, 22, 7), // background at another member
		det("ma", noisy, 0, 1, 1, 23, "T1046"),
		det("mb", noisy, 0, 1, 1, 23, "T1046"),
		det("mc", noisy, 0, 1, 1, 23, "T1046"),
	)
	for p := range 10 {
		mustAdd(t, a, det("ma", scanner, 0, 1, 1, uint16(1000+p), "T1046"))
	}
	want := []Targeted{
		{Source: netip.MustParseAddr(lone), Score: 1, Count: 5, FirstSeen: at(0), LastSeen: at(1), Members: 1, Ports: 1},
		{Source: netip.MustParseAddr(shared), Score: 0.5, Count: 50, FirstSeen: at(0), LastSeen: at(1), Members: 2, Ports: 1},
		{Source: netip.MustParseAddr(scanner), Score: 0.5, Count: 10, FirstSeen: at(0), LastSeen: at(1), Members: 1, Ports: 10},
		{Source: netip.MustParseAddr(noisy), Score: 1.0 / 3, Count: 1, FirstSeen: at(0), LastSeen: at(1), Members: 3, Ports: 1},
	}
	if diff := cmp.Diff(want, a.TopSources("ma", 0), cmpAddr, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("top sources (-want +got):\n%s", diff)
	}
	if got := a.TopSources("ma", 2); len(got) != 2 {
		t.Errorf("top 2: %d", len(got))
	}
	if got := a.TopSources("nobody", 0); got != nil {
		t.Errorf("unknown member: %v", got)
	}
	if s, ok := a.Targetedness("mb", netip.MustParseAddr(shared)); !ok || s != 0.5 {
		t.Errorf("targetedness at mb: %v %v", s, ok)
	}
	if _, ok := a.Targetedness("mb", netip.MustParseAddr(lone)); ok {
		t.Error("targetedness of a source the member never saw")
	}
}

func TestEmerging(t *testing.T) {
	a := mustNew(t, Config{})
	now := at(24 * 60)
	mustAdd(t, a,
		// Spreading: first seen 3h ago at ma, at mb 30 minutes ago.
		det("ma", "203.0.113.1", 21*60, 21*60, 1, 5555, "T1190"),
		det("mb", "203.0.113.1", 23*60+30, 23*60+30, 1, 5555, "T1190"),
		// Two members, but neither in the last hour: not spreading now.
		det("ma", "203.0.113.2", 20*60, 20*60, 1, 22, "T1110"),
		det("mb", "203.0.113.2", 21*60, 21*60, 1, 22, "T1110"),
		// One member only.
		det("mc", "203.0.113.3", 23*60+50, 23*60+50, 1, 22, "T1110"),
		// Old: first seen over a day ago.
		det("ma", "203.0.113.4", -10, -10, 1, 22, "T1110"),
		det("mb", "203.0.113.4", 23*60+40, 23*60+40, 1, 22, "T1110"),
		det("mc", "203.0.113.4", 23*60+45, 23*60+45, 1, 22, "T1110"),
		// Seen after now: ignored.
		det("md", "203.0.113.1", 24*60+5, 24*60+5, 1, 5555, "T1190"),
	)
	want := []Emerging{
		{Dimension: DimPort, Key: "5555", FirstSeen: at(21 * 60), Members: []string{"ma", "mb"}, Growth: 1},
		{Dimension: DimSignature, Key: "rule.T1190", FirstSeen: at(21 * 60), Members: []string{"ma", "mb"}, Growth: 1},
		{Dimension: DimSource, Key: "203.0.113.1", FirstSeen: at(21 * 60), Members: []string{"ma", "mb"}, Growth: 1},
	}
	// Sorted by growth, members, first seen, then dimension: port < signature < source.
	if diff := cmp.Diff(want, a.Emerging(now)); diff != "" {
		t.Errorf("emerging (-want +got):\n%s", diff)
	}
}

func TestIndicators(t *testing.T) {
	a := mustNew(t, Config{})
	var obs []Observation
	for _, m := range []string{"ma", "mb", "mc", "md"} {
		obs = append(obs,
			det(m, "203.0.113.7", 0, 10, 3, 22, "T1110.001"),
			det(m, "2001:db8:bad::9", 100, 110, 1, 445, "T1046"),
		)
	}
	obs = append(obs, det("ma", "192.0.2.1", 0, 1, 1, 22, "T1110"), det("mb", "192.0.2.1", 0, 1, 1, 22, "T1110")) // two members only
	mustAdd(t, a, obs...)
	now := at(60*24*7 + 30) // the first campaign is past the 7-day TTL
	got := a.Indicators(now)
	golden := filepath.Join("testdata", "indicators.golden")
	if parsertest.Update() {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("indicators differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	if again := a.Indicators(now); !bytes.Equal(got, again) {
		t.Error("indicators are not deterministic")
	}
	// The collector reads it.
	l, err := detect.ParseList("central", "indicators", bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"2001:db8:bad::9": true, "198.51.100.3": false, "203.0.113.7": false, "192.0.2.1": false} {
		if l.ContainsAddr(netip.MustParseAddr(addr)) != want {
			t.Errorf("%s listed: %v, want %v", addr, !want, want)
		}
	}
	if l.Len() != 1 {
		t.Errorf("%d entries", l.Len())
	}
	// A day later, a new campaign (from a mapped address: listed
	// unmapped) is listed, and the old one has expired.
	for _, m := range []string{"ma", "mb", "mc"} {
		mustAdd(t, a, det(m, "::ffff:198.51.100.3", 60*24*8, 60*24*8, 1, 23, "T1110"))
	}
	later := string(a.Indicators(at(60*24*8 + 1)))
	if !strings.HasSuffix(later, "\n198.51.100.3 # members=3 last_seen=2026-12-05T10:00:00Z\n") || strings.Contains(later, "2001:db8:bad::9") {
		t.Errorf("later list:\n%s", later)
	}
	empty := mustNew(t, Config{}).Indicators(now)
	if l, err := detect.ParseList("central", "empty", bytes.NewReader(empty)); err != nil || l.Len() != 0 {
		t.Errorf("empty list: %v, %s", err, empty)
	}
}

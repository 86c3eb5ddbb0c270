package web

import (
	"cmp"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

// overviewNow is the clock of the overview tests: Since is 2026-11-14.
var overviewNow = time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)

var overviewMembers = []string{"acme", "globex", "initech"}

// seedOverview ingests n detections into a new SQLite store: three
// members, nine days (two before the window), a dozen rules whose names
// change halfway, techniques that vary within a rule, fifty busy sources
// with most of the detections, five thousand others, and detections about
// no one source.
func seedOverview(tb testing.TB, n int) store.Store {
	tb.Helper()
	ctx := tb.Context()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(tb.TempDir(), "central.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	for _, m := range overviewMembers {
		tok := store.HashToken("token-" + m)
		if err := st.AddMember(ctx, store.Member{ID: m, Name: m, TimeZone: "UTC", Created: overviewNow}); err != nil {
			tb.Fatal(err)
		}
		if err := st.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: m, Created: overviewNow,
			Expires: overviewNow.Add(time.Hour)}); err != nil {
			tb.Fatal(err)
		}
		if err := st.UseEnrolToken(ctx, tok, overviewNow, store.Collector{ID: "c-" + m, MemberID: m, CertSerial: "1",
			CertNotAfter: overviewNow.AddDate(1, 0, 0), Created: overviewNow}); err != nil {
			tb.Fatal(err)
		}
	}
	techniques := []string{"T1046", "T1110", "T1190", "T1595", "T1498"}
	const perBatch = 1000
	start := overviewNow.AddDate(0, 0, -9)
	step := overviewNow.Sub(start) / time.Duration(n)
	for b := 0; b*perBatch < n; b++ {
		member := overviewMembers[b%len(overviewMembers)]
		ds := make([]store.Detection, min(perBatch, n-b*perBatch))
		for j := range ds {
			i := b*perBatch + j
			rule := fmt.Sprintf("r%02d", i*7%12)
			version := 1 + 2*i/n
			last := start.Add(time.Duration(i) * step).Truncate(time.Second)
			x := detect.Detection{
				RuleID:     rule,
				RuleName:   fmt.Sprintf("Rule %s v%d", rule, version),
				Severity:   50,
				Techniques: []string{techniques[i%len(techniques)], techniques[(i/3+i%12)%len(techniques)]},
				Count:      int64(1 + i%9),
				FirstSeen:  last.Add(-time.Minute),
				LastSeen:   last,
				Sample: detect.Event{Timestamp: last, Category: detect.CategoryNetwork, Type: detect.TypeDenied,
					Dataset: "cisco_asa", Network: detect.Network{Transport: detect.TransportTCP}},
			}
			if x.Techniques[0] == x.Techniques[1] {
				x.Techniques = x.Techniques[:1]
			}
			switch k := i % 10; {
			case k == 0: // about no one source
			case k < 9: // most from a few busy sources
				x.Source = netip.AddrFrom4([4]byte{198, 51, 100, byte(i * 31 % 50)})
			default: // the rest from many
				x.Source = netip.AddrFrom4([4]byte{203, 0, byte(i / 10 % 5000 / 250), byte(i / 10 % 250)})
			}
			if ds[j], err = store.DecodeDetection(x.AppendJSON(nil)); err != nil {
				tb.Fatal(err)
			}
		}
		if _, err := st.IngestBatch(ctx, &store.Batch{ID: fmt.Sprintf("01JBATCH%018d", b), CollectorID: "c-" + member,
			MemberID: member, Seq: uint64(b), Created: overviewNow, Received: overviewNow, Detections: ds}); err != nil {
			tb.Fatal(err)
		}
	}
	return st
}

// summariseDetections is the overview's figures counted detection by
// detection, as the overview did before rollups: what summarise must show.
func summariseDetections(ds []store.Detection, since time.Time) *summary {
	s := &summary{Since: since}
	perDay := make([]int64, overviewDays)
	rules := map[string]*ruleRow{}
	ruleMembers := map[string]map[string]bool{}
	sources := map[netip.Addr]*sourceRow{}
	sourceMembers := map[netip.Addr]map[string]bool{}
	techs := map[string]int64{}
	for i := range ds {
		d := &ds[i]
		s.Detections++
		s.Events += d.Count
		if day := int(d.LastSeen.Sub(since) / (24 * time.Hour)); day >= 0 && day < overviewDays {
			perDay[day]++
		}
		rr := rules[d.RuleID]
		if rr == nil {
			rr = &ruleRow{ID: d.RuleID, Name: d.RuleName}
			rules[d.RuleID], ruleMembers[d.RuleID] = rr, map[string]bool{}
		}
		rr.Detections++
		rr.Events += d.Count
		ruleMembers[d.RuleID][d.MemberID] = true
		for _, t := range d.Techniques {
			techs[t]++
		}
		if !d.Source.IsValid() {
			continue
		}
		sr := sources[d.Source]
		if sr == nil {
			sr = &sourceRow{Source: d.Source}
			sources[d.Source], sourceMembers[d.Source] = sr, map[string]bool{}
		}
		sr.Detections++
		sr.Events += d.Count
		if d.LastSeen.After(sr.LastSeen) {
			sr.LastSeen = d.LastSeen
		}
		sourceMembers[d.Source][d.MemberID] = true
		for _, t := range d.Techniques {
			if !slices.Contains(sr.Techniques, t) {
				sr.Techniques = append(sr.Techniques, t)
			}
		}
	}
	s.Sources = len(sources)
	for id, rr := range rules {
		rr.Members = len(ruleMembers[id])
		s.TopRules = append(s.TopRules, *rr)
	}
	slices.SortFunc(s.TopRules, func(a, b ruleRow) int {
		return cmp.Or(cmp.Compare(b.Detections, a.Detections), cmp.Compare(b.Events, a.Events), cmp.Compare(a.ID, b.ID))
	})
	s.TopRules = s.TopRules[:min(len(s.TopRules), topRows)]
	for src, sr := range sources {
		sr.Members = len(sourceMembers[src])
		slices.Sort(sr.Techniques)
		s.TopSources = append(s.TopSources, *sr)
	}
	slices.SortFunc(s.TopSources, func(a, b sourceRow) int {
		return cmp.Or(cmp.Compare(b.Events, a.Events), cmp.Compare(b.Detections, a.Detections), a.Source.Compare(b.Source))
	})
	s.TopSources = s.TopSources[:min(len(s.TopSources), topRows)]
	for id, n := range techs {
		s.Techniques = append(s.Techniques, techniqueRow{id, n})
	}
	slices.SortFunc(s.Techniques, func(a, b techniqueRow) int {
		return cmp.Or(cmp.Compare(b.Detections, a.Detections), cmp.Compare(a.ID, b.ID))
	})
	recent := slices.Clone(ds)
	slices.SortStableFunc(recent, func(a, b store.Detection) int { return b.LastSeen.Compare(a.LastSeen) })
	s.Recent = recent[:min(len(recent), 10)]
	labels := make([]string, overviewDays)
	for i := range labels {
		labels[i] = since.AddDate(0, 0, i).Format("Mon 2")
	}
	s.Chart = barChart("Detections per day, last 7 days", labels, perDay)
	return s
}

// allDetections pages through the detections f selects.
func allDetections(tb testing.TB, st store.Store, f store.DetectionFilter) []store.Detection {
	tb.Helper()
	var out []store.Detection
	f.Limit = store.MaxLimit
	for {
		page, err := st.Detections(tb.Context(), f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

// figures are what the overview shows of a summary's detections.
func figures(s *summary) any {
	ids := make([]int64, len(s.Recent))
	for i, d := range s.Recent {
		ids[i] = d.ID
	}
	return struct {
		Detections, Events int64
		Sources            int
		Chart              chart
		TopRules           []ruleRow
		TopSources         []sourceRow
		Techniques         []techniqueRow
		Recent             []int64
	}{s.Detections, s.Events, s.Sources, s.Chart, s.TopRules, s.TopSources, s.Techniques, ids}
}

// TestSummariseFromRollups: the overview's figures, from rollups, equal
// those counted from every detection, for analysts and each member.
func TestSummariseFromRollups(t *testing.T) {
	st := seedOverview(t, 30_000)
	w := &Web{store: st, now: func() time.Time { return overviewNow }}
	r := httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
	since, _ := w.window()
	for _, member := range append([]string{""}, overviewMembers...) {
		want := summariseDetections(allDetections(t, st, store.DetectionFilter{MemberID: member, Since: since}), since)
		if want.Detections == 0 || len(want.TopRules) < topRows || len(want.Recent) < 10 {
			t.Fatalf("member %q: seed too small: %+v", member, figures(want))
		}
		got, err := w.summarise(r, member)
		if err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(figures(want), figures(got), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("member %q: overview (-counted from detections +got):\n%s", member, diff)
		}
	}
	rows, err := w.memberRows(r, since, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The overview passes the window's rollups on.
	all, err := w.summarise(r, "")
	if err != nil {
		t.Fatal(err)
	}
	reused, err := w.memberRows(r, since, all.rollups)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(rows, reused); diff != "" {
		t.Errorf("member rows from the overview's rollups (-read +reused):\n%s", diff)
	}
	for _, row := range rows {
		ds := allDetections(t, st, store.DetectionFilter{MemberID: row.ID, Since: since})
		var events int64
		for _, d := range ds {
			events += d.Count
		}
		if row.Detections != int64(len(ds)) || row.Events != events {
			t.Errorf("member row %s: %d detections, %d events; want %d, %d", row.ID, row.Detections, row.Events, len(ds), events)
		}
	}
}

// BenchmarkOverview is the analysts' overview (summarise and memberRows)
// over a store of a million detections: from rollups, and counted from
// detections as before (which read at most store.MaxLimit of them per
// call, so its figures were of the first tenth only).
func BenchmarkOverview(b *testing.B) {
	const n = 1_000_000
	st := seedOverview(b, n)
	w := &Web{store: st, now: func() time.Time { return overviewNow }}
	r := httptest.NewRequestWithContext(b.Context(), "GET", "/", nil)
	since, _ := w.window()
	start := time.Now()
	if _, err := st.Rollups(b.Context(), store.RollupFilter{}); err != nil {
		b.Fatal(err)
	}
	b.Logf("rolling up %d detections took %v", n, time.Since(start))
	b.Run("rollups", func(b *testing.B) {
		for b.Loop() {
			s, err := w.summarise(r, "")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.memberRows(r, since, s.rollups); err != nil {
				b.Fatal(err)
			}
		}
	})
	// As before rollups: summarise and memberRows each read the window's
	// first store.MaxLimit detections.
	b.Run("detections-capped", func(b *testing.B) {
		for b.Loop() {
			for range 2 {
				ds, err := st.Detections(b.Context(), store.DetectionFilter{Since: since, Limit: store.MaxLimit})
				if err != nil {
					b.Fatal(err)
				}
				summariseDetections(ds, since)
			}
		}
	})
	// What exact figures from detections cost: the whole window, once.
	b.Run("detections-all", func(b *testing.B) {
		for b.Loop() {
			summariseDetections(allDetections(b, st, store.DetectionFilter{Since: since}), since)
		}
	})
}

package storetest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// ruleSources reads (rule, source) of detections, to compare selections.
func ruleSources(ds []store.Detection) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.MemberID + " " + d.RuleID + " " + d.Source.String()
	}
	return out
}

func testDetectionFilters(t *testing.T, h *harness) {
	s := h.setup(t)
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: at(0)}.build(t),
		det{rule: "r2", source: "203.0.113.2", lastSeen: at(10 * time.Minute)}.build(t),
		det{rule: "r1", source: "203.0.113.2", lastSeen: at(20 * time.Minute)}.build(t),
	}))
	ingest(t, s, batch("globex", batchID(1), at(time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: at(5 * time.Minute)}.build(t),
		det{rule: "r3", port: 22, related: []string{"203.0.113.2"}, lastSeen: at(30 * time.Minute)}.build(t),
	}))
	for _, tc := range []struct {
		name string
		f    store.DetectionFilter
		want []string
	}{
		{"all", store.DetectionFilter{}, []string{"acme r1 203.0.113.1", "acme r2 203.0.113.2", "acme r1 203.0.113.2",
			"globex r1 203.0.113.1", "globex r3 invalid IP"}},
		{"member", store.DetectionFilter{MemberID: "globex"}, []string{"globex r1 203.0.113.1", "globex r3 invalid IP"}},
		{"unknown member", store.DetectionFilter{MemberID: "nobody"}, []string{}},
		{"since", store.DetectionFilter{Since: at(10 * time.Minute)}, []string{"acme r2 203.0.113.2", "acme r1 203.0.113.2",
			"globex r3 invalid IP"}},
		{"until, exclusive", store.DetectionFilter{Until: at(10 * time.Minute)}, []string{"acme r1 203.0.113.1", "globex r1 203.0.113.1"}},
		{"member and window", store.DetectionFilter{MemberID: "acme", Since: at(5 * time.Minute), Until: at(30 * time.Minute)},
			[]string{"acme r2 203.0.113.2", "acme r1 203.0.113.2"}},
		{"rule", store.DetectionFilter{RuleID: "r1"}, []string{"acme r1 203.0.113.1", "acme r1 203.0.113.2", "globex r1 203.0.113.1"}},
		{"source", store.DetectionFilter{Source: addr("203.0.113.1")}, []string{"acme r1 203.0.113.1", "globex r1 203.0.113.1"}},
		{"member and source", store.DetectionFilter{MemberID: "acme", Source: addr("203.0.113.1")}, []string{"acme r1 203.0.113.1"}},
		{"limit", store.DetectionFilter{Limit: 2}, []string{"acme r1 203.0.113.1", "acme r2 203.0.113.2"}},
	} {
		got, err := s.Detections(t.Context(), tc.f)
		must(t, err)
		if diff := cmp.Diff(tc.want, ruleSources(got), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func testDetectionPaging(t *testing.T, h *harness) {
	s := h.setup(t)
	const n = 95
	for b := range 5 {
		for _, m := range []string{"acme", "globex"} {
			ds := make([]store.Detection, n/5)
			for i := range ds {
				ds[i] = det{source: fmt.Sprintf("198.51.100.%d", b*19+i), lastSeen: at(time.Duration(i) * time.Minute)}.build(t)
			}
			ingest(t, s, batch(m, batchID(b), at(time.Hour), ds))
		}
	}
	all := allDetections(t, s, store.DetectionFilter{MemberID: "acme", Limit: store.MaxLimit})
	if len(all) != n {
		t.Fatalf("%d detections of acme, want %d", len(all), n)
	}
	// Pages of 7, with batches landing between pages: the pages read so far
	// do not change, nothing repeats, and the new rows come at the end.
	var paged []store.Detection
	f := store.DetectionFilter{MemberID: "acme", Limit: 7}
	for page := 0; ; page++ {
		got, err := s.Detections(t.Context(), f)
		must(t, err)
		paged = append(paged, got...)
		if len(got) < f.Limit {
			break
		}
		f.After = got[len(got)-1].ID
		if page < 3 {
			ingest(t, s, batch("acme", batchID(100+page), at(2*time.Hour), []store.Detection{det{source: "192.0.2.99"}.build(t)}))
			ingest(t, s, batch("globex", batchID(100+page), at(2*time.Hour), []store.Detection{det{source: "192.0.2.99"}.build(t)}))
		}
	}
	if len(paged) != n+3 {
		t.Fatalf("paged %d detections, want %d", len(paged), n+3)
	}
	for i, d := range paged {
		if d.MemberID != "acme" {
			t.Fatalf("page holds member %q", d.MemberID)
		}
		if i > 0 && d.ID <= paged[i-1].ID {
			t.Fatalf("ids not rising: %d after %d", d.ID, paged[i-1].ID)
		}
		if i < n && d.ID != all[i].ID {
			t.Fatalf("detection %d: id %d, want %d", i, d.ID, all[i].ID)
		}
	}
	for _, d := range paged[n:] {
		if d.Source != addr("192.0.2.99") {
			t.Fatalf("new rows not last: %v", d.Source)
		}
	}
}

func testSummaries(t *testing.T, h *harness) {
	s := h.setup(t)
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), nil,
		summary("203.0.113.1", 22, at(0), 1), summary("203.0.113.2", 23, at(time.Minute), 2), summary("203.0.113.3", 25, at(2*time.Minute), 3)))
	ingest(t, s, batch("globex", batchID(1), at(time.Hour), nil, summary("203.0.113.1", 22, at(time.Minute), 4)))
	for _, tc := range []struct {
		name string
		f    store.SummaryFilter
		want []int64 // counts, in order
	}{
		{"all", store.SummaryFilter{}, []int64{1, 2, 3, 4}},
		{"member", store.SummaryFilter{MemberID: "acme"}, []int64{1, 2, 3}},
		{"window", store.SummaryFilter{Since: at(time.Minute), Until: at(2 * time.Minute)}, []int64{2, 4}},
		{"page", store.SummaryFilter{Limit: 2}, []int64{1, 2}},
	} {
		got, err := s.Summaries(t.Context(), tc.f)
		must(t, err)
		var cs []int64
		for _, x := range got {
			cs = append(cs, x.Count)
		}
		if diff := cmp.Diff(tc.want, cs); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	first, err := s.Summaries(t.Context(), store.SummaryFilter{Limit: 2})
	must(t, err)
	rest, err := s.Summaries(t.Context(), store.SummaryFilter{After: first[1].ID})
	must(t, err)
	if len(rest) != 2 || rest[0].Count != 3 || rest[1].Count != 4 {
		t.Errorf("second page: %+v", rest)
	}
}

func testSummaryCounts(t *testing.T, h *harness) {
	s := h.setup(t)
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	ingest(t, s, batch("acme", batchID(1), at(48*time.Hour), nil,
		summary("203.0.113.1", 22, day.Add(10*time.Hour+time.Minute), 1),
		summary("203.0.113.1", 22, day.Add(10*time.Hour+59*time.Minute), 2),
		summary("203.0.113.1", 22, day.Add(11*time.Hour), 4),
		summary("203.0.113.1", 23, day.Add(11*time.Hour), 8),
		summary("2001:db8::1", 22, day.Add(25*time.Hour), 16)))
	ingest(t, s, batch("globex", batchID(1), at(48*time.Hour), nil, summary("203.0.113.1", 22, day.Add(10*time.Hour), 32)))
	v4, v6 := addr("203.0.113.1"), addr("2001:db8::1")
	for _, tc := range []struct {
		name string
		f    store.SummaryCountFilter
		want []store.SummaryCount
	}{
		{"hours", store.SummaryCountFilter{Bucket: store.Hour}, []store.SummaryCount{
			{Bucket: day.Add(10 * time.Hour), Port: 22, Source: v4, MemberID: "acme", Count: 3},
			{Bucket: day.Add(10 * time.Hour), Port: 22, Source: v4, MemberID: "globex", Count: 32},
			{Bucket: day.Add(11 * time.Hour), Port: 22, Source: v4, MemberID: "acme", Count: 4},
			{Bucket: day.Add(11 * time.Hour), Port: 23, Source: v4, MemberID: "acme", Count: 8},
			{Bucket: day.Add(25 * time.Hour), Port: 22, Source: v6, MemberID: "acme", Count: 16},
		}},
		{"days of acme", store.SummaryCountFilter{Bucket: store.Day, MemberID: "acme"}, []store.SummaryCount{
			{Bucket: day, Port: 22, Source: v4, MemberID: "acme", Count: 7},
			{Bucket: day, Port: 23, Source: v4, MemberID: "acme", Count: 8},
			{Bucket: day.Add(24 * time.Hour), Port: 22, Source: v6, MemberID: "acme", Count: 16},
		}},
		{"window", store.SummaryCountFilter{Bucket: store.Day, Since: day.Add(11 * time.Hour), Until: day.Add(24 * time.Hour)},
			[]store.SummaryCount{
				{Bucket: day, Port: 22, Source: v4, MemberID: "acme", Count: 4},
				{Bucket: day, Port: 23, Source: v4, MemberID: "acme", Count: 8},
			}},
	} {
		got, err := s.SummaryCounts(t.Context(), tc.f)
		must(t, err)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	_, err := s.SummaryCounts(t.Context(), store.SummaryCountFilter{})
	wantErr(t, "no bucket", err, store.ErrInvalid)
}

func testSourceActivity(t *testing.T, h *harness) {
	s := h.setup(t)
	addMember(t, s, "initech")
	enrol(t, s, "initech", "c-initech")
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), []store.Detection{
		det{source: "203.0.113.1", techniques: []string{"T1046"}, count: 5, lastSeen: at(10 * time.Minute)}.build(t),
		det{source: "203.0.113.1", techniques: []string{"T1110", "T1046"}, port: 22, count: 1, lastSeen: at(20 * time.Minute)}.build(t),
		det{source: "2001:db8::1", count: 2, lastSeen: at(15 * time.Minute)}.build(t),
		det{port: 443, related: []string{"203.0.113.1"}, lastSeen: at(15 * time.Minute)}.build(t), // no source: left out
		det{source: "203.0.113.1", count: 100, lastSeen: at(2 * time.Hour)}.build(t),              // outside the window
	}))
	ingest(t, s, batch("globex", batchID(1), at(time.Hour), []store.Detection{
		det{source: "203.0.113.1", techniques: []string{"spam"}, port: 25, count: 7, lastSeen: at(30 * time.Minute)}.build(t),
	}))
	ingest(t, s, batch("initech", batchID(1), at(time.Hour), []store.Detection{
		det{source: "198.51.100.1", port: 3389, count: 1, lastSeen: at(0)}.build(t),
		det{source: "203.0.113.1", techniques: []string{"T1046"}, port: 22, count: 1, lastSeen: at(5 * time.Minute)}.build(t),
	}))
	got, err := s.SourceActivity(t.Context(), at(0), at(time.Hour))
	must(t, err)
	want := []store.SourceActivity{
		{Source: addr("198.51.100.1"), Members: []string{"initech"}, Techniques: []string{"T1046"}, Ports: []uint16{3389},
			Detections: 1, Count: 1, FirstSeen: at(-time.Minute), LastSeen: at(0)},
		{Source: addr("203.0.113.1"), Members: []string{"acme", "globex", "initech"}, Techniques: []string{"T1046", "T1110", "spam"},
			Ports: []uint16{22, 25}, Detections: 4, Count: 14, FirstSeen: at(4 * time.Minute), LastSeen: at(30 * time.Minute)},
		{Source: addr("2001:db8::1"), Members: []string{"acme"}, Techniques: []string{"T1046"},
			Detections: 1, Count: 2, FirstSeen: at(14 * time.Minute), LastSeen: at(15 * time.Minute)},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("source activity (-want +got):\n%s", diff)
	}
	none, err := s.SourceActivity(t.Context(), at(3*time.Hour), at(4*time.Hour))
	must(t, err)
	if len(none) != 0 {
		t.Errorf("activity in an empty window: %+v", none)
	}
}

func testSourceMembers(t *testing.T, h *harness) {
	s := h.setup(t)
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), []store.Detection{
		det{source: "203.0.113.1", lastSeen: at(10 * time.Minute)}.build(t),
		det{source: "203.0.113.1", lastSeen: at(20 * time.Minute)}.build(t),
		det{source: "203.0.113.2", lastSeen: at(-time.Hour)}.build(t),
	}))
	ingest(t, s, batch("globex", batchID(1), at(time.Hour), []store.Detection{
		det{source: "203.0.113.1", lastSeen: at(30 * time.Minute)}.build(t),
		det{source: "2001:db8::5", lastSeen: at(30 * time.Minute)}.build(t),
	}))
	// Enough sources to cross any chunking of the query.
	sources := []netip.Addr{addr("203.0.113.1"), addr("203.0.113.2"), addr("2001:db8::5"), addr("192.0.2.1")}
	for i := range 1200 {
		sources = append(sources, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
	}
	got, err := s.SourceMembers(t.Context(), sources, at(0))
	must(t, err)
	want := map[netip.Addr][]string{
		addr("203.0.113.1"): {"acme", "globex"},
		addr("2001:db8::5"): {"globex"},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("source members (-want +got):\n%s", diff)
	}
	empty, err := s.SourceMembers(t.Context(), nil, at(0))
	must(t, err)
	if len(empty) != 0 {
		t.Errorf("no sources: %v", empty)
	}
}

// healthOf is a small Health for tests that need one.
func healthOf(tm time.Time) *detect.Health {
	return &detect.Health{Time: tm, Started: base, Version: "v1"}
}

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

func testCampaigns(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	c1 := store.Campaign{ID: "c1", Source: addr("203.0.113.1"), Members: []string{"acme", "globex"}, Techniques: []string{"T1046"},
		Ports: []uint16{22, 23}, Count: 10, FirstSeen: at(0), LastSeen: at(time.Hour), Updated: at(time.Hour)}
	c2 := store.Campaign{ID: "c2", Source: addr("2001:db8::1"), Members: []string{"globex", "initech"}, Techniques: []string{"T1110", "spam"},
		Count: 3, FirstSeen: at(0), LastSeen: at(2 * time.Hour), Updated: at(2 * time.Hour)}
	must(t, s.PutCampaigns(ctx, []store.Campaign{c1, c2}))
	opt := cmpopts.EquateComparable(netip.Addr{})
	check := func(name string, f store.CampaignFilter, want ...store.Campaign) {
		t.Helper()
		got, err := s.Campaigns(ctx, f)
		must(t, err)
		if diff := cmp.Diff(want, got, opt, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	check("all, newest first", store.CampaignFilter{}, c2, c1)
	check("acme", store.CampaignFilter{MemberID: "acme"}, c1)
	check("initech", store.CampaignFilter{MemberID: "initech"}, c2)
	check("since", store.CampaignFilter{Since: at(90 * time.Minute)}, c2)
	check("limit", store.CampaignFilter{Limit: 1}, c2)

	// Putting a campaign again replaces it, members included.
	c1.Members = []string{"globex", "initech", "umbrella"}
	c1.Count, c1.LastSeen, c1.Updated = 20, at(3*time.Hour), at(3*time.Hour)
	must(t, s.PutCampaigns(ctx, []store.Campaign{c1}))
	check("after update", store.CampaignFilter{}, c1, c2)
	check("acme after update", store.CampaignFilter{MemberID: "acme"})
	check("umbrella", store.CampaignFilter{MemberID: "umbrella"}, c1)

	// A campaign that replaces another (a merge) deletes it.
	c5 := store.Campaign{ID: "c5", Source: addr("2001:db8::1"), Members: []string{"acme", "globex", "initech"}, Techniques: []string{"T1110"},
		Count: 4, FirstSeen: at(-time.Hour), LastSeen: at(4 * time.Hour), Updated: at(4 * time.Hour), Replaces: []string{"c2", "c5"}}
	must(t, s.PutCampaigns(ctx, []store.Campaign{c5}))
	c5.Replaces = nil
	check("after a merge", store.CampaignFilter{}, c5, c1)
	check("initech after a merge", store.CampaignFilter{MemberID: "initech"}, c5, c1)
	c2 = c5

	// One bad campaign fails the whole put.
	bad := store.Campaign{ID: "c3", Members: []string{"acme"}, Count: 1, FirstSeen: at(0), LastSeen: at(0), Updated: at(0)}
	c4 := store.Campaign{ID: "c4", Source: addr("192.0.2.1"), Members: []string{"acme"}, Count: 1, FirstSeen: at(0), LastSeen: at(0), Updated: at(0)}
	wantErr(t, "campaign without source", s.PutCampaigns(ctx, []store.Campaign{c4, bad}), store.ErrInvalid)
	check("after failed put", store.CampaignFilter{}, c2, c1)
}

func testReleases(t *testing.T, h *harness) {
	s := h.open(t)
	ctx := t.Context()
	_, err := s.LatestRelease(ctx, "rules")
	wantErr(t, "no release", err, store.ErrNotFound)
	r1 := store.Release{Kind: "rules", Version: 1, Payload: []byte(`{"envelope":"AA=="}`), Created: at(0)}
	r2 := store.Release{Kind: "rules", Version: 5, Payload: []byte("v5"), Created: at(time.Hour)}
	i1 := store.Release{Kind: "indicators", Version: 1, Payload: []byte("i1"), Created: at(time.Minute)}
	for _, r := range []store.Release{r1, r2, i1} {
		must(t, s.PutRelease(ctx, r))
	}
	wantErr(t, "same version", s.PutRelease(ctx, r2), store.ErrExists)
	wantErr(t, "lower version", s.PutRelease(ctx, store.Release{Kind: "rules", Version: 3, Payload: []byte("x"), Created: at(0)}), store.ErrExists)
	for _, want := range []store.Release{r2, i1} {
		got, err := s.LatestRelease(ctx, want.Kind)
		must(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("latest %s (-want +got):\n%s", want.Kind, diff)
		}
	}
}

func testReports(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	mk := func(id, member string, created time.Duration) store.Report {
		return store.Report{ID: id, MemberID: member, Kind: "weekly", PeriodStart: at(-7 * 24 * time.Hour), PeriodEnd: at(0),
			Created: at(created), HTML: []byte("<h1>" + id + "</h1>"), PDF: []byte("%PDF-" + id)}
	}
	r1, r2, r3, x := mk("r1", "acme", time.Hour), mk("r2", "acme", 2*time.Hour), mk("r3", "globex", time.Hour), mk("x1", "", time.Hour)
	for _, r := range []store.Report{r1, r2, r3, x} {
		must(t, s.PutReport(ctx, r))
	}
	wantErr(t, "same id", s.PutReport(ctx, r1), store.ErrExists)
	head := func(r store.Report) store.Report { r.HTML, r.PDF = nil, nil; return r }
	for _, tc := range []struct {
		member string
		want   []store.Report
	}{
		{"acme", []store.Report{head(r2), head(r1)}},
		{"globex", []store.Report{head(r3)}},
		{"", []store.Report{head(x)}},
		{"nobody", nil},
	} {
		got, err := s.Reports(ctx, tc.member)
		must(t, err)
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("reports of %q (-want +got):\n%s", tc.member, diff)
		}
	}
	got, err := s.Report(ctx, "r2")
	must(t, err)
	if diff := cmp.Diff(r2, got); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	_, err = s.Report(ctx, "nope")
	wantErr(t, "missing report", err, store.ErrNotFound)
}

func testRetain(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	cut := at(24 * time.Hour)
	// More old rows than any sensible chunk, so retention loops.
	const oldBatches, perBatch = 12, 1000
	for i := range oldBatches {
		ds := make([]store.Detection, perBatch/2)
		sums := make([]detect.FlowSummary, perBatch/2)
		for j := range ds {
			ds[j] = det{source: fmt.Sprintf("198.51.100.%d", j%250)}.build(t)
			sums[j] = summary("203.0.113.1", uint16(j+1), at(0), 1)
		}
		ingest(t, s, batch("acme", batchID(i), at(time.Duration(i)*time.Minute), ds, sums...))
	}
	// Old by received time, although its events are recent.
	ingest(t, s, batch("globex", batchID(1), cut.Add(-time.Nanosecond*1000),
		[]store.Detection{det{source: "203.0.113.5", lastSeen: cut.Add(time.Hour)}.build(t)}))
	keep := batch("globex", batchID(2), cut, []store.Detection{det{source: "203.0.113.6", lastSeen: at(0)}.build(t)},
		summary("203.0.113.7", 22, at(0), 3))
	ingest(t, s, keep)

	n, err := s.Retain(ctx, cut)
	must(t, err)
	if want := int64(oldBatches*perBatch + 1); n != want {
		t.Fatalf("retain deleted %d, want %d", n, want)
	}
	if c := counts(t, s, ""); c != (store.Counts{Batches: 1, Detections: 1, Summaries: 1}) {
		t.Fatalf("after retention: %+v", c)
	}
	ds, err := s.Detections(ctx, store.DetectionFilter{})
	must(t, err)
	if len(ds) != 1 || ds[0].Source != addr("203.0.113.6") {
		t.Fatalf("kept detections: %v", ruleSources(ds))
	}
	n, err = s.Retain(ctx, cut)
	must(t, err)
	if n != 0 {
		t.Fatalf("second retention deleted %d", n)
	}
	// The kept batch is still known.
	dup, err := s.IngestBatch(ctx, keep)
	must(t, err)
	if !dup {
		t.Fatal("kept batch id forgotten by retention")
	}
	// Membership, collectors and outputs are not data retention touches.
	if _, err := s.Collector(ctx, "c-acme"); err != nil {
		t.Fatal(err)
	}
}

func testReopen(t *testing.T, h *harness) {
	dsn := h.b.NewDSN(t)
	s1, err := h.b.Open(t, dsn)
	must(t, err)
	t.Cleanup(func() { s1.Close() }) // when the test fails before the Close below
	addMember(t, s1, "acme")
	enrol(t, s1, "acme", "c-acme")
	d := det{source: "203.0.113.1"}.build(t)
	b := batch("acme", batchID(1), at(time.Hour), []store.Detection{d}, summary("203.0.113.2", 22, at(0), 1))
	b.Health = healthOf(at(time.Hour))
	ingest(t, s1, b)
	must(t, s1.PutReport(t.Context(), store.Report{ID: "r", MemberID: "acme", Kind: "daily", Created: at(0), HTML: []byte("x")}))
	must(t, s1.Close())

	s := h.openDSN(t, dsn)
	ctx := t.Context()
	if c := counts(t, s, ""); c != (store.Counts{Batches: 1, Detections: 1, Summaries: 1}) {
		t.Fatalf("after reopening: %+v", c)
	}
	ds, err := s.Detections(ctx, store.DetectionFilter{})
	must(t, err)
	if len(ds) != 1 || string(ds[0].Raw) != string(d.Raw) {
		t.Fatalf("detection after reopening: %+v", ds)
	}
	dup, err := s.IngestBatch(ctx, b)
	must(t, err)
	if !dup {
		t.Fatal("batch id forgotten across reopening")
	}
	hs, err := s.Health(ctx, "acme")
	must(t, err)
	if len(hs) != 1 || hs[0].Health == nil || !hs[0].Health.Time.Equal(at(time.Hour)) {
		t.Fatalf("health after reopening: %+v", hs)
	}
	if _, err := s.Report(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	// New rows get ids above the old ones.
	ingest(t, s, batch("acme", batchID(2), at(2*time.Hour), []store.Detection{det{source: "203.0.113.9"}.build(t)}))
	ds, err = s.Detections(ctx, store.DetectionFilter{After: ds[0].ID})
	must(t, err)
	if len(ds) != 1 || ds[0].Source != addr("203.0.113.9") {
		t.Fatalf("detections after the old id: %v", ruleSources(ds))
	}
}

func testCloseTwice(t *testing.T, h *harness) {
	s, err := h.b.Open(t, h.b.NewDSN(t))
	must(t, err)
	must(t, s.Close())
	must(t, s.Close())
}

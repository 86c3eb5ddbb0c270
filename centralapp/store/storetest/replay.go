package storetest

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// testReplay checks Replay against Detections: for each window, the same
// detections, projected, in pages ordered by last seen; an error from fn
// ends it.
func testReplay(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	// More than a page of rows, last seen out of id order, with and
	// without source, port, techniques and related sources.
	const n = 5000
	var ds []store.Detection
	for i := range n {
		d := det{source: fmt.Sprintf("198.51.%d.%d", i/250, i%250), lastSeen: at(time.Duration((i*7919)%(48*60)) * time.Minute),
			count: int64(1 + i%5), rule: fmt.Sprintf("rule.%d", i%3)}
		switch i % 7 {
		case 1:
			d.port = uint16(i%1000 + 1)
		case 2:
			d.techniques = []string{}
		case 3:
			d.techniques = []string{"T1110.001", "T1110"}
		case 4:
			d.source, d.related = "", []string{"203.0.113.1", "2001:db8::7"}
		case 5:
			d.related = []string{"203.0.113.9"}
		}
		ds = append(ds, d.build(t))
	}
	for i := 0; i < n; i += 1000 {
		member := []string{"acme", "globex"}[i/1000%2]
		ingest(t, s, batch(member, batchID(i), at(time.Duration(i)*time.Second), ds[i:i+1000]))
	}
	project := func(d store.Detection) store.Replayed {
		return store.Replayed{ID: d.ID, MemberID: d.MemberID, RuleID: d.RuleID, Techniques: d.Techniques, Source: d.Source,
			Related: d.Related, DestinationPort: d.DestinationPort, Count: d.Count, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen}
	}
	for _, w := range []struct{ since, until time.Time }{
		{},
		{at(0), at(48 * time.Hour)},
		{at(3 * time.Hour), at(5*time.Hour + time.Minute)},
		{at(47 * time.Hour), time.Time{}},
		{time.Time{}, at(time.Hour)},
		{at(10 * time.Hour), at(10 * time.Hour)},
	} {
		name := fmt.Sprintf("[%v, %v)", w.since, w.until)
		var want []store.Replayed
		for _, d := range allDetections(t, s, store.DetectionFilter{Since: w.since, Until: w.until, Limit: store.MaxLimit}) {
			want = append(want, project(d))
		}
		var got []store.Replayed
		pages := 0
		must(t, s.Replay(ctx, w.since, w.until, func(page []store.Replayed) error {
			if len(page) == 0 {
				t.Errorf("%s: empty page", name)
			}
			pages++
			got = append(got, page...)
			return nil
		}))
		if !slices.IsSortedFunc(got, func(a, b store.Replayed) int { return a.LastSeen.Compare(b.LastSeen) }) {
			t.Errorf("%s: not ordered by last seen", name)
		}
		slices.SortFunc(got, func(a, b store.Replayed) int { return int(a.ID - b.ID) })
		if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: replay differs from Detections (-want +got):\n%s", name, diff)
		}
		if len(want) > 4096 && pages < 2 {
			t.Errorf("%s: %d detections in %d page", name, len(want), pages)
		}
	}
	// fn's error ends the replay and is returned.
	stop := errors.New("enough")
	calls := 0
	err := s.Replay(ctx, time.Time{}, time.Time{}, func([]store.Replayed) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("replay with fn failing: %v after %d calls, want %v after 1", err, calls, stop)
	}
}

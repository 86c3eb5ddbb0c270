package postgres_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// TestSourceActivityMatchesDetections checks SourceActivity, which groups
// in Go from rows sorted by the database and decodes each technique set
// once from its array literal, against a grouping of what Detections
// returns, over many sources, members and windows, with technique names
// that need quoting in an array literal.
func TestSourceActivityMatchesDetections(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t)
	ctx := t.Context()
	for _, m := range []string{"m1", "m2"} {
		must(t, s.AddMember(ctx, store.Member{ID: m, Name: m, Created: base}))
		tok := store.HashToken("t" + m)
		must(t, s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: m, Created: base, Expires: base.Add(time.Hour)}))
		must(t, s.UseEnrolToken(ctx, tok, base, store.Collector{ID: "c-" + m, MemberID: m, CertSerial: "01",
			CertNotAfter: base.Add(time.Hour), Created: base}))
	}
	sources := []string{"203.0.113.1", "203.0.113.2", "198.51.100.7", "2001:db8::1", "2001:db8::2", "::ffff:192.0.2.9", ""}
	techSets := [][]string{nil, {"T1046"}, {"T1110", "T1046"}, {"a,b", `q"uote`, "{brace}"}, {"NULL", " sp "}}
	rng := rand.New(rand.NewPCG(1, 2))
	collectors := map[string]string{"m0": "c0", "m1": "c-m1", "m2": "c-m2"}
	for i := range 30 {
		member := []string{"m0", "m1", "m2"}[i%3]
		ds := make([]store.Detection, 20)
		for j := range ds {
			last := base.Add(time.Duration(rng.IntN(6*60)) * time.Minute)
			ds[j] = detection(t, "r1", sources[rng.IntN(len(sources))], last, int64(1+rng.IntN(9)))
			ds[j].FirstSeen = last.Add(-time.Duration(rng.IntN(90)) * time.Minute)
			ds[j].Techniques = techSets[rng.IntN(len(techSets))]
			ds[j].DestinationPort = uint16([]int{0, 22, 443, 3389}[rng.IntN(4)])
		}
		_, err := s.IngestBatch(ctx, &store.Batch{ID: fmt.Sprint("b", i), CollectorID: collectors[member], MemberID: member,
			Seq: 1, Created: base, Received: base, Detections: ds})
		must(t, err)
	}
	var all []store.Detection
	for after := int64(0); ; {
		page, err := s.Detections(ctx, store.DetectionFilter{After: after, Limit: store.MaxLimit})
		must(t, err)
		if len(page) == 0 {
			break
		}
		all, after = append(all, page...), page[len(page)-1].ID
	}
	for _, w := range []struct{ since, until time.Time }{
		{base, base.Add(6 * time.Hour)},
		{base.Add(90 * time.Minute), base.Add(100 * time.Minute)},
		{base.Add(3*time.Hour + 17*time.Second), time.Time{}},
		{base.Add(7 * time.Hour), base.Add(8 * time.Hour)},
	} {
		got, err := s.SourceActivity(ctx, w.since, w.until)
		must(t, err)
		want := groupActivity(all, w.since, w.until)
		if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("window %v to %v (-want +got):\n%s", w.since, w.until, diff)
		}
	}
}

// groupActivity is SourceActivity by definition, over ds.
func groupActivity(ds []store.Detection, since, until time.Time) []store.SourceActivity {
	by := map[netip.Addr]*store.SourceActivity{}
	for _, d := range ds {
		if !d.Source.IsValid() || d.LastSeen.Before(since) || (!until.IsZero() && !d.LastSeen.Before(until)) {
			continue
		}
		a := by[d.Source]
		if a == nil {
			a = &store.SourceActivity{Source: d.Source, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen}
			by[d.Source] = a
		}
		if !slices.Contains(a.Members, d.MemberID) {
			a.Members = append(a.Members, d.MemberID)
		}
		for _, x := range d.Techniques {
			if !slices.Contains(a.Techniques, x) {
				a.Techniques = append(a.Techniques, x)
			}
		}
		if d.DestinationPort != 0 && !slices.Contains(a.Ports, d.DestinationPort) {
			a.Ports = append(a.Ports, d.DestinationPort)
		}
		a.Detections++
		a.Count += d.Count
		if d.FirstSeen.Before(a.FirstSeen) {
			a.FirstSeen = d.FirstSeen
		}
		if d.LastSeen.After(a.LastSeen) {
			a.LastSeen = d.LastSeen
		}
	}
	var out []store.SourceActivity
	for _, a := range by {
		slices.Sort(a.Members)
		slices.Sort(a.Techniques)
		slices.Sort(a.Ports)
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b store.SourceActivity) int { return a.Source.Compare(b.Source) })
	return out
}

package storetest

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// groupRollups is the contract of Store.Rollups computed from detections:
// grouped by store.RollupSet, filtered by f and ordered. sampleRollups
// checks, apart from it, that the key and values are what the detections
// say.
func groupRollups(ds []store.Detection, f store.RollupFilter) []store.Rollup {
	var g store.RollupSet
	for i := range ds {
		d := &ds[i]
		hour := d.LastSeen.UTC().Truncate(time.Hour)
		if (f.MemberID != "" && d.MemberID != f.MemberID) || (f.RuleID != "" && d.RuleID != f.RuleID) ||
			(!f.Since.IsZero() && hour.Before(f.Since)) || (!f.Until.IsZero() && !hour.Before(f.Until)) {
			continue
		}
		g.Add(d, store.SampleOf(d.Raw))
	}
	return g.Sorted()
}

// sdet is a detection with the sample fields and values rollups keep.
type sdet struct {
	det
	name, eventType, category, direction, destination, signature string
	severity                                                     int
}

func (d sdet) build(t *testing.T) store.Detection {
	t.Helper()
	sd := d.det.build(t)
	x := detect.Detection{RuleID: sd.RuleID, RuleName: sd.RuleName, Severity: 50, Techniques: sd.Techniques,
		Source: sd.Source, Destination: sd.Destination, DestinationPort: sd.DestinationPort, Related: sd.Related,
		DistinctSources: sd.DistinctSources, Count: sd.Count, FirstSeen: sd.FirstSeen, LastSeen: sd.LastSeen,
		Sample: detect.Event{Timestamp: sd.LastSeen, Category: detect.CategoryNetwork, Type: detect.TypeDenied,
			Dataset: "suricata", Network: detect.Network{Transport: detect.TransportTCP}}}
	if d.name != "" {
		x.RuleName = d.name
	}
	if d.severity != 0 {
		x.Severity = d.severity
	}
	if d.eventType != "" {
		x.Sample.Type = d.eventType
	}
	if d.category != "" {
		x.Sample.Category = d.category
	}
	x.Sample.Network.Direction = d.direction
	if d.destination != "" {
		x.Sample.Destination.IP = addr(d.destination)
	}
	x.Sample.Rule.Name = d.signature
	got, err := store.DecodeDetection(x.AppendJSON(nil))
	if err != nil {
		t.Fatalf("decode detection: %v", err)
	}
	return got
}

// checkRollups compares the store's rollups with a grouping of its
// detections, under several filters.
func checkRollups(t *testing.T, s store.Store, when string) {
	t.Helper()
	ds := allDetections(t, s, store.DetectionFilter{Limit: store.MaxLimit})
	hour := base.Truncate(time.Hour)
	for _, f := range []store.RollupFilter{
		{},
		{MemberID: "acme"},
		{MemberID: "globex"},
		{MemberID: "nobody"},
		{RuleID: "r1"},
		{Since: hour.Add(time.Hour)},
		{Until: hour.Add(time.Hour)},
		{Since: hour, Until: hour.Add(2 * time.Hour)},
		{MemberID: "acme", RuleID: "r2", Since: hour.Add(-24 * time.Hour), Until: hour.Add(3 * time.Hour)},
		// Not on the hour: hours at or after, before.
		{Since: hour.Add(30 * time.Minute), Until: hour.Add(150 * time.Minute)},
	} {
		got, err := s.Rollups(t.Context(), f)
		must(t, err)
		if diff := gocmp.Diff(groupRollups(ds, f), got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: rollups %+v (-grouped detections +got):\n%s", when, f, diff)
		}
	}
}

func testRollups(t *testing.T, h *harness) {
	t.Run("Samples", func(t *testing.T) { sampleRollups(t, h) })
	s := h.setup(t)
	ctx := t.Context()
	hour := base.Truncate(time.Hour)
	checkRollups(t, s, "empty store")

	// Hours, members, rules and sources, with the edges of an hour, IPv6
	// on both sides of IPv4 in byte order, no source, and a time before
	// 1970 (an hour that floors, not truncates towards zero).
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour, count: 2}.build(t),
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(time.Hour - time.Microsecond), count: 5}.build(t),
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(time.Hour)}.build(t),
		det{rule: "r1", source: "2001:db8::1", lastSeen: hour.Add(10 * time.Minute)}.build(t),
		det{rule: "r1", source: "::1", lastSeen: hour.Add(10 * time.Minute)}.build(t),
		det{rule: "r2", port: 22, related: []string{"203.0.113.2", "203.0.113.3"}, lastSeen: hour.Add(20 * time.Minute)}.build(t),
		det{rule: "r2", source: "198.51.100.7", lastSeen: time.Date(1969, 12, 31, 23, 30, 0, 0, time.UTC)}.build(t),
	}))
	checkRollups(t, s, "first batch")
	// Later batches add to the same rollups and make new ones.
	ingest(t, s, batch("acme", batchID(2), at(2*time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(30 * time.Minute), count: 10}.build(t),
		det{rule: "r2", port: 23, lastSeen: hour.Add(40 * time.Minute)}.build(t),
	}))
	ingest(t, s, batch("globex", batchID(1), at(2*time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(5 * time.Minute), count: 7}.build(t),
		det{rule: "r3", source: "203.0.113.9", lastSeen: hour.Add(2 * time.Hour)}.build(t),
	}))
	checkRollups(t, s, "three batches")

	// Neither a duplicate nor a refused batch changes them.
	dup, err := s.IngestBatch(ctx, batch("acme", batchID(2), at(3*time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(30 * time.Minute), count: 10}.build(t)}))
	must(t, err)
	if !dup {
		t.Fatal("resent batch not a duplicate")
	}
	bad := det{rule: "r1", source: "203.0.113.1", lastSeen: hour}.build(t)
	bad.Severity = 0
	_, err = s.IngestBatch(ctx, batch("acme", batchID(3), at(3*time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour, count: 100}.build(t), bad}))
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("refused batch: %v", err)
	}
	checkRollups(t, s, "after a duplicate and a refused batch")

	// More detections than a backend may group at once.
	for i := range 3 {
		ds := make([]store.Detection, 2000)
		for j := range ds {
			ds[j] = det{rule: "r4", source: fmt.Sprintf("192.0.2.%d", j%16), count: int64(1 + j%5),
				lastSeen: hour.Add(time.Duration(j%180) * time.Minute)}.build(t)
		}
		ingest(t, s, batch("globex", batchID(10+i), at(4*time.Hour), ds))
	}
	checkRollups(t, s, "many detections")

	// Retention by received time, which is not the rollups' hour: it
	// deletes whole rollups, parts of rollups (among them the detections
	// that held a rollup's first and last seen), and detections ingested
	// since the last read.
	ingest(t, s, batch("acme", batchID(4), at(90*time.Minute), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(59 * time.Minute)}.build(t),
		det{rule: "r5", source: "203.0.113.1", lastSeen: hour.Add(5 * time.Hour)}.build(t),
	}))
	ingest(t, s, batch("acme", batchID(5), at(5*time.Hour), []store.Detection{
		det{rule: "r1", source: "203.0.113.1", lastSeen: hour.Add(15 * time.Minute)}.build(t),
	}))
	_, err = s.Retain(ctx, at(3*time.Hour))
	must(t, err)
	if c := counts(t, s, "acme"); c.Detections != 1 {
		t.Fatalf("acme after retention: %+v", c)
	}
	checkRollups(t, s, "after retention")
	rs, err := s.Rollups(ctx, store.RollupFilter{MemberID: "acme"})
	must(t, err)
	left := allDetections(t, s, store.DetectionFilter{MemberID: "acme", Limit: store.MaxLimit})
	want := []store.Rollup{{Hour: hour, MemberID: "acme", RuleID: "r1", Source: addr("203.0.113.1"), RuleName: "Rule r1",
		Techniques: []string{"T1046"}, EventType: "denied", EventCategory: "network", Detections: 1, Count: 3,
		Severity: 50, FirstSeen: hour.Add(14 * time.Minute), LastSeen: hour.Add(15 * time.Minute),
		FirstID: left[0].ID}}
	if diff := gocmp.Diff(want, rs, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("acme's rollups after retention (-want +got):\n%s", diff)
	}

	// Ingest and retention go on; everything goes in the end.
	ingest(t, s, batch("globex", batchID(20), at(6*time.Hour), []store.Detection{
		det{rule: "r4", source: "192.0.2.1", lastSeen: hour.Add(time.Hour)}.build(t),
	}))
	_, err = s.Retain(ctx, at(5*time.Hour))
	must(t, err)
	checkRollups(t, s, "after a second retention")
	_, err = s.Retain(ctx, at(7*time.Hour))
	must(t, err)
	if rs, err := s.Rollups(ctx, store.RollupFilter{}); err != nil || len(rs) != 0 {
		t.Fatalf("rollups of an empty store: %+v, %v", rs, err)
	}
}

// testRollupsConcurrent reads rollups while batches arrive and retention
// runs: every read is a state the store passed through (its total never
// falls while only ingest runs), and the end state is exact.
func testRollupsConcurrent(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	hour := base.Truncate(time.Hour)
	const writers, batches, per = 4, 8, 40
	// Old batches that retention deletes while the others arrive.
	for i := range 4 {
		ds := make([]store.Detection, per)
		for j := range ds {
			ds[j] = det{rule: "r1", source: fmt.Sprintf("203.0.113.%d", j%8), lastSeen: hour.Add(time.Duration(j) * time.Minute)}.build(t)
		}
		ingest(t, s, batch("globex", batchID(1000+i), at(time.Hour), ds))
	}
	// Built here: build may fail the test, which only this goroutine can.
	work := make([][]*store.Batch, writers)
	for w := range work {
		member := []string{"acme", "globex"}[w%2]
		for b := range batches {
			ds := make([]store.Detection, per)
			for j := range ds {
				ds[j] = det{rule: fmt.Sprintf("r%d", j%3), source: fmt.Sprintf("198.51.100.%d", (w*batches+b+j)%50),
					lastSeen: hour.Add(time.Duration(b*per+j) * time.Minute)}.build(t)
			}
			work[w] = append(work[w], batch(member, batchID(w*batches+b), at(3*time.Hour), ds))
		}
	}
	errs := make(chan error, writers+2)
	stop := make(chan struct{})
	for _, bs := range work {
		go func() {
			for _, b := range bs {
				if _, err := s.IngestBatch(ctx, b); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		_, err := s.Retain(ctx, at(2*time.Hour))
		errs <- err
	}()
	go func() {
		var last int64
		for {
			select {
			case <-stop:
				errs <- nil
				return
			default:
			}
			rs, err := s.Rollups(ctx, store.RollupFilter{MemberID: "acme"}) // acme only gains
			if err != nil {
				errs <- err
				return
			}
			var n int64
			for _, r := range rs {
				n += r.Detections
			}
			if n < last || n%per != 0 {
				errs <- fmt.Errorf("acme's rollups hold %d detections after %d", n, last)
				return
			}
			last = n
		}
	}()
	for range writers + 1 {
		must(t, <-errs)
	}
	close(stop)
	must(t, <-errs)
	checkRollups(t, s, "after concurrent ingest and retention")
	if c := counts(t, s, ""); c.Detections != writers*batches*per {
		t.Fatalf("counts: %+v", c)
	}
}

// sampleRollups checks the key fields taken from the sample event and the
// values that are not sums (severity, first id, related addresses), as
// ingest adds to a rollup and as retention leaves part of one.
func sampleRollups(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	hour := base.Truncate(time.Hour)
	ids := func(source string, related ...string) sdet {
		return sdet{det: det{rule: "ids.alert", source: source, port: 443, related: related,
			lastSeen: hour.Add(10 * time.Minute)}, category: detect.CategoryIntrusionDetection,
			signature: "ET EXPLOIT Log4j CVE-2021-44228", severity: 60}
	}
	d1, d2 := ids("203.0.113.5", "203.0.113.3", "203.0.113.2"), ids("203.0.113.5", "203.0.113.4", "203.0.113.3")
	d2.severity, d2.lastSeen = 80, hour.Add(20*time.Minute)
	allowed, renamed, tech := ids("203.0.113.5"), ids("203.0.113.5"), ids("203.0.113.5")
	allowed.eventType, renamed.name, tech.techniques = detect.TypeAllowed, "IDS alert, renamed", []string{"T1190", "T1595"}
	out := sdet{det: det{rule: "c2.beacon", source: "10.0.0.5", lastSeen: hour.Add(30 * time.Minute)},
		direction: detect.DirectionOutbound, destination: "198.51.100.9", eventType: detect.TypeAllowed}
	in := out
	in.direction = detect.DirectionInbound
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), []store.Detection{d1.build(t), d2.build(t), allowed.build(t),
		renamed.build(t), tech.build(t), out.build(t), in.build(t)}))
	checkRollups(t, s, "samples")
	rs, err := s.Rollups(ctx, store.RollupFilter{})
	must(t, err)
	if len(rs) != 6 {
		t.Fatalf("%d rollups of 7 detections in 6 groups: %+v", len(rs), rs)
	}
	first := allDetections(t, s, store.DetectionFilter{Limit: store.MaxLimit})[0].ID
	// Added to after it was read: the related addresses are a union with
	// what the rollup held.
	d3 := ids("203.0.113.5", "203.0.113.1")
	d3.lastSeen = hour.Add(50 * time.Minute)
	ingest(t, s, batch("acme", batchID(2), at(3*time.Hour), []store.Detection{d3.build(t)}))
	checkRollups(t, s, "samples, a second batch")
	key := func(r store.Rollup) bool {
		return r.RuleName == "Rule ids.alert" && r.EventType == "denied" && r.Techniques[0] == "T1046"
	}
	want := store.Rollup{Hour: hour, MemberID: "acme", RuleID: "ids.alert", Source: addr("203.0.113.5"),
		RuleName: "Rule ids.alert", Techniques: []string{"T1046"}, DestinationPort: 443, EventType: "denied",
		EventCategory: "intrusion_detection", Signature: "ET EXPLOIT Log4j CVE-2021-44228", Detections: 3, Count: 9,
		Severity: 80, FirstSeen: hour.Add(9 * time.Minute), LastSeen: hour.Add(50 * time.Minute), FirstID: first,
		Related: []netip.Addr{addr("203.0.113.1"), addr("203.0.113.2"), addr("203.0.113.3"), addr("203.0.113.4")}}
	checkOne := func(when string, want store.Rollup) {
		t.Helper()
		rs, err := s.Rollups(ctx, store.RollupFilter{RuleID: "ids.alert"})
		must(t, err)
		i := slices.IndexFunc(rs, key)
		if i < 0 {
			t.Fatalf("%s: no rollup of the first IDS alerts in %+v", when, rs)
		}
		if diff := gocmp.Diff(want, rs[i], cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("%s: rollup (-want +got):\n%s", when, diff)
		}
	}
	checkOne("two batches", want)
	rs, err = s.Rollups(ctx, store.RollupFilter{RuleID: "c2.beacon"})
	must(t, err)
	if len(rs) != 2 || rs[0].Outbound || rs[0].Target != "" || !rs[1].Outbound || rs[1].Target != "198.51.100.9" {
		t.Errorf("inbound and outbound rollups: %+v", rs)
	}

	// Retention takes the first batch: what is left of the rollup is
	// made again from the third alert alone.
	_, err = s.Retain(ctx, at(2*time.Hour))
	must(t, err)
	checkRollups(t, s, "samples after retention")
	d3s := allDetections(t, s, store.DetectionFilter{Limit: store.MaxLimit})
	want.Detections, want.Count, want.Severity, want.FirstID = 1, 3, 60, d3s[0].ID
	want.FirstSeen, want.LastSeen, want.Related = hour.Add(49*time.Minute), hour.Add(50*time.Minute), []netip.Addr{addr("203.0.113.1")}
	checkOne("after retention", want)
}

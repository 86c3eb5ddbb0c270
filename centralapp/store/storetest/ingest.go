package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// ignoreStoreSet leaves out what the store assigns when comparing a read
// detection with the one ingested.
var ignoreStoreSet = cmpopts.IgnoreFields(store.Detection{}, "ID", "MemberID", "CollectorID", "BatchID", "Received")

func testIngestRoundTrip(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	dets := []store.Detection{
		det{source: "203.0.113.7", member: "acme"}.build(t),
		det{rule: "campaign.ssh", source: "2001:db8::1", port: 22, techniques: []string{"T1110", "T1110.001"}, count: 40}.build(t),
		det{rule: "scan.distributed", port: 443, related: []string{"198.51.100.1", "198.51.100.2", "2001:db8::9"}}.build(t),
	}
	sums := []detect.FlowSummary{summary("203.0.113.9", 23, at(-time.Hour), 7), summary("2001:db8::2", 0, at(-time.Hour), 1)}
	sums[1].Transport, sums[1].Destination = "icmp", "h:4f2a"
	b := batch("acme", batchID(1), at(time.Hour), dets, sums...)
	b.Seq = 42
	ingest(t, s, b)

	got := allDetections(t, s, store.DetectionFilter{})
	if diff := cmp.Diff(dets, got, ignoreStoreSet, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("detections (-ingested +read):\n%s", diff)
	}
	for i, d := range got {
		if d.MemberID != "acme" || d.CollectorID != "c-acme" || d.BatchID != b.ID || !d.Received.Equal(b.Received) {
			t.Errorf("detection %d: member %q collector %q batch %q received %v", i, d.MemberID, d.CollectorID, d.BatchID, d.Received)
		}
		if !bytes.Equal(d.Raw, dets[i].Raw) {
			t.Errorf("detection %d: raw JSON changed:\n got %s\nwant %s", i, d.Raw, dets[i].Raw)
		}
		if i > 0 && d.ID <= got[i-1].ID {
			t.Errorf("detection ids do not rise: %d after %d", d.ID, got[i-1].ID)
		}
	}

	gotSums, err := s.Summaries(ctx, store.SummaryFilter{})
	must(t, err)
	if len(gotSums) != len(sums) {
		t.Fatalf("%d summaries read, want %d", len(gotSums), len(sums))
	}
	for i, x := range gotSums {
		if diff := cmp.Diff(sums[i], x.FlowSummary, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("summary %d (-ingested +read):\n%s", i, diff)
		}
		if x.MemberID != "acme" || x.CollectorID != "c-acme" || !x.Received.Equal(b.Received) {
			t.Errorf("summary %d: member %q collector %q received %v", i, x.MemberID, x.CollectorID, x.Received)
		}
	}
	if c := counts(t, s, ""); c != (store.Counts{Batches: 1, Detections: 3, Summaries: 2}) {
		t.Errorf("counts = %+v", c)
	}
	if c := counts(t, s, "globex"); c != (store.Counts{}) {
		t.Errorf("globex's counts = %+v, want none", c)
	}
	c, err := s.Collector(ctx, "c-acme")
	must(t, err)
	if !c.LastSeen.Equal(b.Received) {
		t.Errorf("collector last seen %v, want %v", c.LastSeen, b.Received)
	}
	// An older batch arriving late does not move last seen back.
	ingest(t, s, batch("acme", batchID(2), at(time.Minute), nil))
	c, err = s.Collector(ctx, "c-acme")
	must(t, err)
	if !c.LastSeen.Equal(b.Received) {
		t.Errorf("collector last seen %v after a late batch, want %v", c.LastSeen, b.Received)
	}
}

func testIngestDuplicate(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	b := batch("acme", batchID(1), at(time.Hour), []store.Detection{det{source: "203.0.113.7"}.build(t)},
		summary("203.0.113.9", 23, at(0), 7))
	ingest(t, s, b)
	want := counts(t, s, "")
	for range 3 {
		dup, err := s.IngestBatch(ctx, b)
		must(t, err)
		if !dup {
			t.Fatal("second ingest of a batch id: duplicate false")
		}
	}
	// Same id with other content is still the same batch.
	other := batch("acme", batchID(1), at(2*time.Hour), []store.Detection{det{source: "203.0.113.8"}.build(t)})
	dup, err := s.IngestBatch(ctx, other)
	must(t, err)
	if !dup {
		t.Fatal("batch id with new content: duplicate false")
	}
	if got := counts(t, s, ""); got != want {
		t.Fatalf("counts after duplicates = %+v, want %+v", got, want)
	}
	// Batch ids are unique per collector, not globally.
	ingest(t, s, batch("globex", batchID(1), at(time.Hour), []store.Detection{det{source: "203.0.113.7"}.build(t)}))
	if got := counts(t, s, ""); got.Batches != 2 || got.Detections != 2 {
		t.Fatalf("same batch id from another collector: counts %+v", got)
	}
}

func testIngestAtomic(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	good := func(n int) []store.Detection {
		ds := make([]store.Detection, n)
		for i := range ds {
			ds[i] = det{source: fmt.Sprintf("203.0.113.%d", i+1)}.build(t)
		}
		return ds
	}
	health := &detect.Health{Time: at(time.Hour), Started: base, Version: "1",
		Devices: []detect.DeviceHealth{{Device: "fw1", LastSeen: at(time.Hour)}}}

	cases := []struct {
		name  string
		batch func() *store.Batch
	}{
		{"detection breaking severity", func() *store.Batch {
			ds := good(10)
			ds[6].Severity = 0
			return batch("acme", batchID(1), at(time.Hour), ds, summary("203.0.113.9", 23, at(0), 7))
		}},
		{"detection breaking count", func() *store.Batch {
			ds := good(10)
			ds[9].Count = 0
			return batch("acme", batchID(1), at(time.Hour), ds)
		}},
		{"detection last seen before first", func() *store.Batch {
			ds := good(10)
			ds[3].LastSeen = ds[3].FirstSeen.Add(-time.Second)
			return batch("acme", batchID(1), at(time.Hour), ds)
		}},
		{"detection of another member", func() *store.Batch {
			ds := good(10)
			ds[5].MemberID = "globex"
			return batch("acme", batchID(1), at(time.Hour), ds)
		}},
		{"summary after good detections", func() *store.Batch {
			return batch("acme", batchID(1), at(time.Hour), good(10), summary("203.0.113.9", 23, at(0), 7),
				summary("203.0.113.9", 24, at(0), 0))
		}},
		{"summary without source", func() *store.Batch {
			sum := summary("203.0.113.9", 23, at(0), 7)
			sum.SourceIP = netip.Addr{}
			return batch("acme", batchID(1), at(time.Hour), good(10), sum)
		}},
	}
	for _, tc := range cases {
		b := tc.batch()
		b.Health = health
		dup, err := s.IngestBatch(ctx, b)
		wantErr(t, tc.name, err, store.ErrInvalid)
		if dup {
			t.Errorf("%s: duplicate true on error", tc.name)
		}
		if c := counts(t, s, ""); c != (store.Counts{}) {
			t.Fatalf("%s: partly stored: %+v", tc.name, c)
		}
		hs, err := s.Health(ctx, "acme")
		must(t, err)
		if hs[0].Health != nil || len(hs[0].Devices) != 0 || !hs[0].Collector.LastSeen.IsZero() {
			t.Fatalf("%s: health or last seen stored: %+v", tc.name, hs[0])
		}
	}
	// The failed attempts did not consume the batch id.
	ingest(t, s, batch("acme", batchID(1), at(time.Hour), good(10)))
	if c := counts(t, s, ""); c.Detections != 10 {
		t.Fatalf("after a good retry: %+v", c)
	}
}

func testIngestRefused(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	_, err := s.IngestBatch(ctx, &store.Batch{ID: batchID(1), CollectorID: "nobody", MemberID: "acme", Seq: 1, Created: base, Received: base})
	wantErr(t, "unknown collector", err, store.ErrNotFound)
	_, err = s.IngestBatch(ctx, &store.Batch{ID: batchID(1), CollectorID: "c-globex", MemberID: "acme", Seq: 1, Created: base, Received: base})
	wantErr(t, "collector of another member", err, store.ErrInvalid)
	_, err = s.IngestBatch(ctx, &store.Batch{CollectorID: "c-acme", MemberID: "acme", Seq: 1, Created: base, Received: base})
	wantErr(t, "no batch id", err, store.ErrInvalid)
	if c := counts(t, s, ""); c != (store.Counts{}) {
		t.Fatalf("refused batches stored: %+v", c)
	}
}

func testIngestHealth(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	mk := func(tm time.Time, devs ...detect.DeviceHealth) *detect.Health {
		return &detect.Health{Time: tm, Started: base, Version: "v1", Devices: devs,
			Counts: detect.HealthCounts{LinesIn: 10, Parsed: 9, Failed: 1}, Buffer: 4096, BufferLimit: 1 << 30}
	}
	b1 := batch("acme", batchID(1), at(2*time.Hour), nil)
	b1.Health = mk(at(2*time.Hour), detect.DeviceHealth{Device: "fw1", Dataset: "cisco_asa", LastSeen: at(2 * time.Hour), Lines: 5},
		detect.DeviceHealth{Device: "ids", Dataset: "snort", LastSeen: at(time.Hour)})
	ingest(t, s, b1)
	// An older report, delivered late, does not replace the newer one, but
	// a device it saw more recently moves forward.
	b0 := batch("acme", batchID(0), at(3*time.Hour), nil)
	b0.Health = mk(at(time.Hour), detect.DeviceHealth{Device: "fw1", Dataset: "cisco_asa", LastSeen: at(time.Hour)},
		detect.DeviceHealth{Device: "ids", Dataset: "snort", LastSeen: at(90 * time.Minute)})
	ingest(t, s, b0)

	hs, err := s.Health(ctx, "acme")
	must(t, err)
	if len(hs) != 1 || hs[0].Collector.ID != "c-acme" {
		t.Fatalf("health of acme: %+v", hs)
	}
	if diff := cmp.Diff(b1.Health, hs[0].Health); diff != "" {
		t.Errorf("latest health (-want +got):\n%s", diff)
	}
	want := []store.DeviceSeen{{Device: "fw1", Dataset: "cisco_asa", LastSeen: at(2 * time.Hour)},
		{Device: "ids", Dataset: "snort", LastSeen: at(90 * time.Minute)}}
	if diff := cmp.Diff(want, hs[0].Devices); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if !hs[0].Collector.LastSeen.Equal(at(3 * time.Hour)) {
		t.Errorf("collector last seen %v", hs[0].Collector.LastSeen)
	}
	all, err := s.Health(ctx, "")
	must(t, err)
	if len(all) != 2 || all[1].Collector.ID != "c-globex" || all[1].Health != nil || len(all[1].Devices) != 0 {
		t.Errorf("health of all: %+v", all)
	}
}

func testIngestConcurrent(t *testing.T, h *harness) {
	s := h.open(t)
	const members, batches, perBatch = 6, 15, 20
	for m := range members {
		id := fmt.Sprintf("m%d", m)
		addMember(t, s, id)
		enrol(t, s, id, "c-"+id)
	}
	// Every batch goes twice, from two goroutines, as a retrying collector
	// would send it.
	var mu sync.Mutex
	dups := 0
	var wg sync.WaitGroup
	for m := range members {
		for range 2 {
			wg.Go(func() {
				member := fmt.Sprintf("m%d", m)
				for i := range batches {
					ds := make([]store.Detection, perBatch)
					for j := range ds {
						ds[j] = det{source: fmt.Sprintf("198.51.%d.%d", i, j)}.build(t)
					}
					dup, err := s.IngestBatch(t.Context(), batch(member, batchID(i), at(time.Duration(i)*time.Second), ds,
						summary("203.0.113.1", 22, at(0), 1)))
					if err != nil {
						t.Errorf("ingest: %v", err)
						return
					}
					if dup {
						mu.Lock()
						dups++
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	want := store.Counts{Batches: members * batches, Detections: members * batches * perBatch, Summaries: members * batches}
	if c := counts(t, s, ""); c != want {
		t.Fatalf("counts = %+v, want %+v", c, want)
	}
	if dups != members*batches {
		t.Fatalf("%d duplicates reported, want %d", dups, members*batches)
	}
	for m := range members {
		member := fmt.Sprintf("m%d", m)
		if c := counts(t, s, member); c.Detections != batches*perBatch {
			t.Errorf("%s: %+v", member, c)
		}
	}
}

// testIngestConcurrentInvalid sends good and invalid batches at once: a
// backend that writes concurrent batches together must still refuse each
// invalid one alone and keep every good one whole.
func testIngestConcurrentInvalid(t *testing.T, h *harness) {
	s := h.open(t)
	const senders, batches, perBatch = 8, 10, 5
	for m := range senders {
		id := fmt.Sprintf("m%d", m)
		addMember(t, s, id)
		enrol(t, s, id, "c-"+id)
	}
	var wg sync.WaitGroup
	for m := range senders {
		wg.Go(func() {
			member := fmt.Sprintf("m%d", m)
			for i := range batches {
				ds := make([]store.Detection, perBatch)
				for j := range ds {
					ds[j] = det{source: fmt.Sprintf("198.51.%d.%d", i, j)}.build(t)
				}
				bad := (m+i)%3 == 0
				if bad {
					ds[perBatch-1].Severity = 0 // breaks a constraint on the last row
				}
				_, err := s.IngestBatch(t.Context(), batch(member, batchID(i), at(time.Duration(i)*time.Second), ds))
				switch {
				case bad && !errors.Is(err, store.ErrInvalid):
					t.Errorf("%s batch %d: err = %v, want ErrInvalid", member, i, err)
				case !bad && err != nil:
					t.Errorf("%s batch %d: %v", member, i, err)
				}
			}
		})
	}
	wg.Wait()
	var want store.Counts
	for m := range senders {
		for i := range batches {
			if (m+i)%3 != 0 {
				want.Batches++
				want.Detections += perBatch
			}
		}
	}
	if c := counts(t, s, ""); c != want {
		t.Fatalf("counts = %+v, want %+v", c, want)
	}
}

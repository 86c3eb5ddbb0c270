package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// testIngestIDs checks the ids IngestBatch reports: the highest its rows
// took, so a reader fed up to them has seen the batch and every batch
// stored before it; 0 for a table the batch has no rows in, and on a
// duplicate or a refusal.
func testIngestIDs(t *testing.T, h *harness) {
	s := h.setup(t)
	ctx := t.Context()
	var prevDet, prevSum int64
	lastIDs := func(what string) {
		t.Helper()
		d, sm, err := s.LastIDs(ctx)
		if err != nil || d != prevDet || sm != prevSum {
			t.Fatalf("%s: LastIDs %d, %d, %v; want %d, %d", what, d, sm, err, prevDet, prevSum)
		}
	}
	lastIDs("empty store")
	for i, tc := range []struct {
		dets, sums int
	}{{3, 2}, {1, 0}, {0, 4}, {0, 0}, {70, 70}, {2, 1}} {
		b := idsBatch(t, "acme", i, tc.dets, tc.sums)
		ingest(t, s, b)
		checkIDs(t, s, b, prevDet, prevSum)
		prevDet, prevSum = max(prevDet, b.LastDetectionID), max(prevSum, b.LastSummaryID)
		lastIDs(fmt.Sprintf("after batch %d", i))

		// The same batch again stores nothing and reports no ids.
		b.LastDetectionID, b.LastSummaryID = -1, -1
		dup, err := s.IngestBatch(ctx, b)
		must(t, err)
		if !dup || b.LastDetectionID != 0 || b.LastSummaryID != 0 {
			t.Fatalf("batch %d again: duplicate %v, last ids %d, %d; want true, 0, 0", i, dup, b.LastDetectionID, b.LastSummaryID)
		}
	}
	// A refused batch reports none either.
	bad := idsBatch(t, "acme", 100, 2, 1)
	bad.Detections[1].Severity = 0
	bad.LastDetectionID, bad.LastSummaryID = -1, -1
	if _, err := s.IngestBatch(ctx, bad); err == nil {
		t.Fatal("batch with severity 0 stored")
	}
	if bad.LastDetectionID != 0 || bad.LastSummaryID != 0 {
		t.Fatalf("refused batch: last ids %d, %d; want 0, 0", bad.LastDetectionID, bad.LastSummaryID)
	}
	lastIDs("after a refused batch")
}

// testIngestIDsConcurrent ingests from many goroutines at once: each
// batch's ids must still be its own rows' highest, whichever batches the
// backend wrote beside it.
func testIngestIDsConcurrent(t *testing.T, h *harness) {
	s := h.open(t)
	const members, batches = 4, 12
	for m := range members {
		id := fmt.Sprintf("m%d", m)
		addMember(t, s, id)
		enrol(t, s, id, "c-"+id)
	}
	var mu sync.Mutex
	var stored []*store.Batch
	var wg sync.WaitGroup
	for m := range members {
		wg.Go(func() {
			for i := range batches {
				b := idsBatch(t, fmt.Sprintf("m%d", m), i, 1+(i*7+m)%40, (i+m)%3)
				if _, err := s.IngestBatch(t.Context(), b); err != nil {
					t.Errorf("ingest: %v", err)
					return
				}
				mu.Lock()
				stored = append(stored, b)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, b := range stored {
		checkIDs(t, s, b, 0, 0)
	}
}

// idsBatch is batch i of member with dets detections and sums summaries,
// each summary with a device naming the batch, so its rows can be found.
func idsBatch(t *testing.T, member string, i, dets, sums int) *store.Batch {
	t.Helper()
	ds := make([]store.Detection, dets)
	for k := range ds {
		ds[k] = det{source: fmt.Sprintf("198.51.100.%d", k%250+1), lastSeen: at(time.Duration(i) * time.Minute)}.build(t)
	}
	var ss []detect.FlowSummary
	for k := range sums {
		f := summary(fmt.Sprintf("203.0.113.%d", k+1), 22, at(time.Duration(i)*time.Minute), 1)
		f.Device = member + "/" + batchID(i)
		ss = append(ss, f)
	}
	return batch(member, batchID(i), at(time.Hour+time.Duration(i)*time.Second), ds, ss...)
}

// checkIDs checks the last ids b got against its rows in s: each at or
// below them, the highest equal, none after them, and all above the
// previous batch's (after), when after is not 0.
func checkIDs(t *testing.T, s store.Store, b *store.Batch, afterDet, afterSum int64) {
	t.Helper()
	var dets []int64
	for _, d := range allDetections(t, s, store.DetectionFilter{MemberID: b.MemberID, Limit: store.MaxLimit}) {
		if d.BatchID == b.ID {
			dets = append(dets, d.ID)
		}
	}
	var sums []int64
	for _, f := range allSummaries(t, s, store.SummaryFilter{MemberID: b.MemberID}) {
		if f.Device == b.MemberID+"/"+b.ID {
			sums = append(sums, f.ID)
		}
	}
	check := func(what string, ids []int64, last, after int64, n int) {
		t.Helper()
		if len(ids) != n {
			t.Fatalf("batch %s: %d %s stored, want %d", b.ID, len(ids), what, n)
		}
		if n == 0 {
			if last != 0 {
				t.Fatalf("batch %s without %s: last id %d, want 0", b.ID, what, last)
			}
			return
		}
		if high := ids[len(ids)-1]; high != last {
			t.Fatalf("batch %s: highest %s id %d, last id reported %d", b.ID, what, high, last)
		}
		if after != 0 && ids[0] <= after {
			t.Fatalf("batch %s: %s id %d not above the previous batch's %d", b.ID, what, ids[0], after)
		}
	}
	check("detections", dets, b.LastDetectionID, afterDet, len(b.Detections))
	check("summaries", sums, b.LastSummaryID, afterSum, len(b.Summaries))

	// Reading on from the ids gives none of the batch's rows (batch ids
	// are the collector's, so its rows are its member's with its id).
	if b.LastDetectionID != 0 {
		for _, d := range allDetections(t, s, store.DetectionFilter{MemberID: b.MemberID, After: b.LastDetectionID, Limit: store.MaxLimit}) {
			if d.BatchID == b.ID {
				t.Fatalf("batch %s: detection %d after its last id %d", b.ID, d.ID, b.LastDetectionID)
			}
		}
	}
	if b.LastSummaryID != 0 {
		for _, f := range allSummaries(t, s, store.SummaryFilter{MemberID: b.MemberID, After: b.LastSummaryID}) {
			if f.Device == b.MemberID+"/"+b.ID {
				t.Fatalf("batch %s: summary %d after its last id %d", b.ID, f.ID, b.LastSummaryID)
			}
		}
	}
}

// allSummaries pages through every summary matching f.
func allSummaries(t *testing.T, s store.Store, f store.SummaryFilter) []store.Summary {
	t.Helper()
	f.Limit = store.MaxLimit
	var out []store.Summary
	for {
		page, err := s.Summaries(t.Context(), f)
		must(t, err)
		out = append(out, page...)
		if len(page) < f.Limit {
			return out
		}
		f.After = page[len(page)-1].ID
	}
}

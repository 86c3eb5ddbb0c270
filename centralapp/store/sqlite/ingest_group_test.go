package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestIngestGroupBadBatch writes one group holding good batches, a batch
// that breaks a constraint in the middle of its rows, a duplicate and a
// batch whose context ended: the group is written first without
// savepoints, fails, and is written again batch by batch, so only the bad
// batch and the ended one fail, and every outcome is as if each batch had
// been written alone.
func TestIngestGroupBadBatch(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "central.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := s.AddMember(ctx, store.Member{ID: "m0", Name: "M0", Created: base}); err != nil {
		t.Fatal(err)
	}
	tok := store.HashToken("t")
	if err := s.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: "m0", Created: base, Expires: base.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.UseEnrolToken(ctx, tok, base, store.Collector{ID: "c0", MemberID: "m0", CertSerial: "01",
		CertNotAfter: base.Add(time.Hour), Created: base}); err != nil {
		t.Fatal(err)
	}
	// More rows than the largest INSERT, so the bad row is met after
	// whole statements went in.
	const rows = rowsPerInsert + 21
	newBatch := func(seq int) *store.Batch {
		b := &store.Batch{ID: fmt.Sprintf("01KAK6Y1W2X3Y4Z5A6B7C8D9%02d", seq), CollectorID: "c0", MemberID: "m0",
			Seq: uint64(seq), Created: base, Received: base.Add(time.Minute)}
		for i := range rows {
			src := netip.AddrFrom4([4]byte{203, 0, byte(seq), byte(i)})
			d := detect.Detection{RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50,
				Source: src, Count: 3, FirstSeen: base, LastSeen: base.Add(time.Second),
				Sample: detect.Event{Timestamp: base, Category: detect.CategoryNetwork, Type: detect.TypeDenied}}
			sd, err := store.DecodeDetection(d.AppendJSON(nil))
			if err != nil {
				t.Fatal(err)
			}
			b.Detections = append(b.Detections, sd)
			b.Summaries = append(b.Summaries, detect.FlowSummary{Minute: base, SourceIP: src, DestinationPort: 22,
				Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "cisco_asa", Count: 1})
		}
		return b
	}
	bad := newBatch(2)
	bad.Detections[rowsPerInsert+7].Severity = 0 // breaks the CHECK, after a whole INSERT of the batch
	ended, cancel := context.WithCancel(ctx)
	cancel()
	reqs := []*ingestReq{
		{ctx: ctx, b: newBatch(1)},
		{ctx: ctx, b: bad},
		{ctx: ctx, b: newBatch(3)},
		{ctx: ctx, b: newBatch(1)}, // the first one again
		{ctx: ended, b: newBatch(4)},
	}
	s.ingestGroup(reqs)

	for i, want := range []struct {
		dup bool
		err error
	}{{false, nil}, {false, store.ErrInvalid}, {false, nil}, {true, nil}, {false, context.Canceled}} {
		r := reqs[i]
		switch {
		case want.err == nil && r.err != nil, want.err != nil && !errors.Is(r.err, want.err):
			t.Errorf("batch %d: err %v, want %v", i, r.err, want.err)
		case r.dup != want.dup:
			t.Errorf("batch %d: duplicate %v, want %v", i, r.dup, want.dup)
		}
		stored := want.err == nil && !want.dup
		if got := r.b.LastDetectionID != 0 && r.b.LastSummaryID != 0; got != stored {
			t.Errorf("batch %d: last ids %d, %d; want them set: %v", i, r.b.LastDetectionID, r.b.LastSummaryID, stored)
		}
	}
	c, err := s.Counts(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Counts{Batches: 2, Detections: 2 * rows, Summaries: 2 * rows}); c != want {
		t.Fatalf("stored %+v, want %+v", c, want)
	}
	// The ids are the stored rows': the rolled-back attempt left no gap
	// in what the two batches were given.
	if got := reqs[2].b.LastDetectionID - reqs[0].b.LastDetectionID; got != rows {
		t.Errorf("last detection ids %d apart, want %d", got, rows)
	}
}

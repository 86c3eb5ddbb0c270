package sqlite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// TestReadPages reads detections and summaries back in pages of sizes
// around the capacity the read path starts with, and checks each row
// against what was stored.
func TestReadPages(t *testing.T) {
	s := benchStore(t)
	ctx := context.Background()
	const n = 5000
	ds, fs := benchDetections(t, n), benchSummaries(n)
	// Every other detection without a port, and some with related sources.
	for i := range ds {
		if i%2 == 0 {
			ds[i].DestinationPort = 0
		}
		if i%3 == 0 {
			ds[i].Related = []netip.Addr{ds[i].Source, netip.MustParseAddr("2001:db8::7")}
		}
	}
	received := benchBase.Add(time.Hour)
	const batchID = "01JREADPAGES00000000000000"
	if _, err := s.IngestBatch(ctx, &store.Batch{ID: batchID, CollectorID: "c0", MemberID: "m0", Seq: 1,
		Created: received, Received: received, Detections: ds, Summaries: fs}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 255, 4095, 4096, 4097, n, store.MaxLimit} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var gotD []store.Detection
			for after := int64(0); ; {
				page, err := s.Detections(ctx, store.DetectionFilter{After: after, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				if len(page) > max(limit, store.DefaultLimit) {
					t.Fatalf("page of %d for limit %d", len(page), limit)
				}
				gotD = append(gotD, page...)
				after = page[len(page)-1].ID
			}
			if len(gotD) != n {
				t.Fatalf("read %d detections, stored %d", len(gotD), n)
			}
			want := make([]store.Detection, n)
			for i := range want {
				if i > 0 && gotD[i].ID <= gotD[i-1].ID {
					t.Fatalf("ids out of order at %d", i)
				}
				want[i] = ds[i]
				want[i].ID, want[i].MemberID, want[i].CollectorID, want[i].BatchID, want[i].Received = gotD[i].ID, "m0", "c0", batchID, received
			}
			if diff := cmp.Diff(want, gotD, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty(),
				cmp.Comparer(func(a, b json.RawMessage) bool { return bytes.Equal(a, b) })); diff != "" {
				t.Fatalf("detections (-stored +read):\n%s", diff)
			}
			var gotS []store.Summary
			for after := int64(0); ; {
				page, err := s.Summaries(ctx, store.SummaryFilter{After: after, Limit: limit})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				gotS = append(gotS, page...)
				after = page[len(page)-1].ID
			}
			if len(gotS) != n {
				t.Fatalf("read %d summaries, stored %d", len(gotS), n)
			}
			wantS := make([]store.Summary, n)
			for i := range wantS {
				wantS[i] = store.Summary{ID: gotS[i].ID, MemberID: "m0", CollectorID: "c0", Received: received, FlowSummary: fs[i]}
			}
			if diff := cmp.Diff(wantS, gotS, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Fatalf("summaries (-stored +read):\n%s", diff)
			}
		})
	}
}

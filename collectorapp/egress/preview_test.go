package egress

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

func testBatch(t *testing.T) *detect.Batch {
	var p Policy
	return &detect.Batch{
		BatchID: "01JDZ0000000000000000000AB", CollectorID: "c-1", MemberID: "m-1", Seq: 7, Created: t0,
		Detections: []json.RawMessage{p.AppendDetection(nil, fullDetection()), p.AppendDetection(nil, fullDetection())},
		Summaries: []detect.FlowSummary{
			{Minute: t0, SourceIP: netip.MustParseAddr("203.0.113.1"), DestinationPort: 22, Transport: "tcp", EventType: "denied", Device: "fw<1>", Dataset: "pf", Count: 3},
			{Minute: t0, SourceIP: netip.MustParseAddr("203.0.113.2"), EventType: "denied", Device: "fw1", Dataset: "pf", Count: 1},
			{Minute: t0, SourceIP: netip.MustParseAddr("203.0.113.3"), EventType: "info", Device: "ids", Dataset: "snort", Count: 9},
		},
		Health: &detect.Health{Time: t0, Started: t0, Version: "test"},
	}
}

func TestPreviewRoundTrip(t *testing.T) {
	b := testBatch(t)
	var out bytes.Buffer
	if err := Preview(&out, b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\n  \"detections\": [\n    {\n      \"rule\": {") {
		t.Errorf("preview is not indented:\n%s", out.String())
	}
	if !strings.Contains(out.String(), `"device": "fw<1>"`) || !strings.Contains(out.String(), `<attempt>`) {
		t.Errorf("preview escapes HTML characters:\n%s", out.String())
	}
	var back detect.Batch
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	compact := func(raw []json.RawMessage) []string {
		var out []string
		for _, r := range raw {
			var b bytes.Buffer
			if err := json.Compact(&b, r); err != nil {
				t.Fatal(err)
			}
			out = append(out, b.String())
		}
		return out
	}
	if diff := cmp.Diff(compact(b.Detections), compact(back.Detections)); diff != "" {
		t.Errorf("detections (-sent +previewed):\n%s", diff)
	}
	b.Detections, back.Detections = nil, nil
	if diff := cmp.Diff(b, &back, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("batch (-sent +previewed):\n%s", diff)
	}
}

func TestPreviewBadDetection(t *testing.T) {
	b := testBatch(t)
	b.Detections = append(b.Detections, json.RawMessage(`{"rule":`))
	err := Preview(&bytes.Buffer{}, b)
	if err == nil || !strings.Contains(err.Error(), "detection 2 is not valid JSON") {
		t.Errorf("err = %v", err)
	}
}

func TestSample(t *testing.T) {
	b := testBatch(t)
	for _, c := range []struct{ n, dets, sums int }{{0, 2, 3}, {-1, 2, 3}, {1, 1, 1}, {2, 2, 2}, {10, 2, 3}} {
		s := Sample(b, c.n)
		if len(s.Detections) != c.dets || len(s.Summaries) != c.sums || s.BatchID != b.BatchID || s.Health != b.Health {
			t.Errorf("Sample(%d): %d detections, %d summaries", c.n, len(s.Detections), len(s.Summaries))
		}
	}
	if len(b.Detections) != 2 || len(b.Summaries) != 3 {
		t.Error("Sample changed its argument")
	}
}

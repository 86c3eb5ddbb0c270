package queue

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestCodecRoundTrip: a batch read back from its message is the batch the
// ingest API verified, detections decoded from their raw JSON again.
func TestCodecRoundTrip(t *testing.T) {
	c, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	now := time.Date(2026, 11, 2, 10, 4, 5, 123456000, time.UTC)
	raw := (&detect.Detection{
		RuleID: "ssh.bruteforce", RuleName: "SSH brute force", Severity: 60, Techniques: []string{"T1110.001"},
		Source: netip.MustParseAddr("2001:db8::7"), Count: 40, FirstSeen: now.Add(-time.Hour), LastSeen: now, MemberID: "m.1",
	}).AppendJSON(nil)
	d, err := store.DecodeDetection(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &store.Batch{
		ID: "01JBZ6Q5X3T0000000000000AB", CollectorID: "01JBZ6Q5X3T0000000000000CD", MemberID: "m.1", Seq: 7,
		Created: now.Add(-time.Second), Received: now,
		Detections: []store.Detection{d},
		Summaries: []detect.FlowSummary{{Minute: now.Truncate(time.Minute), SourceIP: netip.MustParseAddr("198.51.100.7"),
			DestinationPort: 443, Transport: "tcp", EventType: "denied", Device: "fw1", Dataset: "fortigate", Count: 9, Destination: "h:0123"}},
		Health: &detect.Health{Time: now, Started: now.Add(-time.Hour), Version: "1.2",
			Devices: []detect.DeviceHealth{{Device: "fw1", Dataset: "fortigate", LastSeen: now}}, Buffer: 10, BufferLimit: 100},
	}
	msg, err := c.encode([]byte("x"), want)
	if err != nil {
		t.Fatal(err)
	}
	if msg[0] != 'x' || msg[1] != codecVersion {
		t.Fatalf("encode did not append a version %d message to dst: % x", codecVersion, msg[:2])
	}
	got, err := c.decode(msg[1:])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got.Received.Location() != time.UTC || got.Summaries[0].Minute.Location() != time.UTC {
		t.Error("times did not come back in UTC")
	}

	for _, bad := range [][]byte{nil, {2, 0}, {codecVersion, 1, 2, 3}, c.enc.EncodeAll([]byte(`{"detections":[{}]}`), []byte{codecVersion})} {
		if _, err := c.decode(bad); err == nil {
			t.Errorf("decode(% x) accepted a corrupt message", bad)
		}
	}
}

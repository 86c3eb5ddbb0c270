package store_test

import (
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

func TestDecodeDetectionRoundTrip(t *testing.T) {
	first := time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)
	d := detect.Detection{
		RuleID: "campaign.ssh", RuleName: "SSH brute force across sources", Severity: 70,
		Techniques: []string{"T1110", "T1110.001"}, Tags: []string{"attack.credential_access"},
		Destination: netip.MustParseAddr("192.0.2.10"), DestinationPort: 22,
		Related:         []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")},
		DistinctSources: 300, Count: 1200, FirstSeen: first, LastSeen: first.Add(time.Minute), MemberID: "acme",
		Sample: detect.Event{Timestamp: first, Category: detect.CategoryAuthentication, Type: detect.TypeDenied, Dataset: "openssh",
			UserName: "root"},
	}
	raw := d.AppendJSON(nil)
	got, err := store.DecodeDetection(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Detection{RuleID: d.RuleID, RuleName: d.RuleName, Severity: 70, Techniques: d.Techniques,
		Destination: d.Destination, DestinationPort: 22, Related: d.Related, DistinctSources: 300, Count: 1200,
		FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, MemberID: "acme", Raw: raw}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}

	d.Source, d.Related, d.Destination, d.DestinationPort, d.DistinctSources, d.MemberID = netip.MustParseAddr("198.51.100.7"), nil, netip.Addr{}, 0, 0, ""
	got, err = store.DecodeDetection(d.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != d.Source || got.Destination.IsValid() || got.MemberID != "" || got.Related != nil {
		t.Errorf("single-source detection decoded as %+v", got)
	}
}

func TestDecodeDetectionRefuses(t *testing.T) {
	const good = `{"rule":{"id":"r","name":"R"},"event":{"severity":50,"kind":"alert"},"threat":{"technique":{"id":["T1046"]}},` +
		`"source":{"ip":"203.0.113.1"},"detection":{"count":3,"first_seen":"2026-11-20T10:00:00Z","last_seen":"2026-11-20T10:01:00Z",` +
		`"sample":{"@timestamp":"2026-11-20T10:00:00Z","vendor_field":{"x":1}}},"member":{"id":"acme"}}`
	if _, err := store.DecodeDetection([]byte(good)); err != nil {
		t.Fatalf("good detection (unknown fields inside sample are allowed): %v", err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown top-level field", `"member":`, `"extra":1,"member":`, "unknown field"},
		{"unknown nested field", `"kind":"alert"`, `"kind":"alert","colour":"red"`, "unknown field"},
		{"unknown detection field", `"count":3`, `"count":3,"payload":"x"`, "unknown field"},
		{"no rule id", `"id":"r",`, ``, "rule.id"},
		{"no rule name", `,"name":"R"`, ``, "rule.name"},
		{"no severity", `"severity":50,`, ``, "event.severity"},
		{"severity zero", `"severity":50`, `"severity":0`, "event.severity"},
		{"severity over 100", `"severity":50`, `"severity":101`, "event.severity"},
		{"wrong kind", `"kind":"alert"`, `"kind":"event"`, "event.kind"},
		{"bad technique", `["T1046"]`, `["T1046,T1110"]`, "threat.technique.id"},
		{"bad source", `"203.0.113.1"`, `"203.0.113.300"`, "source.ip"},
		{"zoned source", `"203.0.113.1"`, `"fe80::1%eth0"`, "source.ip"},
		{"port zero", `"source":{"ip":"203.0.113.1"}`, `"source":{"ip":"203.0.113.1"},"destination":{"port":0}`, "destination.port"},
		{"port too big", `"source":{"ip":"203.0.113.1"}`, `"source":{"ip":"203.0.113.1"},"destination":{"port":70000}`, "destination"},
		{"bad related", `"source":{"ip":"203.0.113.1"}`, `"related":{"ip":["x"]}`, "related.ip"},
		{"no count", `"count":3,`, ``, "detection.count"},
		{"count zero", `"count":3`, `"count":0`, "detection.count"},
		{"no first seen", `"first_seen":"2026-11-20T10:00:00Z",`, ``, "first_seen"},
		{"no last seen", `"last_seen":"2026-11-20T10:01:00Z",`, ``, "last_seen"},
		{"last before first", `"last_seen":"2026-11-20T10:01:00Z"`, `"last_seen":"2026-11-20T09:01:00Z"`, "before first_seen"},
		{"bad time", `"first_seen":"2026-11-20T10:00:00Z"`, `"first_seen":"yesterday"`, "first_seen"},
		{"sample not an object", `"sample":{"@timestamp":"2026-11-20T10:00:00Z","vendor_field":{"x":1}}`, `"sample":"line"`, "sample"},
		{"no sample", `,"sample":{"@timestamp":"2026-11-20T10:00:00Z","vendor_field":{"x":1}}`, ``, "sample"},
		{"bad member", `"id":"acme"`, `"id":"ACME Corp"`, "member.id"},
		{"negative distinct sources", `"count":3`, `"count":3,"distinct_sources":-1`, "distinct_sources"},
		{"repeated key", `"count":3`, `"count":3,"Count":4`, "detection.count: repeated"},
		{"string for a number", `"severity":50`, `"severity":"50"`, "event.severity"},
		{"fraction for an integer", `"count":3`, `"count":3.0`, "detection.count"},
		{"number for a string", `"id":"acme"`, `"id":7`, "member.id"},
		{"bad escape in sample", `"x":1`, `"x":"\q"`, "invalid"},
		{"trailing data", good, good + `{}`, "after"},
		{"not an object", good, `[1]`, "detection"},
		{"too many related", `"source":{"ip":"203.0.113.1"}`, `"related":{"ip":[` + strings.Repeat(`"203.0.113.1",`, detect.MaxRelated) + `"203.0.113.2"]}`, "at most"},
	} {
		in := strings.Replace(good, tc.old, tc.new, 1)
		if in == good {
			t.Fatalf("%s: replacement did not apply", tc.name)
		}
		_, err := store.DecodeDetection([]byte(in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

func FuzzDecodeDetection(f *testing.F) {
	f.Add([]byte(`{"rule":{"id":"r","name":"R"},"event":{"severity":50},"detection":{"count":1,"first_seen":"2026-11-20T10:00:00Z","last_seen":"2026-11-20T10:00:00Z","sample":{}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := store.DecodeDetection(raw)
		if err != nil {
			return
		}
		if d.Severity < 1 || d.Severity > 100 || d.Count < 1 || d.LastSeen.Before(d.FirstSeen) || d.RuleID == "" {
			t.Fatalf("accepted a detection that breaks the contract: %+v", d)
		}
	})
}

func TestHashToken(t *testing.T) {
	// SHA-256 of "secret", so a backend and the API agree on the hash.
	const want = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"
	h := store.HashToken("secret")
	if got := hex.EncodeToString(h[:]); got != want {
		t.Fatalf("HashToken(secret) = %s, want %s", got, want)
	}
}

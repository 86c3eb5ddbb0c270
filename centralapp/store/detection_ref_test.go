package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/detect"
)

// referenceWire and decodeReference are DecodeDetection as it was with
// encoding/json, kept as the behaviour the hand-written decoder must match.
type referenceWire struct {
	Rule struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rule"`
	Event struct {
		Severity *int   `json:"severity"`
		Kind     string `json:"kind"`
	} `json:"event"`
	Threat *struct {
		Technique struct {
			ID []string `json:"id"`
		} `json:"technique"`
	} `json:"threat"`
	Tags   []string `json:"tags"`
	Source *struct {
		IP string `json:"ip"`
	} `json:"source"`
	Destination *struct {
		IP   string  `json:"ip"`
		Port *uint16 `json:"port"`
	} `json:"destination"`
	Related *struct {
		IP []string `json:"ip"`
	} `json:"related"`
	Detection struct {
		Count           *int64          `json:"count"`
		FirstSeen       *string         `json:"first_seen"`
		LastSeen        *string         `json:"last_seen"`
		DistinctSources *int            `json:"distinct_sources"`
		Sample          json.RawMessage `json:"sample"`
	} `json:"detection"`
	Member *struct {
		ID string `json:"id"`
	} `json:"member"`
}

func decodeReference(raw []byte) (Detection, error) {
	var w referenceWire
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Detection{}, fmt.Errorf("detection: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Detection{}, errors.New("detection: data after the JSON object")
	}
	d := Detection{Raw: raw, RuleID: w.Rule.ID, RuleName: w.Rule.Name}
	if d.RuleID == "" {
		return Detection{}, errors.New("detection: rule.id: missing")
	}
	if d.RuleName == "" {
		return Detection{}, errors.New("detection: rule.name: missing")
	}
	if w.Event.Severity == nil {
		return Detection{}, errors.New("detection: event.severity: missing")
	}
	if s := *w.Event.Severity; s < 1 || s > 100 {
		return Detection{}, fmt.Errorf("detection: event.severity: %d is not in 1-100", s)
	}
	d.Severity = *w.Event.Severity
	if w.Event.Kind != "" && w.Event.Kind != "alert" {
		return Detection{}, fmt.Errorf("detection: event.kind: %q, want \"alert\"", w.Event.Kind)
	}
	if w.Threat != nil {
		for _, t := range w.Threat.Technique.ID {
			if !techniqueRE.MatchString(t) {
				return Detection{}, fmt.Errorf("detection: threat.technique.id: %q is not a technique id", t)
			}
		}
		d.Techniques = w.Threat.Technique.ID
	}
	var err error
	if w.Source != nil {
		if d.Source, err = parseAddr("source.ip", w.Source.IP); err != nil {
			return Detection{}, err
		}
	}
	if w.Destination != nil {
		if w.Destination.IP != "" {
			if d.Destination, err = parseAddr("destination.ip", w.Destination.IP); err != nil {
				return Detection{}, err
			}
		}
		if w.Destination.Port != nil {
			if *w.Destination.Port == 0 {
				return Detection{}, errors.New("detection: destination.port: zero")
			}
			d.DestinationPort = *w.Destination.Port
		}
	}
	if w.Related != nil {
		if len(w.Related.IP) > detect.MaxRelated {
			return Detection{}, fmt.Errorf("detection: related.ip: %d addresses, at most %d", len(w.Related.IP), detect.MaxRelated)
		}
		d.Related = make([]netip.Addr, len(w.Related.IP))
		for i, s := range w.Related.IP {
			if d.Related[i], err = parseAddr("related.ip", s); err != nil {
				return Detection{}, err
			}
		}
	}
	dw := &w.Detection
	switch {
	case dw.Count == nil:
		return Detection{}, errors.New("detection: detection.count: missing")
	case *dw.Count < 1:
		return Detection{}, fmt.Errorf("detection: detection.count: %d is below 1", *dw.Count)
	case dw.FirstSeen == nil:
		return Detection{}, errors.New("detection: detection.first_seen: missing")
	case dw.LastSeen == nil:
		return Detection{}, errors.New("detection: detection.last_seen: missing")
	case len(dw.Sample) == 0 || dw.Sample[0] != '{':
		return Detection{}, errors.New("detection: detection.sample: missing or not an object")
	}
	d.Count = *dw.Count
	if d.FirstSeen, err = parseTime("detection.first_seen", *dw.FirstSeen); err != nil {
		return Detection{}, err
	}
	if d.LastSeen, err = parseTime("detection.last_seen", *dw.LastSeen); err != nil {
		return Detection{}, err
	}
	if d.LastSeen.Before(d.FirstSeen) {
		return Detection{}, errors.New("detection: detection.last_seen: before first_seen")
	}
	if dw.DistinctSources != nil {
		if *dw.DistinctSources < 0 {
			return Detection{}, errors.New("detection: detection.distinct_sources: negative")
		}
		d.DistinctSources = *dw.DistinctSources
	}
	if w.Member != nil {
		if !memberRE.MatchString(w.Member.ID) {
			return Detection{}, fmt.Errorf("detection: member.id: %q is not a member id", w.Member.ID)
		}
		d.MemberID = w.Member.ID
	}
	return d, nil
}

// repeatedKey reports whether an object in raw, a JSON value, holds two
// keys that encoding/json takes for the same field. The sample is skipped:
// it is kept raw, so its keys are not fields.
func repeatedKey(t testing.TB, raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("walking valid JSON: %v", err)
		}
		switch tok {
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
		case json.Delim('{'):
			var keys []string
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					t.Fatalf("walking valid JSON: %v", err)
				}
				key := tok.(string)
				for _, k := range keys {
					if strings.EqualFold(k, key) {
						return true
					}
				}
				keys = append(keys, key)
				if strings.EqualFold(key, "sample") {
					var skip json.RawMessage
					if err := dec.Decode(&skip); err != nil {
						t.Fatalf("walking valid JSON: %v", err)
					}
					continue
				}
				if walk() {
					return true
				}
			}
		default:
			return false
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			t.Fatalf("walking valid JSON: %v", err)
		}
		return false
	}
	return walk()
}

// checkAgainstReference fails t unless DecodeDetection and the reference
// agree on raw: both refuse it, or both accept it with equal results. Where
// the reference merges a repeated key, DecodeDetection must refuse.
func checkAgainstReference(t *testing.T, raw []byte) {
	t.Helper()
	want, werr := decodeReference(raw)
	got, gerr := DecodeDetection(raw)
	if werr == nil && repeatedKey(t, raw) {
		if gerr == nil {
			t.Fatalf("%q: accepted a repeated key", raw)
		}
		return
	}
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q:\nreference error: %v\ndecoder error:   %v", raw, werr, gerr)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Fatalf("%q: decoded (-reference +decoder):\n%s", raw, diff)
	}
}

// referenceSeeds are detections as collectors write them plus the edges
// of the grammar: escapes, surrogates, folded keys, nulls, numbers.
func referenceSeeds() [][]byte {
	first := time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)
	sample := detect.Event{Timestamp: first, Category: detect.CategoryAuthentication, Type: detect.TypeDenied,
		Dataset: "openssh", UserName: "root\u00e9\"\\\x01"}
	ds := []detect.Detection{
		{RuleID: "campaign.ssh", RuleName: "SSH brute force across sources", Severity: 70,
			Techniques: []string{"T1110", "T1110.001"}, Tags: []string{"attack.credential_access"},
			Destination: netip.MustParseAddr("192.0.2.10"), DestinationPort: 22,
			Related:         []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")},
			DistinctSources: 300, Count: 1200, FirstSeen: first, LastSeen: first.Add(time.Minute), MemberID: "acme", Sample: sample},
		{RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50, Techniques: []string{"T1046"},
			Source: netip.MustParseAddr("198.51.100.7"), Count: 20, FirstSeen: first, LastSeen: first.Add(59 * time.Second), Sample: sample},
		{RuleID: "spam.run", RuleName: "Spam run", Severity: 30, Techniques: []string{"spam"},
			Source: netip.MustParseAddr("2001:db8:bad::31"), Count: 1, FirstSeen: first, LastSeen: first, MemberID: "beta-2", Sample: sample},
	}
	var seeds [][]byte
	for _, d := range ds {
		seeds = append(seeds, d.AppendJSON(nil))
	}
	const base = `{"rule":{"id":"r","name":"R"},"event":{"severity":50},"detection":{"count":1,"first_seen":"2026-11-20T10:00:00Z","last_seen":"2026-11-20T10:00:00Z","sample":{}}}`
	for _, r := range [][2]string{
		{`"name":"R"`, `"name":"\u00e9\ud83d\ude00\ud800\udc00\ud800x\udc00\ud800\u0041\/\b\f\n\r\t\"\\"`},
		{`"name":"R"`, "\"name\":\"R\xff\xfe\xc3\""},
		{`"rule"`, `"RULE"`},
		{`"rule"`, `"\u0072ule"`},
		{`"name":"R"}`, `"name":"R"},"rule":{"id":"r2"}`},
		{`"severity":50`, "\"severity\":50,\"\u212Aind\":\"alert\""},
		{`{"id":"r"`, `{"id":"r","id":"r"`},
		{`"count":1`, `"count":1,"COUNT":2`},
		{`"severity"`, "\"\u017Feverity\""},
		{`"severity":50`, `"severity":5e1`},
		{`"severity":50`, `"severity":50.0`},
		{`"severity":50`, `"severity":-0`},
		{`"severity":50`, `"severity":null`},
		{`"count":1`, `"count":9223372036854775807`},
		{`"count":1`, `"count":9223372036854775808`},
		{`"count":1`, `"count":-9223372036854775808`},
		{`"count":1`, `"count":01`},
		{`"sample":{}`, `"sample":null`},
		{`"sample":{}`, `"sample":{"a":[1,2.5e-3,true,false,null,"\u00e9"],"a":{}}`},
		{`"sample":{}`, `"sample":[]`},
		{`"event":{`, `"threat":{"technique":{"id":[]}},"event":{`},
		{`"event":{`, `"threat":{"technique":null},"related":{},"destination":{"port":65535},"tags":null,"event":{`},
		{`"event":{`, `"threat":{"technique":{"id":["T1",null]}},"event":{`},
		{`"event":{`, `"destination":{"port":-0},"event":{`},
		{`"event":{`, `"member":null,"source":null,"event":{`},
		{`"event":{`, `"tags":["a",1],"event":{`},
		{`"event":{`, `"detection":null,"event":{`},
		{base, " \t\r\n" + base + " \n"},
		{base, base + "x"},
		{base, base + "{}"},
		{base, "null"},
		{base, ""},
	} {
		seeds = append(seeds, []byte(strings.Replace(base, r[0], r[1], 1)))
	}
	deep := strings.Repeat("[", maxDepth-3) + strings.Repeat("]", maxDepth-3)
	seeds = append(seeds,
		[]byte(strings.Replace(base, `"sample":{}`, `"sample":{"x":`+deep+`}`, 1)),
		[]byte(strings.Replace(base, `"sample":{}`, `"sample":{"x":[`+deep+`]}`, 1)))
	return seeds
}

func TestDecodeDetectionMatchesReference(t *testing.T) {
	for _, raw := range referenceSeeds() {
		checkAgainstReference(t, raw)
	}
}

func FuzzDecodeDetectionReference(f *testing.F) {
	for _, raw := range referenceSeeds() {
		f.Add(raw)
	}
	f.Fuzz(checkAgainstReference)
}

func BenchmarkDecodeDetection(b *testing.B) {
	first := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	d := detect.Detection{RuleID: "scan.tcp.vertical", RuleName: "TCP port scan of one host", Severity: 50,
		Techniques: []string{"T1046"}, Tags: []string{"attack.discovery"}, Source: netip.MustParseAddr("198.51.100.7"),
		Count: 20, FirstSeen: first, LastSeen: first.Add(59 * time.Second), MemberID: "acme",
		Sample: detect.Event{Timestamp: first, Category: detect.CategoryNetwork, Type: detect.TypeDenied, Dataset: "iptables"}}
	raw := d.AppendJSON(nil)
	for _, bc := range []struct {
		name   string
		decode func([]byte) (Detection, error)
	}{{"reference", decodeReference}, {"scanner", DecodeDetection}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

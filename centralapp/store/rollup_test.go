package store

import (
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestCompareJoined(t *testing.T) {
	lists := [][]string{nil, {"T1"}, {"T1", "T2"}, {"T10"}, {"T1,"}, {"T1 "}, {"T1!"}, {"T1046"}, {"T1046", "T1"},
		{"a", "b"}, {"a,b"}, {"ab"}, {"a"}}
	for _, a := range lists {
		for _, b := range lists {
			want := strings.Compare(strings.Join(a, ","), strings.Join(b, ","))
			if got := compareJoined(a, b); got != want {
				t.Errorf("compareJoined(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestSampleOf(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want Sample
	}{
		{`{"detection":{"sample":{"event":{"type":"denied","category":"network"},"network":{"direction":"outbound"},
			"destination":{"ip":"198.51.100.9"},"rule":{"name":"ET X"}}}}`,
			Sample{EventType: "denied", EventCategory: "network", Direction: "outbound", DestinationIP: "198.51.100.9", RuleName: "ET X"}},
		// As encoding/json: keys in any case, the last of repeated keys.
		{`{"Detection":{"SAMPLE":{"Event":{"Type":"allowed","type":"denied"}}}}`, Sample{EventType: "denied"}},
		// A field that is not a string is empty; the others still read.
		{`{"detection":{"sample":{"event":{"type":5,"category":"web"}}}}`, Sample{EventCategory: "web"}},
		{`{"detection":{"sample":7}}`, Sample{}},
		{`not json`, Sample{}},
	} {
		if got := SampleOf([]byte(c.raw)); got != c.want {
			t.Errorf("SampleOf(%s) = %+v, want %+v", c.raw, got, c.want)
		}
	}
}

func TestUnionAddrs(t *testing.T) {
	a := []string{"10.0.0.1", "203.0.113.5", "2001:db8::1"}
	b := []string{"10.0.0.1", "192.0.2.1", "::1"}
	parse := func(ss []string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		slices.SortFunc(out, netip.Addr.Compare)
		return out
	}
	got := UnionAddrs(parse(a), parse(b))
	want := parse([]string{"10.0.0.1", "192.0.2.1", "203.0.113.5", "::1", "2001:db8::1"})
	if !slices.Equal(got, want) {
		t.Errorf("UnionAddrs = %v, want %v", got, want)
	}
}

// BenchmarkSampleOf is what rollups cost ingest (PostgreSQL) and the
// catch-up (SQLite) a detection, beyond grouping.
func BenchmarkSampleOf(b *testing.B) {
	raw := []byte(`{"rule":{"id":"ids.exploit","name":"Rule ids.exploit"},"event":{"severity":60,"kind":"alert"},` +
		`"threat":{"technique":{"id":["T1190"]}},"tags":["attack.initial_access"],"source":{"ip":"45.155.205.9"},` +
		`"destination":{"port":443},"detection":{"count":3,"first_seen":"2026-11-20T10:04:00Z",` +
		`"last_seen":"2026-11-20T10:05:00Z","sample":{"@timestamp":"2026-11-20T10:05:00Z","event":{"category":` +
		`"intrusion_detection","type":"denied","action":"drop","dataset":"suricata"},"observer":{"vendor":"OISF",` +
		`"product":"Suricata","hostname":"ids01"},"source":{"ip":"45.155.205.9","port":51234},"destination":` +
		`{"ip":"192.0.2.10","port":443},"network":{"transport":"tcp","direction":"inbound"},"rule":{"name":` +
		`"ET EXPLOIT Apache Path Traversal CVE-2021-41773","id":"2034125","category":"Attempted Administrator"}}},` +
		`"member":{"id":"harbour-logistics"}}`)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if SampleOf(raw).EventType != "denied" {
			b.Fatal("no event type")
		}
	}
}

// sampleByJSON is SampleOf by encoding/json, which SampleOf must equal.
func sampleByJSON(raw []byte) Sample {
	var w struct {
		Detection struct {
			Sample struct {
				Event struct {
					Type     string `json:"type"`
					Category string `json:"category"`
				} `json:"event"`
				Destination struct {
					IP string `json:"ip"`
				} `json:"destination"`
				Network struct {
					Direction string `json:"direction"`
				} `json:"network"`
				Rule struct {
					Name string `json:"name"`
				} `json:"rule"`
			} `json:"sample"`
		} `json:"detection"`
	}
	_ = json.Unmarshal(raw, &w)
	s := &w.Detection.Sample
	return Sample{EventType: s.Event.Type, EventCategory: s.Event.Category, Direction: s.Network.Direction,
		DestinationIP: s.Destination.IP, RuleName: s.Rule.Name}
}

// TestSampleOfAsJSON compares SampleOf with encoding/json on samples odd
// in every way a collector could send, and on random mutations of them.
func TestSampleOfAsJSON(t *testing.T) {
	cases := []string{
		`{"detection":{"sample":{"event":{"type":"denied","category":"network"},"network":{"direction":"outbound"},"destination":{"ip":"198.51.100.9"},"rule":{"name":"ET X"}}}}`,
		`{"Detection":{"SAMPLE":{"Event":{"Type":"allowed","type":"denied"}}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"event":{"category":"b"}}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"event":null}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"event":{"type":null}}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"event":{"type":7}}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"event":"b"}}}`,
		`{"detection":{"sample":{"event":{"type":["x"],"category":{"a":1}}}}}`,
		`{"detection":{"sample":{"rule":{"name":"caf\u00e9 \ud83d\ude00 \ud800 x\n"}}}}`,
		"{\"detection\":{\"sample\":{\"rule\":{\"name\":\"bad \xff utf8\"}}}}",
		`{"detection":{"sample":{"rule":{"\u006eame":"escaped key","NAME":"later"}}}}`,
		"{\"detection\":{\"sample\":{\"rule\":{\"\u212aey\":1,\"nam\u0045\":\"k\"}}}}",
		"{\"detection\":{\"sample\":{\"event\":{\"typ\xc5\xbf\":1}}}}",
		`{"detection":{"sample":{"event":{"type":"a"}}}} trailing`,
		`{"detection":{"sample":{"event":{"type":"a"}}}}` + "\x00",
		`{"detection":{"sample":{"event":{"type":"a"}}}}  ` + "\n",
		`{"detection":{"sample":{"event":{"type":"a",}}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"x":[1,2,{"y":-0.5e+3}],"z":true,"w":false}}}`,
		`{"detection":{"sample":{"event":{"type":"a"},"x":01}}}`,
		`{"detection":{"sample":[{"event":{"type":"a"}}]}}`,
		`{"detection":{"sample":7}}`,
		`{"detection":null}`,
		`[1]`, `"x"`, ``, `{`, `nul`,
		`{"detection":{"sample":{"x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `,"event":{"type":"deep"}}}}`,
		`{"detection":{"sample":{"x":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `,"event":{"type":"deep"}}}}`,
	}
	for _, c := range cases {
		if got, want := SampleOf([]byte(c)), sampleByJSON([]byte(c)); got != want {
			t.Errorf("SampleOf(%.80q) = %+v, encoding/json %+v", c, got, want)
		}
	}
	// Mutations: bytes dropped, doubled or replaced by JSON's own.
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`{}[]":,\ nulltrue0-.eEaZ` + "\x00\xff\xc5")
	for range 20000 {
		b := []byte(cases[rnd.IntN(12)])
		for range 1 + rnd.IntN(3) {
			i := rnd.IntN(len(b))
			switch rnd.IntN(3) {
			case 0:
				b = append(b[:i], b[i+1:]...)
			case 1:
				b = slices.Insert(b, i, b[i])
			default:
				b[i] = alphabet[rnd.IntN(len(alphabet))]
			}
		}
		if got, want := SampleOf(b), sampleByJSON(b); got != want {
			t.Fatalf("SampleOf(%q) = %+v, encoding/json %+v", b, got, want)
		}
	}
}

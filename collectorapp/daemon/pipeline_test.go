package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/cyberalarm/cyberalarm/collectorapp/buffer"
	"github.com/cyberalarm/cyberalarm/collectorapp/egress"
	"github.com/cyberalarm/cyberalarm/collectorapp/input"
	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

// scenarioLists loads a scenario's trusted.txt and indicators.txt, as the
// rules package's scenario test does.
func scenarioLists(t *testing.T, dir string) *detect.Lists {
	t.Helper()
	lists := detect.NewLists(nil)
	if l, err := detect.LoadList("trusted", filepath.Join(dir, "trusted.txt")); err == nil {
		lists.Trusted = l
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if l, err := detect.LoadList("indicators", filepath.Join(dir, "indicators.txt")); err == nil {
		lists.Indicators = append(lists.Indicators, l)
		lists.Named["indicators"] = l
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return lists
}

// feed sends lines to the pipeline in input batches of n, as an input would.
func feed(t *testing.T, p *pipeline, name string, lines [][]byte, n int) {
	t.Helper()
	for len(lines) > 0 {
		k := min(n, len(lines))
		b := &input.Batch{Input: name, Format: "auto", Loc: time.UTC}
		for _, l := range lines[:k] {
			b.Lines = append(b.Lines, input.Line{Data: l, Source: netip.MustParseAddrPort("192.0.2.99:514"), Received: time.Now()})
		}
		if err := p.sink(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		lines = lines[k:]
	}
}

// drain seals everything in buf and returns the batches in order.
func drain(t *testing.T, buf *buffer.Buffer) []detect.Batch {
	t.Helper()
	ctx := context.Background()
	for {
		sealed, err := buf.Seal(ctx, buffer.SealMeta{CollectorID: "c1", MemberID: "m1"})
		if err != nil {
			t.Fatal(err)
		}
		if !sealed {
			break
		}
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var out []detect.Batch
	for {
		id, body, ok, err := buf.Oldest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		raw, err := dec.DecodeAll(body, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b detect.Batch
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
		if err := buf.Delivered(id); err != nil {
			t.Fatal(err)
		}
	}
}

func openBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	buf, err := buffer.Open(buffer.Options{Path: filepath.Join(t.TempDir(), "buffer.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	return buf
}

// detectionSummary is the part of a detection the scenario goldens pin.
type detectionSummary struct {
	Rule        string `json:"rule"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	Port        uint16 `json:"port,omitempty"`
	Count       int64  `json:"count"`
	Distinct    int    `json:"distinct_sources,omitempty"`
	FirstSeen   string `json:"first_seen"`
	LastSeen    string `json:"last_seen"`
}

// wireDetection is the §3.2 detection as it arrives at central.
type wireDetection struct {
	Rule   struct{ ID string } `json:"rule"`
	Source struct {
		IP string `json:"ip"`
	} `json:"source"`
	Destination struct {
		IP   string `json:"ip"`
		Port uint16 `json:"port"`
	} `json:"destination"`
	Detection struct {
		Count           int64  `json:"count"`
		FirstSeen       string `json:"first_seen"`
		LastSeen        string `json:"last_seen"`
		DistinctSources int    `json:"distinct_sources"`
	} `json:"detection"`
	Member struct{ ID string } `json:"member"`
}

// TestScenariosThroughPipeline replays every scenario through the daemon's
// pipeline into a real buffer: what comes out of the sealed batches must
// be exactly the detections the rules' own scenario goldens list.
func TestScenariosThroughPipeline(t *testing.T) {
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob("../../corpus/scenarios/*/input.log")
	if len(dirs) < 10 {
		t.Fatalf("found %d scenarios", len(dirs))
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			set, err := rules.Compile(rs)
			if err != nil {
				t.Fatal(err)
			}
			buf := openBuffer(t)
			p, err := newPipeline(pipelineConfig{
				Registry: parsers.Builtin(), Lists: scenarioLists(t, dir), Rules: set, Member: "m1",
				Policy: &egress.Policy{SendUserNames: true, SendURLPaths: true, SendUserAgents: true},
				Buffer: buf, Ref: rules.TestRef, CommitRecords: 7, Workers: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.start(); err != nil {
				t.Fatal(err)
			}
			// One input: one worker, file order, as the rules' test.
			feed(t, p, "fw", parsertest.Lines(t, in), 100)
			p.close()

			var got []detectionSummary
			for _, b := range drain(t, buf) {
				for _, raw := range b.Detections {
					var d wireDetection
					if err := json.Unmarshal(raw, &d); err != nil {
						t.Fatal(err)
					}
					if d.Member.ID != "m1" {
						t.Errorf("member.id = %q", d.Member.ID)
					}
					got = append(got, detectionSummary{
						Rule: d.Rule.ID, Source: d.Source.IP, Destination: d.Destination.IP, Port: d.Destination.Port,
						Count: d.Detection.Count, Distinct: d.Detection.DistinctSources,
						FirstSeen: d.Detection.FirstSeen, LastSeen: d.Detection.LastSeen,
					})
				}
			}
			var want []detectionSummary
			data, err := os.ReadFile(filepath.Join(dir, "detections.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if line == "" {
					continue
				}
				var d detectionSummary
				if err := json.Unmarshal([]byte(line), &d); err != nil {
					t.Fatal(err)
				}
				want = append(want, d)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("detections (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSummariesExact: with no rules, every suspicious external event of
// every scenario is counted once in the flow summaries, however the
// commits split them.
func TestSummariesExact(t *testing.T) {
	set, err := rules.Compile(nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob("../../corpus/scenarios/*/input.log")
	buf := openBuffer(t)
	lists := detect.NewLists(nil)
	p, err := newPipeline(pipelineConfig{
		Registry: parsers.Builtin(), Lists: lists, Rules: set, Policy: &egress.Policy{},
		Buffer: buf, Ref: rules.TestRef, CommitEvery: time.Millisecond, Workers: 2, Summaries: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.start(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{} // source ip -> suspicious events
	for _, in := range dirs {
		lines := parsertest.Lines(t, in)
		feed(t, p, filepath.Base(filepath.Dir(in)), lines, 50)
		st, _ := parsers.NewStream(parsers.Builtin(), "auto")
		st.Ref = rules.TestRef
		var ev detect.Event
		var cs detect.ClassifyStats
		for _, l := range lines {
			if st.Parse(l, &ev) == nil && lists.Classify(&ev, &cs) == detect.Keep && egress.Suspicious(&ev) {
				want[ev.Source.IP.String()]++
			}
		}
	}
	p.close()
	got := map[string]int64{}
	for _, b := range drain(t, buf) {
		for _, s := range b.Summaries {
			got[s.SourceIP.String()] += s.Count
		}
	}
	if len(want) < 20 {
		t.Fatalf("only %d suspicious sources in the scenarios", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary counts per source (-want +got):\n%s", diff)
	}
	if n := p.counts.summaries.Load(); n == 0 {
		t.Error("no summaries counted")
	}
}

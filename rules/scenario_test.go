package rules_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

// expectation is a scenario's expect.yaml: detections that must appear,
// and whether any other may.
type expectation struct {
	Detections []struct {
		Rule        string `yaml:"rule"`
		Source      string `yaml:"source"`
		Destination string `yaml:"destination"`
	} `yaml:"detections"`
	NoneOther bool `yaml:"none_other"`
}

// summary is the part of a detection a scenario golden pins down.
type summary struct {
	Rule        string `json:"rule"`
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
	Port        uint16 `json:"port,omitempty"`
	Count       int64  `json:"count"`
	Distinct    int    `json:"distinct_sources,omitempty"`
	FirstSeen   string `json:"first_seen"`
	LastSeen    string `json:"last_seen"`
}

func addr(a interface {
	IsValid() bool
	String() string
}) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// runScenario runs the edge pipeline with the built-in pack over a
// scenario's input.log, with its indicators.txt and trusted.txt if present.
func runScenario(t *testing.T, dir string, set *rules.Set) []summary {
	lists := detect.NewLists(nil)
	if _, err := os.Stat(filepath.Join(dir, "trusted.txt")); err == nil {
		l, err := detect.LoadList("trusted", filepath.Join(dir, "trusted.txt"))
		if err != nil {
			t.Fatal(err)
		}
		lists.Trusted = l
	}
	if _, err := os.Stat(filepath.Join(dir, "indicators.txt")); err == nil {
		l, err := detect.LoadList("indicators", filepath.Join(dir, "indicators.txt"))
		if err != nil {
			t.Fatal(err)
		}
		lists.Indicators = append(lists.Indicators, l)
		lists.Named["indicators"] = l
	}
	set.SetLists(lists)
	s, _ := parsers.NewStream(parsers.Builtin(), "auto")
	s.Ref = rules.TestRef
	p := detect.Pipeline{Parser: s, Lists: lists, Matcher: set.NewMatcher()}
	var out []summary
	for _, line := range parsertest.Lines(t, filepath.Join(dir, "input.log")) {
		_ = p.Process(line, func(d *detect.Detection) {
			out = append(out, summary{
				Rule: d.RuleID, Source: addr(d.Source), Destination: addr(d.Destination), Port: d.DestinationPort,
				Count: d.Count, Distinct: d.DistinctSources,
				FirstSeen: string(detect.AppendTimestamp(nil, d.FirstSeen)), LastSeen: string(detect.AppendTimestamp(nil, d.LastSeen)),
			})
		})
	}
	if p.Stats.Failed > 0 {
		t.Errorf("%d lines of %s failed to parse", p.Stats.Failed, dir)
	}
	return out
}

// TestScenarios replays every attack trace under corpus/scenarios through
// the built-in pack: every expected detection must appear, none other where
// the scenario says so, and the whole output must match its golden.
func TestScenarios(t *testing.T) {
	dirs, _ := filepath.Glob("../corpus/scenarios/*/input.log")
	if len(dirs) == 0 {
		t.Skip("no scenarios yet")
	}
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			set, err := rules.Compile(rs)
			if err != nil {
				t.Fatal(err)
			}
			got := runScenario(t, dir, set)
			var exp expectation
			if data, err := os.ReadFile(filepath.Join(dir, "expect.yaml")); err == nil {
				if err := yaml.UnmarshalWithOptions(data, &exp, yaml.DisallowUnknownField()); err != nil {
					t.Fatalf("expect.yaml: %v", err)
				}
			} else {
				t.Fatalf("no expect.yaml: %v", err)
			}
			matched := make([]bool, len(got))
			for _, want := range exp.Detections {
				found := false
				for i, d := range got {
					if d.Rule == want.Rule && (want.Source == "" || d.Source == want.Source) &&
						(want.Destination == "" || d.Destination == want.Destination) {
						found, matched[i] = true, true
					}
				}
				if !found {
					t.Errorf("missing detection: %s source=%q destination=%q", want.Rule, want.Source, want.Destination)
				}
			}
			if exp.NoneOther {
				for i, d := range got {
					if !matched[i] {
						t.Errorf("unexpected detection: %+v", d)
					}
				}
			}
			var b bytes.Buffer
			for _, d := range got {
				line, _ := json.Marshal(d)
				b.Write(line)
				b.WriteByte('\n')
			}
			golden := filepath.Join(dir, "detections.jsonl")
			if parsertest.Update() {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(b.String(), "\n")); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// TestScenarioCoverage: every rule of the pack fires in some scenario.
func TestScenarioCoverage(t *testing.T) {
	dirs, _ := filepath.Glob("../corpus/scenarios/*/detections.jsonl")
	if len(dirs) == 0 {
		t.Skip("no scenario goldens yet")
	}
	fired := map[string]bool{}
	for _, p := range dirs {
		data, _ := os.ReadFile(p)
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var s summary
			if json.Unmarshal(line, &s) == nil {
				fired[s.Rule] = true
			}
		}
	}
	rs, _ := rules.Builtin()
	var silent []string
	for _, r := range rs {
		if !fired[r.ID] {
			silent = append(silent, r.ID)
		}
	}
	sort.Strings(silent)
	if len(silent) > 0 {
		t.Logf("rules no scenario exercises: %s", strings.Join(silent, ", "))
	}
}

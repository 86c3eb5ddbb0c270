package aggregate

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

// replay runs the edge pipeline with the built-in pack over a corpus
// scenario as member would, and returns the observations its detections
// make.
func replay(t *testing.T, dir, member string) []Observation {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	lists := detect.NewLists(nil)
	for _, name := range []string{"trusted", "indicators"} {
		path := filepath.Join(dir, name+".txt")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		l, err := detect.LoadList(name, path)
		if err != nil {
			t.Fatal(err)
		}
		if name == "trusted" {
			lists.Trusted = l
		} else {
			lists.Indicators = append(lists.Indicators, l)
			lists.Named[name] = l
		}
	}
	set.SetLists(lists)
	s, _ := parsers.NewStream(parsers.Builtin(), "auto")
	s.Ref = rules.TestRef
	p := detect.Pipeline{Parser: s, Lists: lists, Matcher: set.NewMatcher(rules.WithMember(member))}
	var obs []Observation
	for _, line := range parsertest.Lines(t, filepath.Join(dir, "input.log")) {
		_ = p.Process(line, func(d *detect.Detection) { obs = AppendDetection(obs, d) })
	}
	return obs
}

// TestCorpusScenarios replays every corpus scenario as if each came from
// a different member. The scenarios use distinct attackers, so no campaign
// forms; assigning the horizontal scan to three more members makes one.
func TestCorpusScenarios(t *testing.T) {
	dirs, _ := filepath.Glob("../../corpus/scenarios/*/input.log")
	if len(dirs) < 10 {
		t.Fatalf("%d corpus scenarios found", len(dirs))
	}
	a := mustNew(t, Config{})
	n := 0
	for _, in := range dirs {
		dir := filepath.Dir(in)
		obs := replay(t, dir, filepath.Base(dir))
		n += len(obs)
		mustAdd(t, a, obs...)
		if cs := a.Changes(); len(cs) != 0 {
			t.Errorf("%s: campaigns from one member: %+v", dir, cs)
		}
	}
	if n < 30 {
		t.Fatalf("only %d observations from the corpus", n)
	}
	if cs := a.Campaigns(time.Time{}); len(cs) != 0 {
		t.Errorf("campaigns without a shared attacker: %+v", cs)
	}
	// Every member's report ranks its sources.
	if top := a.TopSources("ssh_bruteforce", 0); len(top) == 0 || top[0].Source.String() != "203.0.113.10" || top[0].Score != 1 {
		t.Errorf("ssh_bruteforce top sources: %+v", top)
	}

	// The same scanning source seen at three more members within the hour.
	scan := "../../corpus/scenarios/horizontal_scan"
	for i, m := range []string{"alpha", "bravo", "charlie"} {
		obs := replay(t, scan, m)
		for j := range obs { // the scan reaches each member ten minutes later
			obs[j].First = obs[j].First.Add(time.Duration(i) * 10 * time.Minute)
			obs[j].Last = obs[j].Last.Add(time.Duration(i) * 10 * time.Minute)
		}
		mustAdd(t, a, obs...)
	}
	cs := a.Changes()
	got := a.Campaigns(time.Time{})
	if diff := cmp.Diff(got, cs, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("changes differ from the state (-state +changes):\n%s", diff)
	}
	want := []string{
		`{"source":{"ip":"203.0.113.30"},"threat":{"technique":{"id":["T1046"]}},"members":["alpha","bravo","charlie","horizontal_scan"],"detection":{"count":40,"first_seen":"2026-11-27T06:10:00Z","last_seen":"2026-11-27T06:30:37Z"}}`,
		`{"source":{"ip":"2001:db8:bad::31"},"threat":{"technique":{"id":["T1046"]}},"members":["alpha","bravo","charlie","horizontal_scan"],"detection":{"count":40,"first_seen":"2026-11-27T06:20:00Z","last_seen":"2026-11-27T06:42:49Z"}}`,
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, string(c.AppendJSON(nil)))
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("cross-member detections (-want +got):\n%s", diff)
	}
	// The scanner is no longer targeted at anyone, and is published.
	if s, ok := a.Targetedness("alpha", got[0].Source); !ok || s >= 0.5 {
		t.Errorf("scanner targetedness %v", s)
	}
	if l, err := detect.ParseList("central", "indicators", bytesReader(a.Indicators(got[0].LastSeen))); err != nil || !l.ContainsAddr(got[0].Source) || l.Len() != 2 {
		t.Errorf("indicators: %v", err)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

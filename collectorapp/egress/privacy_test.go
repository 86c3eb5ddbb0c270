package egress

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

// corpusDir is the corpus, from this package's folder.
const corpusDir = "../../corpus"

// policies are the three ways the corpus tests render each detection.
type policies struct {
	strict *Policy // the default, with pseudonyms
	open   *Policy // every opt-in, no pseudonyms
}

// corpusRun is what would leave for one corpus input.
type corpusRun struct {
	in     string
	lists  *detect.Lists
	strict *detect.Batch     // detections under the strict policy, and summaries
	open   []json.RawMessage // detections under the open policy
	raw    []json.RawMessage // detections as detect writes them
	kept   int               // events classification kept
}

// runCorpus sends every corpus input through the edge pipeline (parse,
// classify, the built-in pack) and the egress stage, as the collector does.
func runCorpus(t *testing.T, pol policies) []corpusRun {
	t.Helper()
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	var runs []corpusRun
	for _, in := range corpusInputs(t) {
		lists := scenarioLists(t, filepath.Dir(in))
		set.SetLists(lists)
		strict, open := *pol.strict, *pol.open
		strict.Internal, open.Internal = lists.Internal, lists.Internal
		runs = append(runs, runEdge(t, in, lists, set, &strict, &open))
	}
	return runs
}

// scenarioLists returns the default lists, with a scenario's trusted.txt
// and indicators.txt when dir has them.
func scenarioLists(t *testing.T, dir string) *detect.Lists {
	t.Helper()
	lists := detect.NewLists(nil)
	if p := filepath.Join(dir, "trusted.txt"); exists(p) {
		l, err := detect.LoadList("trusted", p)
		if err != nil {
			t.Fatal(err)
		}
		lists.Trusted = l
	}
	if p := filepath.Join(dir, "indicators.txt"); exists(p) {
		l, err := detect.LoadList("indicators", p)
		if err != nil {
			t.Fatal(err)
		}
		lists.Indicators = append(lists.Indicators, l)
		lists.Named["indicators"] = l
	}
	return lists
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// runEdge sends the lines of one file through the pipeline.
func runEdge(t *testing.T, in string, lists *detect.Lists, set *rules.Set, strict, open *Policy) corpusRun {
	t.Helper()
	s, err := parsers.NewStream(parsers.Builtin(), "auto")
	if err != nil {
		t.Fatal(err)
	}
	s.Ref = parsertest.RefTime
	s.Internal = lists.Internal
	m := set.NewMatcher(rules.WithMember("m-test"))
	sum, err := NewSummarizer(SummarizerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r := corpusRun{in: in, lists: lists, strict: &detect.Batch{
		BatchID:     "01JDZ0000000000000000000AA",
		CollectorID: "c-test",
		MemberID:    "m-test",
		Seq:         1,
		Created:     parsertest.RefTime,
	}}
	emit := func(d *detect.Detection) {
		r.strict.Detections = append(r.strict.Detections, strict.AppendDetection(nil, d))
		r.open = append(r.open, open.AppendDetection(nil, d))
		r.raw = append(r.raw, d.AppendJSON(nil))
	}
	var ev detect.Event
	var cs detect.ClassifyStats
	input := filepath.Base(filepath.Dir(in))
	for _, line := range parsertest.Lines(t, in) {
		if s.Parse(line, &ev) != nil || lists.Classify(&ev, &cs) != detect.Keep {
			continue
		}
		r.kept++
		before := m.Stats().Matched
		_ = m.Match(&ev, emit)
		sum.Add(&ev, input, m.Stats().Matched > before)
	}
	r.strict.Summaries = sum.FlushAll()
	return r
}

// corpusInputs returns every corpus input, by the folder of its lists.
func corpusInputs(t *testing.T) []string {
	var all []string
	for _, pattern := range []string{"parsers/*/*/input.log", "scenarios/*/input.log"} {
		m, err := filepath.Glob(filepath.Join(corpusDir, pattern))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, m...)
	}
	if len(all) < 100 {
		t.Fatalf("found only %d corpus inputs under %s", len(all), corpusDir)
	}
	return all
}

// allowedPaths are the JSON leaves a detection may carry under the strict
// policy: DESIGN.md §3.2's fields and the sample's allowlist.
var allowedPaths = map[string]bool{
	"rule.id": true, "rule.name": true, "event.severity": true, "event.kind": true,
	"threat.technique.id[]": true, "tags[]": true, "source.ip": true,
	"destination.ip": true, "destination.port": true, "related.ip[]": true,
	"detection.count": true, "detection.first_seen": true, "detection.last_seen": true,
	"detection.distinct_sources": true, "member.id": true,

	"detection.sample.@timestamp":     true,
	"detection.sample.event.category": true, "detection.sample.event.type": true,
	"detection.sample.event.action": true, "detection.sample.event.outcome": true,
	"detection.sample.event.dataset": true, "detection.sample.event.code": true,
	"detection.sample.event.severity":  true,
	"detection.sample.observer.vendor": true, "detection.sample.observer.product": true,
	"detection.sample.observer.hostname": true,
	"detection.sample.source.ip":         true, "detection.sample.source.port": true,
	"detection.sample.source.bytes": true, "detection.sample.source.nat.ip": true,
	"detection.sample.destination.ip": true, "detection.sample.destination.port": true,
	"detection.sample.destination.bytes": true, "detection.sample.destination.nat.ip": true,
	"detection.sample.network.transport": true, "detection.sample.network.protocol": true,
	"detection.sample.network.direction": true, "detection.sample.network.bytes": true,
	"detection.sample.network.packets": true,
	"detection.sample.rule.name":       true, "detection.sample.rule.id": true,
	"detection.sample.rule.category":             true,
	"detection.sample.http.request.method":       true,
	"detection.sample.http.response.status_code": true,
	"detection.sample.threat.feed.name":          true,
}

// leaves calls f with the dotted path and value of every leaf of v.
func leaves(path string, v any, f func(path string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			p := k
			if path != "" {
				p = path + "." + k
			}
			leaves(p, x, f)
		}
	case []any:
		for _, x := range v {
			leaves(path+"[]", x, f)
		}
	default:
		f(path, v)
	}
}

// TestPrivacyCorpus sends every corpus line through the edge pipeline and
// the built-in pack and checks what would leave: no payload (the CANARY
// planted in payloads, bodies and subjects), nothing outside the
// allowlist, no internal address in clear, and summaries of external
// sources only. With every opt-in on and no pseudonyms, detections leave
// exactly as detect writes them, and still without payload.
func TestPrivacyCorpus(t *testing.T) {
	ps := mustPseudonymiser(t, testKey('z'))
	runs := runCorpus(t, policies{
		strict: &Policy{Pseudonyms: ps},
		open:   &Policy{SendUserNames: true, SendURLPaths: true, SendUserAgents: true},
	})
	var detections, summaries, pseudonyms, kept int
	optIns := map[string]bool{}
	for _, r := range runs {
		in, b := r.in, r.strict
		kept += r.kept
		detections += len(b.Detections)
		summaries += len(b.Summaries)

		var out bytes.Buffer
		if err := Preview(&out, b); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if i := bytes.Index(bytes.ToUpper(out.Bytes()), []byte(parsertest.Canary)); i >= 0 {
			t.Errorf("%s: egress carries payload (%s) at byte %d:\n%s", in, parsertest.Canary, i, out.Bytes())
		}
		var all any
		if err := json.Unmarshal(out.Bytes(), &all); err != nil {
			t.Fatalf("%s: preview is not JSON: %v", in, err)
		}
		leaves("", all, func(path string, v any) {
			if s, ok := v.(string); ok {
				if a, err := netip.ParseAddr(s); err == nil && r.lists.Internal(a) {
					t.Errorf("%s: internal address %s leaves in clear at %s", in, s, path)
				}
				if strings.HasPrefix(s, PseudonymPrefix) {
					pseudonyms++
				}
			}
		})
		for _, d := range b.Detections {
			var m map[string]any
			if err := json.Unmarshal(d, &m); err != nil {
				t.Fatalf("%s: detection is not JSON: %v\n%s", in, err, d)
			}
			leaves("", m, func(path string, _ any) {
				if !allowedPaths[path] {
					t.Errorf("%s: %s leaves the site, and is not on the allowlist:\n%s", in, path, d)
				}
			})
		}
		for _, fs := range b.Summaries {
			if !fs.SourceIP.IsValid() || r.lists.Internal(fs.SourceIP) || fs.Count < 1 {
				t.Errorf("%s: summary of a source that is not external: %+v", in, fs)
			}
		}
		if !slices.IsSortedFunc(b.Summaries, compareSummaries) {
			t.Errorf("%s: summaries are not sorted", in)
		}

		for i, d := range r.open {
			if !bytes.Equal(d, r.raw[i]) {
				t.Errorf("%s: with every opt-in, egress and detect differ:\n got %s\nwant %s", in, d, r.raw[i])
			}
			if bytes.Contains(bytes.ToUpper(d), []byte(parsertest.Canary)) {
				t.Errorf("%s: payload leaves with the opt-ins on: %s", in, d)
			}
			var m map[string]any
			if err := json.Unmarshal(d, &m); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"detection.sample.user.name", "detection.sample.url.path"} {
				if lookup(m, p) != nil {
					optIns[p] = true
				}
			}
		}
	}
	// The checks above must have had something to check.
	if detections < 50 || summaries < 200 || pseudonyms < 20 || kept < 3000 {
		t.Errorf("too little egress to prove anything: %d events kept, %d detections, %d summaries, %d pseudonyms",
			kept, detections, summaries, pseudonyms)
	}
	if !optIns["detection.sample.user.name"] || !optIns["detection.sample.url.path"] {
		t.Errorf("the corpus's samples never carry user.name and url.path (seen %v): leaving them out proves nothing", optIns)
	}
	t.Logf("%d inputs, %d events kept: %d detections, %d summaries, %d pseudonyms", len(runs), kept, detections, summaries, pseudonyms)
}

// TestEgressGolden pins down, for one scenario, exactly what would leave
// the site, as `egress` previews it. Rewrite it with -update and read the
// diff.
func TestEgressGolden(t *testing.T) {
	const scenario = "mirai_telnet"
	dir := filepath.Join(corpusDir, "scenarios", scenario)
	rs, err := rules.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	lists := scenarioLists(t, dir)
	set.SetLists(lists)
	pol := &Policy{Pseudonyms: mustPseudonymiser(t, []byte("egress golden test key, 32 bytes+")), Internal: lists.Internal}
	b := runEdge(t, filepath.Join(dir, "input.log"), lists, set, pol, pol).strict
	var got bytes.Buffer
	if err := Preview(&got, b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", scenario+".egress.json")
	if parsertest.Update() {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got.String(), "\n")); diff != "" {
		t.Errorf("%s (-want +got):\n%s", golden, diff)
	}
	var back detect.Batch
	if err := json.Unmarshal(want, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Detections) == 0 || len(back.Summaries) == 0 || back.Created.Sub(parsertest.RefTime) != time.Duration(0) {
		t.Errorf("golden batch has %d detections and %d summaries", len(back.Detections), len(back.Summaries))
	}
}

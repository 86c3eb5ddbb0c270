package parsers_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpusDir = "../corpus/parsers"

// corpusFiles returns the lines of every corpus input file, by format.
func corpusFiles(t testing.TB) map[string][][][]byte {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*", "*", "input.log"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus under %s: %v", corpusDir, err)
	}
	out := make(map[string][][][]byte)
	for _, p := range paths {
		format := filepath.Base(filepath.Dir(filepath.Dir(p)))
		out[format] = append(out[format], parsertest.Lines(t, p))
	}
	return out
}

// corpusLines returns every corpus input line, by format.
func corpusLines(t testing.TB) map[string][][]byte {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*", "*", "input.log"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus under %s: %v", corpusDir, err)
	}
	out := make(map[string][][]byte)
	for _, p := range paths {
		format := filepath.Base(filepath.Dir(filepath.Dir(p)))
		out[format] = append(out[format], parsertest.Lines(t, p)...)
	}
	return out
}

// TestEveryFormatHasCorpus: each built-in parser has corpus cases, and each
// corpus folder names a built-in parser.
func TestEveryFormatHasCorpus(t *testing.T) {
	lines := corpusLines(t)
	reg := parsers.Builtin()
	for _, name := range reg.Names() {
		if len(lines[name]) == 0 {
			t.Errorf("parser %s has no corpus under %s/%s", name, corpusDir, name)
		}
	}
	for name := range lines {
		if _, ok := reg.Lookup(name); !ok {
			t.Errorf("corpus folder %s names no built-in parser", name)
		}
	}
}

// TestPrivacy proves that payloads, bodies and subjects never leave a
// parser: the corpus plants the word CANARY in such fields of every format
// that has them, and no event may carry it, whichever parser auto-detection
// picks.
func TestPrivacy(t *testing.T) {
	planted := 0
	for format, lines := range corpusLines(t) {
		s, err := parsers.NewStream(parsers.Builtin(), "auto")
		if err != nil {
			t.Fatal(err)
		}
		s.Ref = parsertest.RefTime
		var ev detect.Event
		for _, line := range lines {
			if !bytes.Contains(line, []byte(parsertest.Canary)) {
				continue
			}
			// A line of another format, planted to test that this format's
			// parser refuses it, is that format's business.
			if s.Parse(line, &ev) != nil || s.Dataset() != format {
				continue
			}
			planted++
			if out := ev.AppendJSON(nil); bytes.Contains(out, []byte(parsertest.Canary)) {
				t.Errorf("%s: content reached the event:\n%s\n%s", format, line, out)
			}
		}
	}
	// The test proves nothing unless canaries were planted in event lines.
	if planted < 10 {
		t.Errorf("only %d event lines carry the canary; plant more", planted)
	}
}

// TestAutoDetectsEveryCorpusLine: with every built-in registered, each
// event line of a format's corpus is claimed by that format.
func TestAutoDetectsEveryCorpusLine(t *testing.T) {
	reg := parsers.Builtin()
	for format, files := range corpusFiles(t) {
		for _, lines := range files {
			checkAuto(t, reg, format, lines)
		}
	}
}

// checkAuto runs one file through a fixed and an auto-detecting stream,
// each a stream of its own as `parse` makes per file.
func checkAuto(t *testing.T, reg *parsers.Registry, format string, lines [][]byte) {
	fixed, err := parsers.NewStream(reg, format)
	if err != nil {
		return // TestEveryFormatHasCorpus reports it
	}
	auto, _ := parsers.NewStream(reg, "auto")
	var ev detect.Event
	for _, line := range lines {
		// Both streams see every line: stateful parsers need the headers.
		ferr := fixed.Parse(line, &ev)
		aerr := auto.Parse(line, &ev)
		if ferr == nil && (aerr != nil || auto.Dataset() != format) {
			t.Errorf("%s line auto-detected as %q (%v): %s", format, auto.Dataset(), aerr, line)
		}
	}
}

// BenchmarkAutoDetection measures what auto-detection adds to parsing, over
// a mix of every format: compare with BenchmarkFixedFormat.
func BenchmarkAutoDetection(b *testing.B) { benchMix(b, true) }

// BenchmarkFixedFormat parses the same mix, each line with its own parser.
func BenchmarkFixedFormat(b *testing.B) { benchMix(b, false) }

func benchMix(b *testing.B, auto bool) {
	reg := parsers.Builtin()
	type item struct {
		line   []byte
		stream *parsers.Stream
	}
	var items []item
	autoStream, _ := parsers.NewStream(reg, "auto")
	var ev detect.Event
	for format, lines := range corpusLines(b) {
		if strings.HasPrefix(format, "windows_firewall") {
			continue // stateful: its lines depend on their stream's header
		}
		s, err := parsers.NewStream(reg, format)
		if err != nil {
			continue
		}
		for _, l := range lines {
			if s.Parse(l, &ev) == nil {
				st := s
				if auto {
					st = autoStream
				}
				items = append(items, item{l, st})
			}
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		it := items[i%len(items)]
		_ = it.stream.Parse(it.line, &ev)
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N), "ns/line")
}

var updateCoverage = flag.Bool("update-coverage", false, "rewrite coverage.go from the corpus goldens")

// TestFieldCoverage keeps FieldCoverage, which rule linting reads, true to
// the corpus: the fields each parser's golden events carry.
func TestFieldCoverage(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(corpusDir, "*", "*", "expected.jsonl"))
	got := map[string]map[string]bool{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			var ev map[string]any
			if json.Unmarshal(line, &ev) != nil || ev == nil || ev["event"] == nil {
				continue
			}
			ds, _ := ev["event"].(map[string]any)["dataset"].(string)
			if got[ds] == nil {
				got[ds] = map[string]bool{}
			}
			flatten("", ev, got[ds])
		}
	}
	want := map[string][]string{}
	for ds, set := range got {
		for f := range set {
			want[ds] = append(want[ds], f)
		}
		sort.Strings(want[ds])
	}
	if *updateCoverage {
		var b strings.Builder
		b.WriteString("// Code generated by TestFieldCoverage -update-coverage from corpus goldens; DO NOT EDIT.\n\npackage parsers\n\n")
		b.WriteString("// FieldCoverage returns, for each parser, the event fields its corpus\n// events carry; rule linting uses it to flag fields no parser sets.\n")
		b.WriteString("func FieldCoverage() map[string][]string {\n\treturn map[string][]string{\n")
		var names []string
		for ds := range want {
			names = append(names, ds)
		}
		sort.Strings(names)
		for _, ds := range names {
			fmt.Fprintf(&b, "\t\t%q: {", ds)
			for i, f := range want[ds] {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "%q", f)
			}
			b.WriteString("},\n")
		}
		b.WriteString("\t}\n}\n")
		src, err := format.Source([]byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("coverage.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, parsers.FieldCoverage()); diff != "" {
		t.Errorf("coverage.go is stale; run go test ./parsers -run TestFieldCoverage -update-coverage (-want +got):\n%s", diff)
	}
}

func flatten(prefix string, v any, out map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = true
		return
	}
	for k, sub := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		flatten(name, sub, out)
	}
}

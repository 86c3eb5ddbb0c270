// Package parsertest is the conformance kit for parsers, built-in or plugin.
// One call runs a parser over a folder of test cases with golden output, and
// checks what every parser must survive: junk, huge lines, invalid UTF-8,
// truncated lines. Fuzz seeds a fuzz target from the same folder.
//
// A case is a folder holding input.log (one line per record) and
// expected.jsonl (one JSON value per input line, as `parse --per-line`
// writes it). Run the tests with -update to rewrite expected.jsonl, then
// read the diff.
package parsertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

var update = flag.Bool("update", false, "rewrite the expected.jsonl golden files")

// Update reports whether the tests run with -update, to rewrite goldens.
func Update() bool { return *update }

// RefTime is the reference time of every corpus case: stamps without a year
// take the year nearest to it, and lines without a time get it.
var RefTime = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// Canary is a word that corpus inputs plant in payloads, message bodies and
// subjects. It must never appear in a parser's output.
const Canary = "CANARY"

// Options tune Run.
type Options struct {
	// Registry is used to check that auto-detection picks this parser for
	// every line it parses; nil means parsers.Builtin() plus this parser.
	Registry *parsers.Registry
	// NoAuto skips the auto-detection check.
	NoAuto bool
	// Batch, when set, is the parser's batch path, such as a plugin
	// session's Parse: it parses lines as one stream, with RefTime as the
	// reference time and detect.DefaultInternal for network.direction, and
	// calls emit once per line, in order. Run checks that it gives the
	// per-line path's results, and puts the bad input through it too.
	Batch BatchFunc
}

// BatchFunc parses lines as one stream and calls emit once for each line,
// in order, with its event or its error.
type BatchFunc func(lines [][]byte, emit func(i int, ev *detect.Event, err error)) error

// Run runs info's parser over every case folder under dir, compares its
// output with the goldens, checks auto-detection, the event contract, the
// privacy canary, that events do not alias the input buffer, and the
// bad-input checks.
func Run(t *testing.T, info detect.ParserInfo, dir string, opts Options) {
	t.Helper()
	cases, err := filepath.Glob(filepath.Join(dir, "*", "input.log"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("no test cases (*/input.log) under %s", dir)
	}
	reg := opts.Registry
	if reg == nil {
		reg = parsers.Builtin()
		if _, ok := reg.Lookup(info.Name); !ok {
			reg.Register(info)
		}
	}
	for _, in := range cases {
		caseDir := filepath.Dir(in)
		t.Run(filepath.Base(caseDir), func(t *testing.T) {
			runCase(t, info, reg, caseDir, opts)
		})
	}
	t.Run("bad_input", func(t *testing.T) {
		BadInput(t, info)
		if opts.Batch != nil {
			badBatch(t, opts.Batch)
		}
	})
}

// runBatch puts lines through batch and returns each line's result as
// parsers.AppendResult writes it.
func runBatch(t *testing.T, batch BatchFunc, lines [][]byte) ([][]byte, []error) {
	t.Helper()
	outs := make([][]byte, 0, len(lines))
	errs := make([]error, 0, len(lines))
	err := batch(lines, func(i int, ev *detect.Event, err error) {
		if i != len(outs) {
			t.Fatalf("batch: result for line %d, want line %d", i+1, len(outs)+1)
		}
		if err == nil && ev == nil {
			t.Fatalf("batch: line %d: neither an event nor an error", i+1)
		}
		outs = append(outs, parsers.AppendResult(nil, ev, err))
		errs = append(errs, err)
	})
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	if len(outs) != len(lines) {
		t.Fatalf("batch: %d results for %d lines", len(outs), len(lines))
	}
	return outs, errs
}

// badBatch puts the bad input through a batch path.
func badBatch(t *testing.T, batch BatchFunc) {
	names, lines := junkLines()
	_, errs := runBatch(t, batch, lines)
	for i, err := range errs {
		switch {
		case err == nil:
			t.Errorf("batch: %s: junk parsed to an event", names[i])
		case strings.Contains(err.Error(), parsers.ErrPanic.Error()):
			t.Errorf("batch: %s: parser panicked: %v", names[i], err)
		}
	}
}

func single(info detect.ParserInfo) *parsers.Registry {
	r := parsers.NewRegistry()
	r.Register(info)
	return r
}

func newStream(t testing.TB, reg *parsers.Registry, format string) *parsers.Stream {
	s, err := parsers.NewStream(reg, format)
	if err != nil {
		t.Fatal(err)
	}
	s.Ref = RefTime
	return s
}

// Lines reads the lines of a file, without their newlines.
func Lines(t testing.TB, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := syslog.NewScanner(bytes.NewReader(data), 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

func runCase(t *testing.T, info detect.ParserInfo, reg *parsers.Registry, dir string, opts Options) {
	lines := Lines(t, filepath.Join(dir, "input.log"))
	fixed := newStream(t, single(info), info.Name)
	auto := newStream(t, reg, "auto")

	var got []byte
	var perLine [][]byte
	var ev, aev detect.Event
	events := 0
	for n, line := range lines {
		buf := append([]byte(nil), line...)
		err := fixed.Parse(buf, &ev)
		out := parsers.AppendResult(nil, &ev, err)
		if !json.Valid(out) {
			t.Errorf("line %d: output is not valid JSON: %s", n+1, out)
		}
		if err == nil {
			events++
			if verr := ev.Validate(); verr != nil {
				t.Errorf("line %d: event breaks the contract: %v\n%s", n+1, verr, out)
			}
			// The event must not alias the input: scribble over it.
			for i := range buf {
				buf[i] = 'X'
			}
			if again := ev.AppendJSON(nil); !bytes.Equal(again, out) {
				t.Errorf("line %d: event keeps the input buffer:\nbefore %s\nafter  %s", n+1, out, again)
			}
		}
		if bytes.Contains(out, []byte(Canary)) {
			t.Errorf("line %d: output carries payload or content (%s): %s", n+1, Canary, out)
		}
		if !opts.NoAuto {
			aerr := auto.Parse(line, &aev)
			aout := parsers.AppendResult(nil, &aev, aerr)
			if err == nil && auto.Dataset() != info.Name {
				t.Errorf("line %d: auto-detection chose %q, want %q", n+1, auto.Dataset(), info.Name)
			} else if err == nil && !bytes.Equal(aout, out) {
				t.Errorf("line %d: auto-detection gives a different result:\nfixed %s\nauto  %s", n+1, out, aout)
			}
		}
		got = append(got, out...)
		got = append(got, '\n')
		perLine = append(perLine, out)
	}
	if opts.Batch != nil {
		outs, _ := runBatch(t, opts.Batch, lines)
		for i := range outs {
			if !bytes.Equal(outs[i], perLine[i]) {
				t.Errorf("line %d: the batch path gives a different result:\nper line %s\nbatch    %s", i+1, perLine[i], outs[i])
			}
		}
	}
	if events == 0 {
		t.Errorf("no line of %s parsed to an event", dir)
	}

	golden := filepath.Join(dir, "expected.jsonl")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(decode(t, want), decode(t, got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
	}
}

func decode(t *testing.T, b []byte) []any {
	t.Helper()
	var out []any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("golden line %q: %v", sc.Text(), err)
		}
		out = append(out, v)
	}
	return out
}

// BadInput checks that junk never panics, never yields an event that
// breaks the contract, and that lines that are clearly not events are not
// turned into network events.
func BadInput(t *testing.T, info detect.ParserInfo) {
	s := newStream(t, single(info), info.Name)
	var ev detect.Event
	names, lines := junkLines()
	for i, name := range names {
		err := s.Parse(lines[i], &ev)
		if errors.Is(err, parsers.ErrPanic) {
			t.Errorf("%s: parser panicked: %v", name, err)
			continue
		}
		if err == nil {
			t.Errorf("%s: junk parsed to an event: %s", name, ev.AppendJSON(nil))
		}
	}
}

// junkLines returns the bad input, by name, in name order.
func junkLines() ([]string, [][]byte) {
	junk := map[string][]byte{
		"empty":        {},
		"space":        []byte("    "),
		"nul":          {0, 0, 0, 0},
		"binary":       {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, 0, 0xff, 0xfe, 0x01, 0x80},
		"invalid_utf8": []byte("\xff\xfe\xfd \xc3\x28 =\xa0\xa1 {\"\xe2\x82"),
		"huge":         bytes.Repeat([]byte("A"), 64<<10),
		"huge_kv":      bytes.Repeat([]byte("k=v "), 16<<10),
		"huge_csv":     bytes.Repeat([]byte("1,"), 32<<10),
		"json_trunc":   []byte(`{"timestamp":"2026-11-27T10:00:00Z","event_type":"alert","src_ip":"1.2.`),
		"json_deep":    bytes.Repeat([]byte("["), 10000),
		"syslog_only":  []byte("<13>Nov 27 10:00:00 host tag: "),
	}
	names := make([]string, 0, len(junk))
	for name := range junk {
		names = append(names, name)
	}
	sort.Strings(names)
	lines := make([][]byte, len(names))
	for i, name := range names {
		lines[i] = junk[name]
	}
	return names, lines
}

// Fuzz seeds f with every corpus line under dir and checks, for any input,
// that the parser does not panic, and that an event it returns keeps the
// contract, encodes to valid JSON and does not alias the input.
func Fuzz(f *testing.F, info detect.ParserInfo, dir string) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "input.log"))
	for _, p := range paths {
		for _, l := range Lines(f, p) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		p := info.New()
		var rec detect.Record
		var ev detect.Event
		rec.Raw = line
		rec.Ref = RefTime
		syslog.Parse(&rec)
		if err := p.Parse(&rec, &ev); err != nil {
			return
		}
		ev.Dataset = info.Name
		if ev.Timestamp.IsZero() {
			ev.Timestamp = RefTime
		}
		out := ev.AppendJSON(nil)
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("contract: %v: %s", err, out)
		}
		for i := range line {
			line[i] = 'X'
		}
		if again := ev.AppendJSON(nil); !bytes.Equal(again, out) {
			t.Fatalf("event keeps the input buffer:\nbefore %s\nafter  %s", out, again)
		}
	})
}

// Bench measures info's parser, through a Stream as the collector runs it,
// over the lines of every case under dir except malformed ones, replayed in
// file order so that stateful parsers see their headers. It reports ns and
// lines/s per line. With auto set it auto-detects the format, to measure
// detection's cost.
func Bench(b *testing.B, info detect.ParserInfo, dir string, auto bool) {
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "input.log"))
	reg := single(info)
	format := info.Name
	if auto {
		reg = parsers.Builtin()
		if _, ok := reg.Lookup(info.Name); !ok {
			reg.Register(info)
		}
		format = "auto"
	}
	s := newStream(b, reg, format)
	var ev detect.Event
	var lines [][]byte
	var size int64
	events := 0
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(filepath.Dir(p)), "malformed") {
			continue
		}
		for _, l := range Lines(b, p) {
			if s.Parse(l, &ev) == nil {
				events++
			}
			lines = append(lines, l)
			size += int64(len(l))
		}
	}
	if events == 0 {
		b.Fatalf("no events under %s", dir)
	}
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_ = s.Parse(lines[i%len(lines)], &ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

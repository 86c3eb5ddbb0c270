package plugins

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpusDir = "../corpus/parsers"

// corpusResults parses every corpus case with its built-in parser and
// returns the results with their golden JSON lines.
func corpusResults(t testing.TB) (evs []detect.Event, errs []error, golden [][]byte) {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*", "*", "input.log"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus under %s: %v", corpusDir, err)
	}
	reg := parsers.Builtin()
	for _, p := range paths {
		s, err := parsers.NewStream(reg, filepath.Base(filepath.Dir(filepath.Dir(p))))
		if err != nil {
			t.Fatal(err)
		}
		s.Ref = parsertest.RefTime
		want, err := os.ReadFile(filepath.Join(filepath.Dir(p), "expected.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		wantLines := bytes.Split(bytes.TrimSuffix(want, []byte("\n")), []byte("\n"))
		lines := parsertest.Lines(t, p)
		if len(lines) != len(wantLines) {
			t.Fatalf("%s: %d lines, %d golden lines", p, len(lines), len(wantLines))
		}
		for i, l := range lines {
			var ev detect.Event
			err := s.Parse(l, &ev)
			evs, errs, golden = append(evs, ev), append(errs, err), append(golden, wantLines[i])
		}
	}
	return evs, errs, golden
}

// TestResultsRoundTrip: every result of every corpus line comes through the
// packed encoding as it went in, and still matches its golden line.
func TestResultsRoundTrip(t *testing.T) {
	evs, errs, golden := corpusResults(t)
	var w ResultWriter
	for i := range evs {
		w.Add(&evs[i], errs[i])
	}
	var r ResultReader
	n, err := r.Reset(w.Bytes())
	if err != nil || n != len(evs) {
		t.Fatalf("Reset: %d, %v; want %d results", n, err, len(evs))
	}
	events := 0
	for i := range evs {
		var got detect.Event
		lineErr, err := r.Next(&got)
		if err != nil {
			t.Fatalf("result %d: %v", i, err)
		}
		if (lineErr == nil) != (errs[i] == nil) || errors.Is(lineErr, detect.ErrNotEvent) != errors.Is(errs[i], detect.ErrNotEvent) {
			t.Fatalf("result %d: error %v, want %v", i, lineErr, errs[i])
		}
		if lineErr != nil {
			if lineErr.Error() != errs[i].Error() {
				t.Errorf("result %d: error %q, want %q", i, lineErr, errs[i])
			}
			continue
		}
		events++
		want := evs[i]
		want.Timestamp = time.Unix(want.Timestamp.Unix(), int64(want.Timestamp.Nanosecond())).UTC()
		if got != want {
			t.Errorf("result %d:\ngot  %+v\nwant %+v", i, got, want)
		}
		if out := parsers.AppendResult(nil, &got, nil); !bytes.Equal(out, golden[i]) {
			t.Errorf("result %d:\ngot    %s\ngolden %s", i, out, golden[i])
		}
	}
	if events < 100 {
		t.Fatalf("only %d corpus events", events)
	}
}

// TestEventEdges: every field at once, and the address forms.
func TestEventEdges(t *testing.T) {
	full := detect.Event{
		Timestamp: time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.UTC),
		Category:  "network", Type: "denied", Action: "drop", Outcome: "failure", Dataset: "x", Code: "106023", Severity: -3,
		Observer:    detect.Observer{Vendor: "V", Product: "P", Hostname: "h"},
		Source:      detect.Endpoint{IP: netip.MustParseAddr("fe80::1%eth0"), Port: 65535, Bytes: detect.SetCount(0), NATIP: netip.MustParseAddr("::ffff:192.0.2.1")},
		Destination: detect.Endpoint{IP: netip.MustParseAddr("192.0.2.9"), Port: 1, Bytes: detect.SetCount(-1 << 62), NATIP: netip.MustParseAddr("2001:db8::1")},
		Network:     detect.Network{Transport: "tcp", Protocol: "ssh", Direction: "inbound", Bytes: detect.SetCount(1 << 62), Packets: detect.SetCount(7)},
		Rule:        detect.Rule{Name: "n", ID: "i", Category: "c"}, UserName: "ü", URLPath: "/", HTTPMethod: "GET", HTTPStatus: 404,
		UserAgent: strings.Repeat("a", 300), Indicator: "feed",
	}
	for _, ev := range []detect.Event{{}, full} {
		var w ResultWriter
		w.Add(&ev, nil)
		var r ResultReader
		if n, err := r.Reset(w.Bytes()); n != 1 || err != nil {
			t.Fatalf("Reset: %d %v", n, err)
		}
		var got detect.Event
		if lerr, err := r.Next(&got); lerr != nil || err != nil {
			t.Fatalf("Next: %v %v", lerr, err)
		}
		if !ev.Timestamp.IsZero() {
			ev.Timestamp = ev.Timestamp.UTC()
		}
		if got != ev {
			t.Errorf("got  %+v\nwant %+v", got, ev)
		}
	}
}

func TestLinesRoundTrip(t *testing.T) {
	in := [][]byte{{}, []byte("a"), bytes.Repeat([]byte{0xff}, 70000), []byte("line\x00with nul")}
	got, err := DecodeLines(nil, AppendLines(nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d lines, want %d", len(got), len(in))
	}
	for i := range in {
		if !bytes.Equal(got[i], in[i]) {
			t.Errorf("line %d differs", i)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	var w ResultWriter
	ev := detect.Event{Category: "network", Source: detect.Endpoint{IP: netip.MustParseAddr("192.0.2.1")}}
	w.Add(&ev, nil)
	good := w.Bytes()
	cases := map[string][]byte{
		"empty":          {},
		"version":        {9, 0},
		"huge count":     {resultsVersion, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":      good[:len(good)-2],
		"trailing":       append(append([]byte(nil), good...), 0),
		"kind":           {resultsVersion, 1, 9},
		"unknown fields": {resultsVersion, 1, resultEvent, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
		"address kind":   {resultsVersion, 1, resultEvent, 0x80, 0x10, 5},
		"port range":     {resultsVersion, 1, resultEvent, 0x80, 0x20, 0x80, 0x80, 0x10},
		"nanoseconds":    {resultsVersion, 1, resultEvent, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range cases {
		var r ResultReader
		n, err := r.Reset(b)
		for i := 0; err == nil && i < n; i++ {
			var ev detect.Event
			_, err = r.Next(&ev)
		}
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := DecodeLines(nil, []byte{linesVersion, 2, 5, 'a'}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated lines: %v", err)
	}
}

// FuzzDecodeResults: bytes from a plugin, however hostile, decode to
// results or to an error, never a panic.
func FuzzDecodeResults(f *testing.F) {
	evs, errs, _ := corpusResults(f)
	for i := 0; i < len(evs); i += 7 {
		var w ResultWriter
		w.Add(&evs[i], errs[i])
		f.Add(w.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r ResultReader
		n, err := r.Reset(b)
		for i := 0; err == nil && i < n; i++ {
			var ev detect.Event
			_, err = r.Next(&ev)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v does not wrap ErrCorrupt", err)
		}
	})
}

func FuzzDecodeLines(f *testing.F) {
	f.Add(AppendLines(nil, [][]byte{[]byte("a b c"), nil}))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := DecodeLines(nil, b)
		if err == nil {
			if again := AppendLines(nil, lines); len(again) > len(b)+1 {
				t.Fatalf("re-encoded %d bytes from %d", len(again), len(b))
			}
		}
	})
}

func BenchmarkEncodeResults(b *testing.B) {
	evs, errs, _ := corpusResults(b)
	var w ResultWriter
	b.ReportAllocs()
	for b.Loop() {
		w.Reset()
		for i := range evs {
			w.Add(&evs[i], errs[i])
		}
		_ = w.Bytes()
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "results/s")
}

func BenchmarkDecodeResults(b *testing.B) {
	evs, errs, _ := corpusResults(b)
	var w ResultWriter
	for i := range evs {
		w.Add(&evs[i], errs[i])
	}
	packed := w.Bytes()
	var r ResultReader
	var ev detect.Event
	b.ReportAllocs()
	for b.Loop() {
		n, _ := r.Reset(packed)
		for range n {
			if _, err := r.Next(&ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "results/s")
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/plugins"
)

const corpus = "testdata/corpus"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func parserInfo(t testing.TB) detect.ParserInfo {
	pi, err := info().ParserInfo()
	if err != nil {
		t.Fatal(err)
	}
	return pi
}

// TestCorpus runs the parser in process through the conformance kit: the
// quick loop while you write the parser.
func TestCorpus(t *testing.T) {
	parsertest.Run(t, parserInfo(t), corpus, parsertest.Options{})
}

// TestPlugin builds the plugin, runs it as a subprocess as the collector
// does, and puts it through the same kit, per line and in batches.
func TestPlugin(t *testing.T) {
	p := startPlugin(t)
	s := p.NewSession()
	defer s.Close()
	s.Ref, s.Internal = parsertest.RefTime, detect.DefaultInternal
	parsertest.Run(t, p.Info(), corpus, parsertest.Options{
		Batch: func(lines [][]byte, emit func(int, *detect.Event, error)) error {
			return s.Parse(context.Background(), lines, emit)
		},
	})
	if st := p.Stats(); st != (plugins.Stats{}) {
		t.Errorf("the plugin crashed or hung: %+v", st)
	}
}

func FuzzParse(f *testing.F) {
	parsertest.Fuzz(f, parserInfo(f), corpus)
}

// startPlugin builds this plugin into a temporary folder and starts it,
// pinned by its SHA-256, as the collector would.
func startPlugin(t testing.TB) *plugins.Plugin {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kestrelfw")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	p, err := plugins.Start(context.Background(), plugins.Spec{
		Name: "kestrel_kx", Path: bin, SHA256: hex.EncodeToString(sum[:]),
	}, plugins.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// benchLines returns n corpus lines that parse, repeated.
func benchLines(b *testing.B, n int) [][]byte {
	var src [][]byte
	for _, c := range []string{"traffic", "threat"} {
		src = append(src, parsertest.Lines(b, filepath.Join(corpus, c, "input.log"))...)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = src[i%len(src)]
	}
	return out
}

// BenchmarkInProcess is the parser as a built-in would run.
func BenchmarkInProcess(b *testing.B) {
	parsertest.Bench(b, parserInfo(b), corpus, false)
}

// BenchmarkPlugin is the same parser through the plugin, end to end:
// pack, gRPC, parse, pack events, unpack, check; by the number of lines
// per Parse call. Calls of more than the spec's 1,000 lines a batch keep
// up to 4 batches in flight, so host and plugin work at once.
func BenchmarkPlugin(b *testing.B) {
	p := startPlugin(b)
	for _, size := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			lines := benchLines(b, 10*size)
			s := p.NewSession()
			defer s.Close()
			s.Ref, s.Internal = parsertest.RefTime, detect.DefaultInternal
			var size64 int64
			for _, l := range lines[:size] {
				size64 += int64(len(l))
			}
			b.SetBytes(size64)
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				at := (i * size) % len(lines)
				err := s.Parse(context.Background(), lines[at:at+size], func(_ int, _ *detect.Event, err error) {
					if err != nil && err != detect.ErrNotEvent {
						n++
					}
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/line")
		})
	}
}

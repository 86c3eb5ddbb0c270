package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

// benchLines returns the event lines of the corpus cases of one format.
func benchLines(b *testing.B, format string) [][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "corpus", "parsers", format, "*", "input.log"))
	s, _ := parsers.NewStream(parsers.Builtin(), format)
	var ev detect.Event
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		sc := syslog.NewScanner(bytes.NewReader(data), 0)
		for sc.Scan() {
			if s.Parse(sc.Bytes(), &ev) == nil {
				out = append(out, append([]byte(nil), sc.Bytes()...))
			}
		}
	}
	if len(out) == 0 {
		b.Fatalf("no %s events in the corpus", format)
	}
	return out
}

// BenchmarkParseCommand measures `parse` end to end, file to JSON Lines, per
// line; BenchmarkParseStream measures the parser alone on the same lines.
// Their ratio is the cost of reading, framing, encoding and writing.
func BenchmarkParseCommand(b *testing.B) {
	lines := benchLines(b, "netfilter")
	const n = 200_000
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		buf.Write(lines[i%len(lines)])
		buf.WriteByte('\n')
	}
	file := filepath.Join(b.TempDir(), "in.log")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len() / n))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var stderr strings.Builder
		if code := Main([]string{"parse", "--format", "auto", "--ref-time", "2026-11-27T12:00:00Z", file}, nil, io.Discard, &stderr); code != 0 {
			b.Fatal(stderr.String())
		}
	}
	b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e9/(float64(b.N)*n), "ns/line")
}

func BenchmarkParseStream(b *testing.B) {
	lines := benchLines(b, "netfilter")
	s, _ := parsers.NewStream(parsers.Builtin(), "auto")
	var ev detect.Event
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N), "ns/line")
}

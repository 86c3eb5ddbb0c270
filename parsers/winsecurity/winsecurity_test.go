package winsecurity_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/winsecurity"
)

const corpus = "../../corpus/parsers/windows_security"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, winsecurity.Info(), corpus, parsertest.Options{})
}

func FuzzWindowsSecurity(f *testing.F) {
	parsertest.Fuzz(f, winsecurity.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, winsecurity.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, winsecurity.Info(), corpus, true)
}

// benchCase measures one corpus case: the per-format figures.
func benchCase(b *testing.B, name string) {
	reg := parsers.NewRegistry()
	reg.Register(winsecurity.Info())
	s, err := parsers.NewStream(reg, winsecurity.Name)
	if err != nil {
		b.Fatal(err)
	}
	s.Ref = parsertest.RefTime
	var ev detect.Event
	var lines [][]byte
	var size int
	for _, l := range parsertest.Lines(b, corpus+"/"+name+"/input.log") {
		if s.Parse(l, &ev) == nil {
			lines = append(lines, l)
			size += len(l)
		}
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := s.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkNXLogJSON(b *testing.B) { benchCase(b, "nxlog_json") }
func BenchmarkSnare(b *testing.B)     { benchCase(b, "snare") }

package panos_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/panos"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/panos"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, panos.Info(), corpus, parsertest.Options{})
}

func FuzzPanos(f *testing.F) {
	parsertest.Fuzz(f, panos.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, panos.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, panos.Info(), corpus, true)
}

// BenchmarkTraffic measures TRAFFIC lines alone, the bulk of a firewall's
// log volume.
func BenchmarkTraffic(b *testing.B) {
	reg := parsers.NewRegistry()
	reg.Register(panos.Info())
	s, err := parsers.NewStream(reg, panos.Name)
	if err != nil {
		b.Fatal(err)
	}
	s.Ref = parsertest.RefTime
	lines := parsertest.Lines(b, corpus+"/traffic/input.log")
	var size int64
	for _, l := range lines {
		size += int64(len(l))
	}
	b.SetBytes(size / int64(len(lines)))
	b.ReportAllocs()
	var ev detect.Event
	for i := 0; b.Loop(); i++ {
		if err := s.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

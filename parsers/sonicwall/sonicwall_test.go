package sonicwall_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/sonicwall"
)

const corpus = "../../corpus/parsers/sonicwall"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, sonicwall.Info(), corpus, parsertest.Options{})
}

func FuzzSonicwall(f *testing.F) {
	parsertest.Fuzz(f, sonicwall.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, sonicwall.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, sonicwall.Info(), corpus, true)
}

package pf_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/pf"
)

const corpus = "../../corpus/parsers/pf"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, pf.Info(), corpus, parsertest.Options{})
}

func FuzzPf(f *testing.F) {
	parsertest.Fuzz(f, pf.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, pf.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, pf.Info(), corpus, true)
}

package leef_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/leef"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/leef"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, leef.Info(), corpus, parsertest.Options{})
}

func FuzzLeef(f *testing.F) {
	parsertest.Fuzz(f, leef.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, leef.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, leef.Info(), corpus, true)
}

package amavis_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/amavis"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/amavis"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, amavis.Info(), corpus, parsertest.Options{})
}

func FuzzAmavis(f *testing.F) {
	parsertest.Fuzz(f, amavis.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, amavis.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, amavis.Info(), corpus, true)
}

package clamav_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/clamav"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/clamav"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, clamav.Info(), corpus, parsertest.Options{})
}

func FuzzClamav(f *testing.F) {
	parsertest.Fuzz(f, clamav.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, clamav.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, clamav.Info(), corpus, true)
}

package cef_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/cef"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/cef"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, cef.Info(), corpus, parsertest.Options{})
}

func FuzzCEF(f *testing.F) {
	parsertest.Fuzz(f, cef.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, cef.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, cef.Info(), corpus, true)
}

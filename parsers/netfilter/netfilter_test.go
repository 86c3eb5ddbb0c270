package netfilter_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/netfilter"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/netfilter"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, netfilter.Info(), corpus, parsertest.Options{})
}

func FuzzNetfilter(f *testing.F) {
	parsertest.Fuzz(f, netfilter.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, netfilter.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, netfilter.Info(), corpus, true)
}

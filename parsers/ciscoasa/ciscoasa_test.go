package ciscoasa_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/ciscoasa"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/cisco_asa"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, ciscoasa.Info(), corpus, parsertest.Options{})
}

func FuzzCiscoASA(f *testing.F) {
	parsertest.Fuzz(f, ciscoasa.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, ciscoasa.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, ciscoasa.Info(), corpus, true)
}

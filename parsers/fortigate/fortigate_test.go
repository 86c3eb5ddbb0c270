package fortigate_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/fortigate"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/fortigate"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, fortigate.Info(), corpus, parsertest.Options{})
}

func FuzzFortigate(f *testing.F) {
	parsertest.Fuzz(f, fortigate.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, fortigate.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, fortigate.Info(), corpus, true)
}

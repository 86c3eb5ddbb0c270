package watchguard_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/watchguard"
)

const corpus = "../../corpus/parsers/watchguard"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, watchguard.Info(), corpus, parsertest.Options{})
}

func FuzzWatchguard(f *testing.F) {
	parsertest.Fuzz(f, watchguard.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, watchguard.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, watchguard.Info(), corpus, true)
}

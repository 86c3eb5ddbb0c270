package checkpoint_test

import (
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/checkpoint"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/checkpoint"

// registry is the built-in registry with this parser ahead of the others,
// as it must be registered ahead of the generic cef parser, which would
// also take Check Point's CEF lines.
func registry() *parsers.Registry {
	r := parsers.NewRegistry()
	r.Register(checkpoint.Info())
	for _, in := range parsers.Builtin().All() {
		if in.Name != checkpoint.Name {
			r.Register(in)
		}
	}
	return r
}

func TestCorpus(t *testing.T) {
	parsertest.Run(t, checkpoint.Info(), corpus, parsertest.Options{Registry: registry()})
}

func FuzzCheckpoint(f *testing.F) {
	parsertest.Fuzz(f, checkpoint.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, checkpoint.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, checkpoint.Info(), corpus, true)
}

package sophos_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/sophos"
)

const corpus = "../../corpus/parsers/sophos"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, sophos.Info(), corpus, parsertest.Options{})
}

func FuzzSophos(f *testing.F) {
	parsertest.Fuzz(f, sophos.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, sophos.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, sophos.Info(), corpus, true)
}

// BenchmarkFormats measures each corpus case (one message family or
// header style) on its own.
func BenchmarkFormats(b *testing.B) {
	cases, _ := filepath.Glob(filepath.Join(corpus, "*", "input.log"))
	for _, c := range cases {
		name := filepath.Base(filepath.Dir(c))
		if name == "malformed" {
			continue
		}
		abs, err := filepath.Abs(c)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.Symlink(abs, filepath.Join(dir, name, "input.log")); err != nil {
				b.Fatal(err)
			}
			parsertest.Bench(b, sophos.Info(), dir, false)
		})
	}
}

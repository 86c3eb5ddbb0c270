package spamd_test

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/spamd"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

const corpus = "../../corpus/parsers/spamd"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, spamd.Info(), corpus, parsertest.Options{})
}

func FuzzSpamd(f *testing.F) {
	parsertest.Fuzz(f, spamd.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, spamd.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, spamd.Info(), corpus, true)
}

// spamd's own file stamps carry no zone: they are read in the record's.
func TestFileStampZone(t *testing.T) {
	rec := detect.Record{
		Raw: []byte("Thu Nov 27 10:10:02 2026 [3456] info: spamd: result: Y 22 - BAYES_99 scantime=0.4,size=3138"),
		Ref: parsertest.RefTime, Loc: time.FixedZone("CET", 3600),
	}
	syslog.Parse(&rec)
	var ev detect.Event
	if err := new(spamd.Parser).Parse(&rec, &ev); err != nil {
		t.Fatal(err)
	}
	if got, want := ev.Timestamp.UTC().Format(time.RFC3339), "2026-11-27T09:10:02Z"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

package exim_test

import (
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/exim"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

const corpus = "../../corpus/parsers/exim"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, exim.Info(), corpus, parsertest.Options{})
}

func FuzzExim(f *testing.F) {
	parsertest.Fuzz(f, exim.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, exim.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, exim.Info(), corpus, true)
}

func parse(line string, loc *time.Location) (*detect.Event, error) {
	rec := detect.Record{Raw: []byte(line), Ref: parsertest.RefTime, Loc: loc}
	syslog.Parse(&rec)
	ev := new(detect.Event)
	return ev, new(exim.Parser).Parse(&rec, ev)
}

// A stamp without a zone is read in the record's zone; one with Exim's
// log_timezone zone is read in that zone.
func TestStampZones(t *testing.T) {
	const rest = " H=(x) [198.51.100.7]:51514 F=<a@b> rejected RCPT <c@d>: relay not permitted"
	est := time.FixedZone("EST", -5*3600)
	for _, c := range []struct {
		stamp string
		loc   *time.Location
		want  string
	}{
		{"2026-11-27 10:00:00", nil, "2026-11-27T10:00:00Z"},
		{"2026-11-27 10:00:00", est, "2026-11-27T15:00:00Z"},
		{"2026-11-27 10:00:00 -0500", nil, "2026-11-27T15:00:00Z"},
		{"2026-11-27 10:00:00 +0100", est, "2026-11-27T09:00:00Z"},
		{"2026-11-27 10:00:00.250 +0530", nil, "2026-11-27T04:30:00.25Z"},
	} {
		ev, err := parse(c.stamp+rest, c.loc)
		if err != nil {
			t.Errorf("%s: %v", c.stamp, err)
			continue
		}
		if got := ev.Timestamp.UTC().Format(time.RFC3339Nano); got != c.want {
			t.Errorf("%s in %v: got %s, want %s", c.stamp, c.loc, got, c.want)
		}
	}
	if _, err := parse("2026-11-27 10:00:00 +2500"+rest, nil); err == nil {
		t.Errorf("zone +2500 accepted")
	}
}

package snort_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/snort"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

const corpus = "../../corpus/parsers/snort"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, snort.Info(), corpus, parsertest.Options{})
}

// multiline holds the alert_full cases, whose events need the lines before
// them: parsertest.Bench replays event lines alone, so they are kept out of
// the benchmark's folder.
const multiline = corpus + "/multiline"

func TestCorpusMultiline(t *testing.T) {
	parsertest.Run(t, snort.Info(), multiline, parsertest.Options{})
}

func FuzzSnort(f *testing.F) {
	more, _ := filepath.Glob(filepath.Join(multiline, "*", "input.log"))
	for _, p := range more {
		for _, l := range parsertest.Lines(f, p) {
			f.Add(l)
		}
	}
	parsertest.Fuzz(f, snort.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, snort.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, snort.Info(), corpus, true)
}

func parse(p detect.Parser, line string, ref time.Time, loc *time.Location) (*detect.Event, error) {
	rec := detect.Record{Raw: []byte(line), Ref: ref, Loc: loc}
	syslog.Parse(&rec)
	ev := new(detect.Event)
	return ev, p.Parse(&rec, ev)
}

// A year-less stamp takes the year nearest the reference time, and is read
// in the record's zone.
func TestYearlessStamp(t *testing.T) {
	line := "12/31-23:59:59.500000  [**] [1:384:5] ICMP PING [**] [Priority: 3] {ICMP} 198.51.100.7 -> 192.0.2.10"
	cet := time.FixedZone("CET", 3600)
	ref := time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC)
	ev, err := parse(snort.Info().New(), line, ref, cet)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 12, 31, 22, 59, 59, 500000000, time.UTC)
	if !ev.Timestamp.Equal(want) {
		t.Errorf("got %v, want %v", ev.Timestamp.UTC(), want)
	}
}

// alert_full's lines out of order never make an event, and a record's
// state does not leak into the next one.
func TestFullOutOfOrder(t *testing.T) {
	p := snort.Info().New()
	ref := parsertest.RefTime
	for _, line := range []string{
		"11/27-10:00:00.123456 198.51.100.7:51514 -> 192.0.2.10:3306",
		"TCP TTL:49 TOS:0x0 ID:54321 IpLen:20 DgmLen:44",
		"[**] [1:2019401:3] ET SCAN Suspicious inbound [**]",
		"TCP TTL:49 TOS:0x0 ID:54321 IpLen:20 DgmLen:44",
		"11/27-10:00:00.123456 198.51.100.7:51514 -> 192.0.2.10:3306",
		"TCP TTL:49 TOS:0x0 ID:54321 IpLen:20 DgmLen:44",
	} {
		if _, err := parse(p, line, ref, nil); !errors.Is(err, detect.ErrNotEvent) {
			t.Errorf("%q: got %v, want ErrNotEvent", line, err)
		}
	}
}

// Sniff claims Snort's lines and not other formats'.
func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		"11/27-10:00:00.123456  [**] [1:2019401:3] ET SCAN x [**] [Priority: 2] {TCP} 198.51.100.7:51514 -> 192.0.2.10:3306":            true,
		"<33>Nov 27 10:00:00 ids01 snort[1234]: [1:2019401:3] ET SCAN x [Classification: y] [Priority: 2] {TCP} 1.2.3.4:1 -> 5.6.7.8:2": true,
		"11/27-10:00:00.123456, 1234, TCP, raw, 60, C2S, 198.51.100.7:51514, 192.0.2.10:3306, 1:2019401:3, allow":                       true,
		"[**] [1:2019401:3] ET SCAN x [**]":                                                                 true,
		"[Classification: Potentially Bad Traffic] [Priority: 2]":                                           true,
		"11/27-10:00:00.123456 198.51.100.7:51514 -> 192.0.2.10:3306":                                       true,
		"TCP TTL:49 TOS:0x0 ID:54321 IpLen:20 DgmLen:44":                                                    true,
		"Nov 27 10:00:00 gw01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.100.7 DST=192.0.2.10":             false,
		`{"timestamp":"2026-11-27T10:00:00.123456+0000","event_type":"alert","src_ip":"1.2.3.4"}`:           false,
		"2026-11-27 10:00:00 DROP TCP 198.51.100.7 192.0.2.10 51514 3389 52 S 123456 0 64240 - - - RECEIVE": false,
		"<38>Nov 27 10:00:11 ids01 snort[1234]: Commencing packet processing (pid=1234)":                    false,
		"[1] Done":                        false,
		"TCP connection closed by peer 1": false,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if got := snort.Sniff(&rec); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", line, got, want)
		}
	}
}

// FuzzStream feeds every line of the input to one parser, so that header
// and multi-line state is fuzzed too.
func FuzzStream(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(corpus, "*", "input.log"))
	more, _ := filepath.Glob(filepath.Join(corpus, "*", "*", "input.log"))
	for _, p := range append(paths, more...) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := snort.Info().New()
		for _, line := range bytes.Split(data, []byte("\n")) {
			rec := detect.Record{Raw: line, Ref: parsertest.RefTime}
			syslog.Parse(&rec)
			var ev detect.Event
			if p.Parse(&rec, &ev) != nil {
				continue
			}
			ev.Dataset = snort.Name
			if ev.Timestamp.IsZero() {
				ev.Timestamp = parsertest.RefTime
			}
			out := ev.AppendJSON(nil)
			if err := ev.Validate(); err != nil {
				t.Fatalf("contract: %v: %s", err, out)
			}
			for i := range line {
				line[i] = 'X'
			}
			if again := ev.AppendJSON(nil); !bytes.Equal(again, out) {
				t.Fatalf("event keeps the input buffer:\nbefore %s\nafter  %s", out, again)
			}
		}
	})
}

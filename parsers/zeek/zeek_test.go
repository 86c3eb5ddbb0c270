package zeek_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/parsers/zeek"
)

const corpus = "../../corpus/parsers/zeek"

// stateful holds the TSV cases whose header differs from conn.log's
// default: parsertest.Bench replays event lines out of their stream, after
// whichever header came last, so they are kept out of its folder.
const stateful = corpus + "/stateful"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, zeek.Info(), corpus, parsertest.Options{})
}

func TestCorpusStateful(t *testing.T) {
	parsertest.Run(t, zeek.Info(), stateful, parsertest.Options{})
}

func FuzzZeek(f *testing.F) {
	more, _ := filepath.Glob(filepath.Join(stateful, "*", "input.log"))
	for _, p := range more {
		for _, l := range parsertest.Lines(f, p) {
			f.Add(l)
		}
	}
	parsertest.Fuzz(f, zeek.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, zeek.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, zeek.Info(), corpus, true)
}

// benchFile parses a corpus file's header lines once, then its event lines
// over and over, in one stream: the figure for one form of the log.
func benchFile(b *testing.B, path string) {
	reg := parsers.NewRegistry()
	reg.Register(zeek.Info())
	s, err := parsers.NewStream(reg, zeek.Name)
	if err != nil {
		b.Fatal(err)
	}
	s.Ref = parsertest.RefTime
	var ev detect.Event
	var lines [][]byte
	for _, l := range parsertest.Lines(b, filepath.Join(corpus, path)) {
		if s.Parse(l, &ev) == nil {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		b.Fatal("no events")
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

func BenchmarkConnTSV(b *testing.B)   { benchFile(b, "conn_tsv/input.log") }
func BenchmarkConnJSON(b *testing.B)  { benchFile(b, "conn_json/input.log") }
func BenchmarkNoticeTSV(b *testing.B) { benchFile(b, "stateful/notice_tsv/input.log") }
func BenchmarkNoticeJSON(b *testing.B) {
	benchFile(b, "notice_json/input.log")
}

func parse(p detect.Parser, line string) (*detect.Event, error) {
	rec := detect.Record{Raw: []byte(line), Ref: parsertest.RefTime}
	syslog.Parse(&rec)
	ev := new(detect.Event)
	return ev, p.Parse(&rec, ev)
}

// Columns are mapped by the #fields header's names, and a new file's
// #separator line resets what the previous file's header said.
func TestHeaderResets(t *testing.T) {
	p := zeek.New()
	for _, h := range []string{"#separator \\x09", "#path\tdns", "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery"} {
		if _, err := parse(p, h); !errors.Is(err, detect.ErrNotEvent) {
			t.Fatalf("%q: %v", h, err)
		}
	}
	if _, err := parse(p, "1795773600.1\tC1\t192.168.1.20\t53211\t192.0.2.53\t53\tudp\tCANARY.example"); !errors.Is(err, detect.ErrNotEvent) {
		t.Errorf("dns line: got %v, want ErrNotEvent", err)
	}
	for _, h := range []string{"#separator \\x09", "#fields\tid.resp_h\tts\tid.orig_h\tconn_state\tproto"} {
		if _, err := parse(p, h); !errors.Is(err, detect.ErrNotEvent) {
			t.Fatalf("%q: %v", h, err)
		}
	}
	ev, err := parse(p, "192.0.2.10\t1795773600.5\t198.51.100.7\tREJ\ttcp")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-11-27T10:00:00.5Z","event":{"category":"network","type":"denied","action":"REJ"},"observer":{"vendor":"Zeek","product":"Zeek"},"source":{"ip":"198.51.100.7"},"destination":{"ip":"192.0.2.10"},"network":{"transport":"tcp"}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Sniff claims Zeek's header, TSV and JSON lines, and not other formats'.
func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		"#separator \\x09":            true,
		"#fields\tts\tuid\tid.orig_h": true,
		"#close\t2026-11-27-11-00-00": true,
		"1795773600.123456\tCHhAvVGS1DHFjwGM9\t198.51.100.7\t51514\t192.0.2.10\t22\ttcp":                       true,
		`{"ts":1795773600.123456,"uid":"C1","id.orig_h":"198.51.100.7"}`:                                       true,
		`{"_path":"conn","_write_ts":"2026-11-27T10:00:00Z","ts":"2026-11-27T10:00:00Z"}`:                      true,
		"ts\tuid\tid.orig_h\tid.orig_p":                                                                        true,
		"#Fields: date time action protocol src-ip dst-ip":                                                     false,
		"#Software: Microsoft Windows Firewall":                                                                false,
		`{"timestamp":"2026-11-27T10:00:00.123456+0000","event_type":"alert","src_ip":"1.2.3.4"}`:              false,
		"1795773600.123    123 192.0.2.1 TCP_MISS/200 1234 GET http://example.com/ - DIRECT/1.2.3.4 text/html": false,
		"# just a comment": false,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if got := zeek.Sniff(&rec); got != want {
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
		p := zeek.Info().New()
		for _, line := range bytes.Split(data, []byte("\n")) {
			rec := detect.Record{Raw: line, Ref: parsertest.RefTime}
			syslog.Parse(&rec)
			var ev detect.Event
			if p.Parse(&rec, &ev) != nil {
				continue
			}
			ev.Dataset = zeek.Name
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

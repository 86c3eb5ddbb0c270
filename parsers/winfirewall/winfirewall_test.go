package winfirewall_test

import (
	"errors"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/parsers/winfirewall"
)

const corpus = "../../corpus/parsers/windows_firewall"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, winfirewall.Info(), corpus, parsertest.Options{})
}

func FuzzWindowsFirewall(f *testing.F) {
	parsertest.Fuzz(f, winfirewall.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, winfirewall.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, winfirewall.Info(), corpus, true)
}

// parse runs one line through p as the framework would, with loc as the
// zone of stamps without one.
func parse(p detect.Parser, line string, loc *time.Location) (*detect.Event, error) {
	rec := detect.Record{Raw: []byte(line), Ref: parsertest.RefTime, Loc: loc}
	syslog.Parse(&rec)
	ev := new(detect.Event)
	return ev, p.Parse(&rec, ev)
}

// The stream's #Fields header decides which column is which, by name.
func TestFieldsHeaderMapsColumnsByName(t *testing.T) {
	p := winfirewall.New()
	if _, err := parse(p, "#Fields: time date path dst-ip src-ip action protocol dst-port src-port size", nil); !errors.Is(err, detect.ErrNotEvent) {
		t.Fatalf("header: got %v, want ErrNotEvent", err)
	}
	ev, err := parse(p, "10:00:00 2026-11-27 RECEIVE 192.0.2.10 198.51.100.7 DROP TCP 3389 51514 52", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-11-27T10:00:00Z","event":{"category":"network","type":"denied","action":"DROP"},"observer":{"vendor":"Microsoft","product":"Windows Firewall"},"source":{"ip":"198.51.100.7","port":51514,"bytes":52},"destination":{"ip":"192.0.2.10","port":3389},"network":{"transport":"tcp"}}`
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// A header without the columns an event needs is refused, and the
	// layout stays as it was.
	if _, err := parse(p, "#Fields: date time", nil); err == nil || errors.Is(err, detect.ErrNotEvent) {
		t.Errorf("bad header: got %v, want an error", err)
	}
	if _, err := parse(p, "10:00:01 2026-11-27 SEND 192.0.2.10 198.51.100.7 ALLOW UDP 53 5353 0", nil); err != nil {
		t.Errorf("layout lost after a bad header: %v", err)
	}
}

// The log's stamps are the Windows host's local time: they are read in the
// record's zone, unless the header says UTC.
func TestLocalTime(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	line := "2026-11-27 10:00:00 DROP TCP 198.51.100.7 192.0.2.10 51514 3389 52 S 123456 0 64240 - - - RECEIVE"
	p := winfirewall.New()
	ev, err := parse(p, line, cet)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("local: got %v, want %v", ev.Timestamp.UTC(), want)
	}
	if _, err := parse(p, "#Time Format: UTC", cet); !errors.Is(err, detect.ErrNotEvent) {
		t.Fatal(err)
	}
	ev, err = parse(p, line, cet)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC); !ev.Timestamp.Equal(want) {
		t.Errorf("utc: got %v, want %v", ev.Timestamp.UTC(), want)
	}
}

// Sniff claims the data lines and the file's own header lines, and not
// other W3C logs or other lines with an ISO stamp.
func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		"2026-11-27 10:00:00 DROP TCP 198.51.100.7 192.0.2.10 51514 3389 52 S 123456 0 64240 - - - RECEIVE": true,
		"2026-11-27 10:00:00 ALLOW UDP 192.168.1.20 192.168.1.1 53211 53 0 - - - - - - - SEND":              true,
		"2026-11-27 10:00:00 INFO-EVENTS-LOST - - - - - - - - - - - - 17 -":                                 true,
		"#Software: Microsoft Windows Firewall":                                                             true,
		"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags":                  true,
		"#Version: 1.5": true,
		"#Software: Microsoft Internet Information Services 10.0":           false,
		"#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port": false,
		"#Version: 1.0": false,
		"2026-11-27 10:00:00 192.0.2.1 GET /index.html - 443 - 198.51.100.7 Mozilla/5.0 - 200 0 0": false,
		"2026-11-27 10:00:00 INFO service started":                                                 false,
		"2026-11-27T10:00:00 DROP TCP 198.51.100.7 192.0.2.10":                                     false,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if got := winfirewall.Sniff(&rec); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", line, got, want)
		}
	}
}

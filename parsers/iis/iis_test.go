package iis_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/iis"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
	"github.com/cyberalarm/cyberalarm/parsers/winfirewall"
)

const corpus = "../../corpus/parsers/iis"

// benchCorpus holds lines of one #Fields layout: parsertest.Bench replays
// only the lines that gave events, without the headers between them, so
// the corpus's several layouts cannot be benchmarked together.
const benchCorpus = "testdata/bench"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, iis.Info(), corpus, parsertest.Options{})
}

func FuzzIIS(f *testing.F) {
	parsertest.Fuzz(f, iis.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, iis.Info(), benchCorpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, iis.Info(), benchCorpus, true)
}

// TestWindowsFirewallSeparation checks that the IIS and Windows Firewall
// parsers, both W3C logs starting with "YYYY-MM-DD hh:mm:ss", do not claim
// each other's lines, headers included, and that an auto-detected stream
// mixing both keeps each parser's #Fields layout.
func TestWindowsFirewallSeparation(t *testing.T) {
	reg := parsers.NewRegistry()
	reg.Register(winfirewall.Info())
	reg.Register(iis.Info())
	s, err := parsers.NewStream(reg, "auto")
	if err != nil {
		t.Fatal(err)
	}
	s.Ref = parsertest.RefTime
	lines := []struct{ line, want string }{
		{"#Version: 1.5", "windows_firewall"},
		{"#Software: Microsoft Windows Firewall", "windows_firewall"},
		{"#Time Format: Local", "windows_firewall"},
		{"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path pid", "windows_firewall"},
		{"#Software: Microsoft Internet Information Services 10.0", "iis"},
		{"#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken", "iis"},
		{"2026-11-27 10:00:00 DROP TCP 198.51.100.7 192.0.2.10 51514 3389 52 S 123456 0 64240 - - - RECEIVE 4", "windows_firewall"},
		{"2026-11-27 10:00:01 W3SVC1 192.0.2.10 GET /index.html - 443 - 198.51.100.7 Mozilla/5.0 - 200 0 0 15", "iis"},
		{"2026-11-27 10:00:02 ALLOW UDP 192.0.2.10 198.51.100.53 53000 53 0 - - - - - - - SEND 1234", "windows_firewall"},
		{"2026-11-27 10:00:03 W3SVC1 192.0.2.10 POST /login.aspx - 443 - 198.51.100.7 Mozilla/5.0 - 401 1 1326 31", "iis"},
		{"2026-11-27 10:00:04 INFO-EVENTS-LOST - - - - - - - - - - - - - - 12 -", "windows_firewall"},
		{"2026-11-27 10:00:05 DROP ICMP 198.51.100.7 192.0.2.10 - - 84 - - - - 8 0 - RECEIVE 4", "windows_firewall"},
	}
	var ev detect.Event
	for _, l := range lines {
		var rec detect.Record
		rec.Raw = []byte(l.line)
		syslog.Parse(&rec)
		if got := iis.Sniff(&rec); got != (l.want == "iis") {
			t.Errorf("iis.Sniff(%q) = %v", l.line, got)
		}
		if got := winfirewall.Sniff(&rec); got != (l.want == "windows_firewall") {
			t.Errorf("winfirewall.Sniff(%q) = %v", l.line, got)
		}
		err := s.Parse([]byte(l.line), &ev)
		if s.Dataset() != l.want {
			t.Errorf("%q: auto-detection chose %q, want %q", l.line, s.Dataset(), l.want)
		}
		if l.line[0] == '#' {
			if !errors.Is(err, detect.ErrNotEvent) {
				t.Errorf("%q: header gave %v, want ErrNotEvent", l.line, err)
			}
		} else if err != nil && !errors.Is(err, detect.ErrNotEvent) {
			t.Errorf("%q: %v", l.line, err)
		}
	}
}

// TestGenericW3CHeaders checks that Sniff leaves the W3C lines other
// products write too, and other W3C logs' #Fields, unclaimed.
func TestGenericW3CHeaders(t *testing.T) {
	for _, l := range []string{
		"#Version: 1.0",
		"#Date: 2026-11-27 10:00:00",
		"#Software: Microsoft HTTP API 2.0",
		"#Fields: date time c-ip c-port s-ip s-port cs-version cs-method cs-uri streamid sc-status s-siteid s-reason s-queuename",
		"#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,remote-endpoint,event,data,context",
		"2026-11-27 10:00:00 INFO GET request served",
		"2026-11-27 10:00:00 192.0.2.10 GET - - 443",
	} {
		rec := detect.Record{Raw: []byte(l)}
		syslog.Parse(&rec)
		if iis.Sniff(&rec) {
			t.Errorf("iis.Sniff claims %q", l)
		}
	}
}

// TestUserAgentPlus checks that W3C's '+' for a space is undone in the
// user agent only, and that the time is UTC whatever the record's zone.
func TestUserAgentPlus(t *testing.T) {
	p := iis.New()
	rec := detect.Record{Raw: []byte("2026-11-27 10:00:00 192.0.2.10 GET /a+b - 443 - 198.51.100.7 Mozilla/5.0+(Windows+NT+10.0) - 200 0 0 15"),
		Loc: time.FixedZone("CET", 3600)}
	syslog.Parse(&rec)
	var ev detect.Event
	if err := p.Parse(&rec, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.UserAgent != "Mozilla/5.0 (Windows NT 10.0)" || ev.URLPath != "/a+b" {
		t.Errorf("user agent %q, path %q", ev.UserAgent, ev.URLPath)
	}
	if !ev.Timestamp.Equal(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("time %v, want UTC", ev.Timestamp)
	}
}

// FuzzIISStream feeds the lines of each input, headers included, to one
// parser, so that odd #Fields layouts meet odd lines.
func FuzzIISStream(f *testing.F) {
	for _, p := range []string{"default_fields", "full_fields", "xff_custom", "header_changes", "malformed"} {
		f.Add(bytes.Join(parsertest.Lines(f, corpus+"/"+p+"/input.log"), []byte("\n")))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := iis.New()
		for _, line := range bytes.Split(data, []byte("\n")) {
			rec := detect.Record{Raw: line, Ref: parsertest.RefTime}
			syslog.Parse(&rec)
			var ev detect.Event
			if p.Parse(&rec, &ev) != nil {
				continue
			}
			ev.Dataset = iis.Name
			if err := ev.Validate(); err != nil {
				t.Fatalf("contract: %v: %s", err, ev.AppendJSON(nil))
			}
		}
	})
}

package httpd_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"

	"github.com/cyberalarm/cyberalarm/parsers/httpd"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
)

const corpus = "../../corpus/parsers/web_access"

func TestCorpus(t *testing.T) {
	parsertest.Run(t, httpd.Info(), corpus, parsertest.Options{})
}

func FuzzWebAccess(f *testing.F) {
	parsertest.Fuzz(f, httpd.Info(), corpus)
}

func BenchmarkParse(b *testing.B) {
	parsertest.Bench(b, httpd.Info(), corpus, false)
}

func BenchmarkParseAuto(b *testing.B) {
	parsertest.Bench(b, httpd.Info(), corpus, true)
}

func TestClientIP(t *testing.T) {
	for _, c := range []struct{ xff, peer, want string }{
		{"", "198.51.100.7", "198.51.100.7"},                   // direct
		{"10.0.0.1", "198.51.100.7", "198.51.100.7"},           // public peer: XFF is spoofable
		{"203.0.113.5", "10.0.0.2", "203.0.113.5"},             // behind an internal proxy
		{"192.0.2.99, 203.0.113.5", "10.0.0.2", "203.0.113.5"}, // leftmost is client-supplied
		{"203.0.113.5, 10.1.0.5", "10.0.0.2", "203.0.113.5"},   // two internal tiers
		{"192.168.1.50", "10.0.0.2", "192.168.1.50"},           // all internal: leftmost
		{"unknown", "10.0.0.2", "10.0.0.2"},                    // junk ends the walk
		{"203.0.113.5, unknown", "10.0.0.2", "10.0.0.2"},       // junk ends the walk
		{"203.0.113.5:51514", "10.0.0.2", "203.0.113.5"},       // port
		{"[2001:db8:1::7]:443", "fd00::2", "2001:db8:1::7"},    // bracketed IPv6 and port
		{"192.0.2.99,+203.0.113.5", "10.0.0.2", "203.0.113.5"}, // W3C '+' for a space
		{"-", "10.0.0.2", "10.0.0.2"},                          // no header
		{"", "203.0.113.5, 10.0.0.1", "203.0.113.5"},           // XFF as the peer field
		{"", "-", ""}, // nothing
		{"203.0.113.5", "client.example.net", ""},                             // host name peer
		{"203.0.113.5", "", "203.0.113.5"},                                    // no peer
		{"::ffff:203.0.113.5", "::ffff:10.0.0.2", "203.0.113.5"},              // mapped addresses
		{"198.51.100.1, 198.51.100.2, 10.0.0.3", "127.0.0.1", "198.51.100.2"}, // loopback proxy
	} {
		got := httpd.ClientIP([]byte(c.xff), []byte(c.peer))
		want := netip.Addr{}
		if c.want != "" {
			want = netip.MustParseAddr(c.want)
		}
		if got != want {
			t.Errorf("ClientIP(%q, %q) = %v, want %v", c.xff, c.peer, got, want)
		}
	}
}

func TestEventType(t *testing.T) {
	for status, want := range map[int]string{
		0: "", 101: "allowed", 200: "allowed", 301: "allowed", 400: "allowed", 404: "allowed", 500: "allowed",
		401: "denied", 403: "denied", 407: "denied", 429: "denied", 444: "denied", 495: "denied", 496: "denied",
	} {
		if got := httpd.EventType(status); got != want {
			t.Errorf("EventType(%d) = %q, want %q", status, got, want)
		}
	}
}

// TestStampZone checks that a stamp without a zone is read in the record's
// zone, and one with a zone in its own.
func TestStampZone(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for line, want := range map[string]time.Time{
		`198.51.100.7 - - [27/Nov/2026:10:00:00] "GET / HTTP/1.1" 200 1`:         time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
		`198.51.100.7 - - [27/Nov/2026:10:00:00 -0500] "GET / HTTP/1.1" 200 1`:   time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC),
		`198.51.100.7 - - [27/Nov/2026:10:00:00.5 +0000] "GET / HTTP/1.1" 200 1`: time.Date(2026, 11, 27, 10, 0, 0, 5e8, time.UTC),
		`198.51.100.7 - - [2026-11-27T10:00:00] "GET / HTTP/1.1" 200 1`:          time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
		`198.51.100.7 - - [2026-11-27T10:00:00.25Z] "GET / HTTP/1.1" 200 1`:      time.Date(2026, 11, 27, 10, 0, 0, 25e7, time.UTC),
		`198.51.100.7 - - [29/Feb/2028:23:59:60 +0000] "GET / HTTP/1.1" 200 1`:   time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC),
	} {
		rec := detect.Record{Raw: []byte(line), Loc: cet}
		syslog.Parse(&rec)
		var ev detect.Event
		if err := new(httpd.Parser).Parse(&rec, &ev); err != nil {
			t.Errorf("%s: %v", line, err)
			continue
		}
		if !ev.Timestamp.Equal(want) {
			t.Errorf("%s: time %v, want %v", line, ev.Timestamp.UTC(), want)
		}
	}
}

// TestSniffNegative checks lines that look a little like access logs.
func TestSniffNegative(t *testing.T) {
	for _, l := range []string{
		`2026/11/27 10:00:06 [error] 1234#1234: *5 open() "/x" failed, client: 198.51.100.7, request: "GET / HTTP/1.1"`,
		`[Fri Nov 27 10:00:08.123456 2026] [authz_core:error] [pid 2345] [client 198.51.100.7:51514] AH01630: denied`,
		`<14>Nov 27 10:00:00 lb01 haproxy[123]: 198.51.100.7:51514 [27/Nov/2026:10:00:00.123] fe be/srv1 0/0/1/2/3 200 612 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`,
		`[27/Nov/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 1`,
		`198.51.100.7 - - [27/Nov/2026:10:00:00 +0100] GET / HTTP/1.1 200 1`,
	} {
		rec := detect.Record{Raw: []byte(l)}
		syslog.Parse(&rec)
		if httpd.Sniff(&rec) {
			t.Errorf("Sniff claims %q", l)
		}
	}
}

// TestAllocs checks that a combined line with a known user agent and path
// does not allocate.
func TestAllocs(t *testing.T) {
	line := []byte(`<190>Nov 27 10:00:00 web01 nginx: 10.0.0.2 - bob [27/Nov/2026:10:00:00 +0100] "GET /index.html?CANARY HTTP/1.1" 200 612 "https://ref.example/CANARY" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0" "203.0.113.5"`)
	p := new(httpd.Parser)
	var rec detect.Record
	var ev detect.Event
	n := testing.AllocsPerRun(100, func() {
		rec.Raw = line
		syslog.Parse(&rec)
		ev.Reset()
		if err := p.Parse(&rec, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocs per line, want 0", n)
	}
	if ev.Source.IP.String() != "203.0.113.5" || ev.UserName != "bob" || ev.URLPath != "/index.html" {
		t.Errorf("unexpected event: %s", ev.AppendJSON(nil))
	}
}

// BenchmarkCombined measures one ordinary nginx combined line from a file,
// through a Stream as the collector runs it.
func BenchmarkCombined(b *testing.B) {
	reg := parsers.NewRegistry()
	reg.Register(httpd.Info())
	s, err := parsers.NewStream(reg, httpd.Name)
	if err != nil {
		b.Fatal(err)
	}
	line := []byte(`198.51.100.7 - - [27/Nov/2026:10:00:00 +0100] "GET /index.html?q=CANARY HTTP/1.1" 200 612 "https://ref.example/CANARY?x" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"`)
	var ev detect.Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Parse(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

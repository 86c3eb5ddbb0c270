package ciscoasa_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/ciscoasa"
	"github.com/cyberalarm/cyberalarm/parsers/syslog"
)

func stream(t testing.TB) *parsers.Stream {
	reg := parsers.NewRegistry()
	reg.Register(ciscoasa.Info())
	s, err := parsers.NewStream(reg, ciscoasa.Name)
	if err != nil {
		t.Fatal(err)
	}
	s.Ref = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	return s
}

// A header parser that reads "stamp: %ASA-6-302013:" as a host named
// "%ASA-6-302013:" must not leave that host behind.
func TestTagReadAsHost(t *testing.T) {
	p := ciscoasa.Info().New()
	rec := detect.Record{
		Raw:  []byte("Nov 27 2026 10:00:00: %ASA-6-302013: Built inbound TCP connection 1 for outside:198.51.100.1/5000 (198.51.100.1/5000) to inside:10.0.0.1/22 (203.0.113.1/22)"),
		Host: []byte("%ASA-6-302013:"),
		Msg:  []byte("Built inbound TCP connection 1 for outside:198.51.100.1/5000 (198.51.100.1/5000) to inside:10.0.0.1/22 (203.0.113.1/22)"),
		Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
	}
	var ev detect.Event
	if err := p.Parse(&rec, &ev); err != nil {
		t.Fatal(err)
	}
	if rec.Host != nil || ev.Observer.Hostname != "" {
		t.Errorf("host left: rec.Host %q, observer.hostname %q", rec.Host, ev.Observer.Hostname)
	}
	if ev.Code != "302013" || ev.Severity != 6 || ev.Destination.IP.String() != "203.0.113.1" || ev.Destination.NATIP.String() != "10.0.0.1" {
		t.Errorf("got %s", ev.AppendJSON(nil))
	}
}

func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		"<166>Nov 27 2026 10:00:00 asa01 : %ASA-6-302013: Built":           true,
		"<166>Nov 27 2026 10:00:00: %ASA-6-302013: Built":                  true,
		"<166>%FTD-6-302013: Built":                                        true,
		"<166>:Nov 27 10:00:00 UTC: %ASA-session-6-302013: Built":          true,
		"Nov 27 10:00:05 relay Nov 27 2026 10:00:00 fw : %PIX-4-106023: x": true,
		"<166>asa01 : %ASA-6-302013: Built":                                true,
		"Nov 27 10:00:00 gw kernel: DROP IN=eth0 OUT= SRC=1.2.3.4":         false,
		"Nov 27 10:00:00 web nginx: GET /%ASA-6-302013 HTTP/1.1":           false,
		"Nov 27 10:00:00 rtr 123: %SEC-6-IPACCESSLOGP: list 1 denied":      false,
		"%ASAP-6-302013: x":                          false,
		"Nov 27 10:00:00 host app: 100%ASA-6-302013": false,
	} {
		rec := detect.Record{Raw: []byte(line)}
		syslog.Parse(&rec)
		if got := ciscoasa.Sniff(&rec); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", line, got, want)
		}
	}
}

// Teardowns take the direction of their build while it is remembered, and
// fall back to the port rule once it has been evicted.
func TestTeardownDirection(t *testing.T) {
	s := stream(t)
	var ev detect.Event
	line := func(f string, a ...any) []byte { return []byte(fmt.Sprintf(f, a...)) }
	const n = 20000
	for i := 1; i <= n; i++ {
		// Outbound to a server on a high port: the port rule alone would
		// get these wrong.
		if err := s.Parse(line("<166>Nov 27 2026 10:00:00 asa01 : %%ASA-6-302013: Built outbound TCP connection %d for outside:198.51.100.1/60000 (198.51.100.1/60000) to inside:10.0.0.1/%d (203.0.113.1/%d)", i, 1024+i%5000, 1024+i%5000), &ev); err != nil {
			t.Fatal(err)
		}
	}
	right, wrong := 0, 0
	for i := n; i > 0; i-- {
		if err := s.Parse(line("<166>Nov 27 2026 10:00:01 asa01 : %%ASA-6-302014: Teardown TCP connection %d for outside:198.51.100.1/60000 to inside:10.0.0.1/%d duration 0:00:01 bytes 10 TCP FINs", i, 1024+i%5000), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Source.IP.String() == "10.0.0.1" {
			right++
		} else {
			wrong++
		}
		if i == n && ev.Source.IP.String() != "10.0.0.1" {
			t.Fatalf("latest connection: source %v, want the inside host", ev.Source.IP)
		}
	}
	if right < 2000 {
		t.Errorf("only %d of %d teardowns found their build", right, n)
	}
	// Another device's connection with the same id is not confused with it.
	s.Parse(line("<166>Nov 27 2026 10:00:00 asa01 : %%ASA-6-302013: Built outbound TCP connection 7 for outside:198.51.100.1/60000 (198.51.100.1/60000) to inside:10.0.0.1/2000 (203.0.113.1/2000)"), &ev)
	s.Parse(line("<166>Nov 27 2026 10:00:01 asa02 : %%ASA-6-302014: Teardown TCP connection 7 for outside:198.51.100.1/60000 to inside:10.0.0.1/2000 duration 0:00:01 bytes 10 TCP FINs"), &ev)
	if ev.Source.IP.String() != "198.51.100.1" {
		t.Errorf("asa02's teardown took asa01's build: source %v", ev.Source.IP)
	}
}

func TestZones(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	s := stream(t)
	s.Loc = berlin
	var ev detect.Event
	for line, want := range map[string]string{
		"<164>Nov 27 2026 10:00:00 UTC: %ASA-4-106023: Deny tcp src outside:198.51.100.1/1 dst inside:10.0.0.1/2 by access-group \"a\" [0x0, 0x0]":     "2026-11-27T10:00:00Z",
		"<164>Nov 27 2026 10:00:00 asa01 : %ASA-4-106023: Deny tcp src outside:198.51.100.1/1 dst inside:10.0.0.1/2 by access-group \"a\" [0x0, 0x0]":  "2026-11-27T09:00:00Z",
		"<164>:Nov 27 10:00:00 UTC: %ASA-session-4-106023: Deny tcp src outside:198.51.100.1/1 dst inside:10.0.0.1/2 by access-group \"a\" [0x0, 0x0]": "2026-11-27T10:00:00Z",
		"<164>:Nov 27 10:00:00 CET: %ASA-session-4-106023: Deny tcp src outside:198.51.100.1/1 dst inside:10.0.0.1/2 by access-group \"a\" [0x0, 0x0]": "2026-11-27T09:00:00Z",
	} {
		if err := s.Parse([]byte(line), &ev); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := ev.Timestamp.UTC().Format(time.RFC3339); got != want {
			t.Errorf("%s: @timestamp %s, want %s", line, got, want)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	s := stream(t)
	var ev detect.Event
	lines := [][]byte{
		[]byte(`<164>Nov 27 2026 10:00:00 asa01 : %ASA-4-106023: Deny tcp src outside:198.51.100.7/51514 dst inside:10.0.0.5/22 by access-group "outside_access_in" [0x8ed66b60, 0xf8852875]`),
		[]byte(`<166>Nov 27 2026 10:05:00 asa01 : %ASA-6-302013: Built outbound TCP connection 90001 for outside:198.51.100.80/443 (198.51.100.80/443) to inside:10.0.0.80/50080 (203.0.113.10/50080)`),
		[]byte(`<166>Nov 27 2026 10:05:10 asa01 : %ASA-6-302014: Teardown TCP connection 90001 for outside:198.51.100.80/443 to inside:10.0.0.80/50080 duration 0:00:10 bytes 816971 TCP FINs`),
		[]byte(`<166>Nov 27 2026 10:04:00 asa01 : %ASA-6-106100: access-list outside_access_in denied tcp outside/2001:db8:bad::74(44374) -> inside/2001:db8:10::74(3389) hit-cnt 1 first hit [0x3d6e1a2e, 0x0]`),
		[]byte(`<166>Nov 27 2026 10:13:00 asa01 : %ASA-7-609001: Built local-host inside:10.0.0.160`),
	}
	for _, l := range lines {
		s.Parse(l, &ev) // warm the interning caches
	}
	for _, l := range lines {
		if n := testing.AllocsPerRun(100, func() { s.Parse(l, &ev) }); n != 0 {
			t.Errorf("%.1f allocs/op: %s", n, l)
		}
	}
}

package egress

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

// fullDetection sets every field of a detection and its sample event.
func fullDetection() *detect.Detection {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	return &detect.Detection{
		RuleID:          "web.exploit.path_traversal",
		RuleName:        `Path "traversal" <attempt>`,
		Severity:        60,
		Techniques:      []string{"T1190"},
		Tags:            []string{"attack.initial_access", "web"},
		Source:          netip.MustParseAddr("203.0.113.7"),
		Destination:     netip.MustParseAddr("10.0.0.80"),
		DestinationPort: 443,
		Related:         []netip.Addr{netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("192.168.7.7")},
		DistinctSources: 2,
		Count:           3,
		FirstSeen:       t0,
		LastSeen:        t0.Add(90 * time.Second),
		MemberID:        "m-1",
		Sample: detect.Event{
			Timestamp: t0.Add(500 * time.Millisecond),
			Category:  detect.CategoryWeb, Type: detect.TypeDenied, Action: "blocked", Outcome: "failure",
			Dataset: "web_access", Code: "403", Severity: 4,
			Observer:    detect.Observer{Vendor: "Apache", Product: "httpd", Hostname: "www1"},
			Source:      detect.Endpoint{IP: netip.MustParseAddr("203.0.113.7"), Port: 51000, Bytes: detect.SetCount(120)},
			Destination: detect.Endpoint{IP: netip.MustParseAddr("10.0.0.80"), Port: 443, Bytes: detect.SetCount(0), NATIP: netip.MustParseAddr("198.51.100.80")},
			Network: detect.Network{Transport: detect.TransportTCP, Protocol: "https", Direction: detect.DirectionInbound,
				Bytes: detect.SetCount(120), Packets: detect.SetCount(2)},
			Rule:       detect.Rule{Name: "waf-7", ID: "7", Category: "web-attack"},
			UserName:   "alice",
			URLPath:    "/../../etc/passwd",
			HTTPMethod: "GET", HTTPStatus: 403,
			UserAgent: "curl/8.0",
			Indicator: "blocklist",
		},
	}
}

// TestAppendDetectionMatchesDetect: with everything allowed and no
// pseudonyms, egress writes exactly what detect writes, so central reads
// one format.
func TestAppendDetectionMatchesDetect(t *testing.T) {
	p := &Policy{SendUserNames: true, SendURLPaths: true, SendUserAgents: true}
	d := fullDetection()
	want := string(d.AppendJSON(nil))
	if got := string(p.AppendDetection(nil, d)); got != want {
		t.Errorf("egress and detect differ:\n got %s\nwant %s", got, want)
	}
	// And with the fields that are usually empty left out.
	d = &detect.Detection{RuleID: "x", RuleName: "y", Severity: 1, Count: 1, DestinationPort: 22,
		Sample: detect.Event{Type: detect.TypeDenied, Source: detect.Endpoint{NATIP: netip.MustParseAddr("10.1.1.1")}}}
	if got, want := string(p.AppendDetection(nil, d)), string(d.AppendJSON(nil)); got != want {
		t.Errorf("egress and detect differ:\n got %s\nwant %s", got, want)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not valid JSON: %v\n%s", err, b)
	}
	return m
}

func lookup(m map[string]any, path string) any {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = o[k]
	}
	return v
}

func TestAppendDetectionStrictByDefault(t *testing.T) {
	var p Policy
	m := decode(t, p.AppendDetection(nil, fullDetection()))
	for _, gone := range []string{"detection.sample.user", "detection.sample.url", "detection.sample.user_agent"} {
		if v := lookup(m, gone); v != nil {
			t.Errorf("%s leaves under the default policy: %v", gone, v)
		}
	}
	for path, want := range map[string]any{
		"detection.sample.http.request.method":       "GET",
		"detection.sample.http.response.status_code": 403.0,
		"detection.sample.threat.feed.name":          "blocklist",
		"detection.sample.destination.ip":            "10.0.0.80",
		"detection.sample.destination.nat.ip":        "198.51.100.80",
		"detection.sample.network.direction":         "inbound",
		"detection.sample.event.action":              "blocked",
		"detection.sample.observer.hostname":         "www1",
		"rule.name":                                  `Path "traversal" <attempt>`,
		"detection.distinct_sources":                 2.0,
		"member.id":                                  "m-1",
		"destination.ip":                             "10.0.0.80",
		"detection.sample.source.bytes":              120.0,
		"detection.sample.destination.bytes":         0.0,
		"detection.sample.event.severity":            4.0,
		"detection.sample.rule.category":             "web-attack",
		"detection.sample.network.packets":           2.0,
		"detection.sample.@timestamp":                "2026-11-27T10:00:00.5Z",
		"detection.first_seen":                       "2026-11-27T10:00:00Z",
		"detection.sample.observer.vendor":           "Apache",
		"detection.sample.source.port":               51000.0,
		"detection.sample.event.dataset":             "web_access",
		"detection.sample.network.transport":         "tcp",
		"detection.sample.event.outcome":             "failure",
		"detection.sample.event.code":                "403",
		"detection.sample.rule.name":                 "waf-7",
		"detection.sample.network.protocol":          "https",
		"detection.sample.event.category":            "web",
		"detection.sample.source.ip":                 "203.0.113.7",
		"detection.sample.destination.port":          443.0,
		"detection.sample.network.bytes":             120.0,
		"detection.sample.rule.id":                   "7",
		"detection.sample.observer.product":          "httpd",
		"detection.sample.event.type":                "denied",
		"detection.last_seen":                        "2026-11-27T10:01:30Z",
		"detection.count":                            3.0,
		"event.severity":                             60.0,
		"source.ip":                                  "203.0.113.7",
		"destination.port":                           443.0,
		"rule.id":                                    "web.exploit.path_traversal",
		"detection.sample.http.request":              map[string]any{"method": "GET"},
		"detection.sample.observer":                  map[string]any{"vendor": "Apache", "product": "httpd", "hostname": "www1"},
		"detection.sample.destination.nat":           map[string]any{"ip": "198.51.100.80"},
		"detection.sample.threat":                    map[string]any{"feed": map[string]any{"name": "blocklist"}},
		"detection.sample.http.response":             map[string]any{"status_code": 403.0},
		"detection.sample.source":                    map[string]any{"ip": "203.0.113.7", "port": 51000.0, "bytes": 120.0},
	} {
		if diff := cmp.Diff(want, lookup(m, path)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
}

func TestAppendDetectionOptIns(t *testing.T) {
	p := Policy{SendUserNames: true}
	m := decode(t, p.AppendDetection(nil, fullDetection()))
	if lookup(m, "detection.sample.user.name") != "alice" || lookup(m, "detection.sample.url") != nil || lookup(m, "detection.sample.user_agent") != nil {
		t.Errorf("SendUserNames alone: %v", m["detection"])
	}
	p = Policy{SendURLPaths: true}
	m = decode(t, p.AppendDetection(nil, fullDetection()))
	if lookup(m, "detection.sample.url.path") != "/../../etc/passwd" || lookup(m, "detection.sample.user") != nil || lookup(m, "detection.sample.user_agent") != nil {
		t.Errorf("SendURLPaths alone: %v", m["detection"])
	}
	p = Policy{SendUserAgents: true}
	m = decode(t, p.AppendDetection(nil, fullDetection()))
	if lookup(m, "detection.sample.user_agent.original") != "curl/8.0" || lookup(m, "detection.sample.user") != nil || lookup(m, "detection.sample.url") != nil {
		t.Errorf("SendUserAgents alone: %v", m["detection"])
	}
}

func TestAppendDetectionPseudonyms(t *testing.T) {
	ps := mustPseudonymiser(t, testKey('p'))
	p := Policy{Pseudonyms: ps}
	d := fullDetection()
	m := decode(t, p.AppendDetection(nil, d))
	h := func(s string) string { return ps.Pseudonym(netip.MustParseAddr(s)) }
	for path, want := range map[string]any{
		"source.ip":                           "203.0.113.7", // external: in clear
		"destination.ip":                      h("10.0.0.80"),
		"related.ip":                          []any{"203.0.113.7", h("192.168.7.7")},
		"detection.sample.source.ip":          "203.0.113.7",
		"detection.sample.destination.ip":     h("10.0.0.80"),
		"detection.sample.destination.nat.ip": "198.51.100.80",
	} {
		if diff := cmp.Diff(want, lookup(m, path)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}

	// The member's own public range counts as internal when it says so.
	own := netip.MustParsePrefix("198.51.100.0/24")
	p.Internal = func(a netip.Addr) bool { return detect.DefaultInternal(a) || own.Contains(a) }
	m = decode(t, p.AppendDetection(nil, d))
	if got, want := lookup(m, "detection.sample.destination.nat.ip"), h("198.51.100.80"); got != want {
		t.Errorf("nat.ip = %v, want %v", got, want)
	}
	if got := lookup(m, "source.ip"); got != "203.0.113.7" {
		t.Errorf("source.ip = %v, want it in clear", got)
	}
}

func TestAddress(t *testing.T) {
	ps := mustPseudonymiser(t, testKey('q'))
	p := Policy{Pseudonyms: ps}
	for _, c := range []struct{ in, want string }{
		{"10.2.3.4", ps.Pseudonym(netip.MustParseAddr("10.2.3.4"))},
		{"fd12:3456::1", ps.Pseudonym(netip.MustParseAddr("fd12:3456::1"))},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:db8::1%eth0", "2001:db8::1"},
		{"203.0.113.9", "203.0.113.9"},
	} {
		if got := p.Address(netip.MustParseAddr(c.in)); got != c.want {
			t.Errorf("Address(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := p.Address(netip.Addr{}); got != "" {
		t.Errorf("Address(zero) = %q", got)
	}
	var clear Policy
	if got := clear.Address(netip.MustParseAddr("10.2.3.4")); got != "10.2.3.4" {
		t.Errorf("without pseudonyms, Address = %s", got)
	}
}

func TestAppendDetectionAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	p := Policy{Pseudonyms: mustPseudonymiser(t, testKey('r'))}
	d := fullDetection()
	buf := p.AppendDetection(nil, d)
	if n := testing.AllocsPerRun(100, func() { buf = p.AppendDetection(buf[:0], d) }); n != 0 {
		t.Errorf("AppendDetection allocates %v times", n)
	}
}

// FuzzAppendDetection: whatever a parser puts in an event's strings, the
// egress JSON is valid and the opt-in fields stay behind.
func FuzzAppendDetection(f *testing.F) {
	f.Add("rule", "name", "tech", "host", "alice", "/a?b", "curl", "acl", "allowed", "\x00\xff\"\\")
	f.Add("", "", "", "", "", "", "", "", "", "")
	f.Add("r\u2028", "<n>", "T1", "h\n", "CANARY", "CANARY", "CANARY", "a\tb", "\xed\xa0\x80", "é")
	ps, err := NewPseudonymiser(testKey('f'))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, name, tech, host, user, path, ua, rule, action, other string) {
		d := fullDetection()
		d.RuleID, d.RuleName, d.Techniques, d.MemberID = id, name, []string{tech}, other
		d.Sample.Observer.Hostname, d.Sample.UserName, d.Sample.URLPath, d.Sample.UserAgent = host, user, path, ua
		d.Sample.Rule.Name, d.Sample.Action, d.Sample.Code = rule, action, other
		strict := Policy{Pseudonyms: ps}
		out := strict.AppendDetection(nil, d)
		m := decode(t, out)
		for _, gone := range []string{"detection.sample.user", "detection.sample.url", "detection.sample.user_agent"} {
			if v := lookup(m, gone); v != nil {
				t.Errorf("%s leaves: %v", gone, v)
			}
		}
		all := Policy{SendUserNames: true, SendURLPaths: true, SendUserAgents: true}
		if got, want := all.AppendDetection(nil, d), d.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("egress and detect differ:\n got %s\nwant %s", got, want)
		}
	})
}

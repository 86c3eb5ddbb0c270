package detect

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func fullEvent() Event {
	return Event{
		Timestamp: time.Date(2026, 11, 27, 10, 0, 0, 123000000, time.FixedZone("", 3600)),
		Category:  CategoryWeb, Type: TypeDenied, Action: "Deny", Outcome: OutcomeFailure,
		Dataset: "cisco_asa", Code: "106023", Severity: 4,
		Observer:    Observer{Vendor: "Cisco", Product: "ASA", Hostname: "asa01"},
		Source:      Endpoint{IP: netip.MustParseAddr("2001:db8::7"), Port: 51514, Bytes: SetCount(0), NATIP: netip.MustParseAddr("192.0.2.1")},
		Destination: Endpoint{IP: netip.MustParseAddr("192.0.2.10"), Port: 443, Bytes: SetCount(1500), NATIP: netip.MustParseAddr("10.0.0.10")},
		Network:     Network{Transport: TransportTCP, Protocol: "http", Direction: DirectionInbound, Bytes: SetCount(1500), Packets: SetCount(3)},
		Rule:        Rule{Name: `acl "outside"`, ID: "0x1", Category: "Attempted Admin"},
		UserName:    "bob", URLPath: "/wp-login.php", HTTPMethod: "POST", HTTPStatus: 404, UserAgent: "curl/8.0",
	}
}

func TestAppendJSONFull(t *testing.T) {
	e := fullEvent()
	var got map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"@timestamp": "2026-11-27T09:00:00.123Z",
		"event": map[string]any{"category": "web", "type": "denied", "action": "Deny", "outcome": "failure",
			"dataset": "cisco_asa", "code": "106023", "severity": 4.0},
		"observer":    map[string]any{"vendor": "Cisco", "product": "ASA", "hostname": "asa01"},
		"source":      map[string]any{"ip": "2001:db8::7", "port": 51514.0, "bytes": 0.0, "nat": map[string]any{"ip": "192.0.2.1"}},
		"destination": map[string]any{"ip": "192.0.2.10", "port": 443.0, "bytes": 1500.0, "nat": map[string]any{"ip": "10.0.0.10"}},
		"network":     map[string]any{"transport": "tcp", "protocol": "http", "direction": "inbound", "bytes": 1500.0, "packets": 3.0},
		"rule":        map[string]any{"name": `acl "outside"`, "id": "0x1", "category": "Attempted Admin"},
		"user":        map[string]any{"name": "bob"},
		"url":         map[string]any{"path": "/wp-login.php"},
		"http":        map[string]any{"request": map[string]any{"method": "POST"}, "response": map[string]any{"status_code": 404.0}},
		"user_agent":  map[string]any{"original": "curl/8.0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAppendJSONLeavesOutAbsent(t *testing.T) {
	e := Event{Timestamp: time.Unix(0, 0), Dataset: "x", Category: CategoryNetwork,
		Source: Endpoint{IP: netip.MustParseAddr("192.0.2.1")}}
	got := string(e.AppendJSON(nil))
	want := `{"@timestamp":"1970-01-01T00:00:00Z","event":{"category":"network","dataset":"x"},"source":{"ip":"192.0.2.1"}}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := string((&Event{}).AppendJSON(nil)); got != "{}" {
		t.Errorf("empty event: %s", got)
	}
	// Only a status code: http.request must not appear.
	e = Event{HTTPStatus: 200}
	if got := string(e.AppendJSON(nil)); got != `{"http":{"response":{"status_code":200}}}` {
		t.Errorf("status only: %s", got)
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{
		"plain", `q"uo\te`, "ctl\x00\x01\x1f\n\r\t", "ünïcödé ✓ 𝄞", "bad\xff\xfeutf8", "\xc3\x28", "sep\u2028\u2029", "<>&",
	} {
		got := AppendJSONString(nil, s)
		if !json.Valid(got) {
			t.Errorf("%q: invalid JSON %s", s, got)
			continue
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		if !utf8.ValidString(s) {
			// encoding/json replaces each invalid byte.
			w, _ := json.Marshal(s)
			_ = json.Unmarshal(w, &want)
		}
		if back != want {
			t.Errorf("%q: round trip gives %q, want %q", s, back, want)
		}
	}
}

func TestAppendTimestamp(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2026-01-02T03:04:05Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC), "2026-01-02T03:04:05.0000001Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.FixedZone("", -7200)), "2026-01-02T05:04:05.12Z"},
		{time.Date(12026, 1, 2, 3, 4, 5, 0, time.UTC), "12026-01-02T03:04:05Z"},
	} {
		if got := string(AppendTimestamp(nil, tt.t)); got != tt.want {
			t.Errorf("AppendTimestamp(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := fullEvent()
	if err := good.Validate(); err != nil {
		t.Fatalf("full event: %v", err)
	}
	for name, mutate := range map[string]func(*Event){
		"no time":        func(e *Event) { e.Timestamp = time.Time{} },
		"no dataset":     func(e *Event) { e.Dataset = "" },
		"no category":    func(e *Event) { e.Category = "" },
		"bad category":   func(e *Event) { e.Category = "firewall" },
		"bad type":       func(e *Event) { e.Type = "deny" },
		"bad outcome":    func(e *Event) { e.Outcome = "ok" },
		"bad transport":  func(e *Event) { e.Network.Transport = "TCP" },
		"bad direction":  func(e *Event) { e.Network.Direction = "in" },
		"icmp with port": func(e *Event) { e.Network.Transport = TransportICMP },
		"query in path":  func(e *Event) { e.URLPath = "/a?b=c" },
		"bad status":     func(e *Event) { e.HTTPStatus = 42 },
		"negative bytes": func(e *Event) { e.Source.Bytes = SetCount(-1) },
	} {
		e := fullEvent()
		mutate(&e)
		if err := e.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
	}
}

func TestDirection(t *testing.T) {
	ip := netip.MustParseAddr
	for _, tt := range []struct {
		src, dst netip.Addr
		want     string
	}{
		{ip("10.0.0.1"), ip("192.168.1.1"), DirectionInternal},
		{ip("10.0.0.1"), ip("198.51.100.1"), DirectionOutbound},
		{ip("198.51.100.1"), ip("172.16.0.1"), DirectionInbound},
		{ip("198.51.100.1"), ip("203.0.113.1"), DirectionExternal},
		{ip("198.51.100.1"), netip.Addr{}, DirectionInbound},
		{ip("fd00::1"), ip("2001:db8::1"), DirectionOutbound},
		{ip("fe80::1"), ip("::1"), DirectionInternal},
		{netip.Addr{}, ip("10.0.0.1"), ""},
	} {
		if got := Direction(tt.src, tt.dst, DefaultInternal); got != tt.want {
			t.Errorf("Direction(%v, %v) = %q, want %q", tt.src, tt.dst, got, tt.want)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := fullEvent()
	e.UserAgent, e.URLPath, e.HTTPMethod, e.HTTPStatus, e.UserName = "", "", "", 0, ""
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEncodingJSON(b *testing.B) {
	// The same event through encoding/json, as a yardstick.
	type ep struct {
		IP   string `json:"ip,omitempty"`
		Port int    `json:"port,omitempty"`
	}
	v := map[string]any{
		"@timestamp": "2026-11-27T09:00:00.123Z",
		"event":      map[string]any{"category": "network", "type": "denied", "action": "Deny", "dataset": "cisco_asa"},
		"observer":   map[string]any{"vendor": "Cisco", "product": "ASA", "hostname": "asa01"},
		"source":     ep{"2001:db8::7", 51514}, "destination": ep{"192.0.2.10", 443},
		"network": map[string]any{"transport": "tcp", "direction": "inbound"},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}

package rules

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

func mustParse(t *testing.T, src string) []*Rule {
	t.Helper()
	rs, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func mustCompile(t *testing.T, src string, opts ...Option) *Set {
	t.Helper()
	s, err := Compile(mustParse(t, src), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestErrorsNamePlace(t *testing.T) {
	for _, tt := range []struct{ file, want string }{
		{"testdata/bad/unknown_key.yaml", `testdata/bad/unknown_key.yaml:6:1: unknown field "treshold"`},
		{"testdata/bad/bad_expr.yaml", `testdata/bad/bad_expr.yaml:11:50: rule test.badexpr: when: invalid operation: > (mismatched types int and string)`},
		{"testdata/bad/not_bool.yaml", `testdata/bad/not_bool.yaml:6:26: rule test.notbool: when: invalid operation: && (mismatched types bool and int)`},
	} {
		data, err := os.ReadFile(tt.file)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := Parse(tt.file, data)
		if err == nil {
			_, err = Compile(rs)
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: error\n%v\nwant prefix\n%s", tt.file, err, tt.want)
		}
		var es Errors
		if errors.As(err, &es) && len(es) > 0 && strings.Contains(tt.file, "bad_expr") && es[0].Snippet == "" {
			t.Errorf("%s: no snippet", tt.file)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, src := range map[string]string{
		"bad id":        "id: Bad ID\nname: x\nseverity: 5\ntechniques: [T1046]\nwhen: true\n",
		"severity":      "id: a.b\nname: x\nseverity: 500\ntechniques: [T1046]\nwhen: true\n",
		"technique":     "id: a.b\nname: x\nseverity: 5\ntechniques: [X1]\nwhen: true\n",
		"threshold":     "id: a.b\nname: x\nseverity: 5\ntechniques: [T1046]\nwhen: true\ncorrelate: {threshold: 0, window: 1m}\n",
		"window":        "id: a.b\nname: x\nseverity: 5\ntechniques: [T1046]\nwhen: true\ncorrelate: {threshold: 3, window: soon}\n",
		"unknown group": "id: a.b\nname: x\nseverity: 5\ntechniques: [T1046]\nwhen: true\ncorrelate: {threshold: 3, window: 1m, group_by: [source.ipp]}\n",
	} {
		rs, err := Parse("v.yaml", []byte(src))
		if err == nil {
			_, err = Compile(rs)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.HasPrefix(err.Error(), "v.yaml:") {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func ev(src, dst string, dport uint16, typ string) *detect.Event {
	e := &detect.Event{
		Timestamp: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Category:  detect.CategoryNetwork, Type: typ, Dataset: "netfilter",
		Network:     detect.Network{Transport: "tcp", Direction: detect.DirectionInbound},
		Source:      detect.Endpoint{IP: netip.MustParseAddr(src), Port: 40000},
		Destination: detect.Endpoint{IP: netip.MustParseAddr(dst), Port: dport},
	}
	return e
}

// TestNativeMatchesExpr checks the native closures against expr on many
// conditions and events.
func TestNativeMatchesExpr(t *testing.T) {
	conds := []string{
		`event.type == "denied" && network.transport == "tcp"`,
		`destination.port in [22, 23, 3389] && source.ip != ""`,
		`destination.port not in [80, 443]`,
		`source.ip == "198.51.100.7" || destination.ip == "192.0.2.1"`,
		`cidr(source.ip, "198.51.100.0/24") && !internal(source.ip)`,
		`internal(destination.ip)`,
		`trusted(source.ip)`,
		`in_list("bad", source.ip)`,
		`matches(event.dataset, "^net") && has_prefix(event.type, "den")`,
		`lower(event.type) == "denied" and contains(network.transport, "c")`,
		`event.dataset startsWith "net" and event.type endsWith "ied"`,
		`event.type matches "^(denied|allowed)$"`,
		`destination.port >= 1024 && destination.port < 65535 || source.port <= 1000`,
		`not (event.type in ["allowed", "info"])`,
		`source.ip in ["198.51.100.7", "2001:db8::1"]`,
		`destination.port > source.port`,
		`destination.bytes >= source.bytes * 5 + 1 && source.port - 1 > 0`,
		`url.path == "" && user.name == ""`,
		`event.type == "denied" ? true : false`, // expr only
	}
	lists := detect.NewLists([]netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
	lists.Trusted = detect.NewList("trusted", []netip.Addr{netip.MustParseAddr("203.0.113.5")}, nil, nil)
	lists.Named["bad"] = detect.NewList("bad", []netip.Addr{netip.MustParseAddr("198.51.100.7")}, nil, nil)
	events := []*detect.Event{
		ev("198.51.100.7", "192.0.2.1", 22, "denied"),
		ev("203.0.113.5", "192.0.2.9", 443, "allowed"),
		ev("2001:db8::1", "2001:db8::2", 8080, "info"),
		ev("10.0.0.1", "198.51.100.9", 3389, "denied"),
	}
	for _, cond := range conds {
		src := "id: t.c\nname: c\nseverity: 1\ntechniques: [T1046]\nwhen: '" + strings.ReplaceAll(cond, "'", "''") + "'\n"
		nat := mustCompile(t, src)
		ref := mustCompile(t, src, WithoutNative())
		nat.SetLists(lists)
		ref.SetLists(lists)
		if strings.Contains(cond, "?") {
			if nat.Native() != 0 {
				t.Errorf("%s: compiled natively, want expr", cond)
			}
		} else if nat.Native() != 1 {
			t.Errorf("%s: not compiled natively", cond)
		}
		nm, rm := nat.NewMatcher(), ref.NewMatcher()
		for i, e := range events {
			a, err1 := nm.eval(nat.rules[0], e)
			b, err2 := rm.eval(ref.rules[0], e)
			if err1 != nil || err2 != nil || a != b {
				t.Errorf("%s on event %d: native %v (%v), expr %v (%v)", cond, i, a, err1, b, err2)
			}
		}
	}
}

const scanRule = `
id: scan.vertical
name: Vertical scan
severity: 50
techniques: [T1046]
when: event.type == "denied" && network.transport == "tcp"
correlate:
  group_by: [source.ip, destination.ip]
  distinct: destination.port
  threshold: 5
  window: 60s
`

func run(m *Matcher, events []*detect.Event) []detect.Detection {
	var out []detect.Detection
	for _, e := range events {
		_ = m.Match(e, func(d *detect.Detection) { out = append(out, *d) })
	}
	return out
}

func TestDistinctThresholdOncePerWindow(t *testing.T) {
	s := mustCompile(t, scanRule)
	var events []*detect.Event
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 30; i++ { // 30 ports, 2s apart: fires at the 5th, then quiet for 60s
		e := ev("198.51.100.7", "192.0.2.1", uint16(1000+i), "denied")
		e.Timestamp = base.Add(time.Duration(i) * 2 * time.Second)
		events = append(events, e)
	}
	// The same port again and again is one distinct value: never fires.
	for i := 0; i < 30; i++ {
		e := ev("198.51.100.8", "192.0.2.1", 22, "denied")
		e.Timestamp = base.Add(time.Duration(i) * time.Second)
		events = append(events, e)
	}
	got := run(s.NewMatcher(), events)
	if len(got) != 1 {
		t.Fatalf("%d detections, want 1", len(got))
	}
	d := got[0]
	want := struct {
		Rule, Src, Dst string
		Count          int64
		First, Last    time.Time
	}{"scan.vertical", "198.51.100.7", "192.0.2.1", 5, base, base.Add(8 * time.Second)}
	gotS := struct {
		Rule, Src, Dst string
		Count          int64
		First, Last    time.Time
	}{d.RuleID, d.Source.String(), d.Destination.String(), d.Count, d.FirstSeen, d.LastSeen}
	if diff := cmp.Diff(want, gotS); diff != "" {
		t.Error(diff)
	}
	// Sliding on: a further burst after the quiet window fires again.
	for i := 0; i < 5; i++ {
		e := ev("198.51.100.7", "192.0.2.1", uint16(2000+i), "denied")
		e.Timestamp = base.Add(2*time.Minute + time.Duration(i)*time.Second)
		events = append(events, e)
	}
	if got := run(s.NewMatcher(), events); len(got) != 2 {
		t.Errorf("after the window: %d detections, want 2", len(got))
	}
}

func TestSlidingWindow(t *testing.T) {
	s := mustCompile(t, `
id: bf.ssh
name: SSH brute force
severity: 60
techniques: [T1110]
when: event.type == "denied"
correlate: {group_by: [source.ip], threshold: 5, window: 60s}
`)
	base := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	at := func(sec int) *detect.Event {
		e := ev("198.51.100.7", "192.0.2.1", 22, "denied")
		e.Timestamp = base.Add(time.Duration(sec) * time.Second)
		return e
	}
	// No 60s window holds 5 of these; adding 72s still leaves [10s, 72s]
	// too wide, and 74s makes 20, 30, 70, 72, 74: five within 60s.
	quiet := []*detect.Event{at(0), at(10), at(20), at(30), at(70), at(72)}
	if got := run(s.NewMatcher(), quiet); len(got) != 0 {
		t.Fatalf("fired on 4 events per window: %v", got)
	}
	if got := run(s.NewMatcher(), append(quiet, at(74))); len(got) != 1 {
		t.Fatalf("%d detections, want 1", len(got))
	}
	// Out of order within the lateness: still counts.
	if got := run(s.NewMatcher(), []*detect.Event{at(30), at(10), at(20), at(0), at(25)}); len(got) != 1 {
		t.Errorf("out-of-order events: %d detections, want 1", len(got))
	}
}

func TestCampaignRelated(t *testing.T) {
	s := mustCompile(t, `
id: campaign.telnet
name: Telnet probing by many sources
severity: 40
techniques: [T1110]
when: destination.port in [23, 2323]
correlate: {group_by: [destination.ip, destination.port], distinct: source.ip, threshold: 10, window: 10m}
`)
	var events []*detect.Event
	for i := 0; i < 12; i++ {
		e := ev(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}).String(), "192.0.2.1", 23, "denied")
		e.Timestamp = e.Timestamp.Add(time.Duration(i) * time.Second)
		events = append(events, e)
	}
	got := run(s.NewMatcher(), events)
	if len(got) != 1 {
		t.Fatalf("%d detections, want 1", len(got))
	}
	d := got[0]
	if d.Source.IsValid() || d.Destination.String() != "192.0.2.1" || d.DestinationPort != 23 || d.DistinctSources != 10 || len(d.Related) != 10 {
		t.Errorf("campaign detection: %s", d.AppendJSON(nil))
	}
}

func TestSimpleRuleSuppressesRepeats(t *testing.T) {
	s := mustCompile(t, `
id: av.malware
name: Malware
severity: 70
techniques: [T1204]
when: event.type == "denied"
`)
	var events []*detect.Event
	for i := 0; i < 20; i++ {
		e := ev("198.51.100.7", "192.0.2.1", 80, "denied")
		e.Timestamp = e.Timestamp.Add(time.Duration(i) * time.Minute)
		events = append(events, e)
	}
	got := run(s.NewMatcher(), events)
	// At 0, 10 and 20 minutes... the 20th event is at 19m: two detections.
	if len(got) != 2 || got[1].Count != 10 {
		t.Errorf("%d detections (second count %d), want 2 with 10", len(got), func() int64 {
			if len(got) > 1 {
				return got[1].Count
			}
			return 0
		}())
	}
}

func TestStateBounded(t *testing.T) {
	s := mustCompile(t, scanRule)
	m := s.NewMatcher(WithLimits(Limits{MaxGroups: 1000}))
	e := ev("198.51.100.7", "192.0.2.1", 22, "denied")
	for i := 0; i < 100_000; i++ {
		e.Source.IP = netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
		_ = m.Match(e, func(*detect.Detection) {})
	}
	st := m.Stats()
	if st.Groups > 1000 || st.Evicted < 99_000 {
		t.Errorf("groups %d, evicted %d: state not bounded", st.Groups, st.Evicted)
	}
	if st.StateBytes <= 0 || st.StateBytes > 1000*2048 {
		t.Errorf("state bytes %d", st.StateBytes)
	}
}

func TestIndexSkipsRules(t *testing.T) {
	s := mustCompile(t, `
id: a.ssh
name: ssh
severity: 1
techniques: [T1046]
when: destination.port == 22 && event.type == "denied"
---
id: a.sshd
name: sshd
severity: 1
techniques: [T1046]
when: event.dataset == "sshd"
---
id: a.any
name: any
severity: 1
techniques: [T1046]
when: source.port > 0
`)
	m := s.NewMatcher()
	_ = m.Match(ev("198.51.100.7", "192.0.2.1", 443, "denied"), func(*detect.Detection) {})
	if st := m.Stats(); st.Evaluated != 1 {
		t.Errorf("evaluated %d rules for a port-443 netfilter event, want 1 (only a.any)", st.Evaluated)
	}
}

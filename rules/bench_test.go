package rules_test

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
	"github.com/cyberalarm/cyberalarm/parsers"
	"github.com/cyberalarm/cyberalarm/parsers/parsertest"
	"github.com/cyberalarm/cyberalarm/rules"
)

// hundredRules is the built-in pack topped up to 100 rules with synthetic
// ones of the usual shapes: port rules, dataset rules, string tests and a
// few that no index can help.
func hundredRules(b *testing.B) []*rules.Rule {
	rs, err := rules.Builtin()
	if err != nil {
		b.Fatal(err)
	}
	var src strings.Builder
	datasets := []string{"sshd", "postfix", "suricata", "fortigate", "panos", "cisco_asa", "web_access"}
	for i := 0; len(rs)+i < 100; i++ {
		fmt.Fprintf(&src, "---\nid: bench.r%d\nname: bench %d\nseverity: 10\ntechniques: [T1046]\n", i, i)
		switch i % 5 {
		case 0, 1:
			fmt.Fprintf(&src, "when: destination.port == %d && event.type == \"denied\"\ncorrelate: {group_by: [source.ip], threshold: 10, window: 60s}\n", 1000+i)
		case 2:
			fmt.Fprintf(&src, "when: event.dataset == %q && source.port > %d\n", datasets[i%len(datasets)], 1000+i)
		case 3:
			fmt.Fprintf(&src, "when: event.category == \"web\" && contains(url.path, \"/bench%d\")\n", i)
		default:
			fmt.Fprintf(&src, "when: source.port == %d || cidr(source.ip, \"100.%d.0.0/16\")\n", 2000+i, i)
		}
	}
	extra, err := rules.Parse("bench.yaml", []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	return append(rs, extra...)
}

func netfilterLines(b *testing.B) [][]byte {
	paths, _ := filepath.Glob("../corpus/parsers/netfilter/*/input.log")
	var out [][]byte
	for _, p := range paths {
		if strings.Contains(p, "malformed") {
			continue
		}
		out = append(out, parsertest.Lines(b, p)...)
	}
	return out
}

// benchPipeline: parse, classify and run 100 rules on netfilter lines.
func benchPipeline(b *testing.B, opts ...rules.Option) {
	set, err := rules.Compile(hundredRules(b), opts...)
	if err != nil {
		b.Fatal(err)
	}
	lists := detect.NewLists(nil)
	set.SetLists(lists)
	s, _ := parsers.NewStream(parsers.Builtin(), "auto")
	s.Ref = rules.TestRef
	m := set.NewMatcher()
	lines := netfilterLines(b)
	emit := func(*detect.Detection) {}
	var ev detect.Event
	var cst detect.ClassifyStats
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// The Pipeline's stages, with each pass over the corpus moved two
		// hours on, as a live stream moves forward in time.
		if s.Parse(lines[i%len(lines)], &ev) != nil {
			continue
		}
		ev.Timestamp = ev.Timestamp.Add(time.Duration(i/len(lines)) * 2 * time.Hour)
		if lists.Classify(&ev, &cst) == detect.Keep {
			_ = m.Match(&ev, emit)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	st := m.Stats()
	b.ReportMetric(float64(st.Evaluated)/float64(max(st.Events, 1)), "rules/event")
}

func BenchmarkPipeline100Rules(b *testing.B)        { benchPipeline(b) }
func BenchmarkPipeline100RulesNoIndex(b *testing.B) { benchPipeline(b, rules.WithoutIndex()) }
func BenchmarkPipeline100RulesExpr(b *testing.B) {
	benchPipeline(b, rules.WithoutIndex(), rules.WithoutNative())
}

// BenchmarkRuleEval compares one rule's condition as native closures and on
// expr's VM.
func BenchmarkRuleEval(b *testing.B) {
	src := "id: b.e\nname: e\nseverity: 1\ntechniques: [T1046]\nwhen: event.type == \"denied\" && network.transport == \"tcp\" && destination.port in [22, 23, 3389]\n"
	for _, tc := range []struct {
		name string
		opts []rules.Option
	}{{"native", nil}, {"expr", []rules.Option{rules.WithoutNative()}}} {
		b.Run(tc.name, func(b *testing.B) {
			rs, _ := rules.Parse("b.yaml", []byte(src))
			set, err := rules.Compile(rs, append(tc.opts, rules.WithoutIndex())...)
			if err != nil {
				b.Fatal(err)
			}
			m := set.NewMatcher()
			ev := &detect.Event{Timestamp: rules.TestRef, Type: "denied", Network: detect.Network{Transport: "tcp"},
				Source: detect.Endpoint{IP: netip.MustParseAddr("198.51.100.7")}, Destination: detect.Endpoint{Port: 443}}
			b.ReportAllocs()
			for b.Loop() {
				_ = m.Match(ev, func(*detect.Detection) {})
			}
		})
	}
}

func heapMB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// floodSet is a vertical-scan rule: one group per source.
func floodSet(b *testing.B) *rules.Set {
	rs, err := rules.Parse("f.yaml", []byte("id: f.scan\nname: scan\nseverity: 50\ntechniques: [T1046]\nwhen: event.type == \"denied\"\ncorrelate: {group_by: [source.ip, destination.ip], distinct: destination.port, threshold: 20, window: 60s}\n"))
	if err != nil {
		b.Fatal(err)
	}
	set, err := rules.Compile(rs)
	if err != nil {
		b.Fatal(err)
	}
	return set
}

func flood(m *rules.Matcher, n int, start time.Time) {
	ev := &detect.Event{Timestamp: start, Type: "denied", Network: detect.Network{Transport: "tcp"},
		Destination: detect.Endpoint{IP: netip.MustParseAddr("192.168.1.10"), Port: 22}}
	emit := func(*detect.Detection) {}
	for i := 0; i < n; i++ {
		ev.Source.IP = netip.AddrFrom4([4]byte{byte(1 + i>>24), byte(i >> 16), byte(i >> 8), byte(i)})
		ev.Timestamp = start.Add(time.Duration(i) * time.Microsecond)
		_ = m.Match(ev, emit)
	}
}

// BenchmarkLiveGroups1M measures the memory of one million live groups.
func BenchmarkLiveGroups1M(b *testing.B) {
	for b.Loop() {
		before := heapMB()
		m := floodSet(b).NewMatcher(rules.WithLimits(rules.Limits{MaxGroups: 1_000_000}))
		flood(m, 1_000_000, rules.TestRef)
		st := m.Stats()
		b.ReportMetric(heapMB()-before, "heapMB")
		b.ReportMetric(float64(st.StateBytes)/(1<<20), "stateMB")
		b.ReportMetric(float64(st.Groups), "groups")
		runtime.KeepAlive(m)
	}
}

// BenchmarkFlood10M sends ten million distinct sources through the default
// limits: memory must stay bounded.
func BenchmarkFlood10M(b *testing.B) {
	if os.Getenv("CYBERALARM_FLOOD") == "" && testing.Short() {
		b.Skip("long")
	}
	for b.Loop() {
		before := heapMB()
		m := floodSet(b).NewMatcher()
		flood(m, 10_000_000, rules.TestRef)
		st := m.Stats()
		b.ReportMetric(heapMB()-before, "heapMB")
		b.ReportMetric(float64(st.Groups), "groups")
		b.ReportMetric(float64(st.Evicted+st.Expired), "dropped")
		runtime.KeepAlive(m)
	}
}

// BenchmarkPipelineStream runs parse, classify and 100 rules over a
// synthetic firewall stream in which 2,000 outside sources probe 50 ports
// of 20 member hosts, one line a millisecond: groups live, grow and fire as
// in real traffic.
func BenchmarkPipelineStream(b *testing.B) {
	set, err := rules.Compile(hundredRules(b))
	if err != nil {
		b.Fatal(err)
	}
	lists := detect.NewLists(nil)
	set.SetLists(lists)
	s, _ := parsers.NewStream(parsers.Builtin(), "auto")
	s.Ref = rules.TestRef
	m := set.NewMatcher()
	const n = 100_000
	lines := make([][]byte, n)
	for i := range lines {
		src := i % 2000
		lines[i] = fmt.Appendf(nil, "Nov 27 10:00:00 gw01 kernel: [UFW BLOCK] IN=eth0 OUT= SRC=198.51.%d.%d DST=192.168.1.%d LEN=60 TOS=0x00 PREC=0x00 TTL=51 ID=54321 DF PROTO=TCP SPT=%d DPT=%d WINDOW=29200 RES=0x00 SYN URGP=0",
			100+src/250, src%250, 10+i%20, 40000+i%20000, []int{22, 23, 80, 443, 445, 3389, 8080, 1433, 3306, 5900}[i%10]+i/n)
	}
	emit := func(*detect.Detection) {}
	var ev detect.Event
	var cst detect.ClassifyStats
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if s.Parse(lines[i%n], &ev) != nil {
			b.Fatal("parse")
		}
		ev.Timestamp = ev.Timestamp.Add(time.Duration(i) * time.Millisecond)
		if lists.Classify(&ev, &cst) == detect.Keep {
			_ = m.Match(&ev, emit)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	st := m.Stats()
	b.ReportMetric(float64(st.Evaluated)/float64(max(st.Events, 1)), "rules/event")
	b.ReportMetric(float64(st.Detections), "detections")
}

package aggregate

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// generator makes a reproducible stream like central's: 15/16 from
// background sources seen here and there (a quarter as flow summaries),
// 1/16 from 256 scanners hitting all 50 members, event time advancing 10ms
// per observation (10M span ~28h).
type generator struct {
	r          *rand.Rand
	background uint32 // distinct background sources, a power of two
	t          time.Time
	members    []string
	rules      []string
	techniques [][]string
}

func newGenerator(background uint32) *generator {
	g := &generator{r: rand.New(rand.NewPCG(1, 2)), t: t0, background: background}
	for i := range 50 {
		g.members = append(g.members, "member-"+strconv.Itoa(i))
	}
	for _, t := range []string{"T1046", "T1110", "T1110.001", "T1110.003", "T1190", "T1595", "T1498.002", "T1133", "spam"} {
		g.techniques = append(g.techniques, []string{t})
	}
	for i := range 40 {
		g.rules = append(g.rules, "rule."+strconv.Itoa(i))
	}
	return g
}

func (g *generator) fill(batch []Observation) {
	for i := range batch {
		g.t = g.t.Add(10 * time.Millisecond)
		o := &batch[i]
		n := g.r.Uint32()
		var src netip.Addr
		if n%16 == 0 {
			src = netip.AddrFrom4([4]byte{203, 0, 113, byte(n >> 8)}) // 256 scanners
		} else {
			b := n >> 8 & (g.background - 1)
			src = netip.AddrFrom4([4]byte{198, byte(b >> 16), byte(b >> 8), byte(b)})
		}
		*o = Observation{
			Member: g.members[n>>4%uint32(len(g.members))], Source: src, Port: uint16(n>>10%200 + 1), Transport: "tcp",
			Count: int64(n>>20%8 + 1), First: g.t.Add(-time.Duration(n>>12%60) * time.Second), Last: g.t, Kind: KindDetection,
		}
		if n>>28%4 == 0 {
			o.Kind = KindSummary
		} else {
			o.Techniques = g.techniques[n>>8%uint32(len(g.techniques))]
			o.RuleID = g.rules[n>>14%uint32(len(g.rules))]
		}
	}
}

// BenchmarkAdd measures incremental aggregation, in batches of 1024, with
// few (4k) and many (256k) distinct background sources, delivered as they
// happen: the processing clock follows event time.
func BenchmarkAdd(b *testing.B) {
	for _, bg := range []uint32{1 << 12, 1 << 18} {
		b.Run("sources="+strconv.Itoa(int(bg)), func(b *testing.B) {
			g := newGenerator(bg)
			a := mustNew(b, Config{Now: func() time.Time { return g.t }})
			batch := make([]Observation, 1024)
			b.ReportAllocs()
			start := time.Now()
			for done := 0; done < b.N; done += len(batch) {
				g.fill(batch)
				if err := a.Add(batch); err != nil {
					b.Fatal(err)
				}
				if done%(256<<10) == 0 {
					a.Changes() // a flush now and then, as the server would
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "obs/s")
		})
	}
}

// BenchmarkRecompute10M rebuilds the aggregation from 10M stored
// observations, as central does after losing its snapshot: all arrive at
// one instant of processing time, so only MaxSources evicts.
func BenchmarkRecompute10M(b *testing.B) {
	const total = 10_000_000
	batch := make([]Observation, 4096)
	for b.Loop() {
		a := mustNew(b, Config{})
		g := newGenerator(1 << 18)
		for done := 0; done < total; done += len(batch) {
			g.fill(batch)
			if err := a.Add(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(a.Campaigns(time.Time{}))), "campaigns")
	}
}

// BenchmarkCampaigns10M answers the campaign query once 10M observations
// have been aggregated (as they arrived: that cost is BenchmarkAdd's): what
// a report or the dashboard pays for campaigns over 10M stored detections.
func BenchmarkCampaigns10M(b *testing.B) {
	const total = 10_000_000
	g := newGenerator(1 << 18)
	a := mustNew(b, Config{Now: func() time.Time { return g.t }})
	batch := make([]Observation, 4096)
	for done := 0; done < total; done += len(batch) {
		g.fill(batch)
		if err := a.Add(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var n int
	for b.Loop() {
		n = len(a.Campaigns(time.Time{}))
	}
	b.ReportMetric(float64(n), "campaigns")
}

// BenchmarkGenerate is the generator's own cost, to subtract.
func BenchmarkGenerate(b *testing.B) {
	g := newGenerator(1 << 18)
	batch := make([]Observation, 1024)
	for done := 0; done < b.N; done += len(batch) {
		g.fill(batch)
	}
}

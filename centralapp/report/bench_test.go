package report

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
	"github.com/cyberalarm/cyberalarm/detect"
)

var benchDetections = flag.Int("bench.detections", 1_000_000, "detections in the store of the report benchmarks")

// benchStore is the benchmarks' store, made once per test binary: a
// million detections take minutes to make, and -count runs a benchmark
// function again.
var benchStore struct {
	once    sync.Once
	dir     string
	st      store.Store
	members []string
	err     error
}

// makeBenchStore fills a SQLite store with n detections of 20 members over
// the two weeks to now: sources drawn from a few thousand, the busy ones
// often, as scanners are, in attacks a rule reports every five minutes.
func makeBenchStore(n int) (store.Store, []string, string, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "report-bench")
	if err != nil {
		return nil, nil, "", err
	}
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "central.db")})
	if err != nil {
		return nil, nil, dir, err
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rnd, 1.2, 4, 4999)
	rules := []struct {
		id, category, signature string
		techniques              []string
	}{
		{"scan.tcp.vertical", "network", "", []string{"T1046"}},
		{"scan.tcp.horizontal", "network", "", []string{"T1046"}},
		{"bruteforce.ssh", "authentication", "", []string{"T1110"}},
		{"bruteforce.rdp", "authentication", "", []string{"T1110"}},
		{"ids.exploit", "intrusion_detection", "ET EXPLOIT Apache Path Traversal CVE-2021-41773", []string{"T1190"}},
		{"ids.policy", "intrusion_detection", "ET POLICY curl User-Agent", []string{"T1071"}},
		{"c2.beacon", "network", "", []string{"T1071"}},
		{"indicator.known-bad", "network", "", []string{"T1595"}},
	}
	const members = 20
	var ids []string
	per := n / members
	const batch = 5000
	for m := range members {
		id := fmt.Sprintf("member-%02d", m)
		ids = append(ids, id)
		if err := st.AddMember(ctx, store.Member{ID: id, Name: id, Sector: "s", Region: "r", TimeZone: "Europe/London", Created: day(1, 0, 0)}); err != nil {
			return st, nil, dir, err
		}
		tok := store.HashToken("token-" + id)
		if err := st.AddEnrolToken(ctx, store.EnrolToken{Hash: tok, MemberID: id, Created: day(1, 0, 0), Expires: day(2, 0, 0)}); err != nil {
			return st, nil, dir, err
		}
		col := store.Collector{ID: "c-" + id, MemberID: id, CertSerial: fmt.Sprint(m + 1), CertNotAfter: day(30, 0, 0), Created: day(1, 0, 0)}
		if err := st.UseEnrolToken(ctx, tok, day(1, 1, 0), col); err != nil {
			return st, nil, dir, err
		}
		// Attacks: a source (the busy ones often) goes at one port with
		// one rule for a while, and the rule reports it every five
		// minutes, as a rule's window repeats.
		made := 0
		for bi := 0; made < per; bi++ {
			b := &store.Batch{ID: fmt.Sprintf("01BATCH%04d", bi), CollectorID: col.ID, MemberID: id, Seq: uint64(bi + 1), Created: now, Received: now}
			for len(b.Detections) < batch && made < per {
				r := rules[rnd.IntN(len(rules))]
				src := netip.AddrFrom4([4]byte{45, 155, byte(zipf.Uint64() / 256), byte(zipf.Uint64() % 256)})
				port := []uint16{22, 443, 3389, 445}[rnd.IntN(4)]
				verdict := []string{"denied", "denied", "denied", "allowed"}[rnd.IntN(4)]
				start := now.Add(-time.Duration(rnd.IntN(14*24*60)) * time.Minute)
				for k := range min(1+rnd.IntN(12), per-made) {
					last := start.Add(time.Duration(5*k) * time.Minute)
					if last.After(now) {
						break
					}
					d := detect.Detection{RuleID: r.id, RuleName: "Rule " + r.id, Severity: 30 + rnd.IntN(60), Techniques: r.techniques,
						Source: src, DestinationPort: port, Count: 1 + rnd.Int64N(40), FirstSeen: last.Add(-5 * time.Minute), LastSeen: last,
						Sample: detect.Event{Timestamp: last, Category: r.category, Type: verdict, Dataset: "cisco_asa",
							Source: detect.Endpoint{IP: src}, Destination: detect.Endpoint{IP: netip.MustParseAddr("192.0.2.10")},
							Network: detect.Network{Transport: detect.TransportTCP, Direction: detect.DirectionInbound}, Rule: detect.Rule{Name: r.signature}}}
					sd, err := store.DecodeDetection(d.AppendJSON(nil))
					if err != nil {
						return st, nil, dir, err
					}
					b.Detections = append(b.Detections, sd)
					made++
				}
			}
			if _, err := st.IngestBatch(ctx, b); err != nil {
				return st, nil, dir, err
			}
		}
	}
	return st, ids, dir, nil
}

// closingBench runs the tests and benchmarks, then closes and removes the
// benchmarks' store, before goleak looks.
type closingBench struct{ m *testing.M }

func (c closingBench) Run() int {
	code := c.m.Run()
	if s := &benchStore; s.st != nil {
		if err := s.st.Close(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, "bench store:", err)
			code = 1
		}
	}
	if benchStore.dir != "" {
		os.RemoveAll(benchStore.dir)
	}
	return code
}

func BenchmarkReports(b *testing.B) {
	s := &benchStore
	s.once.Do(func() {
		start := time.Now()
		s.st, s.members, s.dir, s.err = makeBenchStore(*benchDetections)
		made := time.Since(start)
		if s.err == nil {
			// The first read rolls every detection up: a one-off.
			start = time.Now()
			var rs []store.Rollup
			rs, s.err = s.st.Rollups(context.Background(), store.RollupFilter{})
			b.Logf("%d detections stored in %s; %d rollups made in %s", *benchDetections, made.Round(time.Millisecond),
				len(rs), time.Since(start).Round(time.Millisecond))
		}
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
	ctx := context.Background()
	p := Ending(now, Week, Location("Europe/London"))
	for _, way := range []string{"rollups", "detections"} {
		bl, err := NewBuilder(Options{Store: s.st, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		bl.noRollups = way == "detections"
		b.Run("member/"+way, func(b *testing.B) {
			for b.Loop() {
				if _, err := bl.Member(ctx, s.members[0], p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("analyst/"+way, func(b *testing.B) {
			for b.Loop() {
				if _, err := bl.Analyst(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

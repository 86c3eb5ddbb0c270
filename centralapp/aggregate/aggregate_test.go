package aggregate

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

var cmpAddr = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func at(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }

// det is a detection observation of src at member, first seen at minute
// from and last seen at minute to after t0.
func det(member, src string, from, to int, count int64, port uint16, techniques ...string) Observation {
	return Observation{
		Member: member, Source: netip.MustParseAddr(src), Techniques: techniques, RuleID: "rule." + strings.Join(techniques, "_"),
		Port: port, Transport: "tcp", Count: count, First: at(from), Last: at(to), Kind: KindDetection,
	}
}

func sum(member, src string, minute int, port uint16, count int64) Observation {
	return Observation{
		Member: member, Source: netip.MustParseAddr(src), Port: port, Transport: "tcp", Count: count,
		First: at(minute), Last: at(minute).Add(time.Minute - time.Nanosecond), Kind: KindSummary,
	}
}

// clock is a processing clock for tests; mustNew uses a fixed one at t0
// unless the config has its own, so no test depends on the real date.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func mustNew(t testing.TB, cfg Config) *Aggregator {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = (&clock{t0}).now
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func mustAdd(t testing.TB, a *Aggregator, obs ...Observation) {
	t.Helper()
	if err := a.Add(obs); err != nil {
		t.Fatal(err)
	}
}

// campaign builds an expected campaign; members are "member:count:from:to".
func campaign(src, group string, techniques []string, ports []uint16, members ...string) Campaign {
	c := Campaign{Source: netip.MustParseAddr(src), Group: group, Techniques: techniques, Ports: ports}
	first, last := time.Time{}, time.Time{}
	for _, m := range members {
		var mc MemberCount
		var n, from, to int
		parts := strings.Split(m, ":")
		mc.Member = parts[0]
		n, from, to = atoi(parts[1]), atoi(parts[2]), atoi(parts[3])
		mc.Count, mc.FirstSeen, mc.LastSeen = int64(n), at(from), at(to)
		c.Members = append(c.Members, mc)
		c.Count += int64(n)
		if first.IsZero() || mc.FirstSeen.Before(first) {
			first = mc.FirstSeen
		}
		if mc.LastSeen.After(last) {
			last = mc.LastSeen
		}
	}
	c.FirstSeen, c.LastSeen = first, last
	c.ID = campaignID(c.Source, group, first.UnixNano())
	return c
}

func atoi(s string) int {
	n := 0
	neg := strings.HasPrefix(s, "-")
	for _, c := range strings.TrimPrefix(s, "-") {
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func TestCampaigns(t *testing.T) {
	const x, y = "203.0.113.10", "198.51.100.7"
	tests := []struct {
		name string
		cfg  Config
		obs  []Observation
		want []Campaign
	}{
		{
			name: "three members within the window",
			obs: []Observation{
				det("m1", x, 0, 5, 20, 22, "T1110.001"),
				det("m2", x, 10, 12, 10, 22, "T1110.001"),
				det("m3", x, 30, 31, 5, 2222, "T1110.001"),
			},
			want: []Campaign{campaign(x, "T1110", []string{"T1110.001"}, []uint16{22, 2222}, "m1:20:0:5", "m2:10:10:12", "m3:5:30:31")},
		},
		{
			name: "N-1 members: none",
			obs: []Observation{
				det("m1", x, 0, 5, 20, 22, "T1110.001"),
				det("m2", x, 10, 12, 10, 22, "T1110.001"),
				det("m2", x, 20, 22, 10, 22, "T1110.001"),
			},
		},
		{
			name: "window edge is inclusive",
			obs: []Observation{
				det("m1", x, 0, 0, 1, 22, "T1046"),
				det("m2", x, 30, 30, 1, 22, "T1046"),
				det("m3", x, 60, 60, 1, 22, "T1046"),
			},
			want: []Campaign{campaign(x, "T1046", []string{"T1046"}, []uint16{22}, "m1:1:0:0", "m2:1:30:30", "m3:1:60:60")},
		},
		{
			name: "chained but never three within the window: none",
			obs: []Observation{
				det("m1", x, 0, 0, 1, 22, "T1046"),
				det("m2", x, 40, 40, 1, 22, "T1046"),
				det("m3", x, 81, 81, 1, 22, "T1046"),
			},
		},
		{
			name: "long activity at one member overlaps the window",
			obs: []Observation{
				det("m1", x, 0, 200, 50, 22, "T1046"),
				det("m2", x, 150, 150, 1, 22, "T1046"),
				det("m3", x, 205, 205, 1, 22, "T1046"),
			},
			want: []Campaign{campaign(x, "T1046", []string{"T1046"}, []uint16{22}, "m1:50:0:200", "m2:1:150:150", "m3:1:205:205")},
		},
		{
			name: "related techniques by ATT&CK parent",
			obs: []Observation{
				det("m1", x, 0, 1, 1, 22, "T1110.001"),
				det("m2", x, 5, 6, 1, 3389, "T1110"),
				det("m3", x, 10, 11, 1, 25, "T1110.003"),
			},
			want: []Campaign{campaign(x, "T1110", []string{"T1110", "T1110.001", "T1110.003"}, []uint16{22, 25, 3389}, "m1:1:0:1", "m2:1:5:6", "m3:1:10:11")},
		},
		{
			name: "unrelated techniques: none",
			obs: []Observation{
				det("m1", x, 0, 1, 1, 22, "T1110"),
				det("m2", x, 5, 6, 1, 22, "T1046"),
				det("m3", x, 10, 11, 1, 22, "T1190"),
			},
		},
		{
			name: "relation table",
			cfg:  Config{Relations: map[string]string{"T1190": "initial-access", "T1133": "initial-access"}},
			obs: []Observation{
				det("m1", x, 0, 1, 1, 80, "T1190"),
				det("m2", x, 5, 6, 1, 3389, "T1133"),
				det("m3", x, 10, 11, 1, 443, "T1190"),
			},
			want: []Campaign{campaign(x, "initial-access", []string{"T1133", "T1190"}, []uint16{80, 443, 3389}, "m1:1:0:1", "m2:1:5:6", "m3:1:10:11")},
		},
		{
			name: "flow summaries make no campaign",
			obs: []Observation{
				sum("m1", x, 0, 23, 5),
				sum("m2", x, 1, 23, 5),
				sum("m3", x, 2, 23, 5),
			},
		},
		{
			name: "campaign grows; other sources and members do not mix in",
			cfg:  Config{MinMembers: 2},
			obs: []Observation{
				det("m1", x, 0, 1, 1, 22, "T1046"),
				det("m2", x, 5, 6, 1, 22, "T1046"),
				det("m3", x, 50, 60, 2, 23, "T1046"),
				det("m4", x, 110, 115, 3, 22, "T1046"),
				det("m4", y, 110, 115, 3, 22, "T1046"),
				det("m1", x, 300, 300, 1, 22, "T1046"), // a new session, alone
			},
			want: []Campaign{campaign(x, "T1046", []string{"T1046"}, []uint16{22, 23}, "m1:1:0:1", "m2:1:5:6", "m3:2:50:60", "m4:3:110:115")},
		},
		{
			name: "a late observation bridges two sessions",
			cfg:  Config{MinMembers: 2},
			obs: []Observation{
				det("m1", x, 0, 0, 1, 22, "T1046"),
				det("m2", x, 10, 10, 1, 22, "T1046"),
				det("m3", x, 150, 150, 1, 22, "T1046"),
				det("m4", x, 155, 155, 1, 22, "T1046"),
				det("m5", x, 70, 95, 1, 22, "T1046"),
			},
			want: []Campaign{campaign(x, "T1046", []string{"T1046"}, []uint16{22}, "m1:1:0:0", "m2:1:10:10", "m3:1:150:150", "m4:1:155:155", "m5:1:70:95")},
		},
		{
			name: "one detection, two technique groups, two campaigns",
			obs: []Observation{
				det("m1", x, 0, 1, 1, 445, "T1046", "T1210"),
				det("m2", x, 5, 6, 1, 445, "T1046", "T1210"),
				det("m3", x, 10, 11, 1, 445, "T1046", "T1210"),
			},
			want: []Campaign{
				campaign(x, "T1046", []string{"T1046", "T1210"}, []uint16{445}, "m1:1:0:1", "m2:1:5:6", "m3:1:10:11"),
				campaign(x, "T1210", []string{"T1046", "T1210"}, []uint16{445}, "m1:1:0:1", "m2:1:5:6", "m3:1:10:11"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, order := range []string{"given", "reversed", "one batch"} {
				a := mustNew(t, tt.cfg)
				obs := slices.Clone(tt.obs)
				if order == "reversed" {
					slices.Reverse(obs)
				}
				// Follow the stream of updates as the server would.
				live := map[string]Campaign{}
				follow := func(cs []Campaign) {
					for _, c := range cs {
						for _, id := range c.Replaces {
							delete(live, id)
						}
						c.Replaces = nil
						live[c.ID] = c
					}
				}
				if order == "one batch" {
					mustAdd(t, a, obs...)
					follow(a.Changes())
				} else {
					for _, o := range obs {
						mustAdd(t, a, o)
						follow(a.Changes())
					}
				}
				if cs := a.Changes(); cs != nil {
					t.Errorf("changes after they were drained: %+v", cs)
				}
				got := a.Campaigns(time.Time{})
				if diff := cmp.Diff(tt.want, got, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s order: campaigns (-want +got):\n%s", order, diff)
				}
				streamed := slices.SortedFunc(func(yield func(Campaign) bool) {
					for _, c := range live {
						if !yield(c) {
							return
						}
					}
				}, compareCampaigns)
				if diff := cmp.Diff(got, streamed, cmpAddr, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s order: streamed updates differ from the final state (-final +streamed):\n%s", order, diff)
				}
			}
		})
	}
}

func TestCampaignJSON(t *testing.T) {
	c := campaign("2001:db8::1", "T1110", []string{"T1110", "T1110.001"}, []uint16{22}, "a:2:0:1", "b:1:5:5", "c\"q:3:7:8")
	c.LastSeen = c.LastSeen.Add(1500 * time.Millisecond)
	want := `{"source":{"ip":"2001:db8::1"},"threat":{"technique":{"id":["T1110","T1110.001"]}},"members":["a","b","c\"q"],` +
		`"detection":{"count":6,"first_seen":"2026-11-27T10:00:00Z","last_seen":"2026-11-27T10:08:01.5Z"}}`
	if got := string(c.AppendJSON(nil)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := c.MemberIDs(); !slices.Equal(got, []string{"a", "b", "c\"q"}) {
		t.Errorf("member ids %q", got)
	}
}

func TestAddRefusesBadBatch(t *testing.T) {
	good := det("m1", "203.0.113.1", 0, 1, 1, 22, "T1046")
	tests := map[string]func(o *Observation){
		"no member":         func(o *Observation) { o.Member = "" },
		"no source":         func(o *Observation) { o.Source = netip.Addr{} },
		"zero count":        func(o *Observation) { o.Count = 0 },
		"no kind":           func(o *Observation) { o.Kind = 0 },
		"no time":           func(o *Observation) { o.First = time.Time{} },
		"last before first": func(o *Observation) { o.Last = o.First.Add(-time.Second) },
	}
	for name, spoil := range tests {
		t.Run(name, func(t *testing.T) {
			a := mustNew(t, Config{})
			bad := good
			spoil(&bad)
			err := a.Add([]Observation{good, bad})
			var be *BatchError
			if !errors.As(err, &be) || be.Index != 1 {
				t.Fatalf("err %v, want a BatchError at index 1", err)
			}
			if n := a.Stats().Observations; n != 0 {
				t.Errorf("%d observations applied from a refused batch", n)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"one member":        {MinMembers: 1},
		"negative window":   {Window: -time.Second},
		"negative keys":     {MaxTrendKeys: -1},
		"empty relation":    {Relations: map[string]string{"T1": ""}},
		"negative lateness": {Lateness: -1},
		"negative sessions": {MaxSessions: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	a := mustNew(t, Config{})
	if c := a.Config(); c.MinMembers != 3 || c.Window != time.Hour || c.BaselineDays != 30 {
		t.Errorf("defaults %+v", c)
	}
}

// stream is a random but reproducible multi-member observation stream over
// a few hours: scanners hitting many members, brute-forcers hitting a few,
// and background flow summaries.
func stream(seed uint64, n int) []Observation {
	r := rand.New(rand.NewPCG(seed, 1))
	techniques := [][]string{{"T1046"}, {"T1110.001"}, {"T1110"}, {"T1190"}, {"T1595", "T1046"}}
	obs := make([]Observation, n)
	for i := range obs {
		src := netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(40))})
		from := at(r.IntN(360)).Add(time.Duration(r.IntN(60)) * time.Second)
		o := Observation{
			Member: "m" + string(rune('a'+r.IntN(8))), Source: src, Port: uint16(20 + r.IntN(10)), Transport: "tcp",
			Count: 1 + int64(r.IntN(20)), First: from, Last: from.Add(time.Duration(r.IntN(600)) * time.Second),
		}
		if r.IntN(4) == 0 {
			o.Kind = KindSummary
		} else {
			o.Kind = KindDetection
			o.Techniques = techniques[r.IntN(len(techniques))]
			o.RuleID = "rule." + o.Techniques[0]
		}
		if i%20 == 0 {
			// A newcomer spreading in the last hours: new source, port
			// and signature.
			o.Source = netip.MustParseAddr("198.51.100.1")
			m := r.IntN(90)
			o.First = at(300 + m)
			o.Member = "m" + string(rune('a'+m/12))
			o.Last = o.First
			o.Port = 8080
			o.Kind = KindDetection
			o.Techniques = []string{"T1190"}
			o.RuleID = "rule.new"
		}
		obs[i] = o
	}
	return obs
}

// results is everything the aggregator answers, for comparisons.
type results struct {
	Campaigns  []Campaign
	Top        [][]Targeted
	Trends     [][]Trend
	Emerging   []Emerging
	Indicators string
}

func collect(a *Aggregator, now time.Time) results {
	var r results
	r.Campaigns = a.Campaigns(time.Time{})
	for _, m := range []string{"ma", "mb", "mc", "mh"} {
		r.Top = append(r.Top, a.TopSources(m, 0))
	}
	for _, d := range []Dimension{DimPort, DimTechnique, DimSignature} {
		r.Trends = append(r.Trends, a.Trends(now, d, 0))
	}
	r.Emerging = a.Emerging(now)
	r.Indicators = string(a.Indicators(now))
	return r
}

func TestOrderDoesNotMatter(t *testing.T) {
	obs := stream(7, 5000)
	now := at(400)
	// The stream spans hours of event time, longer than Window+Lateness:
	// arrival, not event time, decides what is kept.
	cfg := Config{Lateness: time.Minute, Now: (&clock{now}).now}
	ref := mustNew(t, cfg)
	sorted := slices.Clone(obs)
	slices.SortStableFunc(sorted, func(x, y Observation) int { return x.Last.Compare(y.Last) })
	for b := range slices.Chunk(sorted, 100) {
		mustAdd(t, ref, b...)
	}
	want := collect(ref, now)
	if len(want.Campaigns) == 0 || len(want.Emerging) == 0 {
		t.Fatalf("the stream makes %d campaigns, %d emerging threats: no test", len(want.Campaigns), len(want.Emerging))
	}
	for _, seed := range []uint64{1, 2, 3} {
		shuffled := slices.Clone(obs)
		rand.New(rand.NewPCG(seed, 9)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		a := mustNew(t, cfg)
		for b := range slices.Chunk(shuffled, int(seed)*37) {
			mustAdd(t, a, b...)
		}
		if diff := cmp.Diff(want, collect(a, now), cmpAddr, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("shuffle %d (-in order +shuffled):\n%s", seed, diff)
		}
	}
	// Member by member, each member's batches newest first: every member
	// but the first arrives hours behind the newest event time seen.
	byMember := slices.Clone(sorted)
	slices.Reverse(byMember)
	slices.SortStableFunc(byMember, func(x, y Observation) int { return strings.Compare(x.Member, y.Member) })
	a := mustNew(t, cfg)
	for b := range slices.Chunk(byMember, 100) {
		mustAdd(t, a, b...)
	}
	if diff := cmp.Diff(want, collect(a, now), cmpAddr, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("member by member (-in order +by member):\n%s", diff)
	}
}

func TestEviction(t *testing.T) {
	t.Run("max sources", func(t *testing.T) {
		a := mustNew(t, Config{MaxSources: 1000})
		for i := range 50 {
			batch := make([]Observation, 200)
			for j := range batch {
				n := i*200 + j
				batch[j] = Observation{Member: "m1", Source: netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}),
					Count: 1, First: at(i), Last: at(i), Kind: KindSummary, Port: 22}
			}
			mustAdd(t, a, batch...)
			if n := a.Sources(); n > 1000 {
				t.Fatalf("batch %d: %d sources tracked, bound 1000", i, n)
			}
		}
		if st := a.Stats(); st.EvictedSources < 9000 {
			t.Errorf("evicted %d", st.EvictedSources)
		}
	})
	t.Run("max trend keys", func(t *testing.T) {
		a := mustNew(t, Config{MaxTrendKeys: 100})
		for i := range 2000 {
			mustAdd(t, a, Observation{Member: "m1", Source: netip.MustParseAddr("203.0.113.1"), RuleID: "r" + string(rune(0x4e00+i)),
				Count: 1, First: at(i), Last: at(i), Kind: KindDetection, Port: uint16(i + 1)})
		}
		if n := len(a.Trends(at(0), DimSignature, 0)) + len(a.Trends(at(2000), DimSignature, 0)); n > 100 {
			t.Errorf("%d signature keys, bound 100", n)
		}
		if n := len(a.st.Ports); n > 100 {
			t.Errorf("%d port keys, bound 100", n)
		}
	})
	t.Run("idle sources and campaigns", func(t *testing.T) {
		// Eviction follows arrival: event times, here days before and
		// after the clock, do not matter.
		clk := &clock{t0}
		a := mustNew(t, Config{Now: clk.now})
		const day = 24 * 60
		mustAdd(t, a,
			det("m1", "203.0.113.1", -5*day, -5*day+1, 1, 22, "T1046"), det("m2", "203.0.113.1", -5*day+2, -5*day+3, 1, 22, "T1046"),
			det("m3", "203.0.113.1", -5*day+4, -5*day+5, 1, 22, "T1046"), det("m1", "203.0.113.2", -10*day, -10*day, 1, 22, "T1046"),
			det("m1", "203.0.113.3", 3*day, 3*day, 1, 22, "T1046"), sum("m2", "203.0.113.4", 0, 23, 1))
		cfg := a.Config()
		a.Advance(t0.Add(cfg.Window + cfg.Lateness - time.Minute))
		if n := a.Sources(); n != 4 {
			t.Errorf("within Window+Lateness of their arrival: %d sources, want all 4", n)
		}
		// A sweep runs once the clock has moved a window.
		a.Advance(t0.Add(2*cfg.Window + cfg.Lateness))
		if n := a.Sources(); n != 1 {
			t.Errorf("after Window+Lateness idle: %d sources, want only the campaign's", n)
		}
		if n := len(a.Campaigns(time.Time{})); n != 1 {
			t.Errorf("%d campaigns kept within the TTL", n)
		}
		a.Advance(t0.Add(cfg.CampaignTTL + cfg.Window))
		if n, c := a.Sources(), len(a.Campaigns(time.Time{})); n != 0 || c != 0 {
			t.Errorf("after the TTL: %d sources, %d campaigns", n, c)
		}
		if st := a.Stats(); st.EvictedSources != 4 {
			t.Errorf("evicted %d sources, want 4", st.EvictedSources)
		}
	})
	t.Run("spans per member", func(t *testing.T) {
		var spans []span
		w := int64(time.Minute)
		for i := range 100 {
			spans = addSpan(spans, span{int64(i) * 10 * w, int64(i)*10*w + 1}, w)
		}
		if len(spans) > maxSpans {
			t.Errorf("%d spans, bound %d", len(spans), maxSpans)
		}
		if spans[0].From != 0 || spans[len(spans)-1].To != 990*w+1 {
			t.Errorf("spans lost their bounds: %v … %v", spans[0], spans[len(spans)-1])
		}
	})
}

func TestSnapshot(t *testing.T) {
	obs := stream(11, 3000)
	half := len(obs) / 2
	now := at(400)
	orig := mustNew(t, Config{})
	mustAdd(t, orig, obs[:half]...)
	data, err := orig.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	restored := mustNew(t, Config{})
	if err := restored.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	opts := []cmp.Option{cmpAddr, cmpopts.EquateEmpty()}
	if diff := cmp.Diff(collect(orig, now), collect(restored, now), opts...); diff != "" {
		t.Fatalf("restored state differs (-orig +restored):\n%s", diff)
	}
	// Both resume alike.
	mustAdd(t, orig, obs[half:]...)
	mustAdd(t, restored, obs[half:]...)
	if diff := cmp.Diff(collect(orig, now), collect(restored, now), opts...); diff != "" {
		t.Errorf("resumed state differs (-orig +restored):\n%s", diff)
	}
	if orig.Stats() != restored.Stats() {
		t.Errorf("stats %+v, restored %+v", orig.Stats(), restored.Stats())
	}

	for name, bad := range map[string]string{
		"not json":        "\x00garbage",
		"wrong format":    `{"Format":99}`,
		"format 1":        `{"Format":1,"State":{"Watermark":5}}`,
		"member index":    `{"Format":2,"State":{"Members":["a"],"Sources":{"192.0.2.1":{"Members":[{"Idx":5}]}}}}`,
		"null source":     `{"Format":2,"State":{"Sources":{"192.0.2.1":null}}}`,
		"bad register":    `{"Format":2,"State":{"Rules":{"r":{"Days":[{"Day":1,"Sources":{"Regs":"AAA="}}]}}}}`,
		"repeated member": `{"Format":2,"State":{"Members":["a","a"]}}`,
		"source ahead":    `{"Format":2,"State":{"Clock":5,"Sources":{"192.0.2.1":{"Touched":9}}}}`,
		"session ahead":   `{"Format":2,"State":{"Clock":5,"Sources":{"192.0.2.1":{"Sessions":[{"Group":"T1046","Touched":9}]}}}}`,
	} {
		a := mustNew(t, Config{})
		mustAdd(t, a, obs[:10]...)
		before := a.Stats()
		if err := a.UnmarshalBinary([]byte(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
		if a.Stats() != before {
			t.Errorf("%s: a refused snapshot changed the state", name)
		}
	}
}

package aggregate

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// memberDay makes a day of activity (t0's UTC day) at members ma, mb and mc:
// scanners each hitting every member within twenty minutes, pairs of
// members sharing a source (no campaign), and each member's own
// background. Each member's observations are sorted by event time.
func memberDay(seed uint64) map[string][]Observation {
	r := rand.New(rand.NewPCG(seed, 3))
	start := t0.Truncate(24 * time.Hour)
	members := []string{"ma", "mb", "mc"}
	out := map[string][]Observation{}
	add := func(m string, src netip.Addr, first time.Time, techniques ...string) {
		o := Observation{Member: m, Source: src, Techniques: techniques, RuleID: "rule." + techniques[0], Port: uint16(20 + r.IntN(5)),
			Transport: "tcp", Count: 1 + int64(r.IntN(9)), First: first, Last: first.Add(time.Duration(r.IntN(300)) * time.Second),
			Kind: KindDetection}
		out[m] = append(out[m], o)
	}
	for i := range 60 {
		src := netip.AddrFrom4([4]byte{203, 0, 113, byte(i)})
		slot := start.Add(time.Duration(r.IntN(23*60)) * time.Minute)
		for _, m := range members {
			add(m, src, slot.Add(time.Duration(r.IntN(20))*time.Minute), "T1046")
		}
		// Some come back hours later, to the same members.
		if i%4 == 0 {
			for _, m := range members {
				add(m, src, slot.Add(3*time.Hour+time.Duration(r.IntN(20))*time.Minute), "T1110.001")
			}
		}
	}
	for i := range 40 {
		src := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
		slot := start.Add(time.Duration(r.IntN(23*60)) * time.Minute)
		for _, m := range members[:2] {
			add(m, src, slot.Add(time.Duration(r.IntN(20))*time.Minute), "T1190")
		}
	}
	for _, m := range members {
		for i := range 500 {
			add(m, netip.AddrFrom4([4]byte{192, 0, byte(2 + i/256), byte(i)}), start.Add(time.Duration(r.IntN(24*60))*time.Minute), "T1110")
		}
		slices.SortStableFunc(out[m], func(x, y Observation) int { return x.Last.Compare(y.Last) })
	}
	return out
}

// TestMemberDayAhead delivers one member's whole day before the others
// deliver theirs for the same day, as happens when collectors come back
// after an outage, and compares with the same day delivered as it
// happened: the campaigns are the same. The day is far longer than
// Window+Lateness.
func TestMemberDayAhead(t *testing.T) {
	obs := memberDay(1)
	cfg := Config{Lateness: time.Hour}

	// As it happened: every member's observations a minute after their
	// last seen time, in ten-minute batches.
	clk := &clock{}
	cfg.Now = clk.now
	live := mustNew(t, cfg)
	var all []Observation
	for _, m := range []string{"ma", "mb", "mc"} {
		all = append(all, obs[m]...)
	}
	slices.SortStableFunc(all, func(x, y Observation) int { return x.Last.Compare(y.Last) })
	for len(all) > 0 {
		end := all[0].Last.Truncate(10 * time.Minute).Add(10 * time.Minute)
		n, _ := slices.BinarySearchFunc(all, end, func(o Observation, t time.Time) int { return o.Last.Compare(t) })
		clk.t = end.Add(time.Minute)
		mustAdd(t, live, all[:n]...)
		all = all[n:]
	}
	want := live.Campaigns(time.Time{})
	if len(want) < 60 {
		t.Fatalf("%d campaigns as it happened: no test", len(want))
	}

	for _, order := range [][]string{{"ma", "mb", "mc"}, {"mc", "ma", "mb"}} {
		clk := &clock{t0.Add(24 * time.Hour)}
		cfg.Now = clk.now
		a := mustNew(t, cfg)
		for _, m := range order {
			// The member's day in hourly batches, oldest first, as a
			// collector delivers its backlog.
			for b := range slices.Chunk(obs[m], 60) {
				mustAdd(t, a, b...)
				clk.t = clk.t.Add(time.Second)
			}
		}
		if diff := cmp.Diff(want, a.Campaigns(time.Time{}), cmpAddr, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%v, a day each (-as it happened +member by member):\n%s", order, diff)
		}
	}
}

// TestBacklog has a member's backlog arrive days behind the others' data:
// it still makes the campaign, unless it arrives more than Window+Lateness
// after the others' data for it did.
func TestBacklog(t *testing.T) {
	const x = "203.0.113.9"
	const day = 24 * 60
	want := []Campaign{campaign(x, "T1110", []string{"T1110.001"}, []uint16{22}, "ma:2:20:25", "mb:1:0:5", "mc:1:2:6")}
	others := []Observation{det("mb", x, 0, 5, 1, 22, "T1110.001"), det("mc", x, 2, 6, 1, 22, "T1110.001")}
	backlog := det("ma", x, 20, 25, 2, 22, "T1110.001")
	// The others' later activity: other sources, up to three days on.
	later := func(from, to int) []Observation {
		var obs []Observation
		for m := from; m < to; m += 30 {
			for _, member := range []string{"mb", "mc"} {
				obs = append(obs, det(member, netip.AddrFrom4([4]byte{198, 51, 100, byte(m / 30)}).String(), m, m, 1, 22, "T1046"))
			}
		}
		return obs
	}

	t.Run("three days of the others first", func(t *testing.T) {
		a := mustNew(t, Config{Lateness: time.Hour})
		mustAdd(t, a, append(slices.Clone(others), later(60, 3*day)...)...)
		mustAdd(t, a, backlog)
		if diff := cmp.Diff(want, a.Campaigns(time.Time{}), cmpAddr, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	// Central receives the others as it happens, hour by hour; ma's
	// collector is offline until arrive, then delivers its backlog.
	offline := func(t *testing.T, arrive int) *Aggregator {
		clk := &clock{at(10)}
		a := mustNew(t, Config{Now: clk.now})
		mustAdd(t, a, others...)
		for h := 60; h < arrive; h += 60 {
			clk.t = at(h)
			mustAdd(t, a, later(h-60, h)...)
		}
		clk.t = at(arrive)
		mustAdd(t, a, backlog)
		return a
	}
	t.Run("collector offline for days", func(t *testing.T) {
		// Three days on, within Window+Lateness (73h) of the others' data.
		a := offline(t, 3*day)
		if diff := cmp.Diff(want, a.Campaigns(time.Time{}), cmpAddr, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("offline beyond Window+Lateness", func(t *testing.T) {
		a := offline(t, 10+73*60+60)
		if got := a.Campaigns(time.Time{}); len(got) != 0 {
			t.Errorf("campaign from state that should have been evicted: %+v", got)
		}
		if a.source(netip.MustParseAddr(x)) == nil {
			t.Error("the backlog's source is not tracked")
		}
	})
}

// TestFlood sends new sources without end, their event times scattered
// over days: what is kept stays bounded by arrival, and by MaxSources.
func TestFlood(t *testing.T) {
	const batch = 500
	r := rand.New(rand.NewPCG(5, 5))
	flood := func(a *Aggregator, clk *clock, i int) {
		obs := make([]Observation, batch)
		for j := range obs {
			n := i*batch + j
			first := t0.Add(time.Duration(r.IntN(10*24*60)-5*24*60) * time.Minute)
			obs[j] = Observation{Member: "m" + string(rune('a'+r.IntN(4))), Source: netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}),
				Techniques: []string{"T1046"}, RuleID: "scan", Port: uint16(1 + r.IntN(1024)), Count: 1, First: first, Last: first, Kind: KindDetection}
			if j%4 == 0 {
				obs[j].Kind, obs[j].Techniques, obs[j].RuleID = KindSummary, nil, ""
			}
		}
		clk.t = clk.t.Add(5 * time.Minute)
		if err := a.Add(obs); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("by arrival", func(t *testing.T) {
		// Kept: what arrived within Window+Lateness (2h), and up to a
		// window more until the next sweep.
		clk := &clock{t0}
		a := mustNew(t, Config{Lateness: time.Hour, Emerging: time.Hour, Now: clk.now})
		const bound = (3*60/5 + 1) * batch
		for i := range 400 {
			flood(a, clk, i)
			if n := a.Sources(); n > bound {
				t.Fatalf("batch %d: %d sources, bound %d", i, n, bound)
			}
		}
		if st := a.Stats(); st.EvictedSources < 400*batch-bound {
			t.Errorf("evicted %d sources", st.EvictedSources)
		}
		a.Advance(clk.t.Add(3 * time.Hour))
		if n := a.Sources(); n != 0 {
			t.Errorf("%d sources left idle", n)
		}
	})
	t.Run("by MaxSources", func(t *testing.T) {
		clk := &clock{t0}
		a := mustNew(t, Config{MaxSources: 2000, Now: clk.now})
		for i := range 100 {
			flood(a, clk, i)
			if n := a.Sources(); n > 2000 {
				t.Fatalf("batch %d: %d sources, bound 2000", i, n)
			}
		}
		// The newest arrivals are the ones kept.
		s := a.Stats()
		const last = 100*batch - 1
		newest := netip.AddrFrom4([4]byte{10, last >> 16, last >> 8 & 0xff, last & 0xff})
		if ok := a.source(newest) != nil; !ok || s.EvictedSources < 100*batch-2000 {
			t.Errorf("newest source kept: %v; evicted %d", ok, s.EvictedSources)
		}
	})
}

// TestMaxSessions floods one source's sessions and many sources' with
// activity too far apart to link: the sessions stay bounded, unconfirmed
// ones go before campaigns, and the count survives a snapshot.
func TestMaxSessions(t *testing.T) {
	clk := &clock{t0}
	a := mustNew(t, Config{MaxSessions: 1000, Now: clk.now})
	const x = "203.0.113.1"
	mustAdd(t, a, det("ma", x, -600, -600, 1, 22, "T1046"), det("mb", x, -600, -600, 1, 22, "T1046"), det("mc", x, -600, -600, 1, 22, "T1046"))
	count := func() int {
		n := 0
		for _, s := range a.allSources {
			n += len(s.Sessions)
			if len(s.keys) != len(s.Sessions) {
				t.Fatalf("%d session keys for %d sessions", len(s.keys), len(s.Sessions))
			}
			for i, x := range s.Sessions {
				if k := s.keys[i]; k != keyOf(x) {
					t.Fatalf("session key %+v for session %+v", k, keyOf(x))
				}
			}
		}
		if n != a.sessionCount() {
			t.Fatalf("%d sessions counted, %d tracked", a.sessionCount(), n)
		}
		return n
	}
	for i := range 50 {
		clk.t = clk.t.Add(time.Minute)
		var obs []Observation
		for j := range 100 {
			// A new session each: two hours apart from the previous one.
			obs = append(obs, det("ma", netip.AddrFrom4([4]byte{198, 51, 100, byte(j)}).String(), i*120, i*120, 1, 22, "T1046"))
		}
		mustAdd(t, a, obs...)
		if n := count(); n > 1000 {
			t.Fatalf("batch %d: %d sessions, bound 1000", i, n)
		}
	}
	if got := a.Campaigns(time.Time{}); len(got) != 1 {
		t.Errorf("the campaign was evicted before unconfirmed sessions: %d campaigns", len(got))
	}
	if st := a.Stats(); st.EvictedSessions < 5000-1000 {
		t.Errorf("evicted %d sessions", st.EvictedSessions)
	}
	data, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	n := count()
	if err := a.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if count() != n {
		t.Errorf("restored %d sessions, had %d", a.sessionCount(), n)
	}
}

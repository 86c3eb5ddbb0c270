package aggregate

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestShardsAgree feeds the same stream to a single-shard aggregator (the
// straightforward sequential path) and to sharded ones fed in parallel,
// with bounds small enough that every kind of eviction runs: snapshots must
// be byte for byte equal, and every query's answer the same.
func TestShardsAgree(t *testing.T) {
	for _, batch := range []int{parallelBatch - 1, 1024} {
		type run struct {
			a       *Aggregator
			g       *generator
			changes [][]Campaign
		}
		var runs []*run
		for _, shards := range []int{1, 2, 3} {
			g := newGenerator(1 << 12)
			a, err := newAggregator(Config{MaxSources: 3000, MaxSessions: 4000, MaxTrendKeys: 150, Lateness: time.Hour,
				Emerging: 2 * time.Hour, Now: func() time.Time { return g.t }}, shards)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, &run{a: a, g: g})
		}
		obs := make([]Observation, batch)
		for i := range 20_000 / batch {
			for _, r := range runs {
				r.g.fill(obs)
				// Mapped IPv4 sources must land in the same shard as the plain ones.
				if i%3 == 0 {
					obs[i%batch].Source = netip.AddrFrom16(obs[i%batch].Source.As16())
				}
				if err := r.a.Add(obs); err != nil {
					t.Fatal(err)
				}
				if i%10 == 0 {
					r.changes = append(r.changes, r.a.Changes())
				}
			}
		}
		want := runs[0]
		wantSnap, err := want.a.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		now := want.g.t
		if st := want.a.Stats(); st.Campaigns == 0 || st.EvictedSources == 0 || st.EvictedSessions == 0 || st.EvictedKeys == 0 {
			t.Fatalf("batch %d: the stream does not exercise every eviction: %+v", batch, st)
		}
		for _, r := range runs[1:] {
			name := func(what string) string { return fmt.Sprintf("batch %d, %d shards: %s", batch, len(r.a.shards), what) }
			snap, err := r.a.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(snap, wantSnap) {
				t.Errorf("%s differs", name("snapshot"))
			}
			for _, c := range []struct {
				what      string
				want, got any
			}{
				{"changes", want.changes, r.changes},
				{"campaigns", want.a.Campaigns(time.Time{}), r.a.Campaigns(time.Time{})},
				{"stats", want.a.Stats(), r.a.Stats()},
				{"port trends", want.a.Trends(now, DimPort, 0), r.a.Trends(now, DimPort, 0)},
				{"signature trends", want.a.Trends(now, DimSignature, 0), r.a.Trends(now, DimSignature, 0)},
				{"emerging", want.a.Emerging(now), r.a.Emerging(now)},
				{"top sources", want.a.TopSources("member-7", 0), r.a.TopSources("member-7", 0)},
				{"indicators", string(want.a.Indicators(now)), string(r.a.Indicators(now))},
			} {
				if diff := cmp.Diff(c.want, c.got, cmpAddr); diff != "" {
					t.Errorf("%s (-1 shard +sharded):\n%s", name(c.what), diff)
				}
			}
			// A sharded aggregator restores a snapshot into its own shards.
			if err := r.a.UnmarshalBinary(wantSnap); err != nil {
				t.Fatal(err)
			}
			if snap, _ := r.a.MarshalBinary(); !bytes.Equal(snap, wantSnap) {
				t.Errorf("%s differs after a restore", name("snapshot"))
			}
		}
	}
}

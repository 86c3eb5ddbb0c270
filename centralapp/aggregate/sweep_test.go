package aggregate

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestSweepVisitsWhatExpires feeds the same stream, with processing time
// jumping by minutes to days, to an aggregator whose sweeps visit the due
// sources and to one whose sweeps visit every source: after every batch
// their states must be equal byte for byte, so the due lists evict nothing
// early and leave nothing expired behind. The stream is also replayed at
// its event times through AddAt, as a rebuild does.
func TestSweepVisitsWhatExpires(t *testing.T) {
	for _, replay := range []bool{false, true} {
		g := newGenerator(1 << 10)
		var now time.Time
		cfg := Config{Window: 10 * time.Minute, Lateness: 30 * time.Minute, CampaignTTL: 2 * time.Hour,
			Emerging: 20 * time.Minute, MaxSources: 400, MaxSessions: 150, MaxTrendKeys: 100, Now: func() time.Time { return now }}
		due, err := newAggregator(cfg, 2)
		if err != nil {
			t.Fatal(err)
		}
		all, err := newAggregator(cfg, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range all.shards {
			sh.visitAll = true
		}
		r := rand.New(rand.NewPCG(3, 4))
		obs := make([]Observation, 300)
		for i := range 200 {
			g.fill(obs)
			// Arrival lags event time by up to a day, or jumps ahead.
			now = g.t.Add(time.Duration(r.Int64N(int64(24 * time.Hour))))
			if i%50 == 0 {
				g.t = g.t.Add(time.Duration(r.Int64N(int64(72 * time.Hour))))
			}
			for _, a := range []*Aggregator{due, all} {
				var err error
				if replay {
					err = a.AddAt(obs[len(obs)-1].Last, obs)
				} else {
					err = a.Add(obs)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := due.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			want, err := all.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("replay %v, batch %d: states differ (stats %+v, want %+v)", replay, i, due.Stats(), all.Stats())
			}
		}
		if st := due.Stats(); st.Campaigns == 0 || st.EvictedSources == 0 || st.EvictedSessions == 0 {
			t.Fatalf("replay %v: the stream does not exercise every eviction: %+v", replay, st)
		}
		t.Logf("replay %v: %+v", replay, due.Stats())
	}
}

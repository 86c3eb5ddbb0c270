package service

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"
	"go.uber.org/goleak"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/config"
	"github.com/cyberalarm/cyberalarm/centralapp/pki"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// TestSingleNodeCrash: one SQLite node stores half the batches, saves its
// aggregation state at a publish tick (or never), stores the rest and dies
// without saving again. Reopened, it feeds the aggregator what was stored
// after the saved position (or, without a usable state file, everything
// within the horizon) and stores the campaigns an uncrashed node stores.
func TestSingleNodeCrash(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	feeds := scenario(time.Now().UTC())
	want := singleExport(t, feeds)
	for _, tc := range []struct {
		name string
		tick bool // whether a publish tick saved the state before the crash
		// spoil, when set, replaces the saved state file's content.
		spoil func(data []byte) []byte
	}{
		{"saved state", true, nil},
		{"no state file", false, nil},
		// Older versions saved the snapshot alone.
		{"older state file", true, func(data []byte) []byte { return data[len(stateMagic)+positionBytes:] }},
		{"truncated state file", true, func(data []byte) []byte { return data[:len(data)/2] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			crashingNode(t, dir, feeds, tc.tick)
			path := filepath.Join(dir, "state", "aggregate.state")
			data, err := os.ReadFile(path)
			if saved := err == nil; saved != tc.tick {
				t.Fatalf("state file saved: %v, want %v", saved, tc.tick)
			}
			if tc.spoil != nil {
				if err := os.WriteFile(path, tc.spoil(data), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// Open alone, before serving or flushing, restores the
			// aggregation and stores its live campaigns.
			s := openNode(t, dir)
			defer s.Close()
			if diff := cmp.Diff(want, export(t, s)); diff != "" {
				t.Fatalf("export after the crash differs from an uncrashed node's (-uncrashed +crashed):\n%s", diff)
			}
			if err := s.flushShared(context.Background()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, export(t, s)); diff != "" {
				t.Fatalf("export after a flush differs from an uncrashed node's (-uncrashed +crashed):\n%s", diff)
			}
		})
	}
}

// halves splits each feed's batches in two: the first half, or the rest.
func halves(feeds []feed, first bool) []feed {
	out := make([]feed, len(feeds))
	for i, f := range feeds {
		k := len(f.batches) / 2
		out[i] = feed{member: f.member, batches: f.batches[k:]}
		if first {
			out[i].batches = f.batches[:k]
		}
	}
	return out
}

// crashingNode runs a node's API (without its shared work, whose shutdown
// saves the state) on dir, delivers the first half of each feed, runs a
// publish tick if tick, delivers the rest and releases the node the way a
// killed process does: without Close's save.
func crashingNode(t *testing.T, dir string, feeds []feed, tick bool) {
	t.Helper()
	s := openNode(t, dir)
	addMembers(t, s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := &node{svc: s, url: "https://" + ln.Addr().String()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(ctx, ln) }()
	deliver(t, halves(feeds, true), func(int) *node { return n }, tokenOf(t, s), s.CA.CAFingerprint())
	if tick {
		if err := s.flushShared(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	deliver(t, halves(feeds, false), func(int) *node { return n }, tokenOf(t, s), s.CA.CAFingerprint())
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.q.Close()
	s.srv.Close()
	s.Store.Close()
}

// openNode opens a single SQLite node on dir without serving it.
func openNode(t testing.TB, dir string) *Service {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(dir, "central.yaml"), []byte("data_dir: state\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := openWith(context.Background(), cfg, quiet, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSnapshotDuringIngest takes snapshots while batches are stored and
// fed from many goroutines. Every snapshot, restored with what was stored
// after its position, must hold each stored observation exactly once:
// without the lock between ingest and snapshot, a batch stored but not
// yet fed when the snapshot is taken would be lost, or one fed between
// reading the position and marshalling doubled.
func TestSnapshotDuringIngest(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	dir := t.TempDir()
	s := openNode(t, dir)
	const writers, perWriter, size = 8, 25, 8
	batches := makeBatches(t, s, writers*perWriter, size)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var snaps [][]byte
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			pos, snap := s.soloState()
			// Encoded while ingest goes on, as saveAggregate does.
			data, err := snap.AppendBinary(pos.append([]byte(stateMagic)))
			if err != nil {
				t.Error(err)
				return
			}
			snaps = append(snaps, data)
			time.Sleep(time.Millisecond)
		}
	})
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			for i := w; i < len(batches); i += writers {
				if dup, err := s.storeAndObserve(context.Background(), &batches[i]); err != nil || dup {
					t.Errorf("batch %d: duplicate %v, %v", i, dup, err)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(stop)
	wg.Wait()
	want := summarise(s.Agg)
	s.Close()
	if want.Observations != int64(len(batches)*size) {
		t.Fatalf("straight run: %d observations, want %d", want.Observations, len(batches)*size)
	}
	if len(snaps) < 3 {
		t.Fatalf("only %d snapshots taken during ingest", len(snaps))
	}
	// Each snapshot as the state file, restored the way a reopened node
	// restores it.
	r := openNode(t, dir)
	defer r.Close()
	path := filepath.Join(dir, "state", "aggregate.state")
	for i, snap := range snaps {
		if err := os.WriteFile(path, snap, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := r.restoreAggregate(context.Background()); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, summarise(r.Agg)); diff != "" {
			t.Fatalf("snapshot %d of %d restored and caught up differs from the straight run (-straight +restored):\n%s",
				i, len(snaps), diff)
		}
	}
}

// aggSummary is what must match between aggregators fed the same
// observations: their count and the campaigns with their counts.
type aggSummary struct {
	Observations int64
	Campaigns    []string
}

func summarise(a *aggregate.Aggregator) aggSummary {
	out := aggSummary{Observations: a.Stats().Observations}
	for _, c := range a.Campaigns(time.Time{}) {
		out.Campaigns = append(out.Campaigns, fmt.Sprintf("%s %s %s..%s members %v count %d", c.Source, c.Group,
			c.FirstSeen.Format(time.RFC3339), c.LastSeen.Format(time.RFC3339), c.MemberIDs(), c.Count))
	}
	slices.Sort(out.Campaigns)
	return out
}

// makeBatches makes n batches of size detections from one collector of
// each of five members, enrolled in s's store: sources shared across
// members, so they make campaigns. They are not stored.
func makeBatches(tb testing.TB, s *Service, n, size int) []store.Batch {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	var collectors []store.Collector
	for m := range 5 {
		id := fmt.Sprintf("m%d", m)
		if err := s.Store.AddMember(ctx, store.Member{ID: id, Name: id, TimeZone: "UTC", Created: now}); err != nil {
			tb.Fatal(err)
		}
		_, hash := pki.NewToken()
		t := store.EnrolToken{MemberID: id, Created: now, Expires: now.Add(time.Hour)}
		copy(t.Hash[:], hash)
		if err := s.Store.AddEnrolToken(ctx, t); err != nil {
			tb.Fatal(err)
		}
		c := store.Collector{ID: ulid.Make().String(), MemberID: id, Created: now}
		if err := s.Store.UseEnrolToken(ctx, t.Hash, now, c); err != nil {
			tb.Fatal(err)
		}
		collectors = append(collectors, c)
	}
	out := make([]store.Batch, n)
	for i := range out {
		c := collectors[i%len(collectors)]
		b := store.Batch{ID: ulid.Make().String(), CollectorID: c.ID, MemberID: c.MemberID, Seq: uint64(i/len(collectors) + 1),
			Created: now, Received: now}
		for k := range size {
			seen := now.Add(-time.Duration(n*size-i*size-k) * time.Millisecond)
			d := detect.Detection{RuleID: "scan.tcp.vertical", RuleName: "scan", Severity: 50, Techniques: []string{"T1046"},
				Source: netip.AddrFrom4([4]byte{203, 0, byte(k >> 8), byte(k)}), Count: 10, FirstSeen: seen.Add(-time.Minute),
				LastSeen: seen, MemberID: c.MemberID}
			sd, err := store.DecodeDetection(d.AppendJSON(nil))
			if err != nil {
				tb.Fatal(err)
			}
			b.Detections = append(b.Detections, sd)
		}
		out[i] = b
	}
	return out
}

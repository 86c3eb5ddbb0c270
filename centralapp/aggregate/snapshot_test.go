package aggregate

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// snapshotStream is batches of a stream that exercises every part of the
// state: campaigns with spans, HyperLogLog counters, source evictions.
func snapshotStream(batches, size int) [][]Observation {
	g := newGenerator(1 << 12)
	out := make([][]Observation, batches)
	for i := range out {
		out[i] = make([]Observation, size)
		g.fill(out[i])
	}
	return out
}

// snapshotConfig has a fixed processing clock, so that what the state
// holds depends only on the batches fed, not on when Add ran.
func snapshotConfig() Config {
	return Config{MaxSources: 3000, MaxSessions: 4000, Now: func() time.Time { return t0.Add(30 * time.Hour) }}
}

// TestSnapshotWhileAdding takes snapshots while another goroutine adds
// batches, and encodes each while the adding goes on: every snapshot must
// encode to exactly the state after the batches added before it was taken
// (a reference aggregator fed those batches says which), and restore to it.
func TestSnapshotWhileAdding(t *testing.T) {
	const size = 512 // over parallelBatch: the shards add in parallel
	batches := snapshotStream(60, size)
	a, err := newAggregator(snapshotConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for _, b := range batches {
			if err := a.Add(b); err != nil {
				t.Error(err)
				return
			}
		}
	})
	type taken struct {
		batches int
		data    []byte
	}
	var snaps []taken
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		s := a.Snapshot()
		// Adds go on while this one encodes.
		data, err := s.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, taken{int(s.stats.Observations / size), data})
	}
	wg.Wait()
	if len(snaps) < 3 || snaps[0].batches == snaps[len(snaps)-1].batches {
		t.Fatalf("%d snapshots, from batch %d to %d: not taken while adding", len(snaps), snaps[0].batches, snaps[len(snaps)-1].batches)
	}

	ref := mustNew(t, snapshotConfig())
	fed := 0
	for _, s := range snaps {
		for ; fed < s.batches; fed++ {
			mustAdd(t, ref, batches[fed]...)
		}
		want, err := ref.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.data, want) {
			t.Fatalf("snapshot after %d batches differs from the state then (%d bytes, want %d)", s.batches, len(s.data), len(want))
		}
		restored := mustNew(t, snapshotConfig())
		if err := restored.UnmarshalBinary(s.data); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(ref.Campaigns(time.Time{}), restored.Campaigns(time.Time{}), cmpAddr); diff != "" {
			t.Fatalf("after %d batches, restored campaigns differ (-want +got):\n%s", s.batches, diff)
		}
	}
	if st := ref.Stats(); st.Campaigns == 0 || st.EvictedSources == 0 {
		t.Fatalf("the stream does not exercise campaigns and evictions: %+v", st)
	}
}

// snapshotOf returns a's encoding, failing t on error.
func snapshotOf(t testing.TB, a *Aggregator) []byte {
	t.Helper()
	data, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// realSnapshot is the snapshot of a small but varied state.
func realSnapshot(t testing.TB) []byte {
	a := mustNew(t, snapshotConfig())
	for _, b := range snapshotStream(8, 256) {
		mustAdd(t, a, b...)
	}
	return snapshotOf(t, a)
}

func TestSnapshotRefused(t *testing.T) {
	good := realSnapshot(t)
	// A minimal valid snapshot, to build corrupt ones on.
	e := encoder{b: []byte{snapshotFormat}}
	e.uv(1)
	e.str("a")
	for range 9 {
		e.i64(0)
	}
	head := slices.Clone(e.b)
	e.uv(0)
	e.uv(0)
	e.uv(0)
	e.uv(0)
	empty := e.b
	if err := mustNew(t, Config{}).UnmarshalBinary(empty); err != nil {
		t.Fatalf("minimal snapshot refused: %v", err)
	}
	source := func(addr netip.Addr, member uint64) []byte {
		e := encoder{}
		e.addr(addr)
		e.i64(0)
		e.i64(0)
		e.i64(0)
		e.bool(false)
		e.uv(1)
		e.uv(member)
		e.v64(1)
		e.i64(0)
		e.i64(0)
		e.uv(0)
		e.uv(0)
		return e.b
	}
	v4 := netip.MustParseAddr("192.0.2.1")
	badFlag := source(v4, 0)
	badFlag[1+4+3*8] = 7
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for name, c := range map[string]struct {
		data []byte
		want string
	}{
		"empty":          {nil, "empty"},
		"json":           {[]byte(`{"Format":2,"State":{}}`), "JSON format of an older version"},
		"future format":  {[]byte{9}, "format 9, want 3"},
		"truncated":      {good[:len(good)/2], "corrupt at byte"},
		"trailing":       {append(slices.Clone(good), 0), "trailing data"},
		"huge count":     {cat(head, binary.AppendUvarint(nil, 1<<40)), "sources: count exceeds the input"},
		"repeated":       {cat(head, []byte{2}, source(v4, 0), source(v4, 0), []byte{0, 0, 0}), "source 192.0.2.1 repeated"},
		"member index":   {cat(head, []byte{1}, source(v4, 5), []byte{0, 0, 0}), "member index 5 out of range"},
		"mapped address": {cat(head, []byte{1}, source(netip.AddrFrom16(v4.As16()), 0), []byte{0, 0, 0}), "invalid entry"},
		"bad flag":       {cat(head, []byte{1}, badFlag, []byte{0, 0, 0}), "invalid flag"},
	} {
		a := mustNew(t, snapshotConfig())
		mustAdd(t, a, snapshotStream(1, 100)[0]...)
		before := snapshotOf(t, a)
		err := a.UnmarshalBinary(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one saying %q", name, err, c.want)
		}
		if !bytes.Equal(snapshotOf(t, a), before) {
			t.Errorf("%s: a refused snapshot changed the state", name)
		}
	}
	// No prefix of a snapshot is one.
	for n := 0; n < len(good); n += 1 + n/16 {
		if err := mustNew(t, Config{}).UnmarshalBinary(good[:n]); err == nil {
			t.Fatalf("snapshot cut at byte %d accepted", n)
		}
	}
}

// FuzzSnapshot checks that no input makes UnmarshalBinary panic, and that
// a state it accepts works and encodes stably.
func FuzzSnapshot(f *testing.F) {
	// Small seeds (a few kB): the fuzzer mutates large inputs slowly.
	for _, n := range []int{1, 40, 150} {
		a := mustNew(f, Config{})
		mustAdd(f, a, stream(11, n)...)
		f.Add(snapshotOf(f, a))
	}
	obs := snapshotStream(1, 64)[0]
	f.Fuzz(func(t *testing.T, data []byte) {
		a := mustNew(t, snapshotConfig())
		if a.UnmarshalBinary(data) != nil {
			return
		}
		once := snapshotOf(t, a)
		b := mustNew(t, snapshotConfig())
		if err := b.UnmarshalBinary(once); err != nil {
			t.Fatalf("re-encoded snapshot refused: %v", err)
		}
		if !bytes.Equal(snapshotOf(t, b), once) {
			t.Fatal("encoding not stable")
		}
		now := time.Unix(0, a.st.Clock)
		a.Campaigns(time.Time{})
		a.Trends(now, DimPort, 0)
		a.Emerging(now)
		a.Indicators(now)
		if err := a.Add(obs); err != nil {
			t.Fatal(err)
		}
		a.Changes()
	})
}

// BenchmarkSnapshot1M measures what saving the state of 1M observations
// from ~250k sources at 50 members costs: taking the snapshot (the pause
// Add waits for), finishing its encoding (which runs without the
// aggregator), and restoring it.
func BenchmarkSnapshot1M(b *testing.B) {
	g := newGenerator(1 << 18)
	a := mustNew(b, Config{Now: func() time.Time { return g.t }})
	batch := make([]Observation, 1024)
	for done := 0; done < 1_000_000; done += len(batch) {
		g.fill(batch)
		if err := a.Add(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("take", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.Snapshot()
		}
	})
	s := a.Snapshot()
	var buf []byte
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = s.AppendBinary(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("restore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := a.UnmarshalBinary(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package egress

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cyberalarm/cyberalarm/detect"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// denied is a blocked inbound connection at t0+offset.
func denied(src string, port uint16, offset time.Duration) *detect.Event {
	return &detect.Event{
		Timestamp: t0.Add(offset),
		Category:  detect.CategoryNetwork, Type: detect.TypeDenied, Dataset: "cisco_asa",
		Observer:    detect.Observer{Hostname: "fw1"},
		Source:      detect.Endpoint{IP: netip.MustParseAddr(src), Port: 40000},
		Destination: detect.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: port},
		Network:     detect.Network{Transport: detect.TransportTCP, Direction: detect.DirectionInbound},
	}
}

func newSummarizer(t testing.TB, c SummarizerConfig) *Summarizer {
	t.Helper()
	s, err := NewSummarizer(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSuspicious(t *testing.T) {
	cases := []struct {
		name string
		edit func(*detect.Event)
		want bool
	}{
		{"inbound denied", func(*detect.Event) {}, true},
		{"external denied", func(e *detect.Event) { e.Network.Direction = detect.DirectionExternal }, true},
		{"outbound denied", func(e *detect.Event) { e.Network.Direction = detect.DirectionOutbound }, false},
		{"internal denied", func(e *detect.Event) { e.Network.Direction = detect.DirectionInternal }, false},
		{"no direction", func(e *detect.Event) { e.Network.Direction = "" }, false},
		{"inbound allowed", func(e *detect.Event) { e.Type = detect.TypeAllowed }, false},
		{"IDS alert not blocked", func(e *detect.Event) {
			e.Type, e.Category = detect.TypeInfo, detect.CategoryIntrusionDetection
		}, true},
		{"malware found, delivered", func(e *detect.Event) { e.Type, e.Category = detect.TypeInfo, detect.CategoryMalware }, true},
		{"mail delivered", func(e *detect.Event) { e.Type, e.Category = detect.TypeInfo, detect.CategoryEmail }, false},
		{"auth failure", func(e *detect.Event) {
			e.Category, e.Outcome = detect.CategoryAuthentication, detect.OutcomeFailure
		}, true},
		{"auth success", func(e *detect.Event) {
			e.Type, e.Category, e.Outcome = detect.TypeAllowed, detect.CategoryAuthentication, detect.OutcomeSuccess
		}, false},
		{"allowed from a listed source", func(e *detect.Event) { e.Type, e.Indicator = detect.TypeAllowed, "feodo" }, true},
		{"outbound to a listed address", func(e *detect.Event) {
			e.Type, e.Indicator, e.Network.Direction = detect.TypeAllowed, "feodo", detect.DirectionOutbound
		}, false},
	}
	for _, c := range cases {
		ev := denied("203.0.113.1", 22, 0)
		c.edit(ev)
		if got := Suspicious(ev); got != c.want {
			t.Errorf("%s: Suspicious = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSummarizerCounts(t *testing.T) {
	s := newSummarizer(t, SummarizerConfig{Lateness: time.Minute})
	add := func(ev *detect.Event, matched bool) { s.Add(ev, "udp:514", matched) }
	for i := range 5 {
		add(denied("203.0.113.1", 22, time.Duration(i)*time.Second), false)
	}
	add(denied("203.0.113.1", 22, 10*time.Second), true) // a rule saw it
	add(denied("203.0.113.1", 23, 11*time.Second), false)
	add(denied("203.0.113.2", 22, 12*time.Second), false)
	add(denied("203.0.113.1", 22, 61*time.Second), false) // next minute
	udp := denied("203.0.113.1", 22, 13*time.Second)
	udp.Network.Transport = detect.TransportUDP
	add(udp, false)
	nohost := denied("203.0.113.1", 22, 14*time.Second)
	nohost.Observer.Hostname = ""
	add(nohost, false)
	allowed := denied("203.0.113.1", 22, 15*time.Second)
	allowed.Type = detect.TypeAllowed
	add(allowed, false)

	if got := s.Flush(t0.Add(2 * time.Minute)); len(got) != 0 {
		t.Errorf("flushed before minute end + lateness: %v", got)
	}
	// The newest event is at 10:01:01; 10:00 is due once event time
	// reaches 10:02:00, which it does 59 s of idling later.
	got := s.Flush(t0.Add(2*time.Minute + 59*time.Second))
	sum := func(src string, port uint16, transport, device string, n int64) detect.FlowSummary {
		return detect.FlowSummary{Minute: t0, SourceIP: netip.MustParseAddr(src), DestinationPort: port,
			Transport: transport, EventType: "denied", Device: device, Dataset: "cisco_asa", Count: n}
	}
	want := []detect.FlowSummary{
		sum("203.0.113.1", 22, "tcp", "fw1", 5),
		sum("203.0.113.1", 22, "tcp", "udp:514", 1),
		sum("203.0.113.1", 22, "udp", "fw1", 1),
		sum("203.0.113.1", 23, "tcp", "fw1", 1),
		sum("203.0.113.2", 22, "tcp", "fw1", 1),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("first minute (-want +got):\n%s", diff)
	}
	rest := s.FlushAll()
	next := sum("203.0.113.1", 22, "tcp", "fw1", 1)
	next.Minute = t0.Add(time.Minute)
	if diff := cmp.Diff([]detect.FlowSummary{next}, rest, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("FlushAll (-want +got):\n%s", diff)
	}
	st := s.Stats()
	if st.Events != 10 || st.Summaries != 6 || st.Keys != 0 || st.Late != 0 || st.EarlyFlushes != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSummarizerEventTime(t *testing.T) {
	s := newSummarizer(t, SummarizerConfig{Lateness: 2 * time.Minute})
	wall := t0.Add(24 * time.Hour) // a replay, a day later
	s.Add(denied("203.0.113.1", 22, 0), "", false)
	s.Add(denied("203.0.113.1", 22, 4*time.Minute), "", false)
	if got := s.Flush(wall); len(got) != 1 || !got[0].Minute.Equal(t0) {
		t.Fatalf("at event time 10:04, want only 10:00 flushed: %v", got)
	}
	// Out of order but within lateness: counted with its minute.
	s.Add(denied("203.0.113.1", 22, 2*time.Minute+30*time.Second), "", false)
	s.Add(denied("203.0.113.1", 22, 2*time.Minute+31*time.Second), "", false)
	// Late: 10:00 has been flushed. It gets its own summary at once.
	s.Add(denied("203.0.113.1", 22, 10*time.Second), "", false)
	got := s.Flush(wall)
	if len(got) != 1 || !got[0].Minute.Equal(t0) || got[0].Count != 1 {
		t.Fatalf("late event: %v", got)
	}
	if st := s.Stats(); st.Late != 1 {
		t.Errorf("Late = %d, want 1", st.Late)
	}
	got = s.FlushAll()
	if len(got) != 2 || got[0].Count != 2 || !got[0].Minute.Equal(t0.Add(2*time.Minute)) || got[1].Count != 1 {
		t.Errorf("FlushAll: %v", got)
	}
}

func TestSummarizerIdleAndSkew(t *testing.T) {
	s := newSummarizer(t, SummarizerConfig{Lateness: time.Minute, MaxSkew: time.Minute})
	now := t0.Add(30 * time.Second)
	s.Add(denied("203.0.113.1", 22, 0), "", false)
	// A forged stamp a year ahead must not close the current minutes.
	s.Add(denied("198.51.100.9", 22, 365*24*time.Hour), "", false)
	if got := s.Flush(now); len(got) != 0 {
		t.Fatalf("flushed on a forged stamp: %v", got)
	}
	s.Add(denied("203.0.113.1", 22, 40*time.Second), "", false)
	// Event time is held to now + skew: 10:00 is due once that reaches
	// 10:02 (minute end + lateness), at 10:01.
	if got := s.Flush(t0.Add(59 * time.Second)); len(got) != 0 {
		t.Fatalf("flushed early: %v", got)
	}
	got := s.Flush(t0.Add(60 * time.Second))
	if len(got) != 1 || got[0].Count != 2 || got[0].SourceIP != netip.MustParseAddr("203.0.113.1") {
		t.Fatalf("idle flush: %v", got)
	}
	if st := s.Stats(); st.Keys != 1 {
		t.Errorf("the forged minute should still be open: %+v", st)
	}
}

func TestSummarizerMaxKeys(t *testing.T) {
	s := newSummarizer(t, SummarizerConfig{MaxKeys: 3})
	for i := range 3 {
		if s.Add(denied("203.0.113.1", uint16(i+1), time.Duration(i)*time.Minute), "", false) {
			t.Fatal("Add asks for a flush below MaxKeys")
		}
	}
	// Existing keys still count when full.
	if s.Add(denied("203.0.113.1", 1, 5*time.Second), "", false) {
		t.Fatal("Add of a known key flushed early")
	}
	// A new key flushes the oldest minute, with its exact count.
	if !s.Add(denied("203.0.113.9", 9, 2*time.Minute), "", false) {
		t.Fatal("Add at MaxKeys did not ask for a flush")
	}
	st := s.Stats()
	if st.Keys != 3 || st.EarlyFlushes != 1 {
		t.Errorf("stats = %+v", st)
	}
	got := s.Flush(t0) // nothing due by time: only what was flushed early
	if len(got) != 1 || got[0].Count != 2 || got[0].DestinationPort != 1 {
		t.Fatalf("early flush: %v", got)
	}
	// A late event for the oldest minute when full: its own minute is
	// the one flushed, and nothing overflows.
	s.Add(denied("203.0.113.1", 1, 10*time.Second), "", false)
	if st := s.Stats(); st.Keys != 3 {
		t.Errorf("Keys = %d after a late event at MaxKeys, want 3", st.Keys)
	}
}

// TestSummarizerExact feeds events out of order, with flushes in between,
// through a summarizer with few keys, and checks that the summaries add up
// to exactly the events per key.
func TestSummarizerExact(t *testing.T) {
	for _, maxKeys := range []int{1, 7, 50, 0} {
		t.Run(fmt.Sprint(maxKeys), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(maxKeys)))
			s := newSummarizer(t, SummarizerConfig{MaxKeys: maxKeys, Lateness: time.Minute})
			type key struct {
				minute int64
				src    netip.Addr
				port   uint16
			}
			want := map[key]int64{}
			got := map[key]int64{}
			collect := func(ss []detect.FlowSummary) {
				if !slices.IsSortedFunc(ss, compareSummaries) {
					t.Error("Flush output is not sorted")
				}
				for _, fs := range ss {
					got[key{fs.Minute.Unix(), fs.SourceIP, fs.DestinationPort}] += fs.Count
				}
			}
			clock := t0
			for i := range 5000 {
				clock = clock.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
				at := clock.Sub(t0) - time.Duration(rng.IntN(150))*time.Second // up to 2.5 min out of order
				src := fmt.Sprintf("203.0.113.%d", rng.IntN(8))
				ev := denied(src, uint16(rng.IntN(4)), at)
				matched := rng.IntN(10) == 0
				s.Add(ev, "", matched)
				if !matched {
					want[key{floorMinute(ev.Timestamp.Unix()), ev.Source.IP, ev.Destination.Port}]++
				}
				if i%97 == 0 {
					collect(s.Flush(clock))
				}
			}
			collect(s.FlushAll())
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if st := s.Stats(); st.Keys != 0 {
				t.Errorf("Keys = %d after FlushAll", st.Keys)
			}
		})
	}
}

func TestSummarizerDestination(t *testing.T) {
	ps := mustPseudonymiser(t, testKey('s'))
	p := &Policy{Pseudonyms: ps}
	s := newSummarizer(t, SummarizerConfig{Destination: p.Address})
	a := denied("203.0.113.1", 22, 0)
	b := denied("203.0.113.1", 22, time.Second)
	b.Destination.IP = netip.MustParseAddr("10.0.0.2")
	s.Add(a, "", false)
	s.Add(b, "", false)
	s.Add(a, "", false)
	got := s.FlushAll()
	want := map[string]int64{
		ps.Pseudonym(netip.MustParseAddr("10.0.0.1")): 2,
		ps.Pseudonym(netip.MustParseAddr("10.0.0.2")): 1,
	}
	have := map[string]int64{}
	for _, fs := range got {
		have[fs.Destination] = fs.Count
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("by destination (-want +got):\n%s", diff)
	}

	// Without Destination, no destination is kept or sent.
	s = newSummarizer(t, SummarizerConfig{})
	s.Add(a, "", false)
	s.Add(b, "", false)
	if got := s.FlushAll(); len(got) != 1 || got[0].Count != 2 || got[0].Destination != "" {
		t.Errorf("without Destination: %v", got)
	}
}

func TestNewSummarizerErrors(t *testing.T) {
	for _, c := range []SummarizerConfig{{Lateness: -1}, {MaxKeys: -1}, {MaxSkew: -time.Second}} {
		if _, err := NewSummarizer(c); err == nil {
			t.Errorf("NewSummarizer(%+v) accepted", c)
		}
	}
}

func TestFloorMinute(t *testing.T) {
	for _, c := range [][2]int64{{0, 0}, {59, 0}, {60, 60}, {61, 60}, {-1, -60}, {-60, -60}, {-61, -120}} {
		if got := floorMinute(c[0]); got != c[1] {
			t.Errorf("floorMinute(%d) = %d, want %d", c[0], got, c[1])
		}
	}
}

func TestSummarizerAddAllocs(t *testing.T) {
	s := newSummarizer(t, SummarizerConfig{})
	events := make([]*detect.Event, 64)
	for i := range events {
		events[i] = denied(fmt.Sprintf("203.0.113.%d", i%16), uint16(i%4), time.Duration(i)*time.Second)
	}
	// Warm up: the minutes' maps reach their size, then recycle.
	for _, ev := range events {
		s.Add(ev, "", false)
	}
	s.FlushAll()
	for _, ev := range events {
		s.Add(ev, "", false)
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, ev := range events {
			s.Add(ev, "", false)
		}
	}); n != 0 {
		t.Errorf("Add allocates %v times per %d events", n, len(events))
	}
}

// TestSummarizerInternBounded: forged device names, a new one per event,
// do not grow the intern table without bound, and ids that are freed and
// reused never give a summary another key's name.
func TestSummarizerInternBounded(t *testing.T) {
	s := newSummarizer(t, SummarizerConfig{Lateness: time.Second})
	var events int64
	for m := range 60 {
		for j := range 100 {
			ev := denied("203.0.113.1", 22, time.Duration(m)*time.Minute+time.Duration(j)*100*time.Millisecond)
			ev.Observer.Hostname = fmt.Sprintf("dev-%d-%d", m, j)
			s.Add(ev, "", false)
		}
		for _, fs := range s.Flush(t0.Add(time.Duration(m)*time.Minute + 10*time.Second)) {
			var fm, fj int
			if _, err := fmt.Sscanf(fs.Device, "dev-%d-%d", &fm, &fj); err != nil || !fs.Minute.Equal(t0.Add(time.Duration(fm)*time.Minute)) || fs.Count != 1 {
				t.Fatalf("summary with a wrong device or count: %+v", fs)
			}
			events += fs.Count
		}
		if n := len(s.strings.ids); n > 2*1024+400 {
			t.Fatalf("minute %d: intern table holds %d strings", m, n)
		}
	}
	for _, fs := range s.FlushAll() {
		events += fs.Count
	}
	if events != 6000 {
		t.Errorf("summaries count %d events, want 6000", events)
	}
	if len(s.strings.free) == 0 {
		t.Error("no intern id was ever freed")
	}
}

// FuzzSummarizer drives a small summarizer with arbitrary event times
// (out of order, far past and future), flushes and key pressure, and checks
// that the summaries add up exactly to the events counted.
func FuzzSummarizer(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0, 128, 128, 128, 128})
	f.Fuzz(func(t *testing.T, data []byte) {
		s := newSummarizer(t, SummarizerConfig{MaxKeys: 5, Lateness: 30 * time.Second, MaxSkew: time.Minute})
		type key struct {
			minute int64
			src    netip.Addr
			port   uint16
		}
		want, got := map[key]int64{}, map[key]int64{}
		collect := func(ss []detect.FlowSummary) {
			for _, fs := range ss {
				if fs.Count < 1 {
					t.Fatalf("summary with count %d", fs.Count)
				}
				got[key{fs.Minute.Unix(), fs.SourceIP, fs.DestinationPort}] += fs.Count
			}
		}
		clock := t0
		for ; len(data) >= 4; data = data[4:] {
			op, a, b, c := data[0], data[1], data[2], data[3]
			offset := time.Duration(int8(b)) * time.Duration(c) * time.Second
			if op&0x80 != 0 {
				offset *= 100_000 // years away
			}
			clock = clock.Add(time.Duration(a) * time.Second)
			ev := denied(fmt.Sprintf("203.0.113.%d", a%4), uint16(op%3), clock.Sub(t0)+offset)
			matched := op&0x40 != 0
			s.Add(ev, "", matched)
			if !matched {
				want[key{floorMinute(ev.Timestamp.Unix()), ev.Source.IP, ev.Destination.Port}]++
			}
			if op&0x20 != 0 {
				collect(s.Flush(clock))
			}
		}
		collect(s.FlushAll())
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
	})
}

package egress

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// floodEvents are blocked inbound events from 256 sources to 8 ports.
func floodEvents() []detect.Event {
	events := make([]detect.Event, 4096)
	for i := range events {
		events[i] = *denied(fmt.Sprintf("203.0.113.%d", i%256), uint16(i%8+20), 0)
	}
	return events
}

// BenchmarkSummarizerAdd: a steady flood of blocked inbound traffic, 2,048
// keys, 4,000 events a minute. One op is one event. The Flush every 4,096
// events is left out of the timing; BenchmarkSummarizerAddFlush has it.
func BenchmarkSummarizerAdd(b *testing.B) { benchmarkSummarizer(b, false) }

// BenchmarkSummarizerAddFlush is BenchmarkSummarizerAdd with the cost of
// Flush (rendering and sorting the summaries) spread over the events.
func BenchmarkSummarizerAddFlush(b *testing.B) { benchmarkSummarizer(b, true) }

func benchmarkSummarizer(b *testing.B, timeFlush bool) {
	s, err := NewSummarizer(SummarizerConfig{Lateness: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	events := floodEvents()
	at := t0
	for i := range events { // stamps ahead of time, so that the loop times Add alone
		events[i].Timestamp = at.Add(time.Duration(i) * 15 * time.Millisecond)
	}
	round := time.Duration(len(events)) * 15 * time.Millisecond
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % len(events)
		s.Add(&events[j], "udp:514", false)
		if j == len(events)-1 {
			if !timeFlush {
				b.StopTimer()
			}
			for k := range events {
				events[k].Timestamp = events[k].Timestamp.Add(round)
			}
			s.Flush(events[j].Timestamp)
			if !timeFlush {
				b.StartTimer()
			}
		}
	}
}

func BenchmarkAppendDetection(b *testing.B) {
	d := fullDetection()
	for _, c := range []struct {
		name string
		p    *Policy
	}{
		{"clear", &Policy{}},
		{"pseudonyms", &Policy{Pseudonyms: mustPseudonymiser(b, testKey('b'))}},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := c.p.AppendDetection(nil, d)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = c.p.AppendDetection(buf[:0], d)
			}
		})
	}
}

func BenchmarkPseudonym(b *testing.B) {
	p := mustPseudonymiser(b, testKey('b'))
	a := netip.MustParseAddr("10.20.30.40")
	buf := make([]byte, 0, PseudonymLen)
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendPseudonym(buf[:0], a)
	}
}

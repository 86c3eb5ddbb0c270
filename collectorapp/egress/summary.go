package egress

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Suspicious reports whether ev is suspicious external traffic, the traffic
// that flow summaries count when no rule matched it. The caller gives only
// events that classification kept (detect.Lists.Classify returned Keep:
// neither internal nor from a trusted source). Of those, an event is
// suspicious when
//
//   - its source is outside the member: network.direction is inbound or
//     external (outbound traffic is the member's own doing, and its
//     source would be an internal address); and
//   - something says it is unwanted: event.type is denied (a firewall
//     block, an IDS or AV block, a rejected mail, a failed login), or
//     event.category is intrusion_detection or malware (an alert, blocked
//     or not), or the source is on an indicator list (threat.feed.name).
//
// Allowed inbound traffic to exposed services is not counted: it is most
// of a busy site's volume and says nothing by itself. Neither are mail
// results of type info (delivered mail).
func Suspicious(ev *detect.Event) bool {
	if ev.Network.Direction != detect.DirectionInbound && ev.Network.Direction != detect.DirectionExternal {
		return false
	}
	return ev.Type == detect.TypeDenied ||
		ev.Category == detect.CategoryIntrusionDetection ||
		ev.Category == detect.CategoryMalware ||
		ev.Indicator != ""
}

// Summarizer defaults.
const (
	DefaultLateness = 5 * time.Minute
	DefaultMaxKeys  = 100_000
	DefaultMaxSkew  = 10 * time.Minute
)

// SummarizerConfig tunes a Summarizer. Zero values take the defaults.
type SummarizerConfig struct {
	// Lateness is how long, in event time, a minute stays open after it
	// ends, for events that arrive out of order: a minute is flushed once
	// the newest event seen is Lateness past its end. Default 5 minutes,
	// as the rules' correlation.
	Lateness time.Duration
	// MaxKeys bounds the open summaries. Beyond it the oldest minute is
	// flushed early. Default 100,000 (about 15 MB).
	MaxKeys int
	// MaxSkew is how far ahead of the clock passed to Flush an event's
	// time may pull the flushing: a device with a clock years ahead, or a
	// forged stamp, must not close every other minute at once. Default 10
	// minutes.
	MaxSkew time.Duration
	// Destination, when set, splits the counts by destination address and
	// renders it into FlowSummary.Destination (Policy.Address is the usual
	// choice, so that internal addresses leave as pseudonyms). When nil,
	// the key is DESIGN.md §1's, and no destination leaves.
	Destination func(netip.Addr) string
}

// SummaryStats count what a Summarizer did.
type SummaryStats struct {
	Events       int64 // events counted into summaries
	Late         int64 // of them, events for a minute already flushed
	EarlyFlushes int64 // minutes flushed early because MaxKeys was reached
	Summaries    int64 // summaries returned by Flush and FlushAll
	Keys         int   // summaries open now
}

// flowKey is a summary's key within its minute. Its strings are interned
// (see interner), so that it is plain memory without padding: the map
// hashes and compares it in one pass.
type flowKey struct {
	src, dst netip.Addr
	// port is the destination port; the rest are interned ids of
	// network.transport, event.type, the device and event.dataset.
	port, transport, typ, device, dataset, _ uint32
}

// The fields of flowKey that hold interned strings.
const (
	fieldTransport = iota
	fieldType
	fieldDevice
	fieldDataset
	nFields
)

// interner gives the strings of summary keys small ids. Each field
// remembers its last string: most events repeat their predecessor's, and
// comparing a string with itself stops at the pointer.
type interner struct {
	ids   map[string]uint32
	names []string // by id
	free  []uint32 // ids no open key uses
	last  [nFields]lastString
	live  int // ids in use at the last collection
}

// lastString is a field's last string and its id.
type lastString struct {
	s  string
	id uint32
	ok bool
}

func (in *interner) id(field int, s string) uint32 {
	l := &in.last[field]
	if l.ok && l.s == s {
		return l.id
	}
	id, ok := in.ids[s]
	if !ok {
		if n := len(in.free); n > 0 {
			id, in.free = in.free[n-1], in.free[:n-1]
			in.names[id] = s
		} else {
			id = uint32(len(in.names))
			in.names = append(in.names, s)
		}
		in.ids[s] = id
	}
	l.s, l.id, l.ok = s, id, true
	return id
}

// collect frees the ids that no open key uses, when the table has grown
// well past its size at the last collection: device names come from the
// network, and a stream of forged ones must not grow it without bound.
func (in *interner) collect(buckets []*bucket) {
	if len(in.ids) <= max(2*in.live, 1024) {
		return
	}
	used := make([]bool, len(in.names))
	for _, b := range buckets {
		for k := range b.counts {
			used[k.transport], used[k.typ], used[k.device], used[k.dataset] = true, true, true, true
		}
	}
	in.live = 0
	for id, name := range in.names {
		if used[id] {
			in.live++
			continue
		}
		if cur, ok := in.ids[name]; ok && cur == uint32(id) {
			delete(in.ids, name)
			in.names[id] = ""
			in.free = append(in.free, uint32(id))
		}
	}
	in.last = [nFields]lastString{}
}

// bucket holds one minute's counts.
type bucket struct {
	minute int64 // Unix seconds of the minute's start
	counts map[flowKey]int64
}

// maxFree bounds the emptied buckets kept for reuse.
const maxFree = 8

// Summarizer counts suspicious external events that no rule matched, per
// (minute, source ip, destination port, transport, event.type, device,
// dataset), in event time, so that a replayed file gives the summaries
// live traffic would.
//
// Counts are exact, and no event is ever dropped; instead, two things can
// split one key's count of one minute across several summaries, which
// central must therefore sum:
//   - a late event, for a minute already flushed, opens that minute again,
//     and the next Flush returns it at once;
//   - at MaxKeys, the oldest open minute is flushed early.
//
// A Summarizer is used by one goroutine at a time.
type Summarizer struct {
	lateness, maxSkew int64 // seconds
	maxKeys           int
	destination       func(netip.Addr) string

	strings interner
	buckets []*bucket // open minutes, oldest first
	last    *bucket   // the bucket of the previous event
	free    []*bucket
	pending []detect.FlowSummary // flushed early, for the next Flush

	started bool
	maxSec  int64     // the newest event time seen, Unix seconds
	seenMax int64     // maxSec as the last Flush saw it
	seenAt  time.Time // when a Flush first saw seenMax
	closed  int64     // minutes before this have been flushed

	stats SummaryStats
}

// NewSummarizer returns a Summarizer.
func NewSummarizer(c SummarizerConfig) (*Summarizer, error) {
	if c.Lateness < 0 || c.MaxKeys < 0 || c.MaxSkew < 0 {
		return nil, errors.New("egress: summary lateness, max keys and max skew must not be negative")
	}
	if c.Lateness == 0 {
		c.Lateness = DefaultLateness
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = DefaultMaxSkew
	}
	return &Summarizer{
		strings:     interner{ids: make(map[string]uint32)},
		lateness:    int64(c.Lateness / time.Second),
		maxSkew:     int64(c.MaxSkew / time.Second),
		maxKeys:     c.MaxKeys,
		destination: c.Destination,
	}, nil
}

// Add counts ev when it is suspicious external traffic (see Suspicious)
// and matched is false. ev must be an event that classification kept;
// matched says whether any rule's condition held for it, whether or not a
// detection was due. input names where ev came from; it is the device when
// ev has no observer.hostname.
//
// Add reports whether summaries flushed early wait for the caller: it
// should then call Flush soon, as they take memory beyond MaxKeys. In the
// steady state, Add does not allocate.
func (s *Summarizer) Add(ev *detect.Event, input string, matched bool) (flushSoon bool) {
	if matched || !Suspicious(ev) {
		return len(s.pending) > 0
	}
	sec := ev.Timestamp.Unix()
	if !s.started || sec > s.maxSec {
		s.started, s.maxSec = true, sec
	}
	minute := floorMinute(sec)
	if minute < s.closed {
		s.stats.Late++
	}
	s.stats.Events++
	device := ev.Observer.Hostname
	if device == "" {
		device = input
	}
	k := flowKey{
		src:       ev.Source.IP,
		port:      uint32(ev.Destination.Port),
		transport: s.strings.id(fieldTransport, ev.Network.Transport),
		typ:       s.strings.id(fieldType, ev.Type),
		device:    s.strings.id(fieldDevice, device),
		dataset:   s.strings.id(fieldDataset, ev.Dataset),
	}
	if s.destination != nil {
		k.dst = ev.Destination.IP
	}
	if s.stats.Keys >= s.maxKeys && !s.has(minute, &k) {
		s.flushOldest()
	}
	b := s.bucket(minute)
	n := len(b.counts)
	b.counts[k]++
	s.stats.Keys += len(b.counts) - n
	return len(s.pending) > 0
}

// floorMinute returns the start of sec's minute, also for times before 1970.
func floorMinute(sec int64) int64 {
	m := sec % 60
	if m < 0 {
		m += 60
	}
	return sec - m
}

// find returns the index of minute's bucket, or where it belongs.
func (s *Summarizer) find(minute int64) (int, bool) {
	return slices.BinarySearchFunc(s.buckets, minute, func(b *bucket, m int64) int { return cmp.Compare(b.minute, m) })
}

// has reports whether minute has an open summary of k.
func (s *Summarizer) has(minute int64, k *flowKey) bool {
	i, found := s.find(minute)
	if !found {
		return false
	}
	_, ok := s.buckets[i].counts[*k]
	return ok
}

// bucket returns the open bucket of minute, opening it if need be.
func (s *Summarizer) bucket(minute int64) *bucket {
	if s.last != nil && s.last.minute == minute {
		return s.last
	}
	i, found := s.find(minute)
	if !found {
		var b *bucket
		if n := len(s.free); n > 0 {
			b, s.free = s.free[n-1], s.free[:n-1]
			b.minute = minute
		} else {
			b = &bucket{minute: minute, counts: make(map[flowKey]int64)}
		}
		s.buckets = slices.Insert(s.buckets, i, b)
	}
	s.last = s.buckets[i]
	return s.last
}

// flushOldest flushes the oldest open minute into pending.
func (s *Summarizer) flushOldest() {
	s.stats.EarlyFlushes++
	s.pending = s.drain(s.pending, 1)
}

// drain appends the summaries of the n oldest buckets to out and recycles
// the buckets.
func (s *Summarizer) drain(out []detect.FlowSummary, n int) []detect.FlowSummary {
	for _, b := range s.buckets[:n] {
		minute := time.Unix(b.minute, 0).UTC()
		for k, c := range b.counts {
			fs := detect.FlowSummary{
				Minute:          minute,
				SourceIP:        k.src,
				DestinationPort: uint16(k.port),
				Transport:       s.strings.names[k.transport],
				EventType:       s.strings.names[k.typ],
				Device:          s.strings.names[k.device],
				Dataset:         s.strings.names[k.dataset],
				Count:           c,
			}
			if s.destination != nil && k.dst.IsValid() {
				fs.Destination = s.destination(k.dst)
			}
			out = append(out, fs)
		}
		s.stats.Keys -= len(b.counts)
		clear(b.counts)
		if b == s.last {
			s.last = nil
		}
		if len(s.free) < maxFree {
			s.free = append(s.free, b)
		}
	}
	rest := copy(s.buckets, s.buckets[n:])
	clear(s.buckets[rest:])
	s.buckets = s.buckets[:rest]
	return out
}

// Flush returns the summaries that are due at wall-clock time now, sorted
// (see SortSummaries): every minute that ended Lateness before the newest
// event time seen, and whatever was flushed early or arrived late. When no
// newer event arrives, event time is taken to advance with the clock from
// the Flush that first saw the newest, so that a quiet site's last minutes
// still leave; it never runs more than MaxSkew ahead of now. The caller
// owns the returned slice.
func (s *Summarizer) Flush(now time.Time) []detect.FlowSummary {
	out := s.pending
	s.pending = nil
	if s.started {
		if s.seenAt.IsZero() || s.seenMax != s.maxSec {
			s.seenMax, s.seenAt = s.maxSec, now
		}
		mark := s.maxSec
		if idle := now.Sub(s.seenAt); idle > 0 {
			mark += int64(idle / time.Second)
		}
		if limit := now.Unix() + s.maxSkew; mark > limit {
			mark = limit
		}
		// Minute m is due when m + 60 + lateness <= mark.
		due := mark - 60 - s.lateness
		n := 0
		for n < len(s.buckets) && s.buckets[n].minute <= due {
			n++
		}
		out = s.drain(out, n)
		s.strings.collect(s.buckets)
		if c := floorMinute(due) + 60; c > s.closed {
			s.closed = c
		}
	}
	return s.finish(out)
}

// FlushAll returns every summary, open or not, sorted: for shutdown and the
// end of a replay.
func (s *Summarizer) FlushAll() []detect.FlowSummary {
	out := s.drain(s.pending, len(s.buckets))
	s.pending = nil
	s.strings.collect(s.buckets)
	return s.finish(out)
}

func (s *Summarizer) finish(out []detect.FlowSummary) []detect.FlowSummary {
	SortSummaries(out)
	s.stats.Summaries += int64(len(out))
	return out
}

// Stats returns the Summarizer's counters.
func (s *Summarizer) Stats() SummaryStats { return s.stats }

// SortSummaries sorts summaries by minute, then source ip, destination
// port, transport, event.type, device, dataset, destination and count, so
// that the same events always give the same output.
func SortSummaries(ss []detect.FlowSummary) {
	slices.SortFunc(ss, compareSummaries)
}

func compareSummaries(a, b detect.FlowSummary) int {
	if c := a.Minute.Compare(b.Minute); c != 0 {
		return c
	}
	if c := a.SourceIP.Compare(b.SourceIP); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DestinationPort, b.DestinationPort); c != 0 {
		return c
	}
	for _, c := range [...]int{
		strings.Compare(a.Transport, b.Transport),
		strings.Compare(a.EventType, b.EventType),
		strings.Compare(a.Device, b.Device),
		strings.Compare(a.Dataset, b.Dataset),
		strings.Compare(a.Destination, b.Destination),
	} {
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(a.Count, b.Count)
}

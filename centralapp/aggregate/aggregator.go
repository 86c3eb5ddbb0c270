// Package aggregate is central's cross-member aggregation: it turns the
// detections and flow summaries of all members into campaigns (one source
// at several members), targetedness scores, trends, emerging threats and
// the indicator list published back to collectors.
//
// It works incrementally on plain values (Observation; AppendDetection and
// SummaryObservation make them from the wire types): Add takes each batch
// as it arrives, Changes reports the campaigns formed or changed since it
// was last called, and MarshalBinary/UnmarshalBinary let a restarted
// central resume.
//
// # Two clocks
//
// Results are in event time: windows, sessions, first and last seen, trend
// days are the observations' own times. What is kept, and for how long, is
// decided in processing time: Config.Now when Add took the data. Members'
// batches arrive in any order and their event times can be days apart (a
// collector delivering a backlog after an outage, oldest first; one member
// delivering a whole day before the others deliver theirs): an eviction
// driven by the newest event time seen would drop the others' state before
// their data arrived. Driven by arrival, the result does not depend on the
// order in which observations arrive, as long as related observations
// arrive within Window+Lateness of each other and the bounds below are not
// reached. Trend history and the emerging-threat window are spans of event
// time before the clock's now, the now they are queried for.
//
// # Campaigns
//
// Techniques are related when they share a relation group: the group from
// Config.Relations, else the ATT&CK parent id (T1110.001 and T1110 are
// related; T1110 and T1046 are not). A detection without techniques is
// grouped by its rule id. A source's detections under one group form
// sessions: activity no more than Window apart (single linkage, so the
// partition does not depend on arrival order). A session is a campaign once
// MinMembers distinct members saw the source within some closed interval of
// length Window; it then keeps growing with the session. Flow summaries
// never make campaigns (they carry no technique) but count for
// targetedness and port trends.
//
// # Bounds
//
// Unconfirmed sessions are evicted Window+Lateness after data for them last
// arrived, campaigns CampaignTTL after, source profiles after the longest
// of Window+Lateness and Emerging. Beyond MaxSources the sources that
// received data least recently go (a few hundred bytes each, plus 32 per
// member that saw them), beyond MaxSessions the sessions, unconfirmed
// first. Trend keys keep at most BaselineDays+1 days, none before the
// baseline of the clock's day, and are capped at MaxTrendKeys per
// dimension, least recently seen evicted; each day counts sources and
// members exactly up to 32, then in a 256-byte HyperLogLog. Per campaign,
// techniques (32), ports (64) and activity spans per member while
// unconfirmed (32) are capped.
package aggregate

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Aggregator holds the aggregation state. It is safe for concurrent use.
type Aggregator struct {
	mu  sync.Mutex
	cfg Config
	st  state

	memberIdx  map[string]uint32
	memberHash []uint64
	// changed holds the campaigns formed or changed since Changes was last
	// called, and the ids they replaced; owner their sources.
	changed map[*session][]string
	owner   map[*session]netip.Addr
	// sessions counts the sessions of all sources.
	sessions int
}

// state is everything a snapshot holds.
type state struct {
	Members   []string
	Clock     int64 // processing time (Unix ns): the newest Config.Now or Advance seen
	Swept     int64 // Clock at the last eviction sweep
	FirstDay  int64 // first UTC day (days since 1970) with data; -1 before any
	Sources   map[netip.Addr]*sourceState
	Ports     map[uint16]*series
	Technique map[string]*series
	Rules     map[string]*series
	Stats     Stats
}

// Stats counts what the aggregator did.
type Stats struct {
	Observations    int64 // accepted
	Campaigns       int64 // sessions that qualified as campaigns
	EvictedSources  int64 // sources dropped, idle or over MaxSources
	EvictedSessions int64 // sessions dropped over MaxSessions
	EvictedKeys     int64 // trend keys dropped, idle or over MaxTrendKeys
	TooOldForTrends int64 // observations older than the trend baseline
}

// sourceState is what is known of one source: its profile across members
// (for targetedness and emerging threats) and its sessions (campaigns).
type sourceState struct {
	First    int64
	Last     int64
	Touched  int64  // processing time data for the source last arrived
	Members  []seen // sorted by member index
	Ports    []uint16
	PortsCap bool       `json:",omitempty"` // more distinct ports than maxSourcePorts
	Sessions []*session `json:",omitempty"`

	// Most sources are seen once: these hold their first entries without
	// further allocations.
	memberBuf  [1]seen
	portBuf    [2]uint16
	sessionBuf [1]*session
}

func newSourceState(f, l int64) *sourceState {
	s := &sourceState{First: f, Last: l}
	s.Members, s.Ports, s.Sessions = s.memberBuf[:0], s.portBuf[:0], s.sessionBuf[:0]
	return s
}

// seen is one member's view of a source.
type seen struct {
	Idx   uint32
	Count int64
	First int64
	Last  int64
}

// maxSourcePorts bounds the distinct ports counted per source.
const maxSourcePorts = 1024

// New returns an empty aggregator.
func New(cfg Config) (*Aggregator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Aggregator{cfg: cfg}
	a.reset(state{FirstDay: -1})
	return a, nil
}

func (a *Aggregator) reset(st state) {
	if st.Sources == nil {
		st.Sources = make(map[netip.Addr]*sourceState)
	}
	if st.Ports == nil {
		st.Ports = make(map[uint16]*series)
	}
	if st.Technique == nil {
		st.Technique = make(map[string]*series)
	}
	if st.Rules == nil {
		st.Rules = make(map[string]*series)
	}
	a.st = st
	a.memberIdx = make(map[string]uint32, len(st.Members))
	a.memberHash = make([]uint64, len(st.Members))
	for i, m := range st.Members {
		a.memberIdx[m] = uint32(i)
		a.memberHash[i] = stringHash(m)
	}
	a.changed = make(map[*session][]string)
	a.owner = make(map[*session]netip.Addr)
	a.sessions = 0
	for _, s := range st.Sources {
		a.sessions += len(s.Sessions)
	}
}

// Config returns the configuration in force, defaults filled in.
func (a *Aggregator) Config() Config { return a.cfg }

// Stats returns the counters.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.st.Stats
}

// Sources returns the number of sources tracked.
func (a *Aggregator) Sources() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.st.Sources)
}

// BatchError is an invalid observation in a batch given to Add.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("aggregate: observation %d: %v", e.Index, e.Err)
}
func (e *BatchError) Unwrap() error { return e.Err }

// Add takes a batch of observations. A batch with an invalid observation
// is refused whole, with a *BatchError. The campaigns it formed or changed
// are reported by Changes.
func (a *Aggregator) Add(batch []Observation) error {
	for i := range batch {
		if err := batch[i].validate(); err != nil {
			return &BatchError{i, err}
		}
	}
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	// Evict what went idle before the batch arrived, so that stale state
	// never links with it however long Add was not called; then what the
	// batch pushed over a bound.
	a.tick(now)
	a.maybeSweep()
	for i := range batch {
		a.add(&batch[i])
	}
	a.maybeSweep()
	return nil
}

// Advance moves the processing clock to now (a wall-clock time, as
// Config.Now gives) if it is ahead, so that idle state is evicted when no
// data arrives.
func (a *Aggregator) Advance(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tick(now)
	a.maybeSweep()
}

// tick moves the processing clock forward; it never goes back, so a wall
// clock stepped back cannot make stamps run ahead of it.
func (a *Aggregator) tick(now time.Time) {
	a.st.Clock = max(a.st.Clock, now.UnixNano())
}

func (a *Aggregator) member(name string) uint32 {
	if i, ok := a.memberIdx[name]; ok {
		return i
	}
	i := uint32(len(a.st.Members))
	a.st.Members = append(a.st.Members, name)
	a.memberIdx[name] = i
	a.memberHash = append(a.memberHash, stringHash(name))
	return i
}

func (a *Aggregator) add(o *Observation) {
	a.st.Stats.Observations++
	f, l := o.First.UnixNano(), o.Last.UnixNano()
	idx := a.member(o.Member)
	src := o.Source.Unmap()
	s := a.st.Sources[src]
	if s == nil {
		s = newSourceState(f, l)
		a.st.Sources[src] = s
	}
	s.Touched = a.st.Clock
	s.observe(idx, f, l, o.Count, o.Port)
	if o.Kind == KindDetection {
		a.campaigns(src, s, o, idx, f, l)
	}
	a.trends(o, src, idx, f, l)
}

func (s *sourceState) observe(idx uint32, f, l, n int64, port uint16) {
	s.First, s.Last = min(s.First, f), max(s.Last, l)
	i, ok := findSeen(s.Members, idx)
	if !ok {
		s.Members = slices.Insert(s.Members, i, seen{Idx: idx, First: f, Last: l})
	}
	m := &s.Members[i]
	m.Count += n
	m.First, m.Last = min(m.First, f), max(m.Last, l)
	if port != 0 && !s.PortsCap {
		if j, ok := slices.BinarySearch(s.Ports, port); !ok {
			if len(s.Ports) >= maxSourcePorts {
				s.PortsCap = true
			} else {
				s.Ports = slices.Insert(s.Ports, j, port)
			}
		}
	}
}

// campaigns feeds a detection into the source's sessions, one per
// technique group it carries (a detection without techniques is grouped by
// its rule).
func (a *Aggregator) campaigns(src netip.Addr, s *sourceState, o *Observation, idx uint32, f, l int64) {
	if len(o.Techniques) == 0 {
		if o.RuleID != "" {
			a.session(src, s, "rule:"+o.RuleID, o, idx, f, l)
		}
		return
	}
	for i, t := range o.Techniques {
		g := a.cfg.group(t)
		dup := false
		for _, u := range o.Techniques[:i] {
			dup = dup || a.cfg.group(u) == g
		}
		if !dup {
			a.session(src, s, g, o, idx, f, l)
		}
	}
}

func (a *Aggregator) session(src netip.Addr, s *sourceState, group string, o *Observation, idx uint32, f, l int64) {
	w := int64(a.cfg.Window)
	var cur *session
	var first int64 // cur's first seen before o
	var replaced []string
	for i := 0; i < len(s.Sessions); {
		x := s.Sessions[i]
		if x.Group != group || !x.linked(f, l, w) {
			i++
			continue
		}
		if cur == nil {
			cur, first = x, x.First
			i++
			continue
		}
		// o bridges two sessions: they become one.
		cur.absorb(x, w)
		if x.ID != "" {
			replaced = append(replaced, x.ID)
		}
		replaced = append(replaced, a.changed[x]...)
		delete(a.changed, x)
		delete(a.owner, x)
		s.Sessions = slices.Delete(s.Sessions, i, i+1)
		a.sessions--
	}
	if cur == nil {
		cur = newSession(group, f, l)
		s.Sessions = append(s.Sessions, cur)
		a.sessions++
	}
	cur.observe(idx, f, l, o.Count, w, o.Techniques, o.Port)
	cur.Touched = a.st.Clock
	if !cur.qualify(a.cfg.MinMembers, w) {
		return
	}
	if cur.ID == "" {
		a.st.Stats.Campaigns++
	}
	// The id derives from the first seen time: recompute it only when that
	// moved (the hash is the costliest step for a busy campaign).
	if cur.ID == "" || cur.First != first || len(replaced) > 0 {
		if id := campaignID(src, group, cur.First); id != cur.ID {
			if cur.ID != "" {
				replaced = append(replaced, cur.ID)
			}
			cur.ID = id
		}
	}
	if !cur.dirty || len(replaced) > 0 {
		cur.dirty = true
		a.changed[cur] = append(a.changed[cur], replaced...)
		a.owner[cur] = src
	}
}

// Changes returns the campaigns that formed or changed (grew, or were
// seen again) since Changes was last called, sorted by first seen. A
// campaign whose id changed, because an earlier observation arrived late
// or because it merged with another, lists the old ids in Replaces. Calling
// it once per flush, not per batch, keeps Add cheap for busy campaigns.
func (a *Aggregator) Changes() []Campaign {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.changed) == 0 {
		return nil
	}
	out := make([]Campaign, 0, len(a.changed))
	for s, rep := range a.changed {
		s.dirty = false
		c := a.campaign(a.owner[s], s)
		c.Replaces = slices.Compact(slices.Sorted(slices.Values(rep)))
		c.Replaces = slices.DeleteFunc(c.Replaces, func(id string) bool { return id == c.ID })
		if len(c.Replaces) == 0 {
			c.Replaces = nil
		}
		out = append(out, c)
	}
	clear(a.changed)
	clear(a.owner)
	slices.SortFunc(out, compareCampaigns)
	return out
}

// Campaigns returns every campaign last seen at or after since, sorted by
// first seen.
func (a *Aggregator) Campaigns(since time.Time) []Campaign {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := since.UnixNano()
	var out []Campaign
	for src, s := range a.st.Sources {
		for _, x := range s.Sessions {
			if x.Qualified && x.Last >= t {
				out = append(out, a.campaign(src, x))
			}
		}
	}
	slices.SortFunc(out, compareCampaigns)
	return out
}

// maybeSweep evicts idle state once the clock has moved a window (a sweep
// touches every source, so it must stay rare), or at once when a bound is
// exceeded.
func (a *Aggregator) maybeSweep() {
	over := len(a.st.Sources) > a.cfg.MaxSources || a.sessions > a.cfg.MaxSessions || len(a.st.Ports) > a.cfg.MaxTrendKeys ||
		len(a.st.Technique) > a.cfg.MaxTrendKeys || len(a.st.Rules) > a.cfg.MaxTrendKeys
	if !over && a.st.Clock-a.st.Swept < int64(a.cfg.Window) {
		return
	}
	a.st.Swept = a.st.Clock
	a.sweep()
}

// sweep evicts what no data arrived for in a while: unconfirmed sessions
// after Window+Lateness, campaigns after CampaignTTL, source profiles after
// the longest of those and Emerging; trend keys whose history is all before
// the baseline; then the least recently touched beyond the bounds.
func (a *Aggregator) sweep() {
	now := a.st.Clock
	open := now - int64(a.cfg.Window+a.cfg.Lateness)
	ttl := now - int64(a.cfg.CampaignTTL)
	profile := now - int64(max(a.cfg.Emerging, a.cfg.Window+a.cfg.Lateness))
	for addr, s := range a.st.Sources {
		s.Sessions = slices.DeleteFunc(s.Sessions, func(x *session) bool {
			gone := x.Touched < open && (!x.Qualified || x.Touched < ttl)
			if gone {
				a.forget(x)
				a.sessions--
			}
			return gone
		})
		if len(s.Sessions) == 0 && s.Touched < profile {
			delete(a.st.Sources, addr)
			a.st.Stats.EvictedSources++
		}
	}
	if n := len(a.st.Sources); n > a.cfg.MaxSources {
		type aged struct {
			addr    netip.Addr
			touched int64
			last    int64
		}
		all := make([]aged, 0, n)
		for addr, s := range a.st.Sources {
			all = append(all, aged{addr, s.Touched, s.Last})
		}
		// A flood arrives in few batches: ties on arrival are broken by
		// event time, then address, so that what stays is deterministic.
		// Evict an eighth more than needed, so sweeps stay rare.
		k := n - a.cfg.MaxSources*7/8
		selectLeast(all, k, func(x, y aged) int {
			if c := cmp.Compare(x.touched, y.touched); c != 0 {
				return c
			}
			if c := cmp.Compare(x.last, y.last); c != 0 {
				return c
			}
			return x.addr.Compare(y.addr)
		})
		for _, x := range all[:k] {
			for _, ss := range a.st.Sources[x.addr].Sessions {
				a.forget(ss)
				a.sessions--
			}
			delete(a.st.Sources, x.addr)
			a.st.Stats.EvictedSources++
		}
	}
	if a.sessions > a.cfg.MaxSessions {
		a.evictSessions()
	}
	a.st.Stats.EvictedKeys += sweepSeries(a.st.Ports, now, &a.cfg) + sweepSeries(a.st.Technique, now, &a.cfg) + sweepSeries(a.st.Rules, now, &a.cfg)
}

// evictSessions brings the sessions down to seven eighths of MaxSessions
// (so sweeps stay rare): unconfirmed before campaigns, least recently
// touched first, ties broken by event time, source and group so that what
// stays is deterministic. The sources stay, until their profiles go idle.
func (a *Aggregator) evictSessions() {
	// The ordering keys are copied out of the sessions, so that comparing
	// two rarely follows a pointer.
	type aged struct {
		confirmed bool
		touched   int64
		last      int64
		addr      netip.Addr
		x         *session
	}
	all := make([]aged, 0, a.sessions)
	for addr, s := range a.st.Sources {
		for _, x := range s.Sessions {
			all = append(all, aged{x.Qualified, x.Touched, x.Last, addr, x})
		}
	}
	k := len(all) - a.cfg.MaxSessions*7/8
	selectLeast(all, k, func(p, q aged) int {
		if p.confirmed != q.confirmed {
			if p.confirmed {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(p.touched, q.touched); c != 0 {
			return c
		}
		if c := cmp.Compare(p.last, q.last); c != 0 {
			return c
		}
		if c := p.addr.Compare(q.addr); c != 0 {
			return c
		}
		if c := cmp.Compare(p.x.Group, q.x.Group); c != 0 {
			return c
		}
		return cmp.Compare(p.x.First, q.x.First)
	})
	gone := all[:k]
	// Group the evicted by source, so each source's list is filtered once.
	slices.SortFunc(gone, func(p, q aged) int { return p.addr.Compare(q.addr) })
	for i := 0; i < len(gone); {
		j := i + 1
		for j < len(gone) && gone[j].addr == gone[i].addr {
			j++
		}
		s := a.st.Sources[gone[i].addr]
		for _, v := range gone[i:j] {
			a.forget(v.x)
			if n := slices.Index(s.Sessions, v.x); n >= 0 {
				s.Sessions = slices.Delete(s.Sessions, n, n+1)
			}
		}
		i = j
	}
	a.sessions -= len(gone)
	a.st.Stats.EvictedSessions += int64(len(gone))
}

// forget drops a session about to be evicted from the pending changes.
func (a *Aggregator) forget(x *session) {
	delete(a.changed, x)
	delete(a.owner, x)
}

// stringHash is a stable 64-bit hash of s (stable across restarts, unlike
// maphash).
func stringHash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return mix(h.Sum64())
}

// addrHash is a stable 64-bit hash of an address.
func addrHash(a netip.Addr) uint64 {
	b := a.As16()
	return mix(binary.BigEndian.Uint64(b[:8]) ^ mix(binary.BigEndian.Uint64(b[8:])+0x9e3779b97f4a7c15))
}

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// findSeen is slices.BinarySearch for a member index, without the
// indirect call of BinarySearchFunc on the hot path.
func findSeen(ms []seen, idx uint32) (int, bool) {
	lo, hi := 0, len(ms)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ms[m].Idx < idx {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(ms) && ms[lo].Idx == idx
}

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
	"math"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Aggregator holds the aggregation state. It is safe for concurrent use.
type Aggregator struct {
	mu  sync.Mutex
	cfg Config
	// st is the state but its sources, which live in shards: st.Sources
	// is only filled for a snapshot.
	st     state
	shards []*shard

	memberIdx  map[string]uint32
	memberHash []uint64
	routes     []route // Add's scratch
}

// shard holds the sources whose address hash falls to it, their sessions
// and pending changes. Add feeds the shards of a large batch in parallel;
// each takes its sources' observations in batch order, and nothing a shard
// holds depends on another's, so the results are the same whatever the
// number of shards.
type shard struct {
	cfg     *Config
	sources map[netip.Addr]*sourceState
	// changed holds the campaigns formed or changed since Changes was last
	// called, and the ids they replaced; owner their sources.
	changed map[*session][]string
	owner   map[*session]netip.Addr
	// sessions counts the sessions of the shard's sources; qualified the
	// sessions that became campaigns during the batch being added.
	sessions  int
	qualified int64
	// evicted counts the sources a sweep evicted.
	evicted int64
	// due lists sources by the Window-long span of processing time in
	// which something of theirs may expire (see listDue): a sweep visits
	// the sources listed in the spans that ended, not every source, so
	// that its cost follows what expires, not what is kept. A replay of a
	// month from the store sweeps every Window of its clock.
	due map[int64][]*sourceState
	// visitAll makes sweeps visit every source, as a test's reference.
	visitAll bool
	// free holds sessions for reuse (see recycle).
	free []*session
}

// route is what Add works out once per observation of a batch.
type route struct {
	src   netip.Addr // unmapped
	hash  uint64     // addrHash(src)
	idx   uint32     // member index
	shard uint32
}

// parallelBatch is the smallest batch whose shards Add feeds in parallel:
// below it, starting goroutines costs more than it saves.
const parallelBatch = 256

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
	// keys hold what finding and evicting sessions reads of them, index
	// for index: scanning one array instead of following a pointer per
	// session was most of Add's time on sources with many sessions, and of
	// evicting sessions.
	keys []sessKey

	// Most sources are seen once: these hold their first entries without
	// further allocations.
	memberBuf  [1]seen
	portBuf    [2]uint16
	sessionBuf [1]*session
	keyBuf     [1]sessKey

	// due is the span the source is listed under in its shard's due; 0
	// when it is not listed; addr its address, for the listing.
	due  int64
	addr netip.Addr
}

type sessKey struct {
	group       string
	first, last int64
	touched     int64
	qualified   bool
}

func keyOf(x *session) sessKey { return sessKey{x.Group, x.First, x.Last, x.Touched, x.Qualified} }

func newSourceState(f, l int64) *sourceState {
	s := &sourceState{First: f, Last: l}
	s.Members, s.Ports, s.Sessions, s.keys = s.memberBuf[:0], s.portBuf[:0], s.sessionBuf[:0], s.keyBuf[:0]
	return s
}

// setKeys rebuilds the session keys (after a snapshot is restored).
func (s *sourceState) setKeys() {
	s.keys = s.keys[:0]
	for _, x := range s.Sessions {
		s.keys = append(s.keys, keyOf(x))
	}
}

// deleteSessions removes the sessions del reports, keeping the keys in step.
func (s *sourceState) deleteSessions(del func(*session, *sessKey) bool) {
	j := 0
	for i, x := range s.Sessions {
		if !del(x, &s.keys[i]) {
			s.Sessions[j], s.keys[j] = x, s.keys[i]
			j++
		}
	}
	clear(s.Sessions[j:])
	clear(s.keys[j:])
	s.Sessions, s.keys = s.Sessions[:j], s.keys[:j]
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

// New returns an empty aggregator, its sources sharded over GOMAXPROCS
// (at most maxShards).
func New(cfg Config) (*Aggregator, error) {
	return newAggregator(cfg, min(runtime.GOMAXPROCS(0), maxShards))
}

// maxShards bounds the shards: each scans every batch for its share, and
// the trends, which are not sharded, bound the speed-up anyway.
const maxShards = 8

func newAggregator(cfg Config, shards int) (*Aggregator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Aggregator{cfg: cfg, shards: make([]*shard, max(shards, 1))}
	a.reset(state{FirstDay: -1})
	return a, nil
}

// reset replaces the state with st, spreading its sources over the shards.
func (a *Aggregator) reset(st state) {
	if st.Ports == nil {
		st.Ports = make(map[uint16]*series)
	}
	if st.Technique == nil {
		st.Technique = make(map[string]*series)
	}
	if st.Rules == nil {
		st.Rules = make(map[string]*series)
	}
	for i := range a.shards {
		a.shards[i] = &shard{
			cfg:     &a.cfg,
			sources: make(map[netip.Addr]*sourceState, len(st.Sources)/len(a.shards)),
			changed: make(map[*session][]string),
			owner:   make(map[*session]netip.Addr),
			due:     make(map[int64][]*sourceState),
		}
	}
	for addr, s := range st.Sources {
		sh := a.shardOf(addr)
		sh.sources[addr] = s
		sh.sessions += len(s.Sessions)
		s.setKeys()
		sh.listDue(addr, s, sh.expiry(s))
	}
	st.Sources = nil
	a.st = st
	a.memberIdx = make(map[string]uint32, len(st.Members))
	a.memberHash = make([]uint64, len(st.Members))
	for i, m := range st.Members {
		a.memberIdx[m] = uint32(i)
		a.memberHash[i] = stringHash(m)
	}
}

func (a *Aggregator) shardOf(addr netip.Addr) *shard {
	return a.shards[addrHash(addr)%uint64(len(a.shards))]
}

// source returns the state of addr (unmapped), nil if not tracked.
func (a *Aggregator) source(addr netip.Addr) *sourceState {
	return a.shardOf(addr).sources[addr]
}

// allSources yields every tracked source.
func (a *Aggregator) allSources(yield func(netip.Addr, *sourceState) bool) {
	for _, sh := range a.shards {
		for addr, s := range sh.sources {
			if !yield(addr, s) {
				return
			}
		}
	}
}

// sessionCount is the number of sessions of all sources.
func (a *Aggregator) sessionCount() int {
	n := 0
	for _, sh := range a.shards {
		n += sh.sessions
	}
	return n
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
	return a.sourceCount()
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
	return a.AddAt(a.cfg.Now(), batch)
}

// AddAt is Add at processing time now instead of Config.Now: a rebuild
// from stored data replays it at the times it arrived, or its event times,
// so that what it keeps, and for how long, is what live ingest kept. The
// clock never goes back: a now behind it counts as the clock.
func (a *Aggregator) AddAt(now time.Time, batch []Observation) error {
	for i := range batch {
		if err := batch[i].validate(); err != nil {
			return &BatchError{i, err}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Evict what went idle before the batch arrived, so that stale state
	// never links with it however long Add was not called; then what the
	// batch pushed over a bound.
	a.tick(now)
	a.maybeSweep()
	a.st.Stats.Observations += int64(len(batch))
	rs := a.routes[:0]
	for i := range batch {
		src := batch[i].Source.Unmap()
		h := addrHash(src)
		rs = append(rs, route{src: src, hash: h, idx: a.member(batch[i].Member), shard: uint32(h % uint64(len(a.shards)))})
	}
	a.routes = rs[:0]
	clock := a.st.Clock
	if len(a.shards) > 1 && len(batch) >= parallelBatch {
		// Trends are one state across sources: this goroutine adds them,
		// after its shard's share.
		var wg sync.WaitGroup
		for k, sh := range a.shards[1:] {
			wg.Go(func() { sh.addBatch(batch, rs, uint32(k+1), clock) })
		}
		a.shards[0].addBatch(batch, rs, 0, clock)
		for i := range batch {
			a.trends(&batch[i], &rs[i])
		}
		wg.Wait()
	} else {
		for i := range batch {
			o, r := &batch[i], &rs[i]
			a.shards[r.shard].add(o, r, clock)
			a.trends(o, r)
		}
	}
	for _, sh := range a.shards {
		a.st.Stats.Campaigns += sh.qualified
		sh.qualified = 0
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

// addBatch adds the observations of batch routed to shard k.
func (sh *shard) addBatch(batch []Observation, rs []route, k uint32, clock int64) {
	for i := range rs {
		if rs[i].shard == k {
			sh.add(&batch[i], &rs[i], clock)
		}
	}
}

func (sh *shard) add(o *Observation, r *route, clock int64) {
	f, l := o.First.UnixNano(), o.Last.UnixNano()
	s := sh.sources[r.src]
	if s == nil {
		s = newSourceState(f, l)
		sh.sources[r.src] = s
	}
	s.Touched = clock
	s.observe(r.idx, f, l, o.Count, o.Port)
	if o.Kind == KindDetection {
		sh.campaigns(r.src, s, o, r.idx, f, l, clock)
	}
	// What was touched now expires Window+Lateness from now at the
	// earliest: list the source then, unless it is listed before.
	sh.listDue(r.src, s, clock+int64(sh.cfg.Window+sh.cfg.Lateness))
}

// span numbers the Window-long span of processing time holding e, from
// 1 (0 is "not listed"); processing time is never before 1970.
func (sh *shard) span(e int64) int64 {
	return max(e, 0)/int64(sh.cfg.Window) + 1
}

// listDue lists s to be visited by the sweep after e, unless it is
// listed for an earlier visit, which lists it again for what is left. The
// lists hold the sources' states, not their addresses: a sweep visits
// millions, and looking each up in the map of sources was most of its
// time.
func (sh *shard) listDue(src netip.Addr, s *sourceState, e int64) {
	if b := sh.span(e); s.due == 0 || b < s.due {
		s.due, s.addr = b, src
		sh.due[b] = append(sh.due[b], s)
	}
}

// maxFree bounds the sessions a shard keeps for reuse.
const maxFree = 1 << 14

// recycle keeps x, which nothing refers to any more, for newSession:
// sessions come and go by the million, and allocating each afresh was a
// third of a rebuild's garbage.
func (sh *shard) recycle(x *session) {
	if len(sh.free) < maxFree {
		sh.free = append(sh.free, x)
	}
}

// newSession is newSession, on a recycled session when there is one.
func (sh *shard) newSession(group string, f, l int64) *session {
	n := len(sh.free)
	if n == 0 {
		return newSession(group, f, l)
	}
	x := sh.free[n-1]
	sh.free[n-1] = nil
	sh.free = sh.free[:n-1]
	*x = session{Group: group, First: f, Last: l}
	x.Members, x.Techniques, x.Ports = x.memberBuf[:0], x.techBuf[:0], x.portBuf[:0]
	return x
}

// dropped marks a source's state that is no longer tracked: its listings
// are stale.
const dropped = -1

// drop stops tracking src. Its listings keep its state until they come
// due, so what it held is let go now.
func (sh *shard) drop(src netip.Addr, s *sourceState) {
	delete(sh.sources, src)
	s.due = dropped
	s.Members, s.Ports, s.Sessions, s.keys = nil, nil, nil, nil
}

// expiry is when the first thing s holds may be evicted (see sweepIdle):
// a session when idle Window+Lateness, or CampaignTTL if longer once it
// is a campaign; the profile when idle as long as Emerging or
// Window+Lateness, once no session is left.
func (sh *shard) expiry(s *sourceState) int64 {
	c := sh.cfg
	open := int64(c.Window + c.Lateness)
	if len(s.keys) == 0 {
		return s.Touched + int64(max(c.Emerging, c.Window+c.Lateness))
	}
	e := int64(math.MaxInt64)
	for i := range s.keys {
		k := &s.keys[i]
		if k.qualified {
			e = min(e, k.touched+max(open, int64(c.CampaignTTL)))
		} else {
			e = min(e, k.touched+open)
		}
	}
	return e
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
func (sh *shard) campaigns(src netip.Addr, s *sourceState, o *Observation, idx uint32, f, l, clock int64) {
	if len(o.Techniques) == 0 {
		if o.RuleID != "" {
			sh.session(src, s, "rule:"+o.RuleID, o, idx, f, l, clock)
		}
		return
	}
	for i, t := range o.Techniques {
		g := sh.cfg.group(t)
		dup := false
		for _, u := range o.Techniques[:i] {
			dup = dup || sh.cfg.group(u) == g
		}
		if !dup {
			sh.session(src, s, g, o, idx, f, l, clock)
		}
	}
}

func (sh *shard) session(src netip.Addr, s *sourceState, group string, o *Observation, idx uint32, f, l, clock int64) {
	w := int64(sh.cfg.Window)
	var cur *session
	ci := -1
	var first int64 // cur's first seen before o
	var replaced []string
	for i := 0; i < len(s.keys); {
		// [f, l] links to a session of its group it comes within w of.
		k := &s.keys[i]
		if f > k.last+w || l < k.first-w || k.group != group {
			i++
			continue
		}
		x := s.Sessions[i]
		if cur == nil {
			cur, ci, first = x, i, x.First
			i++
			continue
		}
		// o bridges two sessions: they become one.
		cur.absorb(x, w)
		if x.ID != "" {
			replaced = append(replaced, x.ID)
		}
		replaced = append(replaced, sh.changed[x]...)
		sh.forget(x)
		s.Sessions = slices.Delete(s.Sessions, i, i+1)
		s.keys = slices.Delete(s.keys, i, i+1)
		sh.sessions--
	}
	if cur == nil {
		cur = sh.newSession(group, f, l)
		ci = len(s.Sessions)
		s.Sessions = append(s.Sessions, cur)
		s.keys = append(s.keys, sessKey{group: group})
		sh.sessions++
	}
	cur.observe(idx, f, l, o.Count, w, o.Techniques, o.Port)
	cur.Touched = clock
	qualified := cur.qualify(sh.cfg.MinMembers, w)
	s.keys[ci] = keyOf(cur)
	if !qualified {
		return
	}
	if cur.ID == "" {
		sh.qualified++
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
		sh.changed[cur] = append(sh.changed[cur], replaced...)
		sh.owner[cur] = src
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
	var out []Campaign
	for _, sh := range a.shards {
		for s, rep := range sh.changed {
			s.dirty = false
			c := a.campaign(sh.owner[s], s)
			c.Replaces = slices.Compact(slices.Sorted(slices.Values(rep)))
			c.Replaces = slices.DeleteFunc(c.Replaces, func(id string) bool { return id == c.ID })
			if len(c.Replaces) == 0 {
				c.Replaces = nil
			}
			out = append(out, c)
		}
		clear(sh.changed)
		clear(sh.owner)
	}
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
	for src, s := range a.allSources {
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
	over := a.sourceCount() > a.cfg.MaxSources || a.sessionCount() > a.cfg.MaxSessions || len(a.st.Ports) > a.cfg.MaxTrendKeys ||
		len(a.st.Technique) > a.cfg.MaxTrendKeys || len(a.st.Rules) > a.cfg.MaxTrendKeys
	if !over && a.st.Clock-a.st.Swept < int64(a.cfg.Window) {
		return
	}
	a.st.Swept = a.st.Clock
	a.sweep()
}

func (a *Aggregator) sourceCount() int {
	n := 0
	for _, sh := range a.shards {
		n += len(sh.sources)
	}
	return n
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
	a.eachShard(func(_ int, sh *shard) { sh.sweepIdle(now, open, ttl, profile) })
	for _, sh := range a.shards {
		a.st.Stats.EvictedSources += sh.evicted
		sh.evicted = 0
	}
	if n := a.sourceCount(); n > a.cfg.MaxSources {
		type aged struct {
			addr    netip.Addr
			touched int64
			last    int64
		}
		all := make([]aged, 0, n)
		for addr, s := range a.allSources {
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
			sh := a.shardOf(x.addr)
			s := sh.sources[x.addr]
			for _, ss := range s.Sessions {
				sh.forget(ss)
				sh.sessions--
			}
			sh.drop(x.addr, s)
			a.st.Stats.EvictedSources++
		}
	}
	if a.sessionCount() > a.cfg.MaxSessions {
		a.evictSessions()
	}
	a.st.Stats.EvictedKeys += sweepSeries(a.st.Ports, now, &a.cfg) + sweepSeries(a.st.Technique, now, &a.cfg) + sweepSeries(a.st.Rules, now, &a.cfg)
}

// sweepIdle evicts the shard's idle sessions and sources (see sweep),
// counting the sources in evicted. It visits the sources listed in the
// spans that ended by now, in order; a listing whose source went, or was
// listed again earlier, is stale and skipped. A source keeping something
// is listed again for when that may expire.
func (sh *shard) sweepIdle(now, open, ttl, profile int64) {
	if sh.visitAll {
		sh.sweepAll(open, ttl, profile)
		return
	}
	var spans []int64
	for b := range sh.due {
		if b <= sh.span(now) {
			spans = append(spans, b)
		}
	}
	slices.Sort(spans)
	for _, b := range spans {
		// The span holding now is visited at every sweep until it ends:
		// its sources that keep something are listed in it again.
		list := sh.due[b]
		delete(sh.due, b)
		for _, s := range list {
			if s.due != b {
				continue // dropped, or listed earlier since
			}
			s.due = 0
			s.deleteSessions(func(x *session, k *sessKey) bool {
				gone := k.touched < open && (!k.qualified || k.touched < ttl)
				if gone {
					sh.forget(x)
					sh.sessions--
					sh.recycle(x)
				}
				return gone
			})
			if len(s.Sessions) == 0 && s.Touched < profile {
				sh.drop(s.addr, s)
				sh.evicted++
				continue
			}
			sh.listDue(s.addr, s, sh.expiry(s))
		}
	}
}

// sweepAll is the sweep by visiting every source, the tests' reference
// for the due lists.
func (sh *shard) sweepAll(open, ttl, profile int64) {
	for addr, s := range sh.sources {
		s.deleteSessions(func(x *session, k *sessKey) bool {
			gone := k.touched < open && (!k.qualified || k.touched < ttl)
			if gone {
				sh.forget(x)
				sh.sessions--
			}
			return gone
		})
		if len(s.Sessions) == 0 && s.Touched < profile {
			sh.drop(addr, s)
			sh.evicted++
		}
	}
}

// eachShard runs fn on every shard, in parallel when there are several.
func (a *Aggregator) eachShard(fn func(k int, sh *shard)) {
	var wg sync.WaitGroup
	for k, sh := range a.shards[1:] {
		wg.Go(func() { fn(k+1, sh) })
	}
	fn(0, a.shards[0])
	wg.Wait()
}

// evictSessions brings the sessions down to seven eighths of MaxSessions
// (so sweeps stay rare): unconfirmed before campaigns, least recently
// touched first, ties broken by event time, source and group so that what
// stays is deterministic. The sources stay, until their profiles go idle.
//
// The shards list their sessions' ages in parallel, from the session keys
// into one array without pointers, so that the millions of sessions a
// flood leaves are listed without following a pointer per session or
// copying one; the sessions selected are then dropped source by source.
func (a *Aggregator) evictSessions() {
	ages := make([]sessAge, a.sessionCount())
	offs := make([]int, len(a.shards)+1)
	for i, sh := range a.shards {
		offs[i+1] = offs[i] + sh.sessions
	}
	// srcs and addrs list each shard's sources, for the ages to name them.
	srcs := make([][]*sourceState, len(a.shards))
	addrs := make([][]netip.Addr, len(a.shards))
	a.eachShard(func(k int, sh *shard) {
		out := ages[offs[k]:offs[k+1]]
		srcs[k] = make([]*sourceState, 0, len(sh.sources))
		addrs[k] = make([]netip.Addr, 0, len(sh.sources))
		j := 0
		for addr, s := range sh.sources {
			n := uint32(len(srcs[k]))
			srcs[k], addrs[k] = append(srcs[k], s), append(addrs[k], addr)
			for i := range s.keys {
				key := &s.keys[i]
				out[j] = sessAge{key.touched, key.last, uint32(k), n, uint32(i), key.qualified}
				j++
			}
		}
	})
	k := len(ages) - a.cfg.MaxSessions*7/8
	selectLeast(ages, k, sessAge.compare)
	// limit is the age of the last session to go: the greatest of the k
	// least, which selectLeast leaves in no order. All older ones go; of
	// those of exactly that age, the least by source, group and first seen.
	limit := slices.MaxFunc(ages[:k], sessAge.compare)
	gone := make([]sessAge, 0, k)
	var ties []sessAge
	for i, x := range ages {
		switch c := x.compare(limit); {
		case c < 0 && i < k:
			gone = append(gone, x)
		case c == 0:
			ties = append(ties, x)
		}
	}
	session := func(x sessAge) *session { return srcs[x.shard][x.src].Sessions[x.idx] }
	slices.SortFunc(ties, func(p, q sessAge) int {
		if c := addrs[p.shard][p.src].Compare(addrs[q.shard][q.src]); c != 0 {
			return c
		}
		px, qx := session(p), session(q)
		if c := cmp.Compare(px.Group, qx.Group); c != 0 {
			return c
		}
		return cmp.Compare(px.First, qx.First)
	})
	gone = append(gone, ties[:k-len(gone)]...)
	// By shard and source, the last session first, so that the indexes
	// of those still to go stay valid.
	slices.SortFunc(gone, func(p, q sessAge) int {
		if c := cmp.Compare(p.shard, q.shard); c != 0 {
			return c
		}
		if c := cmp.Compare(p.src, q.src); c != 0 {
			return c
		}
		return cmp.Compare(q.idx, p.idx)
	})
	a.eachShard(func(k int, sh *shard) {
		lo, _ := slices.BinarySearchFunc(gone, uint32(k), func(p sessAge, k uint32) int { return cmp.Compare(p.shard, k) })
		hi, _ := slices.BinarySearchFunc(gone, uint32(k+1), func(p sessAge, k uint32) int { return cmp.Compare(p.shard, k) })
		for _, x := range gone[lo:hi] {
			s := srcs[k][x.src]
			sh.forget(s.Sessions[x.idx])
			sh.sessions--
			s.Sessions = slices.Delete(s.Sessions, int(x.idx), int(x.idx)+1)
			s.keys = slices.Delete(s.keys, int(x.idx), int(x.idx)+1)
		}
	})
	a.st.Stats.EvictedSessions += int64(k)
}

// sessAge is one session's place in the eviction order (unconfirmed
// first, then least recently touched, then oldest last seen) and where it
// is: its source's index in the shard's list, its own in the source's.
type sessAge struct {
	touched   int64
	last      int64
	shard     uint32
	src       uint32
	idx       uint32
	confirmed bool
}

func (p sessAge) compare(q sessAge) int {
	if p.confirmed != q.confirmed {
		if p.confirmed {
			return 1
		}
		return -1
	}
	if c := cmp.Compare(p.touched, q.touched); c != 0 {
		return c
	}
	return cmp.Compare(p.last, q.last)
}

// forget drops a session about to be evicted from the pending changes.
func (sh *shard) forget(x *session) {
	delete(sh.changed, x)
	delete(sh.owner, x)
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

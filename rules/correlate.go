package rules

import (
	"net/netip"
	"slices"
	"time"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Correlation state. Each (rule, group) has a group: the times of its
// latest events (a sorted ring of `threshold` of them), or for `distinct`
// the last time each value was seen. A rule fires when the threshold is met
// inside the window, which slides with event time, and then stays quiet for
// that group for one window: one detection per group per window. Groups
// sit on one LRU list across rules; past MaxGroups the least recently used
// is evicted, and groups idle for longer than their window are expired, so
// memory stays bounded whatever the input.

// Limits bound a Matcher's correlation state.
type Limits struct {
	// MaxGroups is the most live groups, over all rules (default 250,000).
	MaxGroups int
	// Lateness is how far behind a group's newest event another event may
	// be and still count (default 5 minutes). Later ones are counted as
	// late and ignored.
	Lateness time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxGroups <= 0 {
		l.MaxGroups = 250_000
	}
	if l.Lateness <= 0 {
		l.Lateness = 5 * time.Minute
	}
	return l
}

// Stats count what a Matcher did.
type Stats struct {
	Events     int64 // events matched against the rules
	Evaluated  int64 // rule conditions evaluated
	Matched    int64 // conditions met
	Detections int64
	Groups     int   // live correlation groups
	Evicted    int64 // groups evicted over MaxGroups
	Expired    int64 // groups dropped after their window
	Late       int64 // events too late for their group
	StateBytes int64 // estimated memory of the correlation state
	Errors     int64 // conditions that failed to evaluate
}

type group struct {
	key        string
	rule       *compiled
	times      []int64          // sorted unix nanos of the latest events, at most threshold
	distinct   map[string]int32 // value -> its slot in seen, for distinct counts
	seen       []int64          // last seen per slot; free slots hold 0
	free       []int32
	count      int64 // events since the last detection
	first      int64 // first event since the last detection
	newest     int64
	quietUntil int64
	prev, next *group
}

// Bytes a group costs beyond its slices, measured on the 1M-group
// benchmark: the struct, its entry and key in the groups map, and for a
// distinct count the value map's own tables.
const (
	groupOverhead   = 160
	distinctMapCost = 256
)

func (g *group) size() int64 {
	n := int64(groupOverhead + len(g.key) + 8*cap(g.times))
	if g.distinct != nil {
		n += distinctMapCost
	}
	n += int64(len(g.distinct))*56 + 8*int64(cap(g.seen))
	return n
}

// state is the correlation state of one Matcher.
type state struct {
	limits     Limits
	groups     map[string]*group
	head, tail *group // most and least recently used
	bytes      int64
	watermark  int64
	stats      *Stats
}

func newState(l Limits, st *Stats) *state {
	return &state{limits: l.withDefaults(), groups: make(map[string]*group), stats: st}
}

func (s *state) unlink(g *group) {
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		s.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		s.tail = g.prev
	}
	g.prev, g.next = nil, nil
}

func (s *state) pushFront(g *group) {
	g.next = s.head
	if s.head != nil {
		s.head.prev = g
	}
	s.head = g
	if s.tail == nil {
		s.tail = g
	}
}

func (s *state) drop(g *group) {
	s.unlink(g)
	delete(s.groups, g.key)
	s.bytes -= g.size()
}

// expire drops a few groups that have been idle for longer than their
// window (and their quiet time), oldest first. Bounded work per call.
func (s *state) expire() {
	for i := 0; i < 4 && s.tail != nil; i++ {
		g := s.tail
		horizon := max(g.newest+int64(g.rule.window), g.quietUntil) + int64(s.limits.Lateness)
		if horizon >= s.watermark {
			return
		}
		s.drop(g)
		s.stats.Expired++
	}
}

// observe records that ev met rule c's condition and returns a detection
// when one is due.
func (s *state) observe(c *compiled, key []byte, ev *detect.Event, out *detect.Detection) bool {
	t := ev.Timestamp.UnixNano()
	s.watermark = max(s.watermark, t)
	g, ok := s.groups[string(key)]
	if !ok {
		if len(s.groups) >= s.limits.MaxGroups {
			s.drop(s.tail)
			s.stats.Evicted++
		}
		g = &group{key: string(key), rule: c, newest: t}
		if c.distinct != nil {
			g.distinct = make(map[string]int32)
		} else {
			g.times = make([]int64, 0, min(c.thresh, 4)) // grows as events come
		}
		s.groups[g.key] = g
		s.pushFront(g)
		s.bytes += g.size()
	} else {
		if t < g.newest-int64(s.limits.Lateness) {
			s.stats.Late++
			return false
		}
		s.unlink(g)
		s.pushFront(g)
	}
	before := g.size()
	g.newest = max(g.newest, t)
	if g.count == 0 || t < g.first {
		g.first = t
	}
	g.count++
	window := int64(c.window)
	met := false
	if c.distinct != nil {
		met = g.addDistinct(c, ev, t, window) >= c.thresh
	} else {
		g.addTime(t, c.thresh)
		met = len(g.times) >= c.thresh && g.times[len(g.times)-1]-g.times[0] <= window
	}
	s.bytes += g.size() - before
	if !met || t < g.quietUntil {
		return false
	}
	s.fill(c, g, ev, t, out)
	g.quietUntil = t + window
	g.count = 0
	return true
}

// addTime keeps the latest `thresh` event times, sorted.
func (g *group) addTime(t int64, thresh int) {
	if len(g.times) == thresh {
		if t <= g.times[0] {
			return // older than every kept time: it cannot tighten the window
		}
		copy(g.times, g.times[1:])
		g.times = g.times[:thresh-1]
	}
	i, _ := slices.BinarySearch(g.times, t)
	g.times = slices.Insert(g.times, i, t)
}

// maxDistinct caps the values a group remembers.
func maxDistinct(thresh int) int { return max(2*thresh, detect.MaxRelated) }

// addDistinct records ev's value and returns how many distinct values were
// seen within the window. Updating a known value does not allocate.
func (g *group) addDistinct(c *compiled, ev *detect.Event, t, window int64) int {
	var buf [64]byte
	v := c.distinct.appendValue(buf[:0], ev)
	if len(v) == 0 {
		return g.active(t, window)
	}
	if i, ok := g.distinct[string(v)]; ok {
		g.seen[i] = max(g.seen[i], t)
		return g.active(t, window)
	}
	if len(g.distinct) >= maxDistinct(c.thresh) {
		g.pruneDistinct(t, window)
	}
	var i int32
	if n := len(g.free); n > 0 {
		i, g.free = g.free[n-1], g.free[:n-1]
		g.seen[i] = t
	} else {
		i = int32(len(g.seen))
		g.seen = append(g.seen, t)
	}
	g.distinct[string(v)] = i
	return g.active(t, window)
}

func (g *group) active(t, window int64) int {
	n := 0
	for _, i := range g.distinct {
		if t-g.seen[i] <= window {
			n++
		}
	}
	return n
}

// pruneDistinct forgets values outside the window, and if that is not
// enough, the one seen longest ago.
func (g *group) pruneDistinct(t, window int64) {
	oldestK, oldest := "", int64(0)
	forget := func(k string) {
		i := g.distinct[k]
		delete(g.distinct, k)
		g.seen[i] = 0
		g.free = append(g.free, i)
	}
	for k, i := range g.distinct {
		last := g.seen[i]
		if t-last > window {
			forget(k)
			continue
		}
		if oldestK == "" || last < oldest {
			oldestK, oldest = k, last
		}
	}
	if len(g.distinct) >= maxDistinct(g.rule.thresh) {
		forget(oldestK)
	}
}

// fill writes the detection for group g, triggered by ev.
func (s *state) fill(c *compiled, g *group, ev *detect.Event, t int64, d *detect.Detection) {
	*d = detect.Detection{
		RuleID:     c.ID,
		RuleName:   c.Name,
		Severity:   c.Severity,
		Techniques: c.Techniques,
		Tags:       c.Tags,
		Count:      g.count,
		FirstSeen:  time.Unix(0, g.first).UTC(),
		LastSeen:   time.Unix(0, t).UTC(),
		Sample:     *ev,
	}
	for _, f := range c.groupBy {
		switch f.name {
		case "source.ip":
			d.Source = ev.Source.IP
		case "destination.ip":
			d.Destination = ev.Destination.IP
		case "destination.port":
			d.DestinationPort = ev.Destination.Port
		}
	}
	if c.campaign {
		window := int64(c.window)
		var related []netip.Addr
		n := 0
		for k, i := range g.distinct {
			if t-g.seen[i] > window {
				continue
			}
			n++
			if a, err := netip.ParseAddr(k); err == nil {
				related = append(related, a)
			}
		}
		slices.SortFunc(related, func(a, b netip.Addr) int { return a.Compare(b) })
		if len(related) > detect.MaxRelated {
			related = related[:detect.MaxRelated]
		}
		d.Related = related
		d.DistinctSources = n
		if d.Destination.IsValid() || d.DestinationPort != 0 {
			return
		}
		d.Destination = ev.Destination.IP
	}
}

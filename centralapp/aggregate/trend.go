package aggregate

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"time"
)

// Dimension is what a trend or an emerging threat is about.
type Dimension uint8

// Dimensions.
const (
	DimPort Dimension = iota + 1
	DimTechnique
	DimSignature // rule id
	DimSource    // emerging threats only
)

func (d Dimension) String() string {
	switch d {
	case DimPort:
		return "port"
	case DimTechnique:
		return "technique"
	case DimSignature:
		return "signature"
	case DimSource:
		return "source"
	}
	return "Dimension(" + strconv.Itoa(int(d)) + ")"
}

// series is one trend key's daily history: at most BaselineDays+1 UTC days.
type series struct {
	First int64
	Last  int64
	Days  []dayStat // ascending by day
	// Members maps each member to when it first saw the key, while the key
	// is young enough to be an emerging threat.
	Members map[uint32]int64 `json:",omitempty"`
}

type dayStat struct {
	Day     int64 // days since 1970-01-01 UTC
	Records int64
	Sources distinct
	Targets distinct // members
}

const nanosPerDay = int64(24 * time.Hour)

func dayOf(t int64) int64 {
	d := t / nanosPerDay
	if t < 0 && t%nanosPerDay != 0 {
		d--
	}
	return d
}

// trends counts o under its port, techniques and rule. The day is that of
// the observation's last seen time; a day before the baseline of the
// clock's day can never be part of a trend, and is not counted.
func (a *Aggregator) trends(o *Observation, r *route) {
	f, l := o.First.UnixNano(), o.Last.UnixNano()
	idx := r.idx
	day := dayOf(l)
	if a.st.FirstDay < 0 || day < a.st.FirstDay {
		a.st.FirstDay = day
	}
	if day < dayOf(a.st.Clock)-int64(a.cfg.BaselineDays) {
		a.st.Stats.TooOldForTrends++
		return
	}
	sh, mh := r.hash, a.memberHash[idx]
	young := a.st.Clock - int64(a.cfg.Emerging)
	if o.Port != 0 {
		addSeries(a.st.Ports, o.Port, day, o.Count, sh, mh, idx, f, l, young, a.cfg.BaselineDays)
	}
	for _, t := range o.Techniques {
		addSeries(a.st.Technique, t, day, o.Count, sh, mh, idx, f, l, young, a.cfg.BaselineDays)
	}
	if o.RuleID != "" {
		addSeries(a.st.Rules, o.RuleID, day, o.Count, sh, mh, idx, f, l, young, a.cfg.BaselineDays)
	}
}

func addSeries[K comparable](m map[K]*series, k K, day, n int64, sh, mh uint64, idx uint32, f, l, young int64, keep int) {
	s := m[k]
	if s == nil {
		s = &series{First: f, Last: l}
		m[k] = s
	}
	s.First, s.Last = min(s.First, f), max(s.Last, l)
	if s.First >= young {
		if s.Members == nil {
			s.Members = make(map[uint32]int64)
		}
		if t, ok := s.Members[idx]; !ok || f < t {
			s.Members[idx] = f
		}
	}
	d := s.day(day, keep)
	if d == nil {
		return
	}
	d.Records += n
	d.Sources.add(sh)
	d.Targets.add(mh)
}

// day returns the stats of day, adding it; nil when day is older than the
// kept history.
func (s *series) day(day int64, keep int) *dayStat {
	n := len(s.Days)
	if n > 0 && s.Days[n-1].Day == day {
		return &s.Days[n-1]
	}
	i, ok := slices.BinarySearchFunc(s.Days, day, func(d dayStat, day int64) int { return cmp.Compare(d.Day, day) })
	if ok {
		return &s.Days[i]
	}
	if n > 0 && day < s.Days[n-1].Day-int64(keep) {
		return nil
	}
	s.Days = slices.Insert(s.Days, i, dayStat{Day: day})
	// Drop days that fell out of the history.
	newest := s.Days[len(s.Days)-1].Day
	j := 0
	for j < len(s.Days) && s.Days[j].Day < newest-int64(keep) {
		j++
	}
	if j > 0 {
		s.Days = slices.Delete(s.Days, 0, j)
		i -= j
	}
	return &s.Days[i]
}

// sweepSeries evicts the keys last seen before the baseline as of now, drops
// the member lists of keys too old to be emerging threats, then evicts the
// least recently seen keys beyond the bound. Trend history is event time,
// measured against the clock: trends are asked for the clock's day.
func sweepSeries[K cmp.Ordered](m map[K]*series, now int64, cfg *Config) int64 {
	var evicted int64
	oldest := now - int64(cfg.BaselineDays+1)*nanosPerDay
	young := now - int64(cfg.Emerging)
	for k, s := range m {
		if s.Last < oldest {
			delete(m, k)
			evicted++
			continue
		}
		if s.First < young {
			s.Members = nil
		}
	}
	if n := len(m); n > cfg.MaxTrendKeys {
		type aged struct {
			k    K
			last int64
		}
		all := make([]aged, 0, n)
		for k, s := range m {
			all = append(all, aged{k, s.Last})
		}
		slices.SortFunc(all, func(x, y aged) int {
			if c := cmp.Compare(x.last, y.last); c != 0 {
				return c
			}
			return cmp.Compare(x.k, y.k)
		})
		for _, x := range all[:n-cfg.MaxTrendKeys*7/8] {
			delete(m, x.k)
			evicted++
		}
	}
	return evicted
}

// DayCounts are one key's counts on one day.
type DayCounts struct {
	Records int64 // sum of observation counts
	Sources int64 // distinct sources
	Targets int64 // distinct members
}

// Trend is one key's activity today against its baseline.
//
// Activity weighs sources and targets as DShield's port reports do:
//
//	activity = ln(1+sources) · ln(1+targets)
//
// Records are left out: one noisy source can multiply them without the
// threat spreading, while the product only grows when more sources hit more
// members, and is zero unless both are. The logarithms keep one huge day
// from flattening the rest.
//
// Score is the z-score of today's activity against the activity of each of
// the BaselineDays days before today (days without data count as zero;
// days before the aggregator's first data are not part of the baseline):
//
//	score = (activity − mean) / max(std, ln 2 · ln 2)
//
// The floor on the deviation is the activity of a single source at a
// single member, so a key that was perfectly flat (or new) does not turn
// one extra source into an infinite score.
type Trend struct {
	Dimension    Dimension
	Key          string
	Today        DayCounts
	Activity     float64
	BaselineMean float64
	BaselineStd  float64
	BaselineDays int
	Score        float64
}

// activityFloor is ln 2 · ln 2, the activity of one source at one member.
var activityFloor = math.Ln2 * math.Ln2

func activity(sources, targets int64) float64 {
	return math.Log1p(float64(sources)) * math.Log1p(float64(targets))
}

// Trends returns up to k keys of dimension dim (port, technique or
// signature) active on now's UTC day, highest score first; k ≤ 0 means
// all.
func (a *Aggregator) Trends(now time.Time, dim Dimension, k int) []Trend {
	a.mu.Lock()
	defer a.mu.Unlock()
	today := dayOf(now.UnixNano())
	from := max(today-int64(a.cfg.BaselineDays), a.st.FirstDay)
	var out []Trend
	switch dim {
	case DimPort:
		for p, s := range a.st.Ports {
			out = appendTrend(out, dim, strconv.Itoa(int(p)), s, today, from)
		}
	case DimTechnique:
		for t, s := range a.st.Technique {
			out = appendTrend(out, dim, t, s, today, from)
		}
	case DimSignature:
		for r, s := range a.st.Rules {
			out = appendTrend(out, dim, r, s, today, from)
		}
	}
	slices.SortFunc(out, func(x, y Trend) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Activity, x.Activity); c != 0 {
			return c
		}
		return cmp.Compare(x.Key, y.Key)
	})
	if k > 0 && len(out) > k {
		out = out[:k]
	}
	return out
}

func appendTrend(out []Trend, dim Dimension, key string, s *series, today, from int64) []Trend {
	i, ok := slices.BinarySearchFunc(s.Days, today, func(d dayStat, day int64) int { return cmp.Compare(d.Day, day) })
	if !ok {
		return out
	}
	d := &s.Days[i]
	t := Trend{
		Dimension: dim,
		Key:       key,
		Today:     DayCounts{d.Records, d.Sources.count(), d.Targets.count()},
	}
	t.Activity = activity(t.Today.Sources, t.Today.Targets)
	if n := today - from; n > 0 {
		t.BaselineDays = int(n)
		var sum, sq float64
		for _, b := range s.Days[:i] {
			if b.Day >= from {
				v := activity(b.Sources.count(), b.Targets.count())
				sum += v
				sq += v * v
			}
		}
		t.BaselineMean = sum / float64(n)
		t.BaselineStd = math.Sqrt(max(0, sq/float64(n)-t.BaselineMean*t.BaselineMean))
	}
	t.Score = (t.Activity - t.BaselineMean) / max(t.BaselineStd, activityFloor)
	return append(out, t)
}

// distinct counts distinct 64-bit hashes: exactly up to smallDistinct of
// them, then with a HyperLogLog of 2^hllBits one-byte registers (standard
// error 1.04/√256 ≈ 6.5%, 256 bytes).
type distinct struct {
	Small []uint64 `json:",omitempty"`
	Regs  []byte   `json:",omitempty"`
}

const (
	smallDistinct = 32
	hllBits       = 8
	hllRegs       = 1 << hllBits
)

func (d *distinct) add(h uint64) {
	if d.Regs == nil {
		for _, x := range d.Small {
			if x == h {
				return
			}
		}
		if len(d.Small) < smallDistinct {
			d.Small = append(d.Small, h)
			return
		}
		d.Regs = make([]byte, hllRegs)
		for _, x := range d.Small {
			d.reg(x)
		}
		d.Small = nil
	}
	d.reg(h)
}

func (d *distinct) reg(h uint64) {
	i := h >> (64 - hllBits)
	rank := byte(bits.LeadingZeros64(h<<hllBits|1<<(hllBits-1)) + 1)
	if rank > d.Regs[i] {
		d.Regs[i] = rank
	}
}

func (d *distinct) count() int64 {
	if d.Regs == nil {
		return int64(len(d.Small))
	}
	var sum float64
	zeros := 0
	for _, r := range d.Regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	const m = float64(hllRegs)
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small sets
	}
	return int64(math.Round(e))
}

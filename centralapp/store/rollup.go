package store

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Sample is what reports read of a detection's sample event: its verdict,
// category, direction, the destination it went to and the name an IDS gave
// it.
type Sample struct {
	EventType     string // event.type
	EventCategory string // event.category
	Direction     string // network.direction
	DestinationIP string // destination.ip, as sent
	RuleName      string // rule.name: an IDS signature
}

// SampleOf decodes the sample event of raw, a stored detection's JSON, as
// encoding/json does into a struct of those fields: keys match
// case-insensitively, the last of repeated keys wins, null and values of
// another type leave a field as it was, and JSON that is not valid reads
// as nothing. The store checked raw when it was ingested, so in practice
// only the sample, which it keeps as sent, can be odd. Reports and rollups
// both read samples through it, so they always agree. It reads in one
// pass without reflection: rollups decode every detection's sample.
func SampleOf(raw []byte) Sample {
	var out Sample
	s := scanner{b: raw}
	err := s.into(1, []field{{name: "detection", fields: []field{{name: "sample", fields: []field{
		{name: "event", fields: []field{{name: "type", str: &out.EventType}, {name: "category", str: &out.EventCategory}}},
		{name: "destination", fields: []field{{name: "ip", str: &out.DestinationIP}}},
		{name: "network", fields: []field{{name: "direction", str: &out.Direction}}},
		{name: "rule", fields: []field{{name: "name", str: &out.RuleName}}},
	}}}}})
	if s.ws(); err != nil || s.i != len(s.b) {
		return Sample{} // encoding/json checks the whole input first
	}
	return out
}

// field is a JSON object's field that SampleOf reads: an object of fields,
// or a string into str.
type field struct {
	name   string
	fields []field
	str    *string
}

// into reads the value that is next into the object of fields, as
// encoding/json reads into a struct: unknown keys are skipped, and a value
// of the wrong type (or null) leaves its field as it was. depth is the
// nesting level of the value.
func (s *scanner) into(depth int, fields []field) error {
	if s.peek() != '{' {
		return s.skip(depth)
	}
	return s.members(func(key []byte) error {
		var f *field
		for i := range fields {
			if string(key) == fields[i].name || foldEqual(key, fields[i].name) {
				f = &fields[i]
				break
			}
		}
		switch {
		case f == nil:
			return s.skip(depth + 1)
		case f.str != nil && s.peek() == '"':
			b, err := s.str()
			if err == nil {
				*f.str = string(b)
			}
			return err
		case f.str != nil:
			return s.skip(depth + 1)
		}
		return s.into(depth+1, f.fields)
	})
}

// RollupKey is what detections roll up by: Rollup's fields up to Target.
// It is comparable, for maps.
type RollupKey struct {
	Hour            int64 // Unix nanoseconds
	MemberID        string
	RuleID          string
	Source          netip.Addr
	RuleName        string
	Techniques      string // comma-joined
	DestinationPort uint16
	EventType       string
	EventCategory   string
	Signature       string
	Outbound        bool
	Target          string
}

// Key is r's key.
func (r *Rollup) Key() RollupKey {
	return RollupKey{Hour: r.Hour.UnixNano(), MemberID: r.MemberID, RuleID: r.RuleID, Source: r.Source,
		RuleName: r.RuleName, Techniques: strings.Join(r.Techniques, ","), DestinationPort: r.DestinationPort,
		EventType: r.EventType, EventCategory: r.EventCategory, Signature: r.Signature, Outbound: r.Outbound,
		Target: r.Target}
}

// RollupOf is the rollup of d alone, with sm its sample (SampleOf(d.Raw)).
// Addresses are as stores return them: IPv4-mapped as IPv4, with no zone.
func RollupOf(d *Detection, sm Sample) Rollup {
	r := Rollup{Hour: d.LastSeen.UTC().Truncate(time.Hour), MemberID: d.MemberID, RuleID: d.RuleID,
		Source: d.Source.Unmap().WithZone(""), RuleName: d.RuleName, DestinationPort: d.DestinationPort,
		EventType: sm.EventType, EventCategory: sm.EventCategory, Signature: sm.RuleName,
		Outbound: sm.Direction == "outbound", Detections: 1, Count: d.Count, Severity: d.Severity,
		FirstSeen: d.FirstSeen, LastSeen: d.LastSeen, FirstID: d.ID}
	if len(d.Techniques) > 0 {
		r.Techniques = slices.Clone(d.Techniques)
	}
	if r.Outbound {
		r.Target = sm.DestinationIP
	}
	if len(d.Related) > 0 {
		r.Related = make([]netip.Addr, len(d.Related))
		for i, a := range d.Related {
			r.Related[i] = a.Unmap().WithZone("")
		}
		slices.SortFunc(r.Related, netip.Addr.Compare)
		r.Related = slices.Compact(r.Related)
	}
	return r
}

// Merge adds o, a rollup with r's key, to r.
func (r *Rollup) Merge(o *Rollup) {
	r.Detections += o.Detections
	r.Count += o.Count
	r.Severity = max(r.Severity, o.Severity)
	if r.FirstSeen.IsZero() || o.FirstSeen.Before(r.FirstSeen) {
		r.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(r.LastSeen) {
		r.LastSeen = o.LastSeen
	}
	if r.FirstID == 0 || (o.FirstID != 0 && o.FirstID < r.FirstID) {
		r.FirstID = o.FirstID
	}
	r.Related = UnionAddrs(r.Related, o.Related)
}

// UnionAddrs returns the union of a and b, both sorted and distinct, sorted
// and distinct. It reuses a when b adds nothing.
func UnionAddrs(a, b []netip.Addr) []netip.Addr {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return slices.Clone(b)
	}
	out := make([]netip.Addr, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := a[i].Compare(b[j]); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i, j = i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// CompareRollups orders rollups as Store.Rollups returns them: by hour,
// member, rule and source (the invalid source first), then the rest of the
// key in Rollup's order.
func CompareRollups(a, b *Rollup) int {
	return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.MemberID, b.MemberID), cmp.Compare(a.RuleID, b.RuleID),
		a.Source.Compare(b.Source), cmp.Compare(a.RuleName, b.RuleName),
		compareJoined(a.Techniques, b.Techniques), cmp.Compare(a.DestinationPort, b.DestinationPort),
		cmp.Compare(a.EventType, b.EventType), cmp.Compare(a.EventCategory, b.EventCategory),
		cmp.Compare(a.Signature, b.Signature), compareBool(a.Outbound, b.Outbound), cmp.Compare(a.Target, b.Target))
}

// compareJoined compares a and b comma-joined, as stores that keep them
// so order them, without joining them.
func compareJoined(a, b []string) int {
	var i, j, ia, jb int // a[i][ia] and b[j][jb] are the next bytes
	next := func(s []string, k, at *int) (byte, bool) {
		if *k == len(s) {
			return 0, false
		}
		if *at == len(s[*k]) {
			*k, *at = *k+1, 0
			if *k == len(s) {
				return 0, false
			}
			return ',', true
		}
		c := s[*k][*at]
		*at++
		return c, true
	}
	for {
		x, okx := next(a, &i, &ia)
		y, oky := next(b, &j, &jb)
		switch {
		case !okx && !oky:
			return 0
		case !okx:
			return -1
		case !oky:
			return 1
		case x != y:
			return cmp.Compare(x, y)
		}
	}
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// RollupSet groups detections into rollups; the zero value is empty.
type RollupSet struct {
	m map[RollupKey]*Rollup
}

// Add adds d, whose sample is sm, to its rollup.
func (g *RollupSet) Add(d *Detection, sm Sample) {
	r := RollupOf(d, sm)
	g.AddRollup(&r)
}

// AddRollup merges r into the rollup of its key.
func (g *RollupSet) AddRollup(r *Rollup) {
	if g.m == nil {
		g.m = map[RollupKey]*Rollup{}
	}
	k := r.Key()
	if have := g.m[k]; have != nil {
		have.Merge(r)
		return
	}
	c := *r
	g.m[k] = &c
}

// Len is the number of rollups.
func (g *RollupSet) Len() int { return len(g.m) }

// Get returns the rollup of k, or nil.
func (g *RollupSet) Get(k RollupKey) *Rollup { return g.m[k] }

// Sorted returns the rollups in CompareRollups order.
func (g *RollupSet) Sorted() []Rollup {
	out := make([]Rollup, 0, len(g.m))
	for _, r := range g.m {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b Rollup) int { return CompareRollups(&a, &b) })
	return out
}

package report

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/technique"
)

// AnalystReport is the analyst trend report: the whole network of members
// in a period, against the period before.
type AnalystReport struct {
	Period    Period
	Previous  Period
	Generated time.Time
	// AsOf is the moment trends and emerging threats are computed for:
	// the end of the period, or now if that is earlier.
	AsOf time.Time

	Now, Before AnalystNumbers
	Daily       []Day

	Members    []MemberRow
	Trends     []TrendGroup
	Emerging   []Emerging
	Campaigns  []AnalystCampaign
	Sectors    []Cluster
	Regions    []Cluster
	Signatures []Signature // rules
	IDS        []Signature // IDS signatures, from the sample events
	CVEs       []CVE
}

// AnalystNumbers are the network's headline figures.
type AnalystNumbers struct {
	Numbers
	Reporting int // members with data
	Campaigns int
}

// MemberRow is one member's share.
type MemberRow struct {
	Member     store.Member
	Detections int64
	Events     int64
	Sources    int
	Top        string // the member's most frequent technique, in plain language
}

// TrendGroup is the trends of one dimension (ports, techniques, signatures).
type TrendGroup struct {
	Title string
	Rows  []Trend
}

// Trend is a key's activity on the AsOf day against its baseline
// (aggregate.Trend).
type Trend struct {
	Key, Label string
	aggregate.Trend
}

// Emerging is a source, port or signature new and spreading
// (aggregate.Emerging), with member names.
type Emerging struct {
	Kind, Key, Label string
	FirstSeen        time.Time
	Members          []string
	Growth           int
}

// AnalystCampaign is a campaign with the members it hit, by name.
type AnalystCampaign struct {
	Source     netip.Addr
	Place      Place
	Members    []string
	Techniques []string
	Ports      []uint16
	Count      int64
	FirstSeen  time.Time
	LastSeen   time.Time
}

// Cluster is what the members of one sector or region saw together.
type Cluster struct {
	Name       string
	Members    []string // names
	Detections int64
	Events     int64
	Sources    int
	// Shared is the sources seen at two or more of the cluster's members:
	// the sign of a sector or region being worked through.
	Shared     int
	Techniques []string // most frequent first, at most three
}

// Signature is a rule or IDS signature across members.
type Signature struct {
	ID, Name   string
	Detections int64
	Events     int64
	Members    int
	Sources    int
}

// CVE is a vulnerability being exploited, as named by rules and
// signatures.
type CVE struct {
	ID         string
	Detections int64
	Events     int64
	Members    int
	Sources    int
	Via        []string // the rules and signatures that named it
}

// sigTally counts a rule, signature or CVE.
type sigTally struct {
	s       Signature
	members set
	sources map[netip.Addr]struct{}
	via     set
}

func (t *sigTally) add(r *store.Rollup, src netip.Addr) {
	t.s.Detections += r.Detections
	t.s.Events += r.Count
	t.members.add(r.MemberID)
	if src.IsValid() {
		t.sources[src] = struct{}{}
	}
}

func tallyOf(m map[string]*sigTally, key, name string) *sigTally {
	t := m[key]
	if t == nil {
		t = &sigTally{s: Signature{ID: key, Name: name}, members: set{}, sources: map[netip.Addr]struct{}{}, via: set{}}
		m[key] = t
	}
	return t
}

type memberTotals struct {
	n     Numbers
	techs map[string]int64
}

// analystTally is what one period holds across members.
type analystTally struct {
	n       Numbers
	days    []Day
	starts  []time.Time
	members map[string]*memberTotals
	sources map[netip.Addr][]string // members, sorted
	rules   map[string]*sigTally
	ids     map[string]*sigTally
	cves    map[string]*sigTally
}

func (b *Builder) tallyAll(ctx context.Context, p Period, full bool) (*analystTally, error) {
	t := &analystTally{members: map[string]*memberTotals{}, sources: map[netip.Addr][]string{},
		rules: map[string]*sigTally{}, ids: map[string]*sigTally{}, cves: map[string]*sigTally{}}
	if full {
		t.days, t.starts = newDays(p)
	}
	member := func(id string) *memberTotals {
		m := t.members[id]
		if m == nil {
			m = &memberTotals{techs: map[string]int64{}}
			t.members[id] = m
		}
		return m
	}
	sourceAt := func(a netip.Addr, m string) {
		ms := t.sources[a]
		if i, found := slices.BinarySearch(ms, m); !found {
			t.sources[a] = slices.Insert(ms, i, m)
		}
	}
	err := b.eachSummary(ctx, "", p, func(s *store.Summary) {
		t.n.addEvents(s.Count, s.EventType)
		member(s.MemberID).n.addEvents(s.Count, s.EventType)
		if t.days != nil {
			addDay(t.days, t.starts, s.Minute, s.Count, s.EventType, 0)
		}
		if a := s.SourceIP.Unmap(); external(a) {
			sourceAt(a, s.MemberID)
		}
	})
	if err != nil {
		return nil, err
	}
	err = b.eachDetectionGroup(ctx, "", p, full, func(r *store.Rollup) {
		t.n.addEvents(r.Count, r.EventType)
		t.n.Detections += r.Detections
		m := member(r.MemberID)
		m.n.addEvents(r.Count, r.EventType)
		m.n.Detections += r.Detections
		for _, id := range r.Techniques {
			m.techs[technique.Name(id)] += r.Count
		}
		if t.days != nil {
			addDay(t.days, t.starts, r.LastSeen, r.Count, r.EventType, r.Detections)
		}
		src := r.Source
		if !external(src) || r.Outbound {
			src = netip.Addr{}
		} else {
			sourceAt(src, r.MemberID)
		}
		if !full {
			return
		}
		tallyOf(t.rules, r.RuleID, r.RuleName).add(r, src)
		ids := r.EventCategory == "intrusion_detection"
		if ids && r.Signature != "" {
			tallyOf(t.ids, r.Signature, r.Signature).add(r, src)
		}
		var found []string
		for _, s := range append([]string{r.RuleID, r.RuleName, r.Signature}, r.Techniques...) {
			found = cves(found, s)
		}
		for _, id := range found {
			c := tallyOf(t.cves, id, id)
			c.add(r, src)
			c.via.add(r.RuleName)
			if r.Signature != "" && r.Signature != r.RuleName && ids {
				c.via.add(r.Signature)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	t.n.Sources = int64(len(t.sources))
	return t, nil
}

// Analyst builds the analyst report for p.
func (b *Builder) Analyst(ctx context.Context, p Period) (*AnalystReport, error) {
	now := b.o.Now().UTC()
	r := &AnalystReport{Period: p, Previous: p.Previous(), Generated: now, AsOf: p.End.Add(-time.Nanosecond).UTC()}
	if now.Before(r.AsOf) {
		r.AsOf = now
	}
	members, err := b.o.Store.Members(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: members: %w", err)
	}
	byID := map[string]store.Member{}
	for _, m := range members {
		byID[m.ID] = m
	}
	name := func(id string) string {
		if m, ok := byID[id]; ok && m.Name != "" {
			return m.Name
		}
		return id
	}
	cur, err := b.tallyAll(ctx, p, true)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	prev, err := b.tallyAll(ctx, r.Previous, false)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	campaigns, err := b.campaigns(ctx, p)
	if err != nil {
		return nil, err
	}
	prevCampaigns, err := b.campaigns(ctx, r.Previous)
	if err != nil {
		return nil, err
	}
	r.Now = AnalystNumbers{Numbers: cur.n, Reporting: len(cur.members), Campaigns: len(campaigns)}
	r.Before = AnalystNumbers{Numbers: prev.n, Reporting: len(prev.members), Campaigns: len(prevCampaigns)}
	r.Daily = cur.days

	// Members.
	perMemberSources := map[string]int{}
	for _, ms := range cur.sources {
		for _, m := range ms {
			perMemberSources[m]++
		}
	}
	for _, m := range members {
		row := MemberRow{Member: m, Sources: perMemberSources[m.ID]}
		if mt := cur.members[m.ID]; mt != nil {
			row.Detections, row.Events = mt.n.Detections, mt.n.Events
			if len(mt.techs) > 0 {
				row.Top = topKey(mt.techs, 1)[0]
			}
		}
		r.Members = append(r.Members, row)
	}

	// Trends and emerging threats, from the aggregation.
	if b.o.Agg != nil {
		for _, g := range []struct {
			title string
			dim   aggregate.Dimension
		}{{"Ports", aggregate.DimPort}, {"Techniques", aggregate.DimTechnique}, {"Signatures (rules)", aggregate.DimSignature}} {
			tg := TrendGroup{Title: g.title}
			for _, t := range b.o.Agg.Trends(r.AsOf, g.dim, b.o.Top) {
				tg.Rows = append(tg.Rows, Trend{Key: t.Key, Label: b.label(g.dim, t.Key), Trend: t})
			}
			r.Trends = append(r.Trends, tg)
		}
		for _, e := range b.o.Agg.Emerging(r.AsOf) {
			row := Emerging{Kind: e.Dimension.String(), Key: e.Key, Label: b.label(e.Dimension, e.Key), FirstSeen: e.FirstSeen, Growth: e.Growth}
			for _, m := range e.Members {
				row.Members = append(row.Members, name(m))
			}
			r.Emerging = append(r.Emerging, row)
			if len(r.Emerging) == b.o.Top {
				break
			}
		}
	}

	// Campaigns, with the members they hit.
	for _, c := range campaigns {
		place, err := b.o.Geo.Lookup(c.Source)
		if err != nil {
			return nil, err
		}
		ac := AnalystCampaign{Source: c.Source, Place: place, Ports: c.Ports, Count: c.Count, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen}
		for _, m := range c.Members {
			ac.Members = append(ac.Members, name(m))
		}
		for _, t := range c.Techniques {
			if n := technique.Name(t); !slices.Contains(ac.Techniques, n) {
				ac.Techniques = append(ac.Techniques, n)
			}
		}
		r.Campaigns = append(r.Campaigns, ac)
	}
	slices.SortStableFunc(r.Campaigns, func(x, y AnalystCampaign) int {
		if c := cmp.Compare(len(y.Members), len(x.Members)); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return x.Source.Compare(y.Source)
	})

	// Clusters by sector and region.
	r.Sectors = clusters(cur, members, func(m store.Member) string { return m.Sector })
	r.Regions = clusters(cur, members, func(m store.Member) string { return m.Region })

	r.Signatures = topSignatures(cur.rules, b.o.Top)
	r.IDS = topSignatures(cur.ids, b.o.Top)
	for _, t := range cur.cves {
		r.CVEs = append(r.CVEs, CVE{ID: t.s.ID, Detections: t.s.Detections, Events: t.s.Events, Members: len(t.members),
			Sources: len(t.sources), Via: sortedSet(t.via)})
	}
	slices.SortFunc(r.CVEs, func(x, y CVE) int {
		if c := cmp.Compare(y.Members, x.Members); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return r, nil
}

// campaigns returns the stored campaigns active in p.
func (b *Builder) campaigns(ctx context.Context, p Period) ([]store.Campaign, error) {
	cs, err := b.o.Store.Campaigns(ctx, store.CampaignFilter{Since: p.Start, Limit: store.MaxLimit})
	if err != nil {
		return nil, fmt.Errorf("report: campaigns: %w", err)
	}
	return slices.DeleteFunc(cs, func(c store.Campaign) bool { return !c.FirstSeen.Before(p.End) }), nil
}

// label is a trend or emerging key in words.
func (b *Builder) label(dim aggregate.Dimension, key string) string {
	switch dim {
	case aggregate.DimPort:
		if p, err := strconv.ParseUint(key, 10, 16); err == nil {
			return portLabel(uint16(p))
		}
	case aggregate.DimTechnique:
		if n := technique.Name(key); n != key {
			return n + " (" + key + ")"
		}
	case aggregate.DimSignature:
		if r := b.rules[key]; r != nil {
			return r.Name
		}
	}
	return key
}

func clusters(t *analystTally, members []store.Member, key func(store.Member) string) []Cluster {
	of := map[string]string{} // member id → cluster
	byName := map[string]*Cluster{}
	techs := map[string]map[string]int64{}
	for _, m := range members {
		k := key(m)
		if k == "" {
			continue
		}
		of[m.ID] = k
		c := byName[k]
		if c == nil {
			c = &Cluster{Name: k}
			byName[k] = c
			techs[k] = map[string]int64{}
		}
		c.Members = append(c.Members, m.Name)
		if mt := t.members[m.ID]; mt != nil {
			c.Detections += mt.n.Detections
			c.Events += mt.n.Events
			for n, v := range mt.techs {
				techs[k][n] += v
			}
		}
	}
	for _, ms := range t.sources {
		seen := map[string]int{}
		for _, m := range ms {
			if k, ok := of[m]; ok {
				seen[k]++
			}
		}
		for k, n := range seen {
			byName[k].Sources++
			if n >= 2 {
				byName[k].Shared++
			}
		}
	}
	out := make([]Cluster, 0, len(byName))
	for k, c := range byName {
		slices.Sort(c.Members)
		c.Techniques = topKey(techs[k], 3)
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y Cluster) int {
		if c := cmp.Compare(y.Shared, x.Shared); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	})
	return out
}

// topKey returns up to k keys of m, largest value first.
func topKey(m map[string]int64, k int) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, func(x, y string) int {
		if c := cmp.Compare(m[y], m[x]); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	return keys[:min(k, len(keys))]
}

func topSignatures(m map[string]*sigTally, top int) []Signature {
	out := make([]Signature, 0, len(m))
	for _, t := range m {
		s := t.s
		s.Members, s.Sources = len(t.members), len(t.sources)
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y Signature) int {
		if c := cmp.Compare(y.Members, x.Members); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	})
	return out[:min(len(out), top)]
}

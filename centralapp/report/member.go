package report

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/technique"
)

// MemberReport is the Member Summary Threat Report: what reached one
// member in a period, against the period before, and what to do about it.
// Other members are never named in it, only counted.
type MemberReport struct {
	Member    store.Member
	Period    Period
	Previous  Period
	Generated time.Time

	Now, Before Numbers
	Daily       []Day

	TopSources []Source
	Ports      []Port
	Origins    Origins
	Devices    []Device // reporting and silent, silent first
	Techniques []Technique
	Changes    []string
	Campaigns  []Campaign
	Findings   []Finding
	BlockList  []BlockEntry
}

// Source is an internet address that reached the member.
type Source struct {
	Addr       netip.Addr
	Place      Place
	Events     int64
	Detections int64
	Ports      int // distinct destination ports here
	FirstSeen  time.Time
	LastSeen   time.Time
	// Members is how many members the source reached, this one included,
	// and Targetedness its score for this member (aggregate.Targeted),
	// when the aggregation knows the source; else Members counts the
	// members with a detection from it since the period began, and
	// Targetedness is NaN.
	Members      int
	Targetedness float64
	Campaign     bool // part of a campaign that hit this member
	New          bool // not seen in the previous period
}

// Port is a destination port the member's sources went for.
type Port struct {
	Port    uint16
	Service string
	Events  int64
	Sources int
	New     bool // not targeted in the previous period
}

// Origins splits the sources into UK and elsewhere, when a country
// database is configured (Known).
type Origins struct {
	Known                                bool
	UKSources, NonUKSources, Unknown     int
	UKEvents, NonUKEvents, UnknownEvents int64
	Countries                            []Country // most events first
	ASNKnown                             bool
	Networks                             []Network // most events first
	TotalSources                         int
	TotalEvents                          int64
}

// Country is one country's share of the sources.
type Country struct {
	Code, Name string
	Sources    int
	Events     int64
}

// Network is one autonomous system's share of the sources.
type Network struct {
	ASN     uint32
	Org     string
	Sources int
	Events  int64
}

// Device is a device a collector of the member reads.
type Device struct {
	Collector string
	Device    string
	Dataset   string
	LastSeen  time.Time
	Silent    bool
}

// Technique is an attack technique, in plain language, with what was seen
// of it.
type Technique struct {
	Name       string
	IDs        []string // ATT&CK ids
	Detections int64
	Events     int64
	Rules      []string // rule names
}

// Campaign is a cross-member campaign that hit the member.
type Campaign struct {
	Source       netip.Addr
	Place        Place
	OtherMembers int
	Techniques   []string // plain language
	Ports        []uint16
	Count        int64
	FirstSeen    time.Time
	LastSeen     time.Time
}

// Finding is one kind of detection at the member, explained.
type Finding struct {
	RuleID     string
	Name       string
	Severity   int
	Detections int64
	Events     int64
	Sources    int
	Blocked    int64
	Allowed    int64
	Techniques []string // plain language
	What       string   // the rule's description
	Advice     string
	FirstSeen  time.Time
	LastSeen   time.Time
}

// Level is the finding's severity in words.
func (f Finding) Level() string { return severityLevel(f.Severity) }

// Outcome says in words what the devices did.
func (f Finding) Outcome() string {
	switch {
	case f.Allowed == 0 && f.Blocked == f.Events:
		return "All blocked"
	case f.Allowed == f.Events:
		return "Got through"
	case f.Allowed > 0:
		return "Some got through"
	case f.Blocked > 0:
		return "Partly blocked"
	}
	return "Seen, not blocked"
}

func severityLevel(s int) string {
	switch {
	case s >= 70:
		return "High"
	case s >= 40:
		return "Medium"
	}
	return "Low"
}

// BlockEntry is an address for the member's firewall to block.
type BlockEntry struct {
	Addr       netip.Addr
	Confidence int // 1-100
	Expires    time.Time
	FirstSeen  time.Time
	LastSeen   time.Time
	Members    int
	Reasons    []string // rule names
}

// noBlock are rules whose addresses must not be blocked: the "source" of
// a reflection is its victim, and reflectors are ordinary servers whose
// addresses were spoofed.
var noBlock = map[string]bool{
	"amplification.reflector.response": true,
	"amplification.reflector.dns":      true,
	"amplification.reflector.requests": true,
	"amplification.victim.campaign":    true,
}

// memberTally is what one period holds for a member.
type memberTally struct {
	n       Numbers
	days    []Day
	starts  []time.Time
	sources map[netip.Addr]*sourceTally
	ports   map[uint16]*portTally
	rules   map[string]*ruleTally
	techs   map[string]*techTally
	blocks  map[netip.Addr]*blockTally
}

type sourceTally struct {
	events, detections int64
	first, last        time.Time
	ports              map[uint16]struct{}
}

type portTally struct {
	events  int64
	sources map[netip.Addr]struct{}
}

type ruleTally struct {
	f       Finding
	techs   []string
	sources map[netip.Addr]struct{}
}

type techTally struct {
	t     Technique
	rules set
}

type blockTally struct {
	severity    int
	first, last time.Time
	reasons     set
}

func (t *sourceTally) seen(first, last time.Time) {
	if t.first.IsZero() || first.Before(t.first) {
		t.first = first
	}
	if last.After(t.last) {
		t.last = last
	}
}

func (b *Builder) tallyMember(ctx context.Context, member string, p Period, withDays bool) (*memberTally, error) {
	t := &memberTally{
		sources: map[netip.Addr]*sourceTally{}, ports: map[uint16]*portTally{}, rules: map[string]*ruleTally{},
		techs: map[string]*techTally{}, blocks: map[netip.Addr]*blockTally{},
	}
	if withDays {
		t.days, t.starts = newDays(p)
	}
	source := func(a netip.Addr) *sourceTally {
		s := t.sources[a]
		if s == nil {
			s = &sourceTally{ports: map[uint16]struct{}{}}
			t.sources[a] = s
		}
		return s
	}
	port := func(p uint16, a netip.Addr, n int64) {
		pt := t.ports[p]
		if pt == nil {
			pt = &portTally{sources: map[netip.Addr]struct{}{}}
			t.ports[p] = pt
		}
		pt.events += n
		if a.IsValid() {
			pt.sources[a] = struct{}{}
		}
	}
	err := b.eachSummary(ctx, member, p, func(s *store.Summary) {
		t.n.addEvents(s.Count, s.EventType)
		if t.days != nil {
			addDay(t.days, t.starts, s.Minute, s.Count, s.EventType, 0)
		}
		src := s.SourceIP.Unmap()
		if external(src) {
			st := source(src)
			st.events += s.Count
			st.seen(s.Minute, s.Minute.Add(time.Minute-time.Nanosecond))
			if s.DestinationPort != 0 {
				st.ports[s.DestinationPort] = struct{}{}
			}
		} else {
			src = netip.Addr{}
		}
		if s.DestinationPort != 0 {
			port(s.DestinationPort, src, s.Count)
		}
	})
	if err != nil {
		return nil, err
	}
	err = b.eachDetectionGroup(ctx, member, p, withDays, func(r *store.Rollup) {
		t.n.addEvents(r.Count, r.EventType)
		t.n.Detections += r.Detections
		if t.days != nil {
			addDay(t.days, t.starts, r.LastSeen, r.Count, r.EventType, r.Detections)
		}
		src := r.Source
		if external(src) && !r.Outbound {
			st := source(src)
			st.events += r.Count
			st.detections += r.Detections
			st.seen(r.FirstSeen, r.LastSeen)
			if r.DestinationPort != 0 {
				st.ports[r.DestinationPort] = struct{}{}
			}
		}
		if r.DestinationPort != 0 && !r.Outbound {
			a := src
			if !external(a) {
				a = netip.Addr{}
			}
			port(r.DestinationPort, a, r.Count)
		}
		b.tallyRule(t, r)
		for _, id := range r.Techniques {
			name := technique.Name(id)
			tt := t.techs[name]
			if tt == nil {
				tt = &techTally{t: Technique{Name: name}, rules: set{}}
				t.techs[name] = tt
			}
			if !slices.Contains(tt.t.IDs, id) {
				tt.t.IDs = append(tt.t.IDs, id)
			}
			tt.t.Detections += r.Detections
			tt.t.Events += r.Count
			tt.rules.add(r.RuleName)
		}
		// The address to block: the attacker, which for a computer of
		// the member's calling out is the destination.
		if noBlock[r.RuleID] {
			return
		}
		target := src
		if r.Outbound {
			target, _ = netip.ParseAddr(r.Target)
			target = target.Unmap()
		}
		if !external(target) {
			return
		}
		bt := t.blocks[target]
		if bt == nil {
			bt = &blockTally{first: r.FirstSeen, last: r.LastSeen, reasons: set{}}
			t.blocks[target] = bt
		}
		bt.severity = max(bt.severity, r.Severity)
		if r.FirstSeen.Before(bt.first) {
			bt.first = r.FirstSeen
		}
		if r.LastSeen.After(bt.last) {
			bt.last = r.LastSeen
		}
		bt.reasons.add(r.RuleName)
	})
	if err != nil {
		return nil, err
	}
	t.n.Sources = int64(len(t.sources))
	return t, nil
}

// tallyRule adds r, a group of detections of one rule (see
// eachDetectionGroup), to the rule's finding.
func (b *Builder) tallyRule(t *memberTally, r *store.Rollup) {
	rt := t.rules[r.RuleID]
	if rt == nil {
		rt = &ruleTally{f: Finding{RuleID: r.RuleID, Name: r.RuleName, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen},
			sources: map[netip.Addr]struct{}{}}
		t.rules[r.RuleID] = rt
	}
	f := &rt.f
	f.Severity = max(f.Severity, r.Severity)
	f.Detections += r.Detections
	f.Events += r.Count
	switch verdict(r.EventType) {
	case blocked:
		f.Blocked += r.Count
	case allowed:
		f.Allowed += r.Count
	}
	if r.FirstSeen.Before(f.FirstSeen) {
		f.FirstSeen = r.FirstSeen
	}
	if r.LastSeen.After(f.LastSeen) {
		f.LastSeen = r.LastSeen
	}
	if r.Source.IsValid() {
		rt.sources[r.Source] = struct{}{}
	}
	for _, a := range r.Related {
		rt.sources[a] = struct{}{}
	}
	for _, id := range r.Techniques {
		if !slices.Contains(rt.techs, id) {
			rt.techs = append(rt.techs, id)
		}
	}
}

// Member builds the member's report for p.
func (b *Builder) Member(ctx context.Context, memberID string, p Period) (*MemberReport, error) {
	m, err := b.o.Store.Member(ctx, memberID)
	if err != nil {
		return nil, fmt.Errorf("report: member %s: %w", memberID, err)
	}
	r := &MemberReport{Member: m, Period: p, Previous: p.Previous(), Generated: b.o.Now().UTC()}
	cur, err := b.tallyMember(ctx, memberID, p, true)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	prev, err := b.tallyMember(ctx, memberID, r.Previous, false)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	r.Now, r.Before, r.Daily = cur.n, prev.n, cur.days

	campaigns, err := b.o.Store.Campaigns(ctx, store.CampaignFilter{MemberID: memberID, Since: p.Start, Limit: store.MaxLimit})
	if err != nil {
		return nil, fmt.Errorf("report: campaigns: %w", err)
	}
	campaigns = slices.DeleteFunc(campaigns, func(c store.Campaign) bool { return !c.FirstSeen.Before(p.End) })
	inCampaign := map[netip.Addr]int{}
	for _, c := range campaigns {
		inCampaign[c.Source.Unmap()] = max(inCampaign[c.Source.Unmap()], len(c.Members))
	}

	if r.TopSources, err = b.topSources(ctx, memberID, p, cur, prev, inCampaign); err != nil {
		return nil, err
	}
	if r.Origins, err = b.origins(cur); err != nil {
		return nil, err
	}
	r.Ports = topPorts(cur, prev, b.o.Top)
	if r.Devices, err = b.devices(ctx, memberID, p); err != nil {
		return nil, err
	}
	r.Techniques = techniqueRows(cur)
	// A source can make several campaigns (one per technique group): the
	// member sees one row per address.
	bySource := map[netip.Addr]*Campaign{}
	for _, c := range campaigns {
		a := c.Source.Unmap()
		cr := bySource[a]
		if cr == nil {
			place, err := b.o.Geo.Lookup(a)
			if err != nil {
				return nil, err
			}
			cr = &Campaign{Source: a, Place: place, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen}
			bySource[a] = cr
		}
		cr.OtherMembers = max(cr.OtherMembers, len(c.Members)-1)
		cr.Count += c.Count
		if c.FirstSeen.Before(cr.FirstSeen) {
			cr.FirstSeen = c.FirstSeen
		}
		if c.LastSeen.After(cr.LastSeen) {
			cr.LastSeen = c.LastSeen
		}
		for _, t := range c.Techniques {
			if n := technique.Name(t); !slices.Contains(cr.Techniques, n) {
				cr.Techniques = append(cr.Techniques, n)
			}
		}
		for _, p := range c.Ports {
			if i, found := slices.BinarySearch(cr.Ports, p); !found {
				cr.Ports = slices.Insert(cr.Ports, i, p)
			}
		}
	}
	for _, cr := range bySource {
		r.Campaigns = append(r.Campaigns, *cr)
	}
	slices.SortStableFunc(r.Campaigns, func(x, y Campaign) int {
		if c := y.LastSeen.Compare(x.LastSeen); c != 0 {
			return c
		}
		return x.Source.Compare(y.Source)
	})
	r.Findings = b.findings(cur)
	r.BlockList = b.blockList(ctx, cur, p, inCampaign, r.TopSources)
	r.Changes = changes(r, cur, prev)
	return r, nil
}

func (b *Builder) topSources(ctx context.Context, member string, p Period, cur, prev *memberTally, inCampaign map[netip.Addr]int) ([]Source, error) {
	out := make([]Source, 0, len(cur.sources))
	hadData := len(prev.sources) > 0
	for a, s := range cur.sources {
		_, seenBefore := prev.sources[a]
		out = append(out, Source{Addr: a, Events: s.events, Detections: s.detections, Ports: len(s.ports),
			FirstSeen: s.first, LastSeen: s.last, Targetedness: math.NaN(), New: hadData && !seenBefore})
	}
	slices.SortFunc(out, func(x, y Source) int {
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return x.Addr.Compare(y.Addr)
	})
	out = out[:min(len(out), b.o.Top)]
	profiles := map[netip.Addr]aggregate.Targeted{}
	if b.o.Agg != nil {
		for _, t := range b.o.Agg.TopSources(member, 0) {
			profiles[t.Source] = t
		}
	}
	var unknown []netip.Addr
	for i := range out {
		s := &out[i]
		if t, ok := profiles[s.Addr]; ok {
			s.Members, s.Targetedness = t.Members, t.Score
		} else {
			unknown = append(unknown, s.Addr)
		}
		_, s.Campaign = inCampaign[s.Addr]
		place, err := b.o.Geo.Lookup(s.Addr)
		if err != nil {
			return nil, err
		}
		s.Place = place
	}
	if len(unknown) > 0 {
		ms, err := b.o.Store.SourceMembers(ctx, unknown, p.Start)
		if err != nil {
			return nil, fmt.Errorf("report: source members: %w", err)
		}
		for i := range out {
			if s := &out[i]; s.Members == 0 {
				s.Members = len(ms[s.Addr])
				if !slices.Contains(ms[s.Addr], member) {
					s.Members++ // seen here only in flow summaries
				}
			}
		}
	}
	return out, nil
}

func (b *Builder) origins(cur *memberTally) (Origins, error) {
	o := Origins{Known: b.o.Geo.HasCountry(), ASNKnown: b.o.Geo.HasASN(), TotalSources: len(cur.sources)}
	countries := map[string]*Country{}
	networks := map[uint32]*Network{}
	for a, s := range cur.sources {
		o.TotalEvents += s.events
		place, err := b.o.Geo.Lookup(a)
		if err != nil {
			return o, err
		}
		switch {
		case place.Country == "":
			o.Unknown++
			o.UnknownEvents += s.events
		case place.Country == UKCountry:
			o.UKSources++
			o.UKEvents += s.events
		default:
			o.NonUKSources++
			o.NonUKEvents += s.events
		}
		if place.Country != "" {
			c := countries[place.Country]
			if c == nil {
				c = &Country{Code: place.Country, Name: place.CountryName}
				countries[place.Country] = c
			}
			c.Sources++
			c.Events += s.events
		}
		if place.ASN != 0 {
			n := networks[place.ASN]
			if n == nil {
				n = &Network{ASN: place.ASN, Org: place.ASOrg}
				networks[place.ASN] = n
			}
			n.Sources++
			n.Events += s.events
		}
	}
	for _, c := range countries {
		o.Countries = append(o.Countries, *c)
	}
	slices.SortFunc(o.Countries, func(x, y Country) int {
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.Code, y.Code)
	})
	o.Countries = o.Countries[:min(len(o.Countries), b.o.Top)]
	for _, n := range networks {
		o.Networks = append(o.Networks, *n)
	}
	slices.SortFunc(o.Networks, func(x, y Network) int {
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.ASN, y.ASN)
	})
	o.Networks = o.Networks[:min(len(o.Networks), b.o.Top)]
	return o, nil
}

func topPorts(cur, prev *memberTally, top int) []Port {
	out := make([]Port, 0, len(cur.ports))
	hadData := len(prev.ports) > 0
	for p, t := range cur.ports {
		_, before := prev.ports[p]
		out = append(out, Port{Port: p, Service: serviceName(p), Events: t.events, Sources: len(t.sources), New: hadData && !before})
	}
	slices.SortFunc(out, func(x, y Port) int {
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.Port, y.Port)
	})
	return out[:min(len(out), top)]
}

// devices lists the member's devices as its collectors last reported
// them: silent when nothing came from one for SilentAfter before the end of
// the period (or before now, for a period not yet over).
func (b *Builder) devices(ctx context.Context, member string, p Period) ([]Device, error) {
	hs, err := b.o.Store.Health(ctx, member)
	if err != nil {
		return nil, fmt.Errorf("report: health: %w", err)
	}
	ref := p.End
	if now := b.o.Now(); now.Before(ref) {
		ref = now
	}
	cut := ref.Add(-b.o.SilentAfter)
	var out []Device
	for _, h := range hs {
		if !h.Collector.Revoked.IsZero() {
			continue
		}
		if len(h.Devices) == 0 {
			// A collector that never named a device still tells whether
			// it is alive.
			out = append(out, Device{Collector: h.Collector.ID, Device: "(collector)", LastSeen: h.Collector.LastSeen,
				Silent: h.Collector.LastSeen.Before(cut)})
			continue
		}
		for _, d := range h.Devices {
			out = append(out, Device{Collector: h.Collector.ID, Device: d.Device, Dataset: d.Dataset, LastSeen: d.LastSeen,
				Silent: d.LastSeen.Before(cut)})
		}
	}
	slices.SortStableFunc(out, func(x, y Device) int {
		if x.Silent != y.Silent {
			if x.Silent {
				return -1
			}
			return 1
		}
		return cmp.Compare(x.Device, y.Device)
	})
	return out, nil
}

func techniqueRows(cur *memberTally) []Technique {
	out := make([]Technique, 0, len(cur.techs))
	for _, t := range cur.techs {
		row := t.t
		slices.Sort(row.IDs)
		row.Rules = sortedSet(t.rules)
		out = append(out, row)
	}
	slices.SortFunc(out, func(x, y Technique) int {
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	})
	return out
}

func (b *Builder) findings(cur *memberTally) []Finding {
	out := make([]Finding, 0, len(cur.rules))
	for id, rt := range cur.rules {
		f := rt.f
		f.Sources = len(rt.sources)
		slices.Sort(rt.techs)
		for _, t := range rt.techs {
			if n := technique.Name(t); !slices.Contains(f.Techniques, n) {
				f.Techniques = append(f.Techniques, n)
			}
		}
		if r := b.rules[id]; r != nil {
			f.What = strings.TrimSpace(r.Description)
		}
		f.Advice = adviceFor(id, rt.techs)
		out = append(out, f)
	}
	slices.SortFunc(out, func(x, y Finding) int {
		if c := cmp.Compare(y.Severity, x.Severity); c != 0 {
			return c
		}
		if c := cmp.Compare(y.Events, x.Events); c != 0 {
			return c
		}
		return cmp.Compare(x.RuleID, y.RuleID)
	})
	return out
}

// blockList turns the period's attackers into block-list entries.
//
// Confidence starts from the highest severity of the detections that name
// the address; an address in a campaign (seen with related techniques at
// several members) is raised to at least 90, one seen at another member
// gains 10. Entries expire BlockFor after the address was last seen.
func (b *Builder) blockList(ctx context.Context, cur *memberTally, p Period, inCampaign map[netip.Addr]int, top []Source) []BlockEntry {
	members := map[netip.Addr]int{}
	for _, s := range top {
		members[s.Addr] = s.Members
	}
	var ask []netip.Addr
	for a := range cur.blocks {
		if _, ok := members[a]; !ok {
			ask = append(ask, a)
		}
	}
	slices.SortFunc(ask, netip.Addr.Compare)
	if len(ask) > 0 {
		if ms, err := b.o.Store.SourceMembers(ctx, ask, p.Start); err == nil {
			for _, a := range ask {
				members[a] = max(len(ms[a]), 1)
			}
		}
	}
	out := make([]BlockEntry, 0, len(cur.blocks))
	for a, bt := range cur.blocks {
		e := BlockEntry{Addr: a, Confidence: bt.severity, FirstSeen: bt.first, LastSeen: bt.last,
			Expires: bt.last.Add(b.o.BlockFor).Truncate(time.Hour).Add(time.Hour).UTC(), Members: max(members[a], 1),
			Reasons: sortedSet(bt.reasons)}
		if n, ok := inCampaign[a]; ok {
			e.Confidence = max(e.Confidence, 90)
			e.Members = max(e.Members, n)
		} else if e.Members > 1 {
			e.Confidence += 10
		}
		e.Confidence = min(e.Confidence, 100)
		if e.Expires.After(p.End) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(x, y BlockEntry) int {
		if c := cmp.Compare(y.Confidence, x.Confidence); c != 0 {
			return c
		}
		return x.Addr.Compare(y.Addr)
	})
	return out
}

// changes says what is different from the previous period.
func changes(r *MemberReport, cur, prev *memberTally) []string {
	var out []string
	if prev.n.Events == 0 && prev.n.Detections == 0 {
		out = append(out, "Nothing was recorded in the previous period, so everything in this report is new.")
	}
	var added, gone []*ruleTally
	for id, rt := range cur.rules {
		if _, ok := prev.rules[id]; !ok {
			added = append(added, rt)
		}
	}
	for id, rt := range prev.rules {
		if _, ok := cur.rules[id]; !ok {
			gone = append(gone, rt)
		}
	}
	bySeverity := func(x, y *ruleTally) int {
		if c := cmp.Compare(y.f.Severity, x.f.Severity); c != 0 {
			return c
		}
		return cmp.Compare(x.f.RuleID, y.f.RuleID)
	}
	slices.SortFunc(added, bySeverity)
	slices.SortFunc(gone, bySeverity)
	if prev.n.Events > 0 || prev.n.Detections > 0 {
		for _, rt := range added {
			out = append(out, fmt.Sprintf("New: %s (%s).", rt.f.Name, plural(rt.f.Events, "event")))
		}
	}
	for _, rt := range gone {
		out = append(out, fmt.Sprintf("No longer seen: %s (%s in the previous period).", rt.f.Name, plural(rt.f.Events, "event")))
	}
	if len(cur.sources) > 0 && len(prev.sources) > 0 {
		n := 0
		for a := range cur.sources {
			if _, ok := prev.sources[a]; !ok {
				n++
			}
		}
		out = append(out, fmt.Sprintf("%d of the %d attacking addresses were not seen in the previous period.", n, len(cur.sources)))
	}
	if len(prev.ports) > 0 {
		for _, p := range r.Ports {
			if p.New {
				out = append(out, fmt.Sprintf("Newly targeted: port %s.", portLabel(p.Port)))
			}
		}
	}
	for _, d := range r.Devices {
		if d.Silent && !d.LastSeen.IsZero() && !d.LastSeen.Before(r.Previous.Start) {
			out = append(out, fmt.Sprintf("Device %s has gone silent: nothing since %s.", d.Device, d.LastSeen.In(r.Period.Loc).Format("Mon 2 Jan 15:04")))
		}
	}
	if len(out) == 0 {
		out = append(out, "Nothing new: the same kinds of activity as in the previous period.")
	}
	return out
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "s") {
		return groupDigits(n) + " " + word + "es"
	}
	return groupDigits(n) + " " + word + "s"
}

func sortedSet(s set) []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

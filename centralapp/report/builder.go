// Package report builds central's reports: the Member Summary Threat
// Report (one member, one period, against the period before) and the
// analyst trend report (all members). A Builder reads the store and the
// cross-member aggregation into plain data (MemberReport, AnalystReport);
// Render turns that into one self-contained HTML document with charts drawn
// as inline SVG, and a Printer prints the same HTML to PDF with headless
// Chromium.
//
// Period figures (counts, sources, ports, findings, block list) come from
// the store, so a report for a past period can be made again and says the
// same. What only the aggregation knows (how targeted a source is across
// members, trends against the baseline, emerging threats) is as of when
// the report is made.
package report

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/aggregate"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/rules"
)

// Options configure a Builder. Store is required.
type Options struct {
	Store store.Store
	// Agg is the cross-member aggregation; nil leaves out targetedness,
	// trends and emerging threats.
	Agg *aggregate.Aggregator
	// Geo gives countries and networks; nil leaves them unknown.
	Geo *Geo
	// Rules describe the detections (their descriptions become the
	// findings' explanations); nil means the built-in pack.
	Rules []*rules.Rule
	// Top is the number of rows in top-N tables (default 10).
	Top int
	// BlockFor is how long a block-list entry stays after its source was
	// last seen (default 7 days).
	BlockFor time.Duration
	// SilentAfter is how long a device may send nothing before the report
	// calls it silent (default 24h).
	SilentAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Builder builds reports. It is safe for concurrent use.
type Builder struct {
	o     Options
	rules map[string]*rules.Rule
	// noRollups reads every detection, for tests that compare the two
	// ways of counting.
	noRollups bool
}

// NewBuilder returns a Builder for o.
func NewBuilder(o Options) (*Builder, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("report: no store")
	}
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.BlockFor <= 0 {
		o.BlockFor = Week
	}
	if o.SilentAfter <= 0 {
		o.SilentAfter = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rules == nil {
		rs, err := rules.Builtin()
		if err != nil {
			return nil, fmt.Errorf("report: built-in rules: %w", err)
		}
		o.Rules = rs
	}
	b := &Builder{o: o, rules: make(map[string]*rules.Rule, len(o.Rules))}
	for _, r := range o.Rules {
		b.rules[r.ID] = r
	}
	return b, nil
}

// eachDetectionGroup calls fn for the detections of member ("" for all)
// last seen in p, grouped as far as p allows, in the order of their
// first detection: what a tally takes from the first detection of a
// kind (a finding's name, say) then comes from the same detection either
// way. When p's start and end, and with days every start of a day of p,
// fall on UTC hours, the groups are the store's hourly rollups: each
// holds detections of one hour, so of one day, and the hours of p hold
// exactly its detections. Otherwise (members in zones such as +05:30 or
// +05:45) each detection is read and is a group of its own.
func (b *Builder) eachDetectionGroup(ctx context.Context, member string, p Period, withDays bool, fn func(*store.Rollup)) error {
	if !b.noRollups && onUTCHours(p, withDays) {
		return b.eachRollup(ctx, member, p, fn)
	}
	return b.eachDetection(ctx, member, p, func(d *store.Detection) {
		r := store.RollupOf(d, store.SampleOf(d.Raw))
		fn(&r)
	})
}

// onUTCHours reports whether p's start and end, and with days the start of
// each of its days, are on UTC hours.
func onUTCHours(p Period, withDays bool) bool {
	on := func(t time.Time) bool { return t.Equal(t.Truncate(time.Hour)) }
	if !on(p.Start) || !on(p.End) {
		return false
	}
	if withDays {
		for _, d := range p.Days() {
			if !on(d) {
				return false
			}
		}
	}
	return true
}

// eachRollup calls fn for every hourly rollup of member ("" for all) in
// p, which is on UTC hours, by first detection.
func (b *Builder) eachRollup(ctx context.Context, member string, p Period, fn func(*store.Rollup)) error {
	rs, err := b.o.Store.Rollups(ctx, store.RollupFilter{MemberID: member, Since: p.Start, Until: p.End})
	if err != nil {
		return err
	}
	slices.SortFunc(rs, func(x, y store.Rollup) int { return cmp.Compare(x.FirstID, y.FirstID) })
	for i := range rs {
		fn(&rs[i])
	}
	return nil
}

// eachDetection calls fn for every detection of member ("" for all) last
// seen in p, page by page.
func (b *Builder) eachDetection(ctx context.Context, member string, p Period, fn func(*store.Detection)) error {
	f := store.DetectionFilter{MemberID: member, Since: p.Start, Until: p.End, Limit: store.MaxLimit}
	for {
		ds, err := b.o.Store.Detections(ctx, f)
		if err != nil {
			return err
		}
		for i := range ds {
			fn(&ds[i])
		}
		if len(ds) < f.Limit {
			return nil
		}
		f.After = ds[len(ds)-1].ID
	}
}

// eachSummary calls fn for every flow summary of member ("" for all)
// whose minute is in p.
func (b *Builder) eachSummary(ctx context.Context, member string, p Period, fn func(*store.Summary)) error {
	f := store.SummaryFilter{MemberID: member, Since: p.Start, Until: p.End, Limit: store.MaxLimit}
	for {
		ss, err := b.o.Store.Summaries(ctx, f)
		if err != nil {
			return err
		}
		for i := range ss {
			fn(&ss[i])
		}
		if len(ss) < f.Limit {
			return nil
		}
		f.After = ss[len(ss)-1].ID
	}
}

// external reports whether a is an internet address: internal ones (RFC
// 1918, ULA, loopback, link-local) are the member's own computers.
func external(a netip.Addr) bool {
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate()
}

// verdict sorts an event.type into blocked, allowed or neither (IDS alerts
// that were only seen, mail that was tagged).
func verdict(eventType string) int {
	switch eventType {
	case "denied":
		return blocked
	case "allowed":
		return allowed
	}
	return seenOnly
}

const (
	blocked = iota
	allowed
	seenOnly
)

// Numbers are a period's headline figures. Events are suspicious events:
// those in detections plus those in flow summaries (suspicious traffic no
// rule matched). Blocked and Allowed split them by the device's verdict;
// the rest were only seen (IDS alerts, tagged mail). A detection's events
// all take the verdict of its sample event.
type Numbers struct {
	Events     int64
	Detections int64
	Blocked    int64
	Allowed    int64
	Sources    int64 // distinct internet addresses
}

// Other is the events neither blocked nor allowed.
func (n Numbers) Other() int64 { return n.Events - n.Blocked - n.Allowed }

func (n *Numbers) addEvents(count int64, eventType string) {
	n.Events += count
	switch verdict(eventType) {
	case blocked:
		n.Blocked += count
	case allowed:
		n.Allowed += count
	}
}

// Day is one day of a period's time series.
type Day struct {
	Day        time.Time
	Blocked    int64
	Allowed    int64
	Other      int64
	Detections int64
}

// Events is the day's events.
func (d Day) Events() int64 { return d.Blocked + d.Allowed + d.Other }

// addDay adds count events of eventType, in detections detections (0 for
// flow summaries), to the day holding t.
func addDay(days []Day, starts []time.Time, t time.Time, count int64, eventType string, detections int64) {
	i := dayIndex(starts, t)
	if i < 0 || i >= len(days) {
		return
	}
	switch verdict(eventType) {
	case blocked:
		days[i].Blocked += count
	case allowed:
		days[i].Allowed += count
	default:
		days[i].Other += count
	}
	days[i].Detections += detections
}

func newDays(p Period) ([]Day, []time.Time) {
	starts := p.Days()
	days := make([]Day, len(starts))
	for i, s := range starts {
		days[i].Day = s
	}
	return days, starts
}

// set is a small set of strings with a stable order.
type set map[string]struct{}

func (s set) add(v string) { s[v] = struct{}{} }

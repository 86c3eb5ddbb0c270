package report

import (
	"fmt"
	"slices"
	"time"
)

// Week is the default report period.
const Week = 7 * 24 * time.Hour

// Period is the time a report covers, [Start, End), shown and split into
// days in Loc (the member's time zone).
type Period struct {
	Start, End time.Time
	Loc        *time.Location
}

// NewPeriod returns [start, end) in loc (UTC when nil).
func NewPeriod(start, end time.Time, loc *time.Location) (Period, error) {
	if loc == nil {
		loc = time.UTC
	}
	if !end.After(start) {
		return Period{}, fmt.Errorf("report period: end %s is not after start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	return Period{Start: start.In(loc), End: end.In(loc), Loc: loc}, nil
}

// Ending returns the period of length d that ends at the first midnight in
// loc at or after t: the whole days up to and including t's day. A weekly
// report run at any time on a Monday covers the seven days to that
// Monday's end.
func Ending(t time.Time, d time.Duration, loc *time.Location) Period {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	end := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	if end.Before(t) {
		end = end.AddDate(0, 0, 1)
	}
	return Period{Start: back(end, d), End: end, Loc: loc}
}

// back is t less d, in calendar days when d is whole days: a week that
// spans a clock change is still seven midnights long.
func back(t time.Time, d time.Duration) time.Time {
	const day = 24 * time.Hour
	if d%day == 0 {
		return t.AddDate(0, 0, -int(d/day))
	}
	return t.Add(-d)
}

// Location is the member's time zone by IANA name; UTC when the name is
// empty or unknown, so that a report is still made.
func Location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Previous is the period of the same length just before p.
func (p Period) Previous() Period {
	s, e := p.Start.In(p.Loc), p.End.In(p.Loc)
	if isMidnight(s) && isMidnight(e) {
		// Whole days: as many calendar days as p has.
		n := len(p.Days())
		return Period{Start: s.AddDate(0, 0, -n), End: p.Start, Loc: p.Loc}
	}
	return Period{Start: p.Start.Add(-p.End.Sub(p.Start)), End: p.Start, Loc: p.Loc}
}

// Contains reports whether t is in [Start, End).
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }

// Days returns the start of each calendar day in Loc that overlaps p.
func (p Period) Days() []time.Time {
	s := p.Start.In(p.Loc)
	d := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, p.Loc)
	var out []time.Time
	for ; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// dayIndex is the index in days (Days of a period that holds t) of the
// day holding t, or -1 before the first.
func dayIndex(days []time.Time, t time.Time) int {
	i, found := slices.BinarySearchFunc(days, t, func(d, t time.Time) int { return d.Compare(t) })
	if found {
		return i
	}
	return i - 1
}

// String is the period as people read it: "21 Nov 2026 to 27 Nov 2026"
// for whole days, with times otherwise.
func (p Period) String() string {
	s, e := p.Start.In(p.Loc), p.End.In(p.Loc)
	if isMidnight(s) && isMidnight(e) {
		last := e.AddDate(0, 0, -1)
		if last.Equal(s) {
			return s.Format("Mon 2 Jan 2006")
		}
		return s.Format("Mon 2 Jan 2006") + " to " + last.Format("Mon 2 Jan 2006")
	}
	return s.Format("2 Jan 2006 15:04") + " to " + e.Format("2 Jan 2006 15:04 MST")
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

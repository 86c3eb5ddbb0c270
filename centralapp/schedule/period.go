package schedule

import (
	"fmt"
	"time"
)

// Weekly is a time in the week, read in a time zone: Monday 07:00.
type Weekly struct {
	Weekday      time.Weekday
	Hour, Minute int
}

func (w Weekly) String() string {
	return fmt.Sprintf("%s %02d:%02d", w.Weekday, w.Hour, w.Minute)
}

// Period is one run of a weekly schedule: Due is when it runs, and
// [Start, End) the seven local days before the day it runs, from midnight
// to midnight. Across a change of clocks the period is 167 or 169 hours
// long; it is always seven calendar days.
type Period struct {
	Due, Start, End time.Time
}

// Last returns the latest run of w due at or before now, in loc.
func (w Weekly) Last(now time.Time, loc *time.Location) Period {
	return w.on(w.lastDay(now, loc), loc)
}

// Next returns the first run of w due after now, in loc.
func (w Weekly) Next(now time.Time, loc *time.Location) Period {
	return w.on(w.lastDay(now, loc).AddDate(0, 0, 7), loc)
}

// lastDay returns the local day of the latest run due at or before now,
// as noon UTC of that date: calendar arithmetic on it never meets a
// change of clocks, as arithmetic on local midnights could.
func (w Weekly) lastDay(now time.Time, loc *time.Location) time.Time {
	local := now.In(loc)
	back := (int(local.Weekday()) - int(w.Weekday) + 7) % 7
	day := time.Date(local.Year(), local.Month(), local.Day()-back, 12, 0, 0, 0, time.UTC)
	if w.on(day, loc).Due.After(now) {
		day = day.AddDate(0, 0, -7)
	}
	return day
}

// on is the run on the local date of day. A due time that the clocks skip
// that day is read as time.Date reads it, an hour later by the clock; one
// they pass twice, at its second passing.
func (w Weekly) on(day time.Time, loc *time.Location) Period {
	y, m, d := day.Date()
	return Period{
		Due:   time.Date(y, m, d, w.Hour, w.Minute, 0, 0, loc),
		Start: time.Date(y, m, d-7, 0, 0, 0, 0, loc),
		End:   time.Date(y, m, d, 0, 0, 0, 0, loc),
	}
}

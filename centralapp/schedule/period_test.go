package schedule

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has

	"github.com/google/go-cmp/cmp"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPeriods(t *testing.T) {
	monday7 := Weekly{Weekday: time.Monday, Hour: 7}
	for _, c := range []struct {
		name  string
		w     Weekly
		zone  string
		now   string // UTC
		want  [3]string
		hours float64
	}{
		// Europe/London: clocks go forward on 29 March 2026 and back on
		// 25 October 2026; the run stays at 07:00 local.
		{"London, week before spring", monday7, "Europe/London", "2026-03-30 05:59",
			[3]string{"2026-03-23 07:00", "2026-03-16 00:00", "2026-03-23 00:00"}, 168},
		{"London, spring week", monday7, "Europe/London", "2026-03-30 06:00",
			[3]string{"2026-03-30 06:00", "2026-03-23 00:00", "2026-03-29 23:00"}, 167},
		{"London, summer", monday7, "Europe/London", "2026-07-13 12:00",
			[3]string{"2026-07-13 06:00", "2026-07-05 23:00", "2026-07-12 23:00"}, 168},
		{"London, autumn week", monday7, "Europe/London", "2026-10-26 07:00",
			[3]string{"2026-10-26 07:00", "2026-10-18 23:00", "2026-10-26 00:00"}, 169},
		{"New York, spring week", monday7, "America/New_York", "2026-03-09 12:00",
			[3]string{"2026-03-09 11:00", "2026-03-02 05:00", "2026-03-09 04:00"}, 167},
		{"Tokyo", monday7, "Asia/Tokyo", "2026-11-16 00:00",
			[3]string{"2026-11-15 22:00", "2026-11-08 15:00", "2026-11-15 15:00"}, 168},
		{"Auckland, spring week", monday7, "Pacific/Auckland", "2026-09-28 00:00",
			[3]string{"2026-09-27 18:00", "2026-09-20 12:00", "2026-09-27 11:00"}, 167},
		// Lord Howe moves its clocks by half an hour.
		{"Lord Howe, autumn week", monday7, "Australia/Lord_Howe", "2026-04-06 00:00",
			[3]string{"2026-04-05 20:30", "2026-03-29 13:00", "2026-04-05 13:30"}, 168.5},
		{"Sunday late, UTC", Weekly{Weekday: time.Sunday, Hour: 23, Minute: 30}, "UTC", "2026-11-15 23:29",
			[3]string{"2026-11-08 23:30", "2026-11-01 00:00", "2026-11-08 00:00"}, 168},
		// 01:30 is skipped on 29 March in London: it runs at 02:30 BST.
		{"skipped due time", Weekly{Weekday: time.Sunday, Hour: 1, Minute: 30}, "Europe/London", "2026-03-29 01:30",
			[3]string{"2026-03-29 01:30", "2026-03-22 00:00", "2026-03-29 00:00"}, 168},
		{"before the skipped due time", Weekly{Weekday: time.Sunday, Hour: 1, Minute: 30}, "Europe/London", "2026-03-29 01:29",
			[3]string{"2026-03-22 01:30", "2026-03-15 00:00", "2026-03-22 00:00"}, 168},
		// 01:30 comes twice on 25 October: it runs at the second, GMT.
		{"repeated due time", Weekly{Weekday: time.Sunday, Hour: 1, Minute: 30}, "Europe/London", "2026-10-25 01:30",
			[3]string{"2026-10-25 01:30", "2026-10-17 23:00", "2026-10-24 23:00"}, 168},
	} {
		t.Run(c.name, func(t *testing.T) {
			loc, err := time.LoadLocation(c.zone)
			if err != nil {
				t.Fatal(err)
			}
			p := c.w.Last(utc(c.now), loc)
			got := [3]string{p.Due.UTC().Format("2006-01-02 15:04"), p.Start.UTC().Format("2006-01-02 15:04"),
				p.End.UTC().Format("2006-01-02 15:04")}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("due, start, end (-want +got):\n%s", diff)
			}
			if h := p.End.Sub(p.Start).Hours(); h != c.hours {
				t.Errorf("period of %v hours, want %v", h, c.hours)
			}
			// The next run is the first after now, and the one after it
			// is last once its time has come.
			n := c.w.Next(utc(c.now), loc)
			if !n.Due.After(utc(c.now)) || !n.Start.Equal(p.End) {
				t.Errorf("next %+v after last %+v", n, p)
			}
			if got := c.w.Last(n.Due, loc); got != n {
				t.Errorf("last at the next due time: %+v, want %+v", got, n)
			}
			if got := c.w.Last(n.Due.Add(-time.Nanosecond), loc); got != p {
				t.Errorf("last just before the next due time: %+v, want %+v", got, p)
			}
		})
	}
}

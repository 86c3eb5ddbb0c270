package schedule_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/schedule"
	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/sqlite"
)

// BenchmarkTickIdle is the hourly pass when every report is made: 1,000
// members with a year of weekly reports each, nothing due.
func BenchmarkTickIdle(b *testing.B) {
	st, err := sqlite.Open(b.Context(), sqlite.Options{Path: filepath.Join(b.TempDir(), "central.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := b.Context()
	now := utc("2026-11-18 12:00")
	gen := func(context.Context, string, time.Time, time.Time) (store.Report, error) {
		return store.Report{HTML: []byte("<p>r</p>")}, nil
	}
	clk := newClock(now.AddDate(-1, 0, 0))
	s, err := schedule.New(st, gen, schedule.Config{Members: schedule.Weekly{Weekday: time.Monday, Hour: 7}},
		schedule.Options{Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := st.AddMember(ctx, store.Member{ID: fmt.Sprintf("m%04d", i), Name: "M", TimeZone: "Europe/London",
			Created: utc("2025-01-01 00:00")}); err != nil {
			b.Fatal(err)
		}
	}
	for w := range 53 {
		clk.set(now.AddDate(0, 0, 7*(w-52)))
		if _, err := s.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Tick(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

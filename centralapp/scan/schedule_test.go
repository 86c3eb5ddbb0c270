package scan

import (
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	port := startBanner(t, "SSH-2.0-OpenSSH_9.9\r\n")
	clock := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	e := newEnv(t, []uint16{port}, func(o *Options) { o.Now = func() time.Time { return clock } })
	e.addDomain(t, member, "www.member.test")
	if err := e.scan.SetSchedule(t.Context(), member, time.Minute, "alice"); err == nil {
		t.Error("a schedule every minute was accepted")
	}
	if err := e.scan.SetSchedule(t.Context(), member, 24*time.Hour, "alice"); err != nil {
		t.Fatal(err)
	}
	runs := func() int {
		rs, err := e.store.Runs(t.Context(), member, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	for _, step := range []struct {
		at   time.Duration
		want int
	}{{0, 1}, {time.Hour, 1}, {24 * time.Hour, 2}, {25 * time.Hour, 2}, {10 * 24 * time.Hour, 3}, {10*24*time.Hour + time.Hour, 3}} {
		clock = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC).Add(step.at)
		if err := e.scan.RunDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := runs(); got != step.want {
			t.Fatalf("at +%s: %d runs, want %d", step.at, got, step.want)
		}
	}
	rs, _ := e.store.Runs(t.Context(), member, 1)
	if rs[0].By != "schedule" || rs[0].Status != StatusDone {
		t.Errorf("scheduled run %+v", rs[0])
	}
}

package scan

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SetSchedule scans member every interval from now on, the first scan at
// the next tick.
func (s *Scanner) SetSchedule(ctx context.Context, member string, every time.Duration, by string) error {
	if every < time.Hour {
		return fmt.Errorf("a schedule of %s is too frequent: at least an hour between scans", every)
	}
	now := s.now()
	return s.o.Store.SetSchedule(ctx, Schedule{MemberID: member, Every: every, Next: now, By: by, Updated: now})
}

// RunDue runs the scans whose time has come, one member after another,
// and moves each schedule on. A scan refused for want of proof still
// moves its schedule on: the member is told in its report and its audit
// log, and is not probed again until the next turn.
func (s *Scanner) RunDue(ctx context.Context) error {
	scheds, err := s.o.Store.Schedules(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, sc := range scheds {
		now := s.now()
		if sc.Next.After(now) {
			continue
		}
		if err := s.killed(ctx); err != nil {
			return err
		}
		res, err := s.Run(ctx, sc.MemberID, "schedule")
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, ErrNotProven) {
			errs = append(errs, fmt.Errorf("scan of %s: %w", sc.MemberID, err))
		} else {
			s.o.Log.Info("scheduled scan", "member", sc.MemberID, "run", res.Run.ID, "status", res.Run.Status, "findings", len(res.Findings))
		}
		// The next turn counts from the scheduled time, so scans keep to
		// their slot; a long outage does not queue up missed turns.
		next := sc.Next.Add(sc.Every)
		if !next.After(now) {
			next = now.Add(sc.Every)
		}
		sc.Next, sc.Updated = next, s.now()
		if err := s.o.Store.SetSchedule(ctx, sc); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Schedule runs due scans every tick until ctx ends.
func (s *Scanner) Schedule(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.o.Log.Error("scheduled scans", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

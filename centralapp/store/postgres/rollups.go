package postgres

import (
	"context"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rollup is one hour of a member's detections of one rule from one
// source, by last seen: what reports and the dashboard chart, without
// reading the detections.
type Rollup struct {
	Hour       time.Time
	MemberID   string
	RuleID     string
	Source     netip.Addr // invalid for detections about no one source
	Detections int64      // stored detections
	Count      int64      // the sum of their counts
	FirstSeen  time.Time
	LastSeen   time.Time
}

// RollupFilter selects rollups. Zero fields do not filter.
type RollupFilter struct {
	MemberID string
	RuleID   string
	Since    time.Time // hours at or after
	Until    time.Time // hours before
}

// Rollups returns the hourly rollups that match f, ordered by hour,
// member, rule and source.
func (s *Store) Rollups(ctx context.Context, f RollupFilter) (out []Rollup, err error) {
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	w.timeWindow("hour", f.Since, f.Until)
	q := `SELECT hour, member_id, rule_id, source_ip, detections, count, first_seen, last_seen FROM detection_rollups` +
		w.String() + " ORDER BY hour, member_id, rule_id, source_ip NULLS FIRST"
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		out, err = collect(rows, err, func(r pgx.Row) (Rollup, error) {
			var x Rollup
			err := r.Scan(ts(&x.Hour), &x.MemberID, &x.RuleID, &x.Source, &x.Detections, &x.Count, ts(&x.FirstSeen),
				ts(&x.LastSeen))
			x.Source = x.Source.Unmap()
			return x, err
		})
		return err
	})
	return out, s.wrap("rollups", err)
}

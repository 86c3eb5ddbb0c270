package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Rollups implements store.Store. Ingest keeps them in the batch's
// transaction (rollUp) and retention takes out what it deletes (unroll),
// so a read is one snapshot of rollups and detections alike.
func (s *Store) Rollups(ctx context.Context, f store.RollupFilter) (out []store.Rollup, err error) {
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
		out, err = collect(rows, err, func(r pgx.Row) (store.Rollup, error) {
			var x store.Rollup
			err := r.Scan(ts(&x.Hour), &x.MemberID, &x.RuleID, &x.Source, &x.Detections, &x.Count, ts(&x.FirstSeen),
				ts(&x.LastSeen))
			x.Source = x.Source.Unmap()
			return x, err
		})
		return err
	})
	return out, s.wrap("rollups", err)
}

// gone is what retention deleted of one rollup's detections.
type gone struct {
	hour                time.Time
	member, rule        string
	source              netip.Addr // invalid for no one source
	detections, count   int64
	firstSeen, lastSeen time.Time
}

// goneSQL groups deleted detections, read from the CTE or table named
// gone, by rollup.
const goneSQL = `SELECT date_trunc('hour', last_seen, 'UTC'), member_id, rule_id, source_ip, count(*),
	sum(count)::bigint, min(first_seen), max(last_seen) FROM gone GROUP BY 1, 2, 3, 4`

func scanGone(rows pgx.Rows, err error) ([]gone, error) {
	return collect(rows, err, func(r pgx.Row) (gone, error) {
		var g gone
		err := r.Scan(ts(&g.hour), &g.member, &g.rule, &g.source, &g.detections, &g.count, ts(&g.firstSeen),
			ts(&g.lastSeen))
		g.source = g.source.Unmap()
		return g, err
	})
}

// unroll takes deleted detections out of their rollups in tx: a rollup
// left with none goes, and one whose first or last seen came from a
// deleted detection gets them again from the detections that stay (tx
// deleted the others already). So a rollup goes exactly when its hour,
// member, rule and source have no detection left. The rows are locked in
// key order first, the order ingest's rollUp locks them in, so the two
// never deadlock.
func unroll(ctx context.Context, tx pgx.Tx, gs []gone) error {
	if len(gs) == 0 {
		return nil
	}
	n := len(gs)
	hours, members, rules, sources := make([]time.Time, n), make([]string, n), make([]string, n), make([]netip.Addr, n)
	dets, counts := make([]int64, n), make([]int64, n)
	firsts, lasts := make([]time.Time, n), make([]time.Time, n)
	for i, g := range gs {
		hours[i], members[i], rules[i], sources[i] = g.hour, g.member, g.rule, addr(g.source)
		dets[i], counts[i], firsts[i], lasts[i] = g.detections, g.count, g.firstSeen, g.lastSeen
	}
	args := []any{hours, members, rules, sources, dets, counts, firsts, lasts}
	const u = `unnest($1::timestamptz[], $2::text[], $3::text[], $4::inet[], $5::bigint[], $6::bigint[],
		$7::timestamptz[], $8::timestamptz[]) AS u (hour, member, rule, source, n, c, f, l)`
	const match = `r.hour = u.hour AND r.member_id = u.member AND r.rule_id = u.rule
		AND r.source_ip IS NOT DISTINCT FROM u.source`
	if _, err := tx.Exec(ctx, `SELECT 1 FROM detection_rollups r JOIN `+u+` ON `+match+`
		ORDER BY r.hour, r.member_id, r.rule_id, r.source_ip NULLS FIRST FOR UPDATE OF r`, args...); err != nil {
		return fmt.Errorf("unroll: %w", err)
	}
	rows, err := tx.Query(ctx, `UPDATE detection_rollups r SET detections = r.detections - u.n, count = r.count - u.c
		FROM `+u+` WHERE `+match+`
		RETURNING r.hour, r.member_id, r.rule_id, r.source_ip, r.detections, u.f <= r.first_seen OR u.l >= r.last_seen`,
		args...)
	type left struct {
		hour         time.Time
		member, rule string
		source       netip.Addr
		detections   int64
		stale        bool
	}
	ls, err := collect(rows, err, func(r pgx.Row) (left, error) {
		var l left
		err := r.Scan(&l.hour, &l.member, &l.rule, &l.source, &l.detections, &l.stale)
		return l, err
	})
	if err != nil {
		return fmt.Errorf("unroll: %w", err)
	}
	if len(ls) != len(gs) {
		return fmt.Errorf("unroll: %d of %d rollups of deleted detections found", len(ls), len(gs))
	}
	for _, l := range ls {
		var err error
		switch {
		case l.detections == 0:
			_, err = tx.Exec(ctx, `DELETE FROM detection_rollups WHERE hour = $1 AND member_id = $2 AND rule_id = $3
				AND source_ip IS NOT DISTINCT FROM $4`, l.hour, l.member, l.rule, l.source)
		case l.stale:
			_, err = tx.Exec(ctx, `UPDATE detection_rollups r SET first_seen = d.f, last_seen = d.l
				FROM (SELECT min(first_seen) AS f, max(last_seen) AS l FROM detections WHERE member_id = $2
					AND last_seen >= $1 AND last_seen < $1 + interval '1 hour' AND rule_id = $3
					AND source_ip IS NOT DISTINCT FROM $4) d
				WHERE r.hour = $1 AND r.member_id = $2 AND r.rule_id = $3 AND r.source_ip IS NOT DISTINCT FROM $4`,
				l.hour, l.member, l.rule, l.source)
		}
		if err != nil {
			return fmt.Errorf("unroll: %w", err)
		}
	}
	return nil
}

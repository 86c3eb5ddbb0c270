package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Rollups are kept beside ingest, not in it: a per-row upsert in the
// ingest transaction would cost ingest several times what it saves
// readers. rollup_mark holds the highest detection id rolled up; a read
// first adds the detections above it, a chunk of ids per write
// transaction on the writer connection, so it queues with ingest instead of
// fighting it for the lock. Retention takes what it deletes out of the
// rollups in its own transaction (see unroll).

// rollupChunk bounds the detections one catch-up transaction groups: it
// reads their rows, some tens of milliseconds of the writer, about what a
// group commit of ingest holds it for, so ingest waits no longer.
const rollupChunk = 4096

// hourExpr is the UTC hour of last_seen, flooring for times before 1970
// too (% truncates towards zero).
const hourExpr = `(last_seen - ((last_seen % 3600000000000) + 3600000000000) % 3600000000000)`

// rollupSQL adds the detections with ids in (?, ?] to their rollups. The
// WHERE true tells SQLite's parser the ON of the upsert is not a join's.
const rollupSQL = `INSERT INTO detection_rollups (hour, member_id, rule_id, source_ip, detections, count, first_seen,
		last_seen)
	SELECT ` + hourExpr + `, member_id, rule_id, coalesce(source_ip, X''), count(*), sum(count), min(first_seen),
		max(last_seen)
	FROM detections WHERE id > ? AND id <= ? GROUP BY 1, 2, 3, 4
	ON CONFLICT DO UPDATE SET detections = detections + excluded.detections, count = count + excluded.count,
		first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen)`

// Rollups implements store.Store.
func (s *Store) Rollups(ctx context.Context, f store.RollupFilter) ([]store.Rollup, error) {
	if err := s.rollUp(ctx); err != nil {
		return nil, err
	}
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	if !f.Since.IsZero() {
		w.add("hour >= ?", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		w.add("hour < ?", f.Until.UnixNano())
	}
	q := `SELECT hour, member_id, rule_id, source_ip, detections, count, first_seen, last_seen FROM detection_rollups` +
		w.String() + " ORDER BY hour, member_id, rule_id, source_ip"
	rows, err := s.r.QueryContext(ctx, q, w.args...)
	if err != nil {
		return nil, s.wrap("rollups", err)
	}
	// A window holds many rollups of few members and rules: their ids are
	// read as raw bytes and shared, not copied per row.
	names := map[string]string{}
	name := func(b sql.RawBytes) string {
		if n, ok := names[string(b)]; ok {
			return n
		}
		n := string(b)
		names[n] = n
		return n
	}
	out, err := collect(rows, func(sc interface{ Scan(...any) error }) (store.Rollup, error) {
		var r store.Rollup
		var hour, first, last int64
		var member, rule, src sql.RawBytes
		if err := sc.Scan(&hour, &member, &rule, &src, &r.Detections, &r.Count, &first, &last); err != nil {
			return r, err
		}
		r.Hour, r.FirstSeen, r.LastSeen = time.Unix(0, hour).UTC(), fromTS(first), fromTS(last)
		r.MemberID, r.RuleID = name(member), name(rule)
		var err error
		r.Source, err = fromIP(src)
		return r, err
	})
	if err != nil {
		return nil, s.wrap("rollups", err)
	}
	// Addresses sort as 16-byte strings, which puts IPv6 addresses below
	// ::ffff:0:0 (::1, say) before IPv4; the contract is netip's order.
	cmpRollup := func(a, b store.Rollup) int {
		return cmp.Or(a.Hour.Compare(b.Hour), cmp.Compare(a.MemberID, b.MemberID), cmp.Compare(a.RuleID, b.RuleID),
			a.Source.Compare(b.Source))
	}
	if !slices.IsSortedFunc(out, cmpRollup) {
		slices.SortFunc(out, cmpRollup)
	}
	return out, nil
}

// rollUp brings the rollups up to the detections committed when it is
// called. It looks on a read connection first, so a read that finds
// nothing new takes no write lock.
func (s *Store) rollUp(ctx context.Context) error {
	var mark, top int64
	err := s.r.QueryRowContext(ctx, `SELECT (SELECT detection_id FROM rollup_mark),
		(SELECT coalesce(max(id), 0) FROM detections)`).Scan(&mark, &top)
	if err != nil {
		return s.wrap("rollups", err)
	}
	for mark < top {
		err := s.write(ctx, "rollups", func(tx *sql.Tx) error {
			// Another read may have rolled up meanwhile: the mark is
			// read again under the write lock.
			if err := tx.QueryRowContext(ctx, "SELECT detection_id FROM rollup_mark").Scan(&mark); err != nil {
				return err
			}
			if mark >= top {
				return nil
			}
			to := min(top, mark+rollupChunk)
			if _, err := tx.ExecContext(ctx, rollupSQL, mark, to); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE rollup_mark SET detection_id = ?", to); err != nil {
				return err
			}
			mark = to
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// unroll takes the detections with ids in [first, last], which the caller
// deletes next in tx, out of their rollups: those above the mark were
// never added. A rollup left with no detections goes; one whose first or
// last seen came from a deleted detection gets them again from the
// detections that stay. So a rollup goes exactly when its hour, member,
// rule and source have no detection left.
func unroll(ctx context.Context, tx *sql.Tx, first, last int64) error {
	var mark int64
	if err := tx.QueryRowContext(ctx, "SELECT detection_id FROM rollup_mark").Scan(&mark); err != nil {
		return err
	}
	last = min(last, mark)
	if first > last {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+hourExpr+`, member_id, rule_id, coalesce(source_ip, X''), count(*),
		sum(count), min(first_seen), max(last_seen) FROM detections WHERE id BETWEEN ? AND ? GROUP BY 1, 2, 3, 4`,
		first, last)
	if err != nil {
		return err
	}
	type group struct {
		hour                int64
		member, rule        string
		source              []byte
		n, count, fst, lst  int64
		left, rfirst, rlast int64
	}
	gs, err := collect(rows, func(sc interface{ Scan(...any) error }) (group, error) {
		var g group
		err := sc.Scan(&g.hour, &g.member, &g.rule, &g.source, &g.n, &g.count, &g.fst, &g.lst)
		return g, err
	})
	if err != nil {
		return err
	}
	for _, g := range gs {
		key := []any{g.hour, g.member, g.rule, g.source}
		err := tx.QueryRowContext(ctx, `UPDATE detection_rollups SET detections = detections - ?, count = count - ?
			WHERE hour = ? AND member_id = ? AND rule_id = ? AND source_ip = ?
			RETURNING detections, first_seen, last_seen`, append([]any{g.n, g.count}, key...)...).
			Scan(&g.left, &g.rfirst, &g.rlast)
		if err != nil {
			return fmt.Errorf("rollup of detections %d-%d: %w", first, last, err)
		}
		switch {
		case g.left == 0:
			_, err = tx.ExecContext(ctx, `DELETE FROM detection_rollups
				WHERE hour = ? AND member_id = ? AND rule_id = ? AND source_ip = ?`, key...)
		case g.fst <= g.rfirst || g.lst >= g.rlast:
			var src any
			if len(g.source) > 0 {
				src = g.source
			}
			_, err = tx.ExecContext(ctx, `UPDATE detection_rollups SET (first_seen, last_seen) = (
					SELECT min(first_seen), max(last_seen) FROM detections
					WHERE member_id = ?1 AND last_seen >= ?2 AND last_seen < ?2 + 3600000000000 AND rule_id = ?3
						AND source_ip IS ?4 AND id <= ?5 AND id NOT BETWEEN ?6 AND ?7)
				WHERE hour = ?2 AND member_id = ?1 AND rule_id = ?3 AND source_ip = ?8`,
				g.member, g.hour, g.rule, src, mark, first, last, g.source)
		}
		if err != nil {
			return fmt.Errorf("rollup of detections %d-%d: %w", first, last, err)
		}
	}
	return nil
}

package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/internal/intern"
)

// Rollups are kept beside ingest, not in it: a per-row upsert in the
// ingest transaction would cost ingest several times what it saves
// readers. rollup_mark holds the highest detection id rolled up; a read
// first adds the detections above it, a chunk of ids per write
// transaction on the writer connection, so it queues with ingest instead of
// fighting it for the lock. Retention takes what it deletes out of the
// rollups in its own transaction (see unroll).
//
// Detections are grouped in Go, not in SQL: part of the key is in the
// sample event, which store.SampleOf decodes as reports do (json_extract
// would differ on keys in another case and on repeated keys), and the
// related addresses are a sorted union no SQL aggregate makes.

// rollupChunk bounds the detections one catch-up transaction groups: it
// reads and decodes their rows, some tens of milliseconds of the writer,
// about what a group commit of ingest holds it for, so ingest waits no
// longer.
const rollupChunk = 4096

const rollupColumns = `hour, member_id, rule_id, source_ip, rule_name, techniques, destination_port, event_type,
	event_category, signature, outbound, target, detections, count, severity, first_seen, last_seen, first_id, related`

// rollupColumnNames name rollupColumns' values in errors.
var rollupColumnNames = strings.Fields(strings.ReplaceAll(rollupColumns, ",", " "))

// rollupKeyWhere matches one rollup by its key: keyArgs.
const rollupKeyWhere = `hour = ? AND member_id = ? AND rule_id = ? AND source_ip = coalesce(?, X'') AND rule_name = ?
	AND techniques = ? AND destination_port = ? AND event_type = ? AND event_category = ? AND signature = ?
	AND outbound = ? AND target = ?`

func keyArgs(r *store.Rollup) []any {
	return []any{r.Hour.UnixNano(), r.MemberID, r.RuleID, ip(r.Source), r.RuleName, strings.Join(r.Techniques, ","),
		int64(r.DestinationPort), r.EventType, r.EventCategory, r.Signature, r.Outbound, r.Target}
}

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
	// A window may hold hundreds of thousands of rollups: counted first,
	// they are read into a slice of their size, not one that append grows
	// and copies over and over.
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM detection_rollups`+w.String(), w.args...).Scan(&n); err != nil {
		return nil, s.wrap("rollups", err)
	}
	out := make([]store.Rollup, 0, n)
	// They are of few members, rules and sample fields: their texts are
	// shared, not kept per row.
	names, techs := intern.Strings{}, intern.Lists{}
	name := names.Of
	q := `SELECT ` + rollupColumns + ` FROM detection_rollups` + w.String() + " ORDER BY hour, member_id, rule_id, source_ip"
	err := s.queryRows(ctx, q, w.args, len(rollupColumnNames), func(vs []driver.Value) error {
		rr := rowReader{vs: vs, names: rollupColumnNames}
		var r store.Rollup
		r.Hour = time.Unix(0, rr.int()).UTC()
		r.MemberID, r.RuleID, r.Source, r.RuleName = name(rr.text()), name(rr.text()), rr.addr(), name(rr.text())
		r.Techniques = slices.Clone(techs.Of(rr.text()))
		r.DestinationPort = uint16(rr.int())
		r.EventType, r.EventCategory, r.Signature = name(rr.text()), name(rr.text()), name(rr.text())
		r.Outbound, r.Target = rr.int() != 0, name(rr.text())
		r.Detections, r.Count, r.Severity = rr.int(), rr.int(), int(rr.int())
		r.FirstSeen, r.LastSeen, r.FirstID, r.Related = rr.time(), rr.time(), rr.int(), rr.addrs()
		out = append(out, r)
		return rr.err
	})
	if err != nil {
		return nil, s.wrap("rollups", err)
	}
	// Addresses sort as 16-byte strings, which puts IPv6 addresses below
	// ::ffff:0:0 (::1, say) before IPv4, and the rest of the key is not
	// in the ORDER BY: the contract is store.CompareRollups.
	cmpRollup := func(a, b store.Rollup) int { return store.CompareRollups(&a, &b) }
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
			g, err := groupDetections(ctx, tx, "id > ? AND id <= ?", mark, to)
			if err != nil {
				return err
			}
			if err := addRollups(ctx, tx, g.Sorted()); err != nil {
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

// groupDetections groups the detections that match cond into rollups.
func groupDetections(ctx context.Context, tx *sql.Tx, cond string, args ...any) (*store.RollupSet, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+detectionColumns+` FROM detections WHERE `+cond, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	g := &store.RollupSet{}
	vals := make([]any, len(detectionColumnNames))
	ptrs := make([]any, len(vals))
	dvs := make([]driver.Value, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			dvs[i] = v
		}
		var d store.Detection
		if err := scanDetection(&d, dvs); err != nil {
			return nil, err
		}
		g.Add(&d, store.SampleOf(d.Raw))
	}
	return g, rows.Err()
}

// addRollups adds rs, in key order, to the stored rollups. The related
// addresses are merged here: SQLite has no aggregate for a sorted union.
func addRollups(ctx context.Context, tx *sql.Tx, rs []store.Rollup) error {
	if len(rs) == 0 {
		return nil
	}
	related, err := tx.PrepareContext(ctx, `SELECT related FROM detection_rollups WHERE `+rollupKeyWhere)
	if err != nil {
		return err
	}
	defer related.Close()
	upsert, err := tx.PrepareContext(ctx, `INSERT INTO detection_rollups (`+rollupColumns+`)
		VALUES (?, ?, ?, coalesce(?, X''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, coalesce(?, X''))
		ON CONFLICT DO UPDATE SET detections = detections + excluded.detections, count = count + excluded.count,
			severity = max(severity, excluded.severity), first_seen = min(first_seen, excluded.first_seen),
			last_seen = max(last_seen, excluded.last_seen), first_id = min(first_id, excluded.first_id),
			related = iif(excluded.related = X'', related, excluded.related)`)
	if err != nil {
		return err
	}
	defer upsert.Close()
	for i := range rs {
		r := &rs[i]
		key := keyArgs(r)
		if len(r.Related) > 0 {
			var have []byte
			switch err := related.QueryRowContext(ctx, key...).Scan(&have); err {
			case nil:
				as, err := fromIPs(have)
				if err != nil {
					return fmt.Errorf("rollup related: %w", err)
				}
				r.Related = store.UnionAddrs(as, r.Related)
			case sql.ErrNoRows:
			default:
				return err
			}
		}
		args := append(key, r.Detections, r.Count, r.Severity, ts(r.FirstSeen), ts(r.LastSeen), r.FirstID, ips(r.Related))
		if _, err := upsert.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// unroll takes the detections with ids in [first, last], which the caller
// deletes next in tx, out of their rollups: those above the mark were
// never added. A rollup left with no detections goes. One with some left
// is made again from them: the highest severity, first and last seen, the
// lowest id and the related addresses cannot be taken back by subtraction.
// So the rollups stay a grouping of the detections that remain.
func unroll(ctx context.Context, tx *sql.Tx, first, last int64) error {
	var mark int64
	if err := tx.QueryRowContext(ctx, "SELECT detection_id FROM rollup_mark").Scan(&mark); err != nil {
		return err
	}
	last = min(last, mark)
	if first > last {
		return nil
	}
	gone, err := groupDetections(ctx, tx, "id BETWEEN ? AND ?", first, last)
	if err != nil {
		return err
	}
	// Rollups with detections left, by the hour, member, rule and source
	// whose detections remake them.
	type coarse struct {
		hour         time.Time
		member, rule string
		source       netip.Addr
	}
	stale := map[coarse][]store.RollupKey{}
	var order []coarse
	for _, g := range gone.Sorted() {
		key := keyArgs(&g)
		var left int64
		err := tx.QueryRowContext(ctx, `UPDATE detection_rollups SET detections = detections - ?, count = count - ?
			WHERE `+rollupKeyWhere+` RETURNING detections`, append([]any{g.Detections, g.Count}, key...)...).Scan(&left)
		if err != nil {
			return fmt.Errorf("rollup of detections %d-%d: %w", first, last, err)
		}
		if left == 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM detection_rollups WHERE `+rollupKeyWhere, key...); err != nil {
				return fmt.Errorf("rollup of detections %d-%d: %w", first, last, err)
			}
			continue
		}
		c := coarse{g.Hour, g.MemberID, g.RuleID, g.Source}
		if _, ok := stale[c]; !ok {
			order = append(order, c)
		}
		stale[c] = append(stale[c], g.Key())
	}
	for _, c := range order {
		rest, err := groupDetections(ctx, tx, `member_id = ? AND last_seen >= ? AND last_seen < ? AND rule_id = ?
			AND source_ip IS ? AND id <= ? AND id NOT BETWEEN ? AND ?`,
			c.member, c.hour.UnixNano(), c.hour.Add(time.Hour).UnixNano(), c.rule, ip(c.source), mark, first, last)
		if err != nil {
			return fmt.Errorf("rollup of detections %d-%d: %w", first, last, err)
		}
		for _, k := range stale[c] {
			r := rest.Get(k)
			if r == nil {
				return fmt.Errorf("rollup of detections %d-%d: rollup %+v has detections left but none match it", first, last, k)
			}
			args := append([]any{r.Detections, r.Count, r.Severity, ts(r.FirstSeen), ts(r.LastSeen), r.FirstID,
				ips(r.Related)}, keyArgs(r)...)
			_, err := tx.ExecContext(ctx, `UPDATE detection_rollups SET detections = ?, count = ?, severity = ?,
				first_seen = ?, last_seen = ?, first_id = ?, related = coalesce(?, X'') WHERE `+rollupKeyWhere, args...)
			if err != nil {
				return fmt.Errorf("rollup of detections %d-%d: %w", first, last, err)
			}
		}
	}
	return nil
}

package postgres

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// Rollups implements store.Store. Ingest keeps them in the batch's
// transaction (rollupStatement) and retention takes out what it deletes
// (unroll), so a read is one snapshot of rollups and detections alike.
func (s *Store) Rollups(ctx context.Context, f store.RollupFilter) (out []store.Rollup, err error) {
	var w where
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if f.RuleID != "" {
		w.add("rule_id = ?", f.RuleID)
	}
	w.timeWindow("hour", f.Since, f.Until)
	q := `SELECT ` + rollupColumns + ` FROM detection_rollups` + w.String() + " ORDER BY " + rollupOrder
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		out, err = collect(rows, err, scanRollup)
		return err
	})
	// The ORDER BY is the contract's order; this only checks it.
	if cmpRollup := func(a, b store.Rollup) int { return store.CompareRollups(&a, &b) }; !slices.IsSortedFunc(out, cmpRollup) {
		slices.SortFunc(out, cmpRollup)
	}
	return out, s.wrap("rollups", err)
}

const rollupColumns = `hour, member_id, rule_id, source_ip, rule_name, techniques, destination_port, event_type,
	event_category, signature, outbound, target, detections, count, severity, first_seen, last_seen, first_id, related`

// rollupOrder is store.CompareRollups: the text columns are COLLATE "C",
// and inet orders as netip.Addr does. Ingest and retention lock rollups in
// this order, so the two never deadlock.
const rollupOrder = `hour, member_id, rule_id, source_ip NULLS FIRST, rule_name, techniques, destination_port, event_type,
	event_category, signature, outbound, target`

// rollupArrays are rollups as one array a column, for unnest.
type rollupArrays struct {
	hours, firsts, lasts                                     []time.Time
	members, rules, names, techs, types, cats, sigs, targets []string
	sources                                                  []netip.Addr
	ports                                                    []int32
	outbound                                                 []bool
	dets, counts, firstIDs                                   []int64
	severities                                               []int16
	related                                                  []string // comma-joined
}

func arrays(rs []store.Rollup) *rollupArrays {
	a := &rollupArrays{}
	for i := range rs {
		r := &rs[i]
		a.hours, a.members, a.rules = append(a.hours, r.Hour), append(a.members, r.MemberID), append(a.rules, r.RuleID)
		a.sources, a.names = append(a.sources, addr(r.Source)), append(a.names, r.RuleName)
		a.techs, a.ports = append(a.techs, strings.Join(r.Techniques, ",")), append(a.ports, int32(r.DestinationPort))
		a.types, a.cats, a.sigs = append(a.types, r.EventType), append(a.cats, r.EventCategory), append(a.sigs, r.Signature)
		a.outbound, a.targets = append(a.outbound, r.Outbound), append(a.targets, r.Target)
		a.dets, a.counts, a.severities = append(a.dets, r.Detections), append(a.counts, r.Count), append(a.severities, int16(r.Severity))
		a.firsts, a.lasts, a.firstIDs = append(a.firsts, r.FirstSeen), append(a.lasts, r.LastSeen), append(a.firstIDs, r.FirstID)
		rel := make([]string, len(r.Related))
		for j, x := range r.Related {
			rel[j] = x.String()
		}
		a.related = append(a.related, strings.Join(rel, ","))
	}
	return a
}

// keys and values are the arguments of rollupUnnest.
func (a *rollupArrays) args() []any {
	return []any{a.hours, a.members, a.rules, a.sources, a.names, a.techs, a.ports, a.types, a.cats, a.sigs, a.outbound,
		a.targets, a.dets, a.counts, a.severities, a.firsts, a.lasts, a.firstIDs, a.related}
}

// rollupUnnest reads rollupArrays.args from $1 on as a table u.
const rollupUnnest = `unnest($1::timestamptz[], $2::text[], $3::text[], $4::inet[], $5::text[], $6::text[],
	$7::integer[], $8::text[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::bigint[], $14::bigint[],
	$15::smallint[], $16::timestamptz[], $17::timestamptz[], $18::bigint[], $19::text[])
	AS u (hour, member, rule, source, name, techs, port, type, cat, sig, outbound, target, n, c, sev, f, l, id, rel)`

// rollupMatch is a stored rollup r with u's key.
const rollupMatch = `r.hour = u.hour AND r.member_id = u.member AND r.rule_id = u.rule
	AND r.source_ip IS NOT DISTINCT FROM u.source AND r.rule_name = u.name AND r.techniques = u.techs
	AND r.destination_port = u.port AND r.event_type = u.type AND r.event_category = u.cat AND r.signature = u.sig
	AND r.outbound = u.outbound AND r.target = u.target`

// relatedOf is u.rel, comma-joined addresses, as inet[].
const relatedOf = `CASE WHEN u.rel = '' THEN '{}'::inet[] ELSE string_to_array(u.rel, ',')::inet[] END`

// goneSQL reads deleted detections from the CTE or table named gone, for
// scanGone.
const goneSQL = `SELECT id, member_id, collector_id, batch_id, rule_id, rule_name, severity, techniques, source_ip,
	destination_ip, coalesce(destination_port, 0), related_ips, distinct_sources, count, first_seen, last_seen, received,
	raw FROM gone`

// scanGone groups deleted detections into the rollups to take out.
func scanGone(rows pgx.Rows, err error) ([]store.Rollup, error) {
	return groupRows(rows, err)
}

// groupRows groups detections read as detectionSelect reads them.
func groupRows(rows pgx.Rows, err error) ([]store.Rollup, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var g store.RollupSet
	for rows.Next() {
		d, err := scanDetection(rows)
		if err != nil {
			return nil, err
		}
		g.Add(&d, store.SampleOf(d.Raw))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return g.Sorted(), nil
}

// unroll takes deleted detections, grouped into gs, out of their rollups
// in tx: a rollup left with none goes, and one with some left is made
// again from them (tx deleted the others already): the highest severity,
// first and last seen, lowest id and related addresses cannot be taken
// back by subtraction. So the rollups stay a grouping of the detections.
// The rows are locked in rollupOrder first, the order ingest's
// rollupStatement locks them in, so the two never deadlock.
func unroll(ctx context.Context, tx pgx.Tx, gs []store.Rollup) error {
	if len(gs) == 0 {
		return nil
	}
	args := arrays(gs).args()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM detection_rollups r JOIN `+rollupUnnest+` ON `+rollupMatch+`
		ORDER BY `+prefixed("r.", rollupOrder)+` FOR UPDATE OF r`, args...); err != nil {
		return fmt.Errorf("unroll: %w", err)
	}
	rows, err := tx.Query(ctx, `UPDATE detection_rollups r SET detections = r.detections - u.n, count = r.count - u.c
		FROM `+rollupUnnest+` WHERE `+rollupMatch+` RETURNING `+prefixed("r.", rollupColumns), args...)
	left, err := collect(rows, err, scanRollup)
	if err != nil {
		return fmt.Errorf("unroll: %w", err)
	}
	if len(left) != len(gs) {
		return fmt.Errorf("unroll: %d of %d rollups of deleted detections found", len(left), len(gs))
	}
	slices.SortFunc(left, func(a, b store.Rollup) int { return store.CompareRollups(&a, &b) })
	var gone, remade []store.Rollup
	type coarse struct {
		hour         time.Time
		member, rule string
		source       netip.Addr
	}
	var stale []coarse
	for _, r := range left {
		if r.Detections == 0 {
			gone = append(gone, r)
			continue
		}
		if c := (coarse{r.Hour, r.MemberID, r.RuleID, r.Source}); len(stale) == 0 || stale[len(stale)-1] != c {
			stale = append(stale, c)
		}
	}
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM detection_rollups r USING `+rollupUnnest+` WHERE `+rollupMatch,
			arrays(gone).args()...); err != nil {
			return fmt.Errorf("unroll: %w", err)
		}
	}
	// The rest are made again from their hour, member, rule and source's
	// detections, of which only those with a rollup left are kept.
	want := map[store.RollupKey]bool{}
	for i := range left {
		if left[i].Detections > 0 {
			want[left[i].Key()] = true
		}
	}
	for _, c := range stale {
		rs, err := groupRows(tx.Query(ctx, detectionSelect+` WHERE member_id = $1 AND last_seen >= $2
			AND last_seen < $2 + interval '1 hour' AND rule_id = $3 AND source_ip IS NOT DISTINCT FROM $4`,
			c.member, c.hour, c.rule, addr(c.source)))
		if err != nil {
			return fmt.Errorf("unroll: %w", err)
		}
		for _, r := range rs {
			if want[r.Key()] {
				remade = append(remade, r)
				delete(want, r.Key())
			}
		}
	}
	if len(want) > 0 {
		return fmt.Errorf("unroll: %d rollups have detections left but none match them", len(want))
	}
	if len(remade) > 0 {
		_, err := tx.Exec(ctx, `UPDATE detection_rollups r SET detections = u.n, count = u.c, severity = u.sev,
			first_seen = u.f, last_seen = u.l, first_id = u.id, related = `+relatedOf+`
			FROM `+rollupUnnest+` WHERE `+rollupMatch, arrays(remade).args()...)
		if err != nil {
			return fmt.Errorf("unroll: %w", err)
		}
	}
	return nil
}

func scanRollup(r pgx.Row) (store.Rollup, error) {
	var x store.Rollup
	var techniques string
	var port int32
	var severity int16
	err := r.Scan(ts(&x.Hour), &x.MemberID, &x.RuleID, &x.Source, &x.RuleName, &techniques, &port, &x.EventType,
		&x.EventCategory, &x.Signature, &x.Outbound, &x.Target, &x.Detections, &x.Count, &severity,
		ts(&x.FirstSeen), ts(&x.LastSeen), &x.FirstID, &x.Related)
	x.Source, x.DestinationPort, x.Severity = x.Source.Unmap(), uint16(port), int(severity)
	if techniques != "" {
		x.Techniques = strings.Split(techniques, ",")
	}
	if len(x.Related) == 0 {
		x.Related = nil
	}
	for i, a := range x.Related {
		x.Related[i] = a.Unmap()
	}
	return x, err
}

// prefixed qualifies each of the comma-separated columns with p.
func prefixed(p, columns string) string {
	cs := strings.Split(columns, ",")
	for i, c := range cs {
		cs[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(cs, ", ")
}

package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/detect"
)

// ingestLockID is the advisory lock an ingest transaction holds from its
// first detection or summary id until it commits. Ids then rise in commit
// order, which keyset paging (id > last seen) needs: with ids taken in
// parallel, a transaction holding low ids could commit after a reader had
// paged past them, and the reader would never see its rows. What runs
// before the lock (the collector check, the dedupe insert) runs in
// parallel; the lock is taken before any row lock ingest can contend on
// (collector last seen, rollups, health), so no two ingests deadlock.
const ingestLockID = 0x63615f696e677374 // "ca_ingst"

var (
	detectionCols = []string{"member_id", "collector_id", "batch_id", "rule_id", "rule_name", "severity", "techniques",
		"source_ip", "destination_ip", "destination_port", "related_ips", "distinct_sources", "count", "first_seen",
		"last_seen", "received", "raw"}
	summaryCols = []string{"member_id", "collector_id", "minute", "source_ip", "destination_port", "transport",
		"event_type", "device", "dataset", "count", "destination", "received"}
)

// IngestBatch implements store.Store. Rows go in with COPY, and the
// detections' hourly rollups, the collector's last seen time and health in
// the same transaction, which concurrent calls share (see groupcommit.go).
func (s *Store) IngestBatch(ctx context.Context, b *store.Batch) (duplicate bool, err error) {
	op := "ingest batch " + b.CollectorID + "/" + b.ID
	b.LastDetectionID, b.LastSummaryID = 0, 0
	if err := validate(b); err != nil {
		return false, s.wrap(op, err)
	}
	var health []byte
	if b.Health != nil {
		if health, err = json.Marshal(b.Health); err != nil {
			return false, s.wrap(op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := s.ensureMonth(ctx, b.Received); err != nil {
			return false, s.wrap(op, err)
		}
		r := &ingestReq{ctx: ctx, b: b, health: health, done: make(chan struct{})}
		if err := s.submit(r); err != nil {
			return false, s.wrap(op, err)
		}
		if attempt == 0 && isNoPartition(r.err) {
			// Another node dropped a partition this store knew.
			s.forget(monthOf(b.Received))
			continue
		}
		if r.err == nil && !r.dup {
			b.LastDetectionID, b.LastSummaryID = r.lastDetection, r.lastSummary
		}
		return r.dup, s.wrap(op, r.err)
	}
}

// validate checks what the schema's constraints check, so a bad record is
// named by its place in the batch; the constraints stay as the backstop.
func validate(b *store.Batch) error {
	if b.ID == "" || b.CollectorID == "" || b.MemberID == "" || b.Received.IsZero() {
		return fmt.Errorf("%w: batch needs an id, collector, member and received time", store.ErrInvalid)
	}
	for i := range b.Detections {
		d := &b.Detections[i]
		bad := func(what string, args ...any) error {
			return fmt.Errorf("%w: detections[%d]: %s", store.ErrInvalid, i, fmt.Sprintf(what, args...))
		}
		switch {
		case d.MemberID != "" && d.MemberID != b.MemberID:
			return bad("member %q in a batch of %q", d.MemberID, b.MemberID)
		case d.RuleID == "" || d.RuleName == "":
			return bad("no rule id or name")
		case d.Severity < 1 || d.Severity > 100:
			return bad("severity %d is not in 1-100", d.Severity)
		case d.Count < 1:
			return bad("count %d is below 1", d.Count)
		case d.DistinctSources < 0:
			return bad("distinct sources %d is negative", d.DistinctSources)
		case d.FirstSeen.IsZero() || d.LastSeen.IsZero():
			return bad("first or last seen not set")
		case d.LastSeen.Before(d.FirstSeen):
			return bad("last seen before first seen")
		case len(d.Raw) == 0:
			return bad("no raw JSON")
		}
		for _, t := range d.Techniques {
			if t == "" {
				return bad("empty technique")
			}
		}
		for _, a := range d.Related {
			if !a.IsValid() {
				return bad("invalid related address")
			}
		}
	}
	for i := range b.Summaries {
		f := &b.Summaries[i]
		switch {
		case f.Minute.IsZero():
			return fmt.Errorf("%w: summaries[%d]: no minute", store.ErrInvalid, i)
		case !f.SourceIP.IsValid():
			return fmt.Errorf("%w: summaries[%d]: no source", store.ErrInvalid, i)
		case f.Count < 1:
			return fmt.Errorf("%w: summaries[%d]: count %d is below 1", store.ErrInvalid, i, f.Count)
		}
	}
	return nil
}

// claim checks b's collector and inserts b's batch row, the dedupe key,
// in one statement. A batch being claimed by another transaction blocks
// the insert until that one ends: then it is a duplicate, or, if that one
// rolled back, this one goes ahead.
func claim(ctx context.Context, tx pgx.Tx, b *store.Batch) (duplicate bool, err error) {
	return claimResult(tx.QueryRow(ctx, claimSQL, claimArgs(b)...), b)
}

const claimSQL = `WITH c AS (SELECT member_id, revoked IS NOT NULL AS revoked FROM collectors WHERE id = $1),
		ins AS (INSERT INTO batches (collector_id, batch_id, member_id, seq, created, received, detections, summaries)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM c WHERE c.member_id = $3 AND NOT c.revoked
			ON CONFLICT DO NOTHING RETURNING 1)
	SELECT c.member_id, c.revoked, EXISTS (SELECT FROM ins) FROM c`

func claimArgs(b *store.Batch) []any {
	return []any{b.CollectorID, b.ID, b.MemberID, int64(b.Seq), b.Created, b.Received, len(b.Detections),
		len(b.Summaries)}
}

func claimResult(row pgx.Row, b *store.Batch) (duplicate bool, err error) {
	var member string
	var revoked, inserted bool
	switch err := row.Scan(&member, &revoked, &inserted); {
	case err != nil:
		return false, notFound(err)
	case member != b.MemberID:
		return false, fmt.Errorf("%w: collector %s belongs to member %q, not %q", store.ErrInvalid, b.CollectorID,
			member, b.MemberID)
	case revoked:
		return false, store.ErrRevoked
	}
	return !inserted, nil
}

// writeRows stores the rows of b, claimed in tx, under the ingest lock,
// and returns the highest ids they took.
func writeRows(ctx context.Context, tx pgx.Tx, b *store.Batch, health []byte) (lastDetection, lastSummary int64, err error) {
	if err := copyDetections(ctx, tx, b); err != nil {
		return 0, 0, err
	}
	if err := copySummaries(ctx, tx, b); err != nil {
		return 0, 0, err
	}
	if lastDetection, lastSummary, err = lastIDs(ctx, tx, b); err != nil {
		return 0, 0, err
	}
	for _, st := range rowStatements(b, health, 0) {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return lastDetection, lastSummary, nil
}

// lastIDs returns the highest detection and summary ids the batch's rows
// took (0 for a table it has none in): the sequences' values in this
// session, which, under the ingest lock, no other session advances.
func lastIDs(ctx context.Context, tx pgx.Tx, b *store.Batch) (detection, summary int64, err error) {
	var q string
	switch {
	case len(b.Detections) > 0 && len(b.Summaries) > 0:
		q = "SELECT currval('detection_ids'), currval('summary_ids')"
	case len(b.Detections) > 0:
		q = "SELECT currval('detection_ids'), 0"
	case len(b.Summaries) > 0:
		q = "SELECT 0, currval('summary_ids')"
	default:
		return 0, 0, nil
	}
	if err := tx.QueryRow(ctx, q).Scan(&detection, &summary); err != nil {
		return 0, 0, fmt.Errorf("last ids: %w", err)
	}
	return detection, summary, nil
}

// copyDetections copies the detections of bs, in order, with one COPY.
func copyDetections(ctx context.Context, tx pgx.Tx, bs ...*store.Batch) error {
	detections := func(b *store.Batch) []store.Detection { return b.Detections }
	return copyRows(ctx, tx, "detections", detectionCols, bs, detections, func(row []any, b *store.Batch, d *store.Detection) {
		var port any
		if d.DestinationPort != 0 {
			port = int32(d.DestinationPort)
		}
		techniques := d.Techniques
		if techniques == nil {
			techniques = []string{}
		}
		var related []netip.Addr
		if len(d.Related) > 0 {
			related = make([]netip.Addr, len(d.Related))
			for j, a := range d.Related {
				related[j] = addr(a)
			}
		}
		row[0], row[1], row[2], row[3], row[4], row[5], row[6] = b.MemberID, b.CollectorID, b.ID, d.RuleID,
			d.RuleName, int16(d.Severity), techniques
		row[7], row[8], row[9], row[10], row[11], row[12] = addr(d.Source), addr(d.Destination), port, related,
			int32(d.DistinctSources), d.Count
		row[13], row[14], row[15], row[16] = d.FirstSeen, d.LastSeen, b.Received, []byte(d.Raw)
	})
}

// copySummaries copies the summaries of bs, in order, with one COPY.
func copySummaries(ctx context.Context, tx pgx.Tx, bs ...*store.Batch) error {
	summaries := func(b *store.Batch) []detect.FlowSummary { return b.Summaries }
	return copyRows(ctx, tx, "summaries", summaryCols, bs, summaries, func(row []any, b *store.Batch, f *detect.FlowSummary) {
		row[0], row[1], row[2], row[3], row[4], row[5] = b.MemberID, b.CollectorID, f.Minute, addr(f.SourceIP),
			int32(f.DestinationPort), f.Transport
		row[6], row[7], row[8], row[9], row[10], row[11] = f.EventType, f.Device, f.Dataset, f.Count, f.Destination,
			b.Received
	})
}

// copyRows copies the rows of bs that items lists, batch by batch in
// order, into table with one COPY; fill sets a row's values.
func copyRows[T any](ctx context.Context, tx pgx.Tx, table string, cols []string, bs []*store.Batch,
	items func(*store.Batch) []T, fill func(row []any, b *store.Batch, x *T)) error {
	n := 0
	for _, b := range bs {
		n += len(items(b))
	}
	if n == 0 {
		return nil
	}
	row := make([]any, len(cols))
	bi, i := 0, 0 // the next row is items(bs[bi])[i]
	_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(int) ([]any, error) {
		for i == len(items(bs[bi])) {
			bi, i = bi+1, 0
		}
		fill(row, bs[bi], &items(bs[bi])[i])
		i++
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("%s: %w", table, err)
	}
	return nil
}

// statement is one statement of a batch's ingest, which the writer runs
// alone or queues with others in one round trip.
type statement struct {
	what string // names it in errors
	sql  string
	args []any
}

// rowStatements are what a batch's ingest runs after its rows are in:
// rollups, the collector's last seen time, health. after is how many
// detections the same COPY wrote after b's.
func rowStatements(b *store.Batch, health []byte, after int) []statement {
	sts := make([]statement, 0, 4)
	if st, ok := rollupStatement(b, after); ok {
		sts = append(sts, st)
	}
	sts = append(sts, statement{"last seen", "UPDATE collectors SET last_seen = greatest(last_seen, $1) WHERE id = $2",
		[]any{b.Received, b.CollectorID}})
	return append(sts, healthStatements(b, health)...)
}

// rollupStatement adds the batch's detections to their hourly rollups:
// grouped here, then one upsert of a row per group, in key order. Their
// ids are not known yet: the COPY took them from the sequence, one after
// another, so a detection's is the sequence's value less the detections
// copied after it (after of them after b's). Grouping numbers them from 1
// in b instead, and the statement turns the least into an id.
func rollupStatement(b *store.Batch, after int) (statement, bool) {
	if len(b.Detections) == 0 {
		return statement{}, false
	}
	var g store.RollupSet
	n := len(b.Detections)
	for i := range b.Detections {
		d := b.Detections[i] // a copy, numbered
		d.MemberID, d.ID = b.MemberID, int64(i+1)
		g.Add(&d, store.SampleOf(d.Raw))
	}
	rs := g.Sorted()
	for i := range rs {
		rs[i].FirstID = int64(after+n) - rs[i].FirstID // how far below the sequence's value
	}
	return statement{"rollups", `INSERT INTO detection_rollups AS r (` + rollupColumns + `)
		SELECT u.hour, u.member, u.rule, u.source, u.name, u.techs, u.port, u.type, u.cat, u.sig, u.outbound, u.target,
			u.n, u.c, u.sev, u.f, u.l, currval('detection_ids') - u.id, ` + relatedOf + `
		FROM ` + rollupUnnest + `
		ON CONFLICT (hour, member_id, rule_id, source_ip, rule_name, techniques, destination_port, event_type,
			event_category, signature, outbound, target) DO UPDATE SET detections = r.detections + excluded.detections,
			count = r.count + excluded.count, severity = greatest(r.severity, excluded.severity),
			first_seen = least(r.first_seen, excluded.first_seen), last_seen = greatest(r.last_seen, excluded.last_seen),
			first_id = least(r.first_id, excluded.first_id),
			related = CASE WHEN cardinality(excluded.related) = 0 THEN r.related
				ELSE ARRAY(SELECT DISTINCT a FROM unnest(r.related || excluded.related) a ORDER BY a) END`,
		arrays(rs).args()}, true
}

// healthStatements keep the collector's newest health report and each
// device's latest time: batches may arrive out of order.
func healthStatements(b *store.Batch, health []byte) []statement {
	if b.Health == nil {
		return nil
	}
	sts := []statement{{"health", `INSERT INTO collector_health AS h (collector_id, time, health) VALUES ($1, $2, $3)
		ON CONFLICT (collector_id) DO UPDATE SET time = excluded.time, health = excluded.health
		WHERE excluded.time >= h.time`, []any{b.CollectorID, b.Health.Time, health}}}
	if len(b.Health.Devices) == 0 {
		return sts
	}
	// One row per device: an upsert may not touch a row twice.
	latest := make(map[string]int, len(b.Health.Devices))
	var devices, datasets []string
	var seen []time.Time
	for _, d := range b.Health.Devices {
		if i, ok := latest[d.Device]; ok {
			if !d.LastSeen.Before(seen[i]) {
				datasets[i], seen[i] = d.Dataset, d.LastSeen
			}
			continue
		}
		latest[d.Device] = len(devices)
		devices, datasets, seen = append(devices, d.Device), append(datasets, d.Dataset), append(seen, d.LastSeen)
	}
	return append(sts, statement{"device health", `INSERT INTO device_health AS h (collector_id, device, dataset, last_seen)
		SELECT $1, u.device, u.dataset, u.last_seen FROM unnest($2::text[], $3::text[], $4::timestamptz[])
			AS u (device, dataset, last_seen)
		ON CONFLICT (collector_id, device) DO UPDATE SET dataset = excluded.dataset, last_seen = excluded.last_seen
		WHERE excluded.last_seen >= h.last_seen`, []any{b.CollectorID, devices, datasets, seen}})
}

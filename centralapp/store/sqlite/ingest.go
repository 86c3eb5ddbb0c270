package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// rowsPerInsert is the number of rows in one multi-row INSERT: 64 rows of
// 17 columns stay far below SQLite's limit on bound parameters.
const rowsPerInsert = 64

var (
	detectionCols = []string{"member_id", "collector_id", "batch_id", "rule_id", "rule_name", "severity", "techniques",
		"source_ip", "destination_ip", "destination_port", "related_ips", "distinct_sources", "count", "first_seen",
		"last_seen", "received", "raw"}
	summaryCols = []string{"member_id", "collector_id", "minute", "source_ip", "destination_port", "transport",
		"event_type", "device", "dataset", "count", "destination", "received"}
)

func insertSQL(table string, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
	row := "(?" + strings.Repeat(", ?", len(cols)-1) + ")"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// IngestBatch implements store.Store.
func (s *Store) IngestBatch(ctx context.Context, b *store.Batch) (duplicate bool, err error) {
	if b.ID == "" || b.CollectorID == "" || b.MemberID == "" || b.Received.IsZero() {
		return false, s.wrap("ingest", fmt.Errorf("%w: batch needs an id, collector, member and received time", store.ErrInvalid))
	}
	var health []byte
	if b.Health != nil {
		if health, err = json.Marshal(b.Health); err != nil {
			return false, s.wrap("ingest", err)
		}
	}
	op := "ingest batch " + b.CollectorID + "/" + b.ID
	err = s.write(ctx, op, func(tx *sql.Tx) error {
		var member string
		var revoked sql.NullInt64
		err := tx.QueryRowContext(ctx, "SELECT member_id, revoked FROM collectors WHERE id = ?", b.CollectorID).
			Scan(&member, &revoked)
		switch {
		case err != nil:
			return notFound(err)
		case member != b.MemberID:
			return fmt.Errorf("%w: collector %s belongs to member %q, not %q", store.ErrInvalid, b.CollectorID, member, b.MemberID)
		case revoked.Valid:
			return store.ErrRevoked
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO batches (collector_id, batch_id, member_id, seq, created, received,
			detections, summaries) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			b.CollectorID, b.ID, b.MemberID, int64(b.Seq), ts(b.Created), ts(b.Received),
			len(b.Detections), len(b.Summaries))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			duplicate = true
			return nil
		}
		dets, err := s.insertDetections(ctx, tx, b)
		if err != nil {
			return err
		}
		sums, err := s.insertSummaries(ctx, tx, b)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET det_first = ?, det_last = ?, sum_first = ?, sum_last = ?
			WHERE collector_id = ? AND batch_id = ?`, dets.first, dets.last, sums.first, sums.last,
			b.CollectorID, b.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE collectors SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?",
			ts(b.Received), b.CollectorID); err != nil {
			return err
		}
		if b.Health == nil {
			return nil
		}
		// Batches may arrive out of order: keep the newest report, and
		// the latest time of each device.
		if _, err := tx.ExecContext(ctx, `INSERT INTO collector_health (collector_id, time, health) VALUES (?, ?, ?)
			ON CONFLICT (collector_id) DO UPDATE SET time = excluded.time, health = excluded.health
			WHERE excluded.time >= collector_health.time`, b.CollectorID, ts(b.Health.Time), health); err != nil {
			return err
		}
		for _, d := range b.Health.Devices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO device_health (collector_id, device, dataset, last_seen)
				VALUES (?, ?, ?, ?) ON CONFLICT (collector_id, device) DO UPDATE
				SET dataset = excluded.dataset, last_seen = excluded.last_seen
				WHERE excluded.last_seen >= device_health.last_seen`,
				b.CollectorID, d.Device, d.Dataset, ts(d.LastSeen)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if !duplicate {
		s.committed(rowBytes(b))
	}
	return duplicate, nil
}

// rowBytes estimates what b adds to the database, indexes included: the
// raw JSON dominates a detection, and the other columns and index entries
// of a detection or summary are about a hundred bytes each.
func rowBytes(b *store.Batch) int64 {
	n := int64(128 * (len(b.Detections) + len(b.Summaries)))
	for i := range b.Detections {
		n += int64(len(b.Detections[i].Raw))
	}
	return n
}

// idRange is the ids a batch's rows got; NULL when it has none. Within one
// write transaction SQLite gives consecutive ids.
type idRange struct{ first, last sql.NullInt64 }

// rowWriter sends rows in multi-row INSERTs of rowsPerInsert and the rest
// one by one, on statements of the transaction (closed with it). They run
// without the caller's context, since the driver would start a goroutine
// per statement to watch it; the context is checked between chunks.
type rowWriter struct {
	ctx        context.Context
	bg         context.Context
	one, many  *sql.Stmt
	cols       int
	args       []any
	rows, sent int
	what       string
	ids        idRange
}

func newRowWriter(ctx context.Context, tx *sql.Tx, one, many *sql.Stmt, cols int, what string) *rowWriter {
	bg := context.WithoutCancel(ctx)
	return &rowWriter{ctx: ctx, bg: bg, one: tx.StmtContext(bg, one), many: tx.StmtContext(bg, many), cols: cols,
		args: make([]any, 0, cols*rowsPerInsert), what: what}
}

func (w *rowWriter) add(vals ...any) error {
	w.args = append(w.args, vals...)
	w.rows++
	if w.rows < rowsPerInsert {
		return nil
	}
	err := w.exec(w.many, w.args, w.rows)
	clear(w.args)
	w.args, w.rows = w.args[:0], 0
	return err
}

// flush sends the rows left over, one by one, and returns the ids of all.
func (w *rowWriter) flush() (idRange, error) {
	for i := range w.rows {
		if err := w.exec(w.one, w.args[i*w.cols:(i+1)*w.cols], 1); err != nil {
			return idRange{}, err
		}
	}
	clear(w.args)
	w.args, w.rows = w.args[:0], 0
	return w.ids, nil
}

func (w *rowWriter) exec(st *sql.Stmt, args []any, rows int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	res, err := st.ExecContext(w.bg, args...)
	if err != nil {
		return fmt.Errorf("%s[%d:%d]: %w", w.what, w.sent, w.sent+rows, err)
	}
	last, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if !w.ids.first.Valid {
		w.ids.first = sql.NullInt64{Int64: last - int64(rows) + 1, Valid: true}
	}
	w.ids.last = sql.NullInt64{Int64: last, Valid: true}
	w.sent += rows
	return nil
}

func (s *Store) insertDetections(ctx context.Context, tx *sql.Tx, b *store.Batch) (idRange, error) {
	w := newRowWriter(ctx, tx, s.insDetection, s.insDetections, len(detectionCols), "detections")
	received := ts(b.Received)
	var sb strings.Builder
	for i := range b.Detections {
		d := &b.Detections[i]
		if d.MemberID != "" && d.MemberID != b.MemberID {
			return idRange{}, fmt.Errorf("%w: detections[%d]: member %q in a batch of %q", store.ErrInvalid, i, d.MemberID, b.MemberID)
		}
		for _, a := range d.Related {
			if !a.IsValid() {
				return idRange{}, fmt.Errorf("%w: detections[%d]: invalid related address", store.ErrInvalid, i)
			}
		}
		sb.Reset()
		for j, t := range d.Techniques {
			if t == "" || strings.IndexByte(t, ',') >= 0 {
				return idRange{}, fmt.Errorf("%w: detections[%d]: technique %q", store.ErrInvalid, i, t)
			}
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(t)
		}
		var port sql.NullInt64
		if d.DestinationPort != 0 {
			port = sql.NullInt64{Int64: int64(d.DestinationPort), Valid: true}
		}
		if err := w.add(b.MemberID, b.CollectorID, b.ID, d.RuleID, d.RuleName, d.Severity, sb.String(), ip(d.Source),
			ip(d.Destination), port, ips(d.Related), d.DistinctSources, d.Count, ts(d.FirstSeen), ts(d.LastSeen),
			received, []byte(d.Raw)); err != nil {
			return idRange{}, err
		}
	}
	return w.flush()
}

func (s *Store) insertSummaries(ctx context.Context, tx *sql.Tx, b *store.Batch) (idRange, error) {
	w := newRowWriter(ctx, tx, s.insSummary, s.insSummaries, len(summaryCols), "summaries")
	received := ts(b.Received)
	for i := range b.Summaries {
		f := &b.Summaries[i]
		if err := w.add(b.MemberID, b.CollectorID, ts(f.Minute), ip(f.SourceIP), int64(f.DestinationPort), f.Transport,
			f.EventType, f.Device, f.Dataset, f.Count, f.Destination, received); err != nil {
			return idRange{}, err
		}
	}
	return w.flush()
}

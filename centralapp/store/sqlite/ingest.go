package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/internal/groupcommit"
)

// rowsPerInsert is the number of rows in one multi-row INSERT: 64 rows of
// 13 parameters stay far below SQLite's limit on bound parameters.
const rowsPerInsert = 64

// A batch's rows share their member, collector, batch and received time:
// those columns are bound once per statement, as ?1 to ?k, and each row
// refers to them. Binding is a cgo call per value, so this saves a quarter
// of them.
var (
	detectionShared = []string{"member_id", "collector_id", "batch_id", "received"}
	detectionCols   = []string{"rule_id", "rule_name", "severity", "techniques", "source_ip", "destination_ip",
		"destination_port", "related_ips", "distinct_sources", "count", "first_seen", "last_seen", "raw"}
	summaryShared = []string{"member_id", "collector_id", "received"}
	summaryCols   = []string{"minute", "source_ip", "destination_port", "transport", "event_type", "device", "dataset",
		"count", "destination"}
)

// insertSQL is an INSERT of rows rows, the shared columns bound once as
// ?1 to ?len(shared), then each row's cols.
func insertSQL(table string, shared, cols []string, rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + strings.Join(shared, ", ") + ", " + strings.Join(cols, ", ") + ") VALUES ")
	var head strings.Builder
	for i := range shared {
		fmt.Fprintf(&head, "?%d, ", i+1)
	}
	n := len(shared)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(" + head.String())
		for j := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			n++
			fmt.Fprintf(&b, "?%d", n)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Group commit: concurrent IngestBatch calls are written by one goroutine,
// several batches to a transaction (see ingestGroup). A commit and its WAL
// append cost about as much as a hundred rows, so with many collectors
// sending at once most batches share one; and a commit writes each page it
// changed once, so the index pages that every batch touches are written
// once per group. The bounds keep a group to a few hundred milliseconds of
// the writer, a few batches of the largest size collectors send.
const (
	maxGroupBatches = 64
	maxGroupRows    = 32768
)

type ingestReq struct {
	ctx    context.Context
	b      *store.Batch
	health []byte
	dup    bool
	err    error
	done   chan struct{}
}

func (r *ingestReq) rows() int { return 1 + len(r.b.Detections) + len(r.b.Summaries) }

// errClosed answers batches that reach a closing store.
var errClosed = errors.New("store closed")

// IngestBatch implements store.Store.
func (s *Store) IngestBatch(ctx context.Context, b *store.Batch) (duplicate bool, err error) {
	if b.ID == "" || b.CollectorID == "" || b.MemberID == "" || b.Received.IsZero() {
		return false, s.wrap("ingest", fmt.Errorf("%w: batch needs an id, collector, member and received time", store.ErrInvalid))
	}
	b.LastDetectionID, b.LastSummaryID = 0, 0
	r := &ingestReq{ctx: ctx, b: b, done: make(chan struct{})}
	if b.Health != nil {
		if r.health, err = json.Marshal(b.Health); err != nil {
			return false, s.wrap("ingest", err)
		}
	}
	select {
	case s.ingests <- r:
	case <-ctx.Done():
		return false, s.wrap(ingestOp(b), ctx.Err())
	case <-s.closing:
		return false, s.wrap(ingestOp(b), errClosed)
	}
	// Once taken, the batch may commit: wait for the outcome even if ctx
	// ends (the writer checks ctx before and during the batch's rows).
	<-r.done
	return r.dup, r.err
}

func ingestOp(b *store.Batch) string { return "ingest batch " + b.CollectorID + "/" + b.ID }

// ingester takes batches until the store closes, groups those waiting, and
// writes each group in one transaction. A group it has taken is written
// before it returns, so Close drains.
func (s *Store) ingester() {
	defer close(s.ingestDone)
	groupcommit.Run(s.ingests, s.closing, maxGroupBatches, maxGroupRows, (*ingestReq).rows, func(group []*ingestReq) {
		s.ingestGroup(group)
		for _, r := range group {
			close(r.done)
		}
	})
}

// ingestGroup writes reqs in one transaction and sets each one's outcome.
// A savepoint per batch would let a bad batch fail alone, but it journals
// every page its batch changes, and nearly every batch is good: so the
// group is first written without savepoints, and only when a batch fails
// is it rolled back and written again, each batch in its own savepoint.
func (s *Store) ingestGroup(reqs []*ingestReq) {
	if !s.writeGroup(reqs, false) {
		s.writeGroup(reqs, true)
	}
}

// writeGroup writes reqs in one transaction, each batch in a savepoint if
// savepoints is set, and sets each one's outcome. Without savepoints, a
// batch that fails rolls the transaction back, and writeGroup returns
// false with no outcome set.
func (s *Store) writeGroup(reqs []*ingestReq, savepoints bool) bool {
	fail := func(err error) {
		for _, r := range reqs {
			if r.err == nil {
				r.dup, r.err = false, s.wrap(ingestOp(r.b), err)
				r.b.LastDetectionID, r.b.LastSummaryID = 0, 0
			}
		}
	}
	// Statements run without a context the driver would watch with a
	// goroutine each; each batch's own context is checked between chunks.
	bg := context.Background()
	tx, err := s.w.BeginTx(bg, nil)
	if err != nil {
		fail(err)
		return true
	}
	var bytes int64
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.err = s.wrap(ingestOp(r.b), err)
			continue
		}
		if savepoints {
			if err := s.ingestSavepoint(tx, r); err != nil {
				tx.Rollback()
				fail(err)
				return true
			}
		} else if r.dup, err = s.ingestTx(r.ctx, tx, r.b, r.health); err != nil {
			tx.Rollback()
			for _, r := range reqs {
				r.dup, r.err = false, nil
				r.b.LastDetectionID, r.b.LastSummaryID = 0, 0
			}
			return false
		}
		if r.err == nil && !r.dup {
			bytes += rowBytes(r.b)
		}
	}
	if err := tx.Commit(); err != nil {
		fail(err)
		return true
	}
	s.committed(bytes)
	return true
}

// ingestSavepoint stores r's batch in tx inside a savepoint, and sets r's
// outcome: a batch that fails rolls back to the savepoint, leaving the
// transaction to the others. The error is the savepoint's own, which
// leaves tx unusable.
func (s *Store) ingestSavepoint(tx *sql.Tx, r *ingestReq) error {
	bg := context.Background()
	if _, err := tx.ExecContext(bg, "SAVEPOINT batch"); err != nil {
		return err
	}
	dup, err := s.ingestTx(r.ctx, tx, r.b, r.health)
	if err != nil {
		r.err = s.wrap(ingestOp(r.b), err)
		r.b.LastDetectionID, r.b.LastSummaryID = 0, 0
		if _, err := tx.ExecContext(bg, "ROLLBACK TO batch"); err != nil {
			return err
		}
	}
	r.dup = dup && err == nil
	_, err = tx.ExecContext(bg, "RELEASE batch")
	return err
}

// ingestTx stores b in tx; see store.Store.IngestBatch.
func (s *Store) ingestTx(ctx context.Context, tx *sql.Tx, b *store.Batch, health []byte) (duplicate bool, err error) {
	bg := context.Background()
	var member string
	var revoked sql.NullInt64
	err = tx.QueryRowContext(bg, "SELECT member_id, revoked FROM collectors WHERE id = ?", b.CollectorID).
		Scan(&member, &revoked)
	switch {
	case err != nil:
		return false, notFound(err)
	case member != b.MemberID:
		return false, fmt.Errorf("%w: collector %s belongs to member %q, not %q", store.ErrInvalid, b.CollectorID, member, b.MemberID)
	case revoked.Valid:
		return false, store.ErrRevoked
	}
	res, err := tx.ExecContext(bg, `INSERT INTO batches (collector_id, batch_id, member_id, seq, created, received,
		detections, summaries) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		b.CollectorID, b.ID, b.MemberID, int64(b.Seq), ts(b.Created), ts(b.Received),
		len(b.Detections), len(b.Summaries))
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, err
	} else if n == 0 {
		return true, nil
	}
	dets, err := s.insertDetections(ctx, tx, b)
	if err != nil {
		return false, err
	}
	sums, err := s.insertSummaries(ctx, tx, b)
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(bg, `UPDATE batches SET det_first = ?, det_last = ?, sum_first = ?, sum_last = ?
		WHERE collector_id = ? AND batch_id = ?`, dets.first, dets.last, sums.first, sums.last,
		b.CollectorID, b.ID); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(bg, "UPDATE collectors SET last_seen = max(coalesce(last_seen, 0), ?) WHERE id = ?",
		ts(b.Received), b.CollectorID); err != nil {
		return false, err
	}
	// One writer: these are the highest ids yet once the group commits.
	b.LastDetectionID, b.LastSummaryID = dets.last.Int64, sums.last.Int64
	if b.Health == nil {
		return false, nil
	}
	// Batches may arrive out of order: keep the newest report, and the
	// latest time of each device.
	if _, err := tx.ExecContext(bg, `INSERT INTO collector_health (collector_id, time, health) VALUES (?, ?, ?)
		ON CONFLICT (collector_id) DO UPDATE SET time = excluded.time, health = excluded.health
		WHERE excluded.time >= collector_health.time`, b.CollectorID, ts(b.Health.Time), health); err != nil {
		return false, err
	}
	for _, d := range b.Health.Devices {
		if _, err := tx.ExecContext(bg, `INSERT INTO device_health (collector_id, device, dataset, last_seen)
			VALUES (?, ?, ?, ?) ON CONFLICT (collector_id, device) DO UPDATE
			SET dataset = excluded.dataset, last_seen = excluded.last_seen
			WHERE excluded.last_seen >= device_health.last_seen`,
			b.CollectorID, d.Device, d.Dataset, ts(d.LastSeen)); err != nil {
			return false, err
		}
	}
	return false, nil
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

// chunkRows are the sizes of the multi-row INSERTs prepared per table,
// largest first: a batch's rows go in chunks of the largest size until
// fewer are left, then of the next, so 100 rows take 4 statements, not
// 37. Each statement pays the driver's and SQLite's overhead once.
var chunkRows = [...]int{rowsPerInsert, 16, 4, 1}

// inserts are a table's prepared INSERTs, one per chunkRows size.
type inserts [len(chunkRows)]*sql.Stmt

// rowWriter sends rows in multi-row INSERTs on statements of the
// transaction (closed with it). They run without the caller's context,
// since the driver would start a goroutine per statement to watch it; the
// context is checked between chunks.
type rowWriter struct {
	ctx        context.Context
	bg         context.Context
	tx         *sql.Tx
	stmts      *inserts
	txStmts    inserts // stmts bound to tx, made on first use
	shared     int     // args[:shared] are the shared values
	cols       int
	args       []any
	rows, sent int
	what       string
	ids        idRange
}

func newRowWriter(ctx context.Context, tx *sql.Tx, stmts *inserts, shared []any, cols int, what string) *rowWriter {
	args := make([]any, len(shared), len(shared)+cols*rowsPerInsert)
	copy(args, shared)
	return &rowWriter{ctx: ctx, bg: context.WithoutCancel(ctx), tx: tx, stmts: stmts, shared: len(shared), cols: cols,
		args: args, what: what}
}

func (w *rowWriter) add(vals ...any) error {
	w.args = append(w.args, vals...)
	w.rows++
	if w.rows < rowsPerInsert {
		return nil
	}
	err := w.exec(0, w.args)
	w.reset()
	return err
}

// reset drops the rows, keeping the shared values.
func (w *rowWriter) reset() {
	clear(w.args[w.shared:])
	w.args, w.rows = w.args[:w.shared], 0
}

// flush sends the rows left over in the largest chunks that fit, and
// returns the ids of all.
func (w *rowWriter) flush() (idRange, error) {
	at := 0
	for i, n := range chunkRows {
		for w.rows-at >= n {
			// A chunk's arguments are the shared values and its rows: the
			// slots of rows already sent, just before it, take a copy of
			// the shared values.
			start := at * w.cols
			copy(w.args[start:], w.args[:w.shared])
			if err := w.exec(i, w.args[start:w.shared+(at+n)*w.cols]); err != nil {
				return idRange{}, err
			}
			at += n
		}
	}
	w.reset()
	return w.ids, nil
}

// exec runs the chunkRows[size] statement on args.
func (w *rowWriter) exec(size int, args []any) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	rows := chunkRows[size]
	st := w.txStmts[size]
	if st == nil {
		st = w.tx.StmtContext(w.bg, w.stmts[size])
		w.txStmts[size] = st
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
	w := newRowWriter(ctx, tx, &s.insDetections, []any{b.MemberID, b.CollectorID, b.ID, ts(b.Received)},
		len(detectionCols), "detections")
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
		// Values of the driver's own types (int64, nil), which database/sql
		// passes on as they are rather than converting by reflection.
		var port any // NULL
		if d.DestinationPort != 0 {
			port = int64(d.DestinationPort)
		}
		if err := w.add(d.RuleID, d.RuleName, int64(d.Severity), sb.String(), ip(d.Source), ip(d.Destination), port,
			ips(d.Related), int64(d.DistinctSources), d.Count, ts(d.FirstSeen), ts(d.LastSeen), []byte(d.Raw)); err != nil {
			return idRange{}, err
		}
	}
	return w.flush()
}

func (s *Store) insertSummaries(ctx context.Context, tx *sql.Tx, b *store.Batch) (idRange, error) {
	w := newRowWriter(ctx, tx, &s.insSummaries, []any{b.MemberID, b.CollectorID, ts(b.Received)},
		len(summaryCols), "summaries")
	for i := range b.Summaries {
		f := &b.Summaries[i]
		if err := w.add(ts(f.Minute), ip(f.SourceIP), int64(f.DestinationPort), f.Transport, f.EventType, f.Device,
			f.Dataset, f.Count, f.Destination); err != nil {
			return idRange{}, err
		}
	}
	return w.flush()
}

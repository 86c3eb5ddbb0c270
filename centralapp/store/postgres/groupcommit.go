package postgres

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/internal/groupcommit"
)

// Group commit: concurrent IngestBatch calls are written by one goroutine
// per store, several batches to a transaction, each inside its own
// savepoint. Ingest transactions hold the ingest lock from their first id
// to commit (ids rise in commit order), so they run one at a time across
// all nodes and each pays its commit's WAL flush alone: sharing the
// transaction shares the flush. A batch that fails rolls back to its
// savepoint and fails alone.
const (
	maxGroupBatches = 64
	maxGroupRows    = 16384
)

// ingestReq is one IngestBatch call waiting for its group's outcome.
type ingestReq struct {
	ctx    context.Context
	b      *store.Batch
	health []byte
	done   chan struct{}

	// Set by the writer before done is closed.
	dup                        bool
	err                        error
	lastDetection, lastSummary int64
	// twin is the request of the same group that claimed this one's
	// batch id: this one is a duplicate only if that one stores.
	twin *ingestReq
}

func (r *ingestReq) rows() int { return 1 + len(r.b.Detections) + len(r.b.Summaries) }

// errClosed answers batches that reach a closing store.
var errClosed = errors.New("store closed")

// submit hands r to the writer and waits for its outcome, in r's fields.
func (s *Store) submit(r *ingestReq) error {
	select {
	case s.ingests <- r:
	case <-r.ctx.Done():
		return r.ctx.Err()
	case <-s.closing:
		return errClosed
	}
	// Once taken, the batch may commit: wait for the outcome even if ctx
	// ends.
	<-r.done
	return nil
}

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
func (s *Store) ingestGroup(reqs []*ingestReq) {
	// The statements run on a context of the group's, which ends only
	// when every caller has given up: one caller's cancelled context
	// must not break the connection the others share (pgx cancels a
	// statement by closing it).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waiting atomic.Int32
	waiting.Store(int32(len(reqs)))
	for _, r := range reqs {
		stop := context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	err := s.tx(ctx, func(tx pgx.Tx) error { return writeGroup(ctx, tx, reqs) })
	for _, r := range reqs {
		switch {
		case err != nil && r.err == nil:
			r.err = err
		case r.err == nil && r.twin != nil && r.twin.err != nil:
			r.err = r.twin.err
		}
		if r.err != nil {
			r.dup, r.lastDetection, r.lastSummary = false, 0, 0
		}
	}
}

// writeGroup stores reqs in tx, and returns an error that leaves tx
// unusable and fails the group. It tries the whole group in a few round
// trips (together); if a statement fails there, it rolls that back and
// stores the batches one by one, each in savepoints of its own (apart),
// so the one that fails is known and fails alone.
func writeGroup(ctx context.Context, tx pgx.Tx, reqs []*ingestReq) error {
	order := slices.Clone(reqs)
	slices.SortStableFunc(order, func(a, b *ingestReq) int {
		return cmp.Or(cmp.Compare(a.b.CollectorID, b.b.CollectorID), cmp.Compare(a.b.ID, b.b.ID))
	})
	live := order[:0:0]
	for _, r := range order {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return nil
	}
	failed, err := savepoint(ctx, tx, func() error { return together(ctx, tx, live) })
	if err != nil || failed == nil {
		return err
	}
	for _, r := range live {
		r.dup, r.err, r.twin, r.lastDetection, r.lastSummary = false, nil, nil, 0, 0
	}
	return apart(ctx, tx, live)
}

// together stores the batches of reqs, in batch key order, with their
// statements queued in as few round trips as the protocol allows: the
// claims and the ingest lock in one, each table's rows in one COPY, and
// the rest in one. It returns an error when any statement fails.
func together(ctx context.Context, tx pgx.Tx, reqs []*ingestReq) error {
	q := &pgx.Batch{}
	for _, r := range reqs {
		q.Queue(claimSQL, claimArgs(r.b)...)
	}
	q.Queue("SELECT pg_advisory_xact_lock($1)", int64(ingestLockID))
	res := tx.SendBatch(ctx, q)
	var fresh []*ingestReq
	var bs []*store.Batch
	for i, r := range reqs {
		var err error
		r.dup, err = claimResult(res.QueryRow(), r.b)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrRevoked):
			r.err = err
		case err != nil:
			res.Close()
			return err
		case !r.dup:
			fresh, bs = append(fresh, r), append(bs, r.b)
		case i > 0 && sameBatch(reqs[i-1], r):
			r.twin = reqs[i-1]
			if r.twin.twin != nil {
				r.twin = r.twin.twin
			}
		}
	}
	if err := res.Close(); err != nil || len(fresh) == 0 {
		return err
	}
	if err := copyDetections(ctx, tx, bs...); err != nil {
		return err
	}
	if err := copySummaries(ctx, tx, bs...); err != nil {
		return err
	}
	q = &pgx.Batch{}
	var dets, sums, total int
	for _, b := range bs {
		total += len(b.Detections)
	}
	for _, r := range fresh {
		dets, sums = dets+len(r.b.Detections), sums+len(r.b.Summaries)
		for _, st := range rowStatements(r.b, r.health, total-dets) {
			q.Queue(st.sql, st.args...)
		}
	}
	// The ids of the COPYs are consecutive: only ingest takes them,
	// under the lock this transaction holds. The last batch's last ids
	// are the sequences' values; each earlier batch's, those less the
	// rows copied after it.
	var lastDet, lastSum int64
	statements := q.Len()
	switch {
	case dets > 0 && sums > 0:
		q.Queue("SELECT currval('detection_ids'), currval('summary_ids')")
	case dets > 0:
		q.Queue("SELECT currval('detection_ids'), 0")
	case sums > 0:
		q.Queue("SELECT 0, currval('summary_ids')")
	}
	res = tx.SendBatch(ctx, q)
	for range statements {
		if _, err := res.Exec(); err != nil {
			res.Close()
			return err
		}
	}
	if q.Len() > statements {
		if err := res.QueryRow().Scan(&lastDet, &lastSum); err != nil {
			res.Close()
			return err
		}
	}
	if err := res.Close(); err != nil {
		return err
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		b := fresh[i].b
		if len(b.Detections) > 0 {
			fresh[i].lastDetection = lastDet
			lastDet -= int64(len(b.Detections))
		}
		if len(b.Summaries) > 0 {
			fresh[i].lastSummary = lastSum
			lastSum -= int64(len(b.Summaries))
		}
	}
	return nil
}

// apart stores the batches of reqs one by one, each in savepoints of its
// own. Each batch is claimed first (collector check, dedupe row), without
// the ingest lock, in batch key order: two groups that hold the same
// batches, as redeliveries to two nodes do, then never wait for each
// other crosswise. The claimed batches' rows then go in under the ingest
// lock; one that fails there gives its claim back.
func apart(ctx context.Context, tx pgx.Tx, order []*ingestReq) error {
	var fresh []*ingestReq
	for i, r := range order {
		failed, err := savepoint(ctx, tx, func() error {
			var err error
			r.dup, err = claim(ctx, tx, r.b)
			return err
		})
		switch {
		case err != nil:
			return err
		case failed != nil:
			r.err = failed
		case !r.dup:
			fresh = append(fresh, r)
		case i > 0 && sameBatch(order[i-1], r):
			// The previous request claimed it, or is a twin of the
			// one that did.
			r.twin = order[i-1]
			if r.twin.twin != nil {
				r.twin = r.twin.twin
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(ingestLockID)); err != nil {
		return err
	}
	for _, r := range fresh {
		failed, err := savepoint(ctx, tx, func() error {
			var err error
			r.lastDetection, r.lastSummary, err = writeRows(ctx, tx, r.b, r.health)
			return err
		})
		if err != nil {
			return err
		}
		if failed != nil {
			r.err = failed
			if _, err := tx.Exec(ctx, "DELETE FROM batches WHERE collector_id = $1 AND batch_id = $2",
				r.b.CollectorID, r.b.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func sameBatch(a, b *ingestReq) bool { return a.b.CollectorID == b.b.CollectorID && a.b.ID == b.b.ID }

// savepoint runs fn inside a savepoint of tx. An error of fn rolls back to
// the savepoint and is returned as failed, the batch's own; err is one
// that leaves tx unusable.
func savepoint(ctx context.Context, tx pgx.Tx, fn func() error) (failed, err error) {
	if _, err := tx.Exec(ctx, "SAVEPOINT batch"); err != nil {
		return nil, err
	}
	if failed = fn(); failed != nil {
		// Without arguments, one round trip for both.
		_, err = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT batch; RELEASE SAVEPOINT batch")
		return failed, err
	}
	_, err = tx.Exec(ctx, "RELEASE SAVEPOINT batch")
	return nil, err
}

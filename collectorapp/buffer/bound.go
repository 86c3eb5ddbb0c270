package buffer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"
)

// dbSize returns the database's size and its free pages, in bytes. It counts
// pages, not the file: page_count includes what is still in the WAL, and the
// file itself shrinks only at the next checkpoint.
func (b *Buffer) dbSize(ctx context.Context) (size, free int64, err error) {
	var pages, freePages int64
	if err := b.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, 0, err
	}
	if err := b.db.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&freePages); err != nil {
		return 0, 0, err
	}
	return pages * b.pageSize, freePages * b.pageSize, nil
}

// trimLocked keeps the database within its bound. Free pages are handed back
// first; only then is data dropped, oldest first, in the order the package
// documentation gives, and every drop is counted in the same transaction.
// Records are dropped down to a low-water mark a sixteenth below the bound,
// so a full buffer drops in chunks, not at every append.
func (b *Buffer) trimLocked(ctx context.Context) error {
	for trimmed := false; ; trimmed = true {
		size, free, err := b.dbSize(ctx)
		if err != nil {
			return b.wrap("measure", err)
		}
		if size <= b.dataLimit {
			if trimmed {
				// The file shrinks when the WAL is checkpointed; do it now
				// rather than at the next automatic checkpoint. PASSIVE
				// never waits for readers.
				if _, err := b.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
					return b.wrap("checkpoint", err)
				}
			}
			return nil
		}
		if free > 0 {
			if err := b.vacuum(ctx); err != nil {
				return err
			}
			if after, _, err := b.dbSize(ctx); err != nil || after < size {
				continue // re-measure; an error shows up there
			}
		}
		lowWater := b.dataLimit - b.dataLimit/16
		dropped, err := b.dropOldest(ctx, size-lowWater)
		if err != nil {
			return err
		}
		if !dropped {
			return fmt.Errorf("buffer: %s is %d bytes, over its bound of %d, with no data left to drop", b.path, size, b.dataLimit)
		}
		if err := b.vacuum(ctx); err != nil {
			return err
		}
	}
}

// vacuum hands free pages back to the file system (incremental auto-vacuum).
// The pragma frees a page per step, so every row must be read.
func (b *Buffer) vacuum(ctx context.Context) error {
	rows, err := b.db.QueryContext(ctx, "PRAGMA incremental_vacuum")
	if err != nil {
		return b.wrap("vacuum", err)
	}
	for rows.Next() {
	}
	rows.Close()
	return b.wrap("vacuum", rows.Err())
}

// dropOldest drops one step's worth of the oldest data and counts it. It
// reports false when there was nothing left to drop.
func (b *Buffer) dropOldest(ctx context.Context, excess int64) (bool, error) {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return false, b.wrap("drop", err)
	}
	defer tx.Rollback()

	var qBytes int64
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(sum(length(body)), 0) FROM quarantine").Scan(&qBytes); err != nil {
		return false, b.wrap("drop", err)
	}
	steps := []dropStep{b.dropOutbox, b.dropRecords, b.dropQuarantine}
	if qBytes > b.opts.MaxBytes/4 {
		steps = append([]dropStep{b.dropQuarantine}, steps...)
	}
	for _, step := range steps {
		apply, err := step(ctx, tx, excess)
		if err != nil {
			return false, b.wrap("drop", err)
		}
		if apply != nil {
			if err := tx.Commit(); err != nil {
				return false, b.wrap("drop", err)
			}
			apply()
			return true, nil
		}
	}
	return false, nil
}

// A dropStep deletes and counts the oldest data of one kind inside tx. It
// returns what to apply to the in-memory counters once tx commits, or nil
// when it had nothing to drop.
type dropStep func(ctx context.Context, tx *sql.Tx, excess int64) (apply func(), err error)

func (b *Buffer) dropOutbox(ctx context.Context, tx *sql.Tx, _ int64) (func(), error) {
	var id, records int64
	err := tx.QueryRowContext(ctx, "SELECT id, records FROM outbox ORDER BY id LIMIT 1").Scan(&id, &records)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM outbox WHERE id = ?", id); err != nil {
		return nil, err
	}
	if err := addState(ctx, tx, "dropped_batches", 1); err != nil {
		return nil, err
	}
	if err := addState(ctx, tx, "dropped_records", records); err != nil {
		return nil, err
	}
	return func() {
		b.sealed.Add(-1)
		b.droppedBatches.Add(1)
		b.droppedRecords.Add(records)
	}, nil
}

func (b *Buffer) dropRecords(ctx context.Context, tx *sql.Tx, excess int64) (func(), error) {
	// Walk the oldest records until their payloads add up to the excess.
	rows, err := tx.QueryContext(ctx, "SELECT id, length(payload) FROM records ORDER BY id")
	if err != nil {
		return nil, err
	}
	var lastID, n, sum int64
	for rows.Next() && sum < excess {
		var id, l int64
		if err := rows.Scan(&id, &l); err != nil {
			rows.Close()
			return nil, err
		}
		lastID, n, sum = id, n+1, sum+l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM records WHERE id <= ?", lastID); err != nil {
		return nil, err
	}
	if err := addState(ctx, tx, "dropped_records", n); err != nil {
		return nil, err
	}
	return func() {
		b.pending.Add(-n)
		b.pendingBytes.Add(-sum)
		b.droppedRecords.Add(n)
	}, nil
}

func (b *Buffer) dropQuarantine(ctx context.Context, tx *sql.Tx, _ int64) (func(), error) {
	res, err := tx.ExecContext(ctx, "DELETE FROM quarantine WHERE id = (SELECT min(id) FROM quarantine)")
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	if err := addState(ctx, tx, "dropped_quarantined", 1); err != nil {
		return nil, err
	}
	return func() {
		b.quarantined.Add(-1)
		b.droppedQuarantined.Add(1)
	}, nil
}

func addState(ctx context.Context, tx *sql.Tx, key string, n int64) error {
	_, err := tx.ExecContext(ctx, "UPDATE state SET value = value + ? WHERE key = ?", n, key)
	return err
}

// Stats is the buffer's state for health and metrics.
type Stats struct {
	PendingRecords int64 // appended, not yet sealed
	PendingBytes   int64 // their JSON
	SealedBatches  int64 // in the outbox, waiting to be delivered
	Quarantined    int64 // batches in quarantine now

	// Totals that survive restarts.
	QuarantinedTotal   int64 // batches ever quarantined
	DroppedRecords     int64 // records dropped at the bound: pending ones and those in dropped batches
	DroppedBatches     int64 // sealed, undelivered batches dropped at the bound
	DroppedQuarantined int64 // quarantined batches dropped at the bound
	DroppedInvalid     int64 // records dropped at sealing because their payload was not valid JSON

	Seq uint64 // of the last sealed batch

	Bytes    int64 // on disk: the database file and its WAL
	MaxBytes int64 // the bound

	OldestPending time.Time // creation of the oldest pending record; zero if none
	OldestBatch   time.Time // sealing of the oldest batch in the outbox; zero if none
}

// Stats returns the buffer's current state. It does not wait for writes.
func (b *Buffer) Stats(ctx context.Context) (Stats, error) {
	if b.closed.Load() {
		return Stats{}, fmt.Errorf("buffer: stats: %w", ErrClosed)
	}
	s := Stats{
		PendingRecords:     b.pending.Load(),
		PendingBytes:       b.pendingBytes.Load(),
		SealedBatches:      b.sealed.Load(),
		Quarantined:        b.quarantined.Load(),
		QuarantinedTotal:   b.quarantinedTotal.Load(),
		DroppedRecords:     b.droppedRecords.Load(),
		DroppedBatches:     b.droppedBatches.Load(),
		DroppedQuarantined: b.droppedQuarantined.Load(),
		DroppedInvalid:     b.droppedInvalid.Load(),
		MaxBytes:           b.opts.MaxBytes,
	}
	var seq int64
	if err := b.db.QueryRowContext(ctx, "SELECT value FROM state WHERE key = 'seq'").Scan(&seq); err != nil {
		return Stats{}, b.wrap("stats", err)
	}
	s.Seq = uint64(seq)
	for _, p := range []string{b.path, b.path + "-wal"} {
		if st, err := os.Stat(p); err == nil {
			s.Bytes += st.Size()
		}
	}
	var err error
	if s.OldestPending, err = b.oldestPending(ctx); err != nil {
		return Stats{}, err
	}
	var ns int64
	err = b.db.QueryRowContext(ctx, "SELECT created FROM outbox ORDER BY id LIMIT 1").Scan(&ns)
	switch {
	case err == nil:
		s.OldestBatch = time.Unix(0, ns)
	case !errors.Is(err, sql.ErrNoRows):
		return Stats{}, b.wrap("stats", err)
	}
	return s, nil
}

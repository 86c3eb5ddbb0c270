package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// retainChunk bounds the rows one retention transaction deletes: small
// enough that a transaction lasts milliseconds.
const retainChunk = 5000

// Retain implements store.Store. Months received wholly before the cutoff
// go as whole partitions (their count is the sum of their batch rows'
// counts, which go first); what is left before the cutoff, in the month
// that straddles it, is deleted row-wise, oldest batches first, a few
// thousand rows a transaction. What goes of the detections goes of their
// hourly rollups in the same transaction (see unroll), so a rollup goes
// when its hour, member, rule and source have no detection left, and the
// rollups stay equal to a grouping of the detections. Received is central's
// clock, so no collector can keep its rows alive by the times it reports.
func (s *Store) Retain(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	parts, err := s.partitions(ctx)
	if err != nil {
		return 0, s.wrap("retain", err)
	}
	var months []time.Time
	for _, p := range parts {
		if !p.month.AddDate(0, 1, 0).After(before) && !slices.Contains(months, p.month) {
			months = append(months, p.month)
		}
	}
	slices.SortFunc(months, time.Time.Compare)
	for _, m := range months {
		n, err := s.retainBatches(ctx, m, m.AddDate(0, 1, 0))
		total += n
		if err != nil {
			return total, s.wrap("retain", err)
		}
		for _, p := range parts {
			if p.month.Equal(m) {
				if err := s.dropPartition(ctx, p); err != nil {
					return total, s.wrap("retain", err)
				}
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, s.wrap("retain", err)
		}
		var n int64
		var done bool
		err := s.tx(ctx, func(tx pgx.Tx) error {
			var err error
			n, done, err = retainRows(ctx, tx, before)
			return err
		})
		total += n
		if err != nil {
			return total, s.wrap("retain", err)
		}
		if done {
			break
		}
	}
	return total, nil
}

// retainBatches deletes the batch rows received in [from, to), a chunk a
// transaction, and returns how many detections and summaries they held.
func (s *Store) retainBatches(ctx context.Context, from, to time.Time) (int64, error) {
	var total int64
	for {
		var batches, rows int64
		err := s.with(ctx, func(c *pgx.Conn) error {
			return c.QueryRow(ctx, `WITH gone AS (DELETE FROM batches WHERE ctid = ANY (ARRAY(
					SELECT ctid FROM batches WHERE received >= $1 AND received < $2 LIMIT $3))
				RETURNING detections + summaries AS n)
				SELECT count(*), coalesce(sum(n), 0)::bigint FROM gone`, from, to, retainChunk).Scan(&batches, &rows)
		})
		total += rows
		if err != nil || batches < retainChunk {
			return total, err
		}
	}
}

// retainRows deletes the oldest batches received before cut, with their
// rows, until about retainChunk rows are gone. A batch's rows carry its
// received time, so they go by a range of it, which the BRIN indexes on
// received find; rows below the range are gone already, so each chunk
// reads only its own blocks. done reports that nothing before cut is left.
func retainRows(ctx context.Context, tx pgx.Tx, cut time.Time) (deleted int64, done bool, err error) {
	const batchesAtOnce = 64
	rows, err := tx.Query(ctx, `SELECT received, detections + summaries FROM batches WHERE received < $1
		ORDER BY received LIMIT $2`, cut, batchesAtOnce)
	type batch struct {
		received time.Time
		rows     int64
	}
	bs, err := collect(rows, err, func(r pgx.Row) (batch, error) {
		var b batch
		err := r.Scan(ts(&b.received), &b.rows)
		return b, err
	})
	if err != nil || len(bs) == 0 {
		return 0, true, err
	}
	lo, hi := bs[0].received, bs[len(bs)-1].received
	done = len(bs) < batchesAtOnce
	var sum int64
	for i, b := range bs {
		sum += b.rows
		if sum >= retainChunk {
			hi, done = b.received, done && i == len(bs)-1
			break
		}
	}
	gs, err := scanGone(tx.Query(ctx, `WITH gone AS (DELETE FROM detections
		WHERE received >= $1 AND received <= $2 AND received < $3 RETURNING *) `+goneSQL, lo, hi, cut))
	if err != nil {
		return deleted, false, err
	}
	for _, g := range gs {
		deleted += g.Detections
	}
	if err := unroll(ctx, tx, gs); err != nil {
		return deleted, false, err
	}
	tag, err := tx.Exec(ctx, "DELETE FROM summaries WHERE received >= $1 AND received <= $2 AND received < $3", lo, hi, cut)
	if err != nil {
		return deleted, false, err
	}
	deleted += tag.RowsAffected()
	_, err = tx.Exec(ctx, "DELETE FROM batches WHERE received >= $1 AND received <= $2 AND received < $3", lo, hi, cut)
	return deleted, done, err
}

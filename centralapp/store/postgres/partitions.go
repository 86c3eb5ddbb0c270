package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Detections and summaries are partitioned by the month of received time.
// Partition tables are named after their month, detections_p202611 and
// summaries_p202611, and hold [first of the month, first of the next).

// partitioned are the tables partitioned by month.
var partitioned = []string{"detections", "summaries"}

// partitionLockID is the advisory lock under which nodes make partitions,
// so two nodes never race to make the same one.
const partitionLockID = 0x63615f7061727473 // "ca_parts"

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

func partitionName(table string, month time.Time) string {
	return fmt.Sprintf("%s_p%04d%02d", table, month.Year(), int(month.Month()))
}

// ensureMonth makes sure the partitions of t's month and of the next exist,
// so a month's first batch seldom waits for DDL.
func (s *Store) ensureMonth(ctx context.Context, t time.Time) error {
	m := monthOf(t)
	s.mu.Lock()
	known := s.months[m] && s.months[m.AddDate(0, 1, 0)]
	s.mu.Unlock()
	if known {
		return nil
	}
	for _, month := range []time.Time{m, m.AddDate(0, 1, 0)} {
		if err := s.makePartitions(ctx, month); err != nil {
			return err
		}
		s.mu.Lock()
		s.months[month] = true
		s.mu.Unlock()
	}
	return nil
}

// forget drops month from what the store knows exists.
func (s *Store) forget(month time.Time) {
	s.mu.Lock()
	delete(s.months, month)
	s.mu.Unlock()
}

// makePartitions makes month's partitions if they do not exist. A new
// partition is made as a table of its own and then attached, which locks
// the parent only against other DDL (SHARE UPDATE EXCLUSIVE): CREATE TABLE
// ... PARTITION OF would take an ACCESS EXCLUSIVE lock, and queue all of
// ingest behind any long query on the parent. The table's CHECK matching
// the bound spares ATTACH its validating scan.
func (s *Store) makePartitions(ctx context.Context, month time.Time) error {
	from, to := month.Format(time.RFC3339), month.AddDate(0, 1, 0).Format(time.RFC3339)
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '10s'"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLockID)); err != nil {
			return err
		}
		for _, table := range partitioned {
			name := partitionName(table, month)
			var exists bool
			if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
				return err
			}
			if exists {
				continue
			}
			id := pgx.Identifier{name}.Sanitize()
			for _, q := range []string{
				fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)", id, table),
				fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (received >= '%s' AND received < '%s')",
					id, pgx.Identifier{name + "_bound"}.Sanitize(), from, to),
				fmt.Sprintf("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM ('%s') TO ('%s')", table, id, from, to),
				fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s", id, pgx.Identifier{name + "_bound"}.Sanitize()),
			} {
				if _, err := tx.Exec(ctx, q); err != nil {
					return fmt.Errorf("partition %s: %w", name, err)
				}
			}
			s.log.Info("postgres store: partition made", "table", name)
		}
		return nil
	})
}

// partition is one month's partition of a table.
type partition struct {
	table string // the parent
	name  string
	month time.Time
}

// partitions lists the monthly partitions of the partitioned tables, by
// month.
func (s *Store) partitions(ctx context.Context) ([]partition, error) {
	var out []partition
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT p.relname::text, c.relname::text FROM pg_inherits i
			JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
			WHERE i.inhparent = ANY (ARRAY['detections'::regclass, 'summaries'::regclass])
			ORDER BY c.relname`)
		out, err = collect(rows, err, func(r pgx.Row) (partition, error) {
			var p partition
			if err := r.Scan(&p.table, &p.name); err != nil {
				return p, err
			}
			suffix, ok := strings.CutPrefix(p.name, p.table+"_p")
			if !ok {
				return p, fmt.Errorf("partition %s is not named for a month", p.name)
			}
			m, err := time.Parse("200601", suffix)
			if err != nil {
				return p, fmt.Errorf("partition %s is not named for a month", p.name)
			}
			p.month = m
			return p, nil
		})
		return err
	})
	return out, err
}

// dropPartition detaches p without blocking ingest (CONCURRENTLY takes the
// parent's SHARE UPDATE EXCLUSIVE lock only; it cannot run in a
// transaction block) and drops it.
func (s *Store) dropPartition(ctx context.Context, p partition) error {
	s.forget(p.month)
	return s.with(ctx, func(c *pgx.Conn) error {
		id := pgx.Identifier{p.name}.Sanitize()
		_, err := c.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY", p.table, id))
		// A detach interrupted before (a crash, a cancelled context)
		// leaves the partition pending; FINALIZE completes it.
		var pe *pgconn.PgError
		if errors.As(err, &pe) && strings.Contains(pe.Message, "pending detach") {
			_, err = c.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DETACH PARTITION %s FINALIZE", p.table, id))
		}
		if err != nil {
			return fmt.Errorf("detach %s: %w", p.name, err)
		}
		// A detached month of detections leaves their rollups in the
		// drop's transaction (see unroll). Until it commits, a reader
		// sees the month in the rollups but not in the detections; a
		// DETACH in a transaction would instead block ingest.
		err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if p.table == "detections" {
				gs, err := scanGone(tx.Query(ctx, "WITH gone AS (TABLE "+id+") "+goneSQL))
				if err == nil {
					err = unroll(ctx, tx, gs)
				}
				if err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, "DROP TABLE "+id)
			return err
		})
		if err != nil {
			return fmt.Errorf("drop %s: %w", p.name, err)
		}
		s.log.Info("postgres store: partition dropped", "table", p.name)
		return nil
	})
}

// isNoPartition reports whether err is PostgreSQL refusing a row for which
// no partition exists: another node's retention dropped one this store
// thought was there.
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.HasPrefix(pe.Message, "no partition of relation")
}

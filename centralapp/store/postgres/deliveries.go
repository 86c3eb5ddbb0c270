package postgres

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// PutDelivery implements store.Store. The member comes from the report's
// row in the same statement, so a delivery can never name another member.
func (s *Store) PutDelivery(ctx context.Context, d store.Delivery) error {
	if err := store.CheckDelivery(d); err != nil {
		return s.wrap("put delivery", err)
	}
	return s.write(ctx, "put delivery "+d.ReportID, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO deliveries (report_id, member_id, recipient, attempt, time, outcome, error)
			SELECT id, member_id, $1, $2, $3, $4, $5 FROM reports WHERE id = $6`,
			d.Recipient, int32(d.Attempt), d.Time, d.Outcome, d.Error, d.ReportID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: report %q", store.ErrNotFound, d.ReportID)
		}
		return nil
	})
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, f store.DeliveryFilter) (ds []store.Delivery, err error) {
	var w where
	if f.ReportID != "" {
		w.add("report_id = ?", f.ReportID)
	}
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	w.timeWindow("time", f.Since, time.Time{})
	q := `SELECT id, report_id, member_id, recipient, attempt, time, outcome, error FROM deliveries` + w.String() +
		" ORDER BY id LIMIT " + strconv.Itoa(limit(f.Limit))
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		ds, err = collect(rows, err, func(r pgx.Row) (store.Delivery, error) {
			var d store.Delivery
			var attempt int32
			err := r.Scan(&d.ID, &d.ReportID, &d.MemberID, &d.Recipient, &attempt, ts(&d.Time), &d.Outcome, &d.Error)
			d.Attempt = int(attempt)
			return d, err
		})
		return err
	})
	return ds, s.wrap("deliveries", err)
}

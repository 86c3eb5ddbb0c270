package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// PutDelivery implements store.Store. The member comes from the report's
// row in the same statement, so a delivery can never name another member.
func (s *Store) PutDelivery(ctx context.Context, d store.Delivery) error {
	if err := store.CheckDelivery(d); err != nil {
		return s.wrap("put delivery", err)
	}
	return s.write(ctx, "put delivery "+d.ReportID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO deliveries (report_id, member_id, recipient, attempt, time, outcome, error)
			SELECT id, member_id, ?, ?, ?, ?, ? FROM reports WHERE id = ?`,
			d.Recipient, d.Attempt, ts(d.Time), d.Outcome, d.Error, d.ReportID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: report %q", store.ErrNotFound, d.ReportID)
		}
		return nil
	})
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	var w where
	if f.ReportID != "" {
		w.add("report_id = ?", f.ReportID)
	}
	if f.MemberID != "" {
		w.add("member_id = ?", f.MemberID)
	}
	if !f.Since.IsZero() {
		w.add("time >= ?", ts(f.Since))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, report_id, member_id, recipient, attempt, time, outcome, error
		FROM deliveries`+w.String()+" ORDER BY id LIMIT "+strconv.Itoa(limit(f.Limit)), w.args...)
	if err != nil {
		return nil, s.wrap("deliveries", err)
	}
	ds, err := collect(rows, func(sc interface{ Scan(...any) error }) (store.Delivery, error) {
		var d store.Delivery
		var at int64
		err := sc.Scan(&d.ID, &d.ReportID, &d.MemberID, &d.Recipient, &d.Attempt, &at, &d.Outcome, &d.Error)
		d.Time = fromTS(at)
		return d, err
	})
	return ds, s.wrap("deliveries", err)
}

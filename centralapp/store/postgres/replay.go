package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
	"github.com/cyberalarm/cyberalarm/centralapp/store/internal/intern"
)

// replayPage is how many detections Replay hands fn at once.
const replayPage = 4096

// Replay implements store.Store. It streams one query: the month
// partitions of the window, each scanned through its BRIN index on
// last_seen, then sorted.
func (s *Store) Replay(ctx context.Context, since, until time.Time, fn func([]store.Replayed) error) error {
	var w where
	w.timeWindow("last_seen", since, until)
	q := `SELECT id, member_id, rule_id, techniques, source_ip, related_ips, coalesce(destination_port, 0), count,
		first_seen, last_seen FROM detections` + w.String() + " ORDER BY last_seen"
	err := s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		names := intern.Strings{}
		page := make([]store.Replayed, 0, replayPage)
		for rows.Next() {
			var d store.Replayed
			var port int32
			if err := rows.Scan(&d.ID, &d.MemberID, &d.RuleID, &d.Techniques, &d.Source, &d.Related, &port, &d.Count,
				ts(&d.FirstSeen), ts(&d.LastSeen)); err != nil {
				return err
			}
			d.MemberID, d.RuleID, d.DestinationPort, d.Source = names.Of(d.MemberID), names.Of(d.RuleID), uint16(port), d.Source.Unmap()
			if len(d.Techniques) == 0 {
				d.Techniques = nil
			}
			for i, a := range d.Related {
				d.Related[i] = a.Unmap()
			}
			page = append(page, d)
			if len(page) == replayPage {
				if err := fn(page); err != nil {
					return err
				}
				page = page[:0]
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(page) > 0 {
			return fn(page)
		}
		return nil
	})
	return s.wrap("replay", err)
}

// LastIDs implements store.Store. Each partition's primary key leads with
// id, so the maxima are an index probe a partition.
func (s *Store) LastIDs(ctx context.Context) (detection, summary int64, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT (SELECT coalesce(max(id), 0) FROM detections),
			(SELECT coalesce(max(id), 0) FROM summaries)`).Scan(&detection, &summary)
	})
	return detection, summary, s.wrap("last ids", err)
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// PutCampaigns implements store.Store.
func (s *Store) PutCampaigns(ctx context.Context, cs []store.Campaign) error {
	return s.write(ctx, "put campaigns", func(tx *sql.Tx) error {
		for i := range cs {
			c := &cs[i]
			if c.ID == "" || !c.Source.IsValid() {
				return fmt.Errorf("%w: campaigns[%d]: needs an id and a source", store.ErrInvalid, i)
			}
			ports := make([]string, len(c.Ports))
			for j, p := range c.Ports {
				ports[j] = strconv.Itoa(int(p))
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO campaigns (id, source_ip, members, techniques, ports, count,
				first_seen, last_seen, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET source_ip = excluded.source_ip, members = excluded.members,
				techniques = excluded.techniques, ports = excluded.ports, count = excluded.count,
				first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated = excluded.updated`,
				c.ID, ip(c.Source), strings.Join(c.Members, ","), strings.Join(c.Techniques, ","),
				strings.Join(ports, ","), c.Count, ts(c.FirstSeen), ts(c.LastSeen), ts(c.Updated)); err != nil {
				return fmt.Errorf("campaigns[%d]: %w", i, err)
			}
			for _, id := range c.Replaces {
				if id == c.ID {
					continue
				}
				if _, err := tx.ExecContext(ctx, "DELETE FROM campaign_members WHERE campaign_id = ?", id); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "DELETE FROM campaigns WHERE id = ?", id); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM campaign_members WHERE campaign_id = ?", c.ID); err != nil {
				return err
			}
			for _, m := range c.Members {
				if m == "" || strings.IndexByte(m, ',') >= 0 {
					return fmt.Errorf("%w: campaigns[%d]: member %q", store.ErrInvalid, i, m)
				}
				if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO campaign_members (campaign_id, member_id) VALUES (?, ?)",
					c.ID, m); err != nil {
					return err
				}
			}
			for _, t := range c.Techniques {
				if t == "" || strings.IndexByte(t, ',') >= 0 {
					return fmt.Errorf("%w: campaigns[%d]: technique %q", store.ErrInvalid, i, t)
				}
			}
		}
		return nil
	})
}

// Campaigns implements store.Store.
func (s *Store) Campaigns(ctx context.Context, f store.CampaignFilter) ([]store.Campaign, error) {
	var w where
	if f.MemberID != "" {
		w.add("id IN (SELECT campaign_id FROM campaign_members WHERE member_id = ?)", f.MemberID)
	}
	if !f.Since.IsZero() {
		w.add("last_seen >= ?", ts(f.Since))
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, source_ip, members, techniques, ports, count, first_seen, last_seen,
		updated FROM campaigns`+w.String()+" ORDER BY last_seen DESC, id LIMIT "+strconv.Itoa(limit(f.Limit)), w.args...)
	if err != nil {
		return nil, s.wrap("campaigns", err)
	}
	cs, err := collect(rows, func(sc interface{ Scan(...any) error }) (store.Campaign, error) {
		var c store.Campaign
		var src []byte
		var members, techniques, ports string
		var first, last, updated int64
		if err := sc.Scan(&c.ID, &src, &members, &techniques, &ports, &c.Count, &first, &last, &updated); err != nil {
			return c, err
		}
		var err error
		if c.Source, err = fromIP(src); err != nil {
			return c, err
		}
		c.Members, c.Techniques = split(members), split(techniques)
		if c.Ports, err = splitPorts(ports); err != nil {
			return c, err
		}
		c.FirstSeen, c.LastSeen, c.Updated = fromTS(first), fromTS(last), fromTS(updated)
		return c, nil
	})
	return cs, s.wrap("campaigns", err)
}

// split splits a comma-joined list, keeping its order.
func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// PutRelease implements store.Store.
func (s *Store) PutRelease(ctx context.Context, r store.Release) error {
	return s.write(ctx, "put release "+r.Kind, func(tx *sql.Tx) error {
		var latest sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM releases WHERE kind = ?", r.Kind).Scan(&latest); err != nil {
			return err
		}
		if latest.Valid && r.Version <= latest.Int64 {
			return fmt.Errorf("%w: version %d is not above the latest, %d", store.ErrExists, r.Version, latest.Int64)
		}
		_, err := tx.ExecContext(ctx, "INSERT INTO releases (kind, version, payload, created) VALUES (?, ?, ?, ?)",
			r.Kind, r.Version, r.Payload, ts(r.Created))
		return err
	})
}

// LatestRelease implements store.Store.
func (s *Store) LatestRelease(ctx context.Context, kind string) (store.Release, error) {
	r := store.Release{Kind: kind}
	var created int64
	err := s.r.QueryRowContext(ctx, "SELECT version, payload, created FROM releases WHERE kind = ? ORDER BY version DESC LIMIT 1",
		kind).Scan(&r.Version, &r.Payload, &created)
	if err != nil {
		return store.Release{}, s.wrap("latest release "+kind, notFound(err))
	}
	r.Created = fromTS(created)
	return r, nil
}

// PutReport implements store.Store.
func (s *Store) PutReport(ctx context.Context, r store.Report) error {
	if r.ID == "" {
		return s.wrap("put report", fmt.Errorf("%w: report needs an id", store.ErrInvalid))
	}
	return s.write(ctx, "put report "+r.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO reports (id, member_id, kind, period_start, period_end, created, html, pdf)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.MemberID, r.Kind, ts(r.PeriodStart), ts(r.PeriodEnd), ts(r.Created),
			r.HTML, r.PDF)
		return err
	})
}

func scanReport(sc interface{ Scan(...any) error }, bodies bool) (store.Report, error) {
	var r store.Report
	var start, end, created int64
	dst := []any{&r.ID, &r.MemberID, &r.Kind, &start, &end, &created}
	if bodies {
		dst = append(dst, &r.HTML, &r.PDF)
	}
	err := sc.Scan(dst...)
	r.PeriodStart, r.PeriodEnd, r.Created = fromTS(start), fromTS(end), fromTS(created)
	return r, err
}

// Reports implements store.Store.
func (s *Store) Reports(ctx context.Context, memberID string) ([]store.Report, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, member_id, kind, period_start, period_end, created FROM reports
		WHERE member_id = ? ORDER BY created DESC, id`, memberID)
	if err != nil {
		return nil, s.wrap("reports", err)
	}
	rs, err := collect(rows, func(sc interface{ Scan(...any) error }) (store.Report, error) { return scanReport(sc, false) })
	return rs, s.wrap("reports", err)
}

// Report implements store.Store.
func (s *Store) Report(ctx context.Context, id string) (store.Report, error) {
	r, err := scanReport(s.r.QueryRowContext(ctx, `SELECT id, member_id, kind, period_start, period_end, created, html, pdf
		FROM reports WHERE id = ?`, id), true)
	if err != nil {
		return store.Report{}, s.wrap("report "+id, notFound(err))
	}
	return r, nil
}

// retainChunk bounds the rows one retention transaction deletes: small
// enough that ingest waits milliseconds for the writer, not seconds.
const retainChunk = 5000

// Retain implements store.Store. It goes batch by batch, oldest received
// first, through the batches (received) index: each batch row holds the id
// ranges of its detections and summaries, so their rows go by rowid range,
// and those large tables need no index on received. Received is central's
// clock, so unlike last_seen no collector can set it, and a batch's rows
// sit together in the table, so each delete touches few pages.
func (s *Store) Retain(ctx context.Context, before time.Time) (int64, error) {
	cut := ts(before)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, s.wrap("retain", err)
		}
		var n int64
		var done bool
		err := s.write(ctx, "retain", func(tx *sql.Tx) error {
			var err error
			n, done, err = retainChunkTx(ctx, tx, cut)
			return err
		})
		total += n
		if err != nil || done {
			return total, err
		}
	}
}

type retainedBatch struct {
	collector, id                        string
	detFirst, detLast, sumFirst, sumLast sql.NullInt64
}

// retainChunkTx deletes the oldest batches received before cut, and their
// rows, until about retainChunk rows are gone. done reports that no such
// batch is left.
func retainChunkTx(ctx context.Context, tx *sql.Tx, cut int64) (deleted int64, done bool, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT collector_id, batch_id, det_first, det_last, sum_first, sum_last
		FROM batches WHERE received < ? ORDER BY received LIMIT 64`, cut)
	if err != nil {
		return 0, false, err
	}
	bs, err := collect(rows, func(sc interface{ Scan(...any) error }) (retainedBatch, error) {
		var b retainedBatch
		err := sc.Scan(&b.collector, &b.id, &b.detFirst, &b.detLast, &b.sumFirst, &b.sumLast)
		return b, err
	})
	if err != nil {
		return 0, false, err
	}
	for _, b := range bs {
		if b.detFirst.Valid {
			if err := unroll(ctx, tx, b.detFirst.Int64, b.detLast.Int64); err != nil {
				return deleted, false, err
			}
		}
		for _, r := range []struct {
			q           string
			first, last sql.NullInt64
		}{
			{"DELETE FROM detections WHERE id BETWEEN ? AND ?", b.detFirst, b.detLast},
			{"DELETE FROM summaries WHERE id BETWEEN ? AND ?", b.sumFirst, b.sumLast},
		} {
			if !r.first.Valid {
				continue
			}
			res, err := tx.ExecContext(ctx, r.q, r.first.Int64, r.last.Int64)
			if err != nil {
				return deleted, false, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return deleted, false, err
			}
			deleted += n
		}
		// The batch id goes too: a batch that old is refused by ingest's
		// time bounds before it reaches the store.
		if _, err := tx.ExecContext(ctx, "DELETE FROM batches WHERE collector_id = ? AND batch_id = ?", b.collector, b.id); err != nil {
			return deleted, false, err
		}
		if deleted >= retainChunk {
			return deleted, false, nil
		}
	}
	return deleted, len(bs) < 64, nil
}

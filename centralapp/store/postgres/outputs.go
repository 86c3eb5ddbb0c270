package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// PutCampaigns implements store.Store.
func (s *Store) PutCampaigns(ctx context.Context, cs []store.Campaign) error {
	for i := range cs {
		c := &cs[i]
		if c.ID == "" || !c.Source.IsValid() {
			return s.wrap("put campaigns", fmt.Errorf("%w: campaigns[%d]: needs an id and a source", store.ErrInvalid, i))
		}
		for _, m := range c.Members {
			if m == "" {
				return s.wrap("put campaigns", fmt.Errorf("%w: campaigns[%d]: empty member id", store.ErrInvalid, i))
			}
		}
		for _, t := range c.Techniques {
			if t == "" {
				return s.wrap("put campaigns", fmt.Errorf("%w: campaigns[%d]: empty technique", store.ErrInvalid, i))
			}
		}
	}
	return s.write(ctx, "put campaigns", func(tx pgx.Tx) error {
		for i := range cs {
			c := &cs[i]
			ports := make([]int32, len(c.Ports))
			for j, p := range c.Ports {
				ports[j] = int32(p)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO campaigns (id, source_ip, members, techniques, ports, count,
				first_seen, last_seen, updated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (id) DO UPDATE SET source_ip = excluded.source_ip, members = excluded.members,
				techniques = excluded.techniques, ports = excluded.ports, count = excluded.count,
				first_seen = excluded.first_seen, last_seen = excluded.last_seen, updated = excluded.updated`,
				c.ID, addr(c.Source), nonNil(c.Members), nonNil(c.Techniques), ports, c.Count, c.FirstSeen, c.LastSeen,
				c.Updated); err != nil {
				return fmt.Errorf("campaigns[%d]: %w", i, err)
			}
			if len(c.Replaces) > 0 {
				if _, err := tx.Exec(ctx, "DELETE FROM campaigns WHERE id = ANY ($1) AND id <> $2", c.Replaces, c.ID); err != nil {
					return fmt.Errorf("campaigns[%d]: %w", i, err)
				}
			}
		}
		return nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Campaigns implements store.Store.
func (s *Store) Campaigns(ctx context.Context, f store.CampaignFilter) (cs []store.Campaign, err error) {
	var w where
	if f.MemberID != "" {
		w.add("members @> ARRAY[?::text]", f.MemberID)
	}
	if !f.Since.IsZero() {
		w.add("last_seen >= ?", f.Since)
	}
	q := `SELECT id, source_ip, members, techniques, ports, count, first_seen, last_seen, updated FROM campaigns` +
		w.String() + " ORDER BY last_seen DESC, id LIMIT " + strconv.Itoa(limit(f.Limit))
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, w.args...)
		cs, err = collect(rows, err, func(r pgx.Row) (store.Campaign, error) {
			var x store.Campaign
			var ports []int32
			err := r.Scan(&x.ID, &x.Source, &x.Members, &x.Techniques, &ports, &x.Count, ts(&x.FirstSeen),
				ts(&x.LastSeen), ts(&x.Updated))
			x.Source = x.Source.Unmap()
			if len(x.Members) == 0 {
				x.Members = nil
			}
			if len(x.Techniques) == 0 {
				x.Techniques = nil
			}
			for _, p := range ports {
				x.Ports = append(x.Ports, uint16(p))
			}
			return x, err
		})
		return err
	})
	return cs, s.wrap("campaigns", err)
}

// PutRelease implements store.Store. The kind's latest row is read under
// an advisory lock per kind, so two nodes publishing at once still give
// rising versions.
func (s *Store) PutRelease(ctx context.Context, r store.Release) error {
	return s.write(ctx, "put release "+r.Kind, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('release:' || $1, 0))", r.Kind); err != nil {
			return err
		}
		var latest pgtype.Int8
		if err := tx.QueryRow(ctx, "SELECT max(version) FROM releases WHERE kind = $1", r.Kind).Scan(&latest); err != nil {
			return err
		}
		if latest.Valid && r.Version <= latest.Int64 {
			return fmt.Errorf("%w: version %d is not above the latest, %d", store.ErrExists, r.Version, latest.Int64)
		}
		_, err := tx.Exec(ctx, "INSERT INTO releases (kind, version, payload, created) VALUES ($1, $2, $3, $4)",
			r.Kind, r.Version, nonNilBytes(r.Payload), r.Created)
		return err
	})
}

func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// LatestRelease implements store.Store.
func (s *Store) LatestRelease(ctx context.Context, kind string) (store.Release, error) {
	r := store.Release{Kind: kind}
	err := s.with(ctx, func(c *pgx.Conn) error {
		return notFound(c.QueryRow(ctx, `SELECT version, payload, created FROM releases WHERE kind = $1
			ORDER BY version DESC LIMIT 1`, kind).Scan(&r.Version, &r.Payload, ts(&r.Created)))
	})
	if err != nil {
		return store.Release{}, s.wrap("latest release "+kind, err)
	}
	return r, nil
}

// PutReport implements store.Store.
func (s *Store) PutReport(ctx context.Context, r store.Report) error {
	if r.ID == "" {
		return s.wrap("put report", fmt.Errorf("%w: report needs an id", store.ErrInvalid))
	}
	return s.write(ctx, "put report "+r.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO reports (id, member_id, kind, period_start, period_end, created, html, pdf)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.ID, r.MemberID, r.Kind, r.PeriodStart, r.PeriodEnd, r.Created,
			r.HTML, r.PDF)
		return err
	})
}

// Reports implements store.Store.
func (s *Store) Reports(ctx context.Context, memberID string) (rs []store.Report, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, member_id, kind, period_start, period_end, created FROM reports
			WHERE member_id = $1 ORDER BY created DESC, id`, memberID)
		rs, err = collect(rows, err, func(r pgx.Row) (store.Report, error) {
			var x store.Report
			err := r.Scan(&x.ID, &x.MemberID, &x.Kind, ts(&x.PeriodStart), ts(&x.PeriodEnd), ts(&x.Created))
			return x, err
		})
		return err
	})
	return rs, s.wrap("reports", err)
}

// Report implements store.Store.
func (s *Store) Report(ctx context.Context, id string) (store.Report, error) {
	var x store.Report
	err := s.with(ctx, func(c *pgx.Conn) error {
		return notFound(c.QueryRow(ctx, `SELECT id, member_id, kind, period_start, period_end, created, html, pdf
			FROM reports WHERE id = $1`, id).Scan(&x.ID, &x.MemberID, &x.Kind, ts(&x.PeriodStart), ts(&x.PeriodEnd),
			ts(&x.Created), &x.HTML, &x.PDF))
	})
	if err != nil {
		return store.Report{}, s.wrap("report "+id, err)
	}
	return x, nil
}

package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// AddMember implements store.Store.
func (s *Store) AddMember(ctx context.Context, m store.Member) error {
	if !store.ValidMemberID(m.ID) {
		return s.wrap("add member", fmt.Errorf("%w: member id %q is not a slug", store.ErrInvalid, m.ID))
	}
	return s.write(ctx, "add member "+m.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO members (id, name, sector, region, time_zone, created)
			VALUES ($1, $2, $3, $4, $5, $6)`, m.ID, m.Name, m.Sector, m.Region, m.TimeZone, m.Created)
		return err
	})
}

const memberCols = "id, name, sector, region, time_zone, created"

func scanMember(r pgx.Row) (store.Member, error) {
	var m store.Member
	err := r.Scan(&m.ID, &m.Name, &m.Sector, &m.Region, &m.TimeZone, ts(&m.Created))
	return m, err
}

// Member implements store.Store.
func (s *Store) Member(ctx context.Context, id string) (m store.Member, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		m, err = scanMember(c.QueryRow(ctx, "SELECT "+memberCols+" FROM members WHERE id = $1", id))
		return notFound(err)
	})
	return m, s.wrap("member "+id, err)
}

// Members implements store.Store.
func (s *Store) Members(ctx context.Context) (ms []store.Member, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT "+memberCols+" FROM members ORDER BY id")
		ms, err = collect(rows, err, scanMember)
		return err
	})
	return ms, s.wrap("members", err)
}

// AddEnrolToken implements store.Store.
func (s *Store) AddEnrolToken(ctx context.Context, t store.EnrolToken) error {
	return s.write(ctx, "add enrolment token", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO enrol_tokens (hash, member_id, created, expires, used)
			VALUES ($1, $2, $3, $4, $5)`, t.Hash[:], t.MemberID, t.Created, t.Expires, nullTS(t.Used))
		return err
	})
}

// EnrolToken implements store.Store.
func (s *Store) EnrolToken(ctx context.Context, hash store.TokenHash) (t store.EnrolToken, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		t, err = enrolToken(ctx, c, hash, "")
		return err
	})
	return t, s.wrap("enrolment token", err)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// enrolToken reads a token; lock is appended to the query (FOR UPDATE).
func enrolToken(ctx context.Context, q querier, hash store.TokenHash, lock string) (store.EnrolToken, error) {
	t := store.EnrolToken{Hash: hash}
	err := q.QueryRow(ctx, "SELECT member_id, created, expires, used FROM enrol_tokens WHERE hash = $1"+lock, hash[:]).
		Scan(&t.MemberID, ts(&t.Created), ts(&t.Expires), ts(&t.Used))
	if err != nil {
		return store.EnrolToken{}, notFound(err)
	}
	return t, nil
}

// UseEnrolToken implements store.Store. The token's row is locked first,
// so of concurrent uses one goes through and the others then see it used.
func (s *Store) UseEnrolToken(ctx context.Context, hash store.TokenHash, now time.Time, c store.Collector) error {
	return s.write(ctx, "use enrolment token", func(tx pgx.Tx) error {
		t, err := enrolToken(ctx, tx, hash, " FOR UPDATE")
		switch {
		case err != nil:
			return err
		case !t.Used.IsZero():
			return store.ErrTokenUsed
		case !now.Before(t.Expires):
			return store.ErrTokenExpired
		case c.MemberID != t.MemberID:
			return fmt.Errorf("%w: collector is for member %q, the token for %q", store.ErrInvalid, c.MemberID, t.MemberID)
		}
		if _, err := tx.Exec(ctx, "UPDATE enrol_tokens SET used = $1 WHERE hash = $2", now, hash[:]); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO collectors (id, member_id, cert_serial, cert_not_after, created, revoked, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.ID, c.MemberID, c.CertSerial, c.CertNotAfter, c.Created,
			nullTS(c.Revoked), nullTS(c.LastSeen))
		return err
	})
}

const collectorCols = "id, member_id, cert_serial, cert_not_after, created, revoked, last_seen"

func scanCollector(r pgx.Row) (store.Collector, error) {
	var c store.Collector
	err := r.Scan(&c.ID, &c.MemberID, &c.CertSerial, ts(&c.CertNotAfter), ts(&c.Created), ts(&c.Revoked), ts(&c.LastSeen))
	return c, err
}

// Collector implements store.Store.
func (s *Store) Collector(ctx context.Context, id string) (col store.Collector, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		col, err = scanCollector(c.QueryRow(ctx, "SELECT "+collectorCols+" FROM collectors WHERE id = $1", id))
		return notFound(err)
	})
	return col, s.wrap("collector "+id, err)
}

// Collectors implements store.Store.
func (s *Store) Collectors(ctx context.Context, memberID string) (cs []store.Collector, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT "+collectorCols+" FROM collectors WHERE $1 = '' OR member_id = $1 ORDER BY id",
			memberID)
		cs, err = collect(rows, err, scanCollector)
		return err
	})
	return cs, s.wrap("collectors", err)
}

// RenewCollector implements store.Store.
func (s *Store) RenewCollector(ctx context.Context, id, serial string, notAfter time.Time) error {
	return s.write(ctx, "renew collector "+id, func(tx pgx.Tx) error {
		var revoked pgtype.Timestamptz
		if err := tx.QueryRow(ctx, "SELECT revoked FROM collectors WHERE id = $1 FOR UPDATE", id).Scan(&revoked); err != nil {
			return notFound(err)
		}
		if revoked.Valid {
			return store.ErrRevoked
		}
		_, err := tx.Exec(ctx, "UPDATE collectors SET cert_serial = $1, cert_not_after = $2 WHERE id = $3", serial, notAfter, id)
		return err
	})
}

// RevokeCollector implements store.Store.
func (s *Store) RevokeCollector(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "revoke collector "+id, func(tx pgx.Tx) error {
		return affected(tx.Exec(ctx, "UPDATE collectors SET revoked = coalesce(revoked, $1) WHERE id = $2", at, id))
	})
}

// AddAccount implements store.Store.
func (s *Store) AddAccount(ctx context.Context, a store.Account) error {
	switch {
	case a.Role != store.RoleAdmin && a.Role != store.RoleAnalyst && a.Role != store.RoleMember:
		return s.wrap("add account", fmt.Errorf("%w: role %q", store.ErrInvalid, a.Role))
	case (a.Role == store.RoleMember) != (a.MemberID != ""):
		return s.wrap("add account", fmt.Errorf("%w: a member id goes with the member role, and only with it", store.ErrInvalid))
	}
	var member pgtype.Text
	if a.MemberID != "" {
		member = pgtype.Text{String: a.MemberID, Valid: true}
	}
	return s.write(ctx, "add account "+a.Name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO accounts (name, role, member_id, password_hash, created)
			VALUES ($1, $2, $3, $4, $5)`, a.Name, a.Role, member, a.PasswordHash, a.Created)
		return err
	})
}

const accountCols = "name, role, coalesce(member_id, ''), password_hash, created"

func scanAccount(r pgx.Row) (store.Account, error) {
	var a store.Account
	err := r.Scan(&a.Name, &a.Role, &a.MemberID, &a.PasswordHash, ts(&a.Created))
	return a, err
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, name string) (a store.Account, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		a, err = scanAccount(c.QueryRow(ctx, "SELECT "+accountCols+" FROM accounts WHERE name = $1", name))
		return notFound(err)
	})
	return a, s.wrap("account "+name, err)
}

// Accounts implements store.Store.
func (s *Store) Accounts(ctx context.Context) (as []store.Account, err error) {
	err = s.with(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, "SELECT "+accountCols+" FROM accounts ORDER BY name")
		as, err = collect(rows, err, scanAccount)
		return err
	})
	return as, s.wrap("accounts", err)
}

// SetPassword implements store.Store.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	return s.write(ctx, "set password of "+name, func(tx pgx.Tx) error {
		return affected(tx.Exec(ctx, "UPDATE accounts SET password_hash = $1 WHERE name = $2", hash, name))
	})
}

// DeleteAccount implements store.Store.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	return s.write(ctx, "delete account "+name, func(tx pgx.Tx) error {
		return affected(tx.Exec(ctx, "DELETE FROM accounts WHERE name = $1", name))
	})
}

// AddAPIToken implements store.Store.
func (s *Store) AddAPIToken(ctx context.Context, t store.APIToken) error {
	return s.write(ctx, "add API token", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO api_tokens (hash, account, created, expires) VALUES ($1, $2, $3, $4)",
			t.Hash[:], t.Account, t.Created, t.Expires)
		return err
	})
}

// AccountByToken implements store.Store.
func (s *Store) AccountByToken(ctx context.Context, hash store.TokenHash, now time.Time) (store.Account, error) {
	var a store.Account
	var expires time.Time
	err := s.with(ctx, func(c *pgx.Conn) error {
		return notFound(c.QueryRow(ctx, `SELECT t.expires, a.name, a.role, coalesce(a.member_id, ''), a.password_hash,
			a.created FROM api_tokens t JOIN accounts a ON a.name = t.account WHERE t.hash = $1`, hash[:]).
			Scan(ts(&expires), &a.Name, &a.Role, &a.MemberID, &a.PasswordHash, ts(&a.Created)))
	})
	if err != nil {
		return store.Account{}, s.wrap("account by token", err)
	}
	if !now.Before(expires) {
		return store.Account{}, s.wrap("account by token", store.ErrTokenExpired)
	}
	return a, nil
}

// APIToken implements store.Store.
func (s *Store) APIToken(ctx context.Context, hash store.TokenHash) (store.APIToken, error) {
	t := store.APIToken{Hash: hash}
	err := s.with(ctx, func(c *pgx.Conn) error {
		return notFound(c.QueryRow(ctx, "SELECT account, created, expires FROM api_tokens WHERE hash = $1", hash[:]).
			Scan(&t.Account, ts(&t.Created), ts(&t.Expires)))
	})
	if err != nil {
		return store.APIToken{}, s.wrap("API token", err)
	}
	return t, nil
}

// DeleteAPIToken implements store.Store.
func (s *Store) DeleteAPIToken(ctx context.Context, hash store.TokenHash) error {
	return s.write(ctx, "delete API token", func(tx pgx.Tx) error {
		return affected(tx.Exec(ctx, "DELETE FROM api_tokens WHERE hash = $1", hash[:]))
	})
}

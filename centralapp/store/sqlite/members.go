package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cyberalarm/cyberalarm/centralapp/store"
)

// AddMember implements store.Store.
func (s *Store) AddMember(ctx context.Context, m store.Member) error {
	if !store.ValidMemberID(m.ID) {
		return s.wrap("add member", fmt.Errorf("%w: member id %q is not a slug", store.ErrInvalid, m.ID))
	}
	return s.write(ctx, "add member "+m.ID, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO members (id, name, sector, region, time_zone, created)
			VALUES (?, ?, ?, ?, ?, ?)`, m.ID, m.Name, m.Sector, m.Region, m.TimeZone, ts(m.Created))
		return err
	})
}

const memberCols = "id, name, sector, region, time_zone, created"

func scanMember(sc interface{ Scan(...any) error }) (store.Member, error) {
	var m store.Member
	var created int64
	err := sc.Scan(&m.ID, &m.Name, &m.Sector, &m.Region, &m.TimeZone, &created)
	m.Created = fromTS(created)
	return m, err
}

// Member implements store.Store.
func (s *Store) Member(ctx context.Context, id string) (store.Member, error) {
	m, err := scanMember(s.r.QueryRowContext(ctx, "SELECT "+memberCols+" FROM members WHERE id = ?", id))
	if err != nil {
		return store.Member{}, s.wrap("member "+id, notFound(err))
	}
	return m, nil
}

// Members implements store.Store.
func (s *Store) Members(ctx context.Context) ([]store.Member, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+memberCols+" FROM members ORDER BY id")
	if err != nil {
		return nil, s.wrap("members", err)
	}
	ms, err := collect(rows, scanMember)
	return ms, s.wrap("members", err)
}

// AddEnrolToken implements store.Store.
func (s *Store) AddEnrolToken(ctx context.Context, t store.EnrolToken) error {
	return s.write(ctx, "add enrolment token", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO enrol_tokens (hash, member_id, created, expires, used)
			VALUES (?, ?, ?, ?, ?)`, t.Hash[:], t.MemberID, ts(t.Created), ts(t.Expires), nullTS(t.Used))
		return err
	})
}

// EnrolToken implements store.Store.
func (s *Store) EnrolToken(ctx context.Context, hash store.TokenHash) (store.EnrolToken, error) {
	t, err := enrolToken(ctx, s.r, hash)
	return t, s.wrap("enrolment token", err)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func enrolToken(ctx context.Context, q querier, hash store.TokenHash) (store.EnrolToken, error) {
	t := store.EnrolToken{Hash: hash}
	var created, expires int64
	var used sql.NullInt64
	err := q.QueryRowContext(ctx, "SELECT member_id, created, expires, used FROM enrol_tokens WHERE hash = ?", hash[:]).
		Scan(&t.MemberID, &created, &expires, &used)
	if err != nil {
		return store.EnrolToken{}, notFound(err)
	}
	t.Created, t.Expires, t.Used = fromTS(created), fromTS(expires), fromNullTS(used)
	return t, nil
}

// UseEnrolToken implements store.Store.
func (s *Store) UseEnrolToken(ctx context.Context, hash store.TokenHash, now time.Time, c store.Collector) error {
	return s.write(ctx, "use enrolment token", func(tx *sql.Tx) error {
		t, err := enrolToken(ctx, tx, hash)
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
		if _, err := tx.ExecContext(ctx, "UPDATE enrol_tokens SET used = ? WHERE hash = ?", ts(now), hash[:]); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO collectors (id, member_id, cert_serial, cert_not_after, created, revoked, last_seen)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, c.ID, c.MemberID, c.CertSerial, ts(c.CertNotAfter), ts(c.Created),
			nullTS(c.Revoked), nullTS(c.LastSeen))
		return err
	})
}

const collectorCols = "id, member_id, cert_serial, cert_not_after, created, revoked, last_seen"

func scanCollector(sc interface{ Scan(...any) error }) (store.Collector, error) {
	var c store.Collector
	var notAfter, created int64
	var revoked, lastSeen sql.NullInt64
	err := sc.Scan(&c.ID, &c.MemberID, &c.CertSerial, &notAfter, &created, &revoked, &lastSeen)
	c.CertNotAfter, c.Created, c.Revoked, c.LastSeen = fromTS(notAfter), fromTS(created), fromNullTS(revoked), fromNullTS(lastSeen)
	return c, err
}

// Collector implements store.Store.
func (s *Store) Collector(ctx context.Context, id string) (store.Collector, error) {
	c, err := scanCollector(s.r.QueryRowContext(ctx, "SELECT "+collectorCols+" FROM collectors WHERE id = ?", id))
	if err != nil {
		return store.Collector{}, s.wrap("collector "+id, notFound(err))
	}
	return c, nil
}

// Collectors implements store.Store.
func (s *Store) Collectors(ctx context.Context, memberID string) ([]store.Collector, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+collectorCols+" FROM collectors WHERE ? = '' OR member_id = ? ORDER BY id",
		memberID, memberID)
	if err != nil {
		return nil, s.wrap("collectors", err)
	}
	cs, err := collect(rows, scanCollector)
	return cs, s.wrap("collectors", err)
}

// RenewCollector implements store.Store.
func (s *Store) RenewCollector(ctx context.Context, id, serial string, notAfter time.Time) error {
	return s.write(ctx, "renew collector "+id, func(tx *sql.Tx) error {
		var revoked sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT revoked FROM collectors WHERE id = ?", id).Scan(&revoked); err != nil {
			return notFound(err)
		}
		if revoked.Valid {
			return store.ErrRevoked
		}
		_, err := tx.ExecContext(ctx, "UPDATE collectors SET cert_serial = ?, cert_not_after = ? WHERE id = ?",
			serial, ts(notAfter), id)
		return err
	})
}

// RevokeCollector implements store.Store.
func (s *Store) RevokeCollector(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, "revoke collector "+id, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE collectors SET revoked = coalesce(revoked, ?) WHERE id = ?", ts(at), id)
		return affected(res, err)
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
	var member sql.NullString
	if a.MemberID != "" {
		member = sql.NullString{String: a.MemberID, Valid: true}
	}
	return s.write(ctx, "add account "+a.Name, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (name, role, member_id, password_hash, created)
			VALUES (?, ?, ?, ?, ?)`, a.Name, a.Role, member, a.PasswordHash, ts(a.Created))
		return err
	})
}

const accountCols = "name, role, coalesce(member_id, ''), password_hash, created"

func scanAccount(sc interface{ Scan(...any) error }) (store.Account, error) {
	var a store.Account
	var created int64
	err := sc.Scan(&a.Name, &a.Role, &a.MemberID, &a.PasswordHash, &created)
	a.Created = fromTS(created)
	return a, err
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, name string) (store.Account, error) {
	a, err := scanAccount(s.r.QueryRowContext(ctx, "SELECT "+accountCols+" FROM accounts WHERE name = ?", name))
	if err != nil {
		return store.Account{}, s.wrap("account "+name, notFound(err))
	}
	return a, nil
}

// Accounts implements store.Store.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+accountCols+" FROM accounts ORDER BY name")
	if err != nil {
		return nil, s.wrap("accounts", err)
	}
	as, err := collect(rows, scanAccount)
	return as, s.wrap("accounts", err)
}

// SetPassword implements store.Store.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	return s.write(ctx, "set password of "+name, func(tx *sql.Tx) error {
		return affected(tx.ExecContext(ctx, "UPDATE accounts SET password_hash = ? WHERE name = ?", hash, name))
	})
}

// DeleteAccount implements store.Store.
func (s *Store) DeleteAccount(ctx context.Context, name string) error {
	return s.write(ctx, "delete account "+name, func(tx *sql.Tx) error {
		return affected(tx.ExecContext(ctx, "DELETE FROM accounts WHERE name = ?", name))
	})
}

// AddAPIToken implements store.Store.
func (s *Store) AddAPIToken(ctx context.Context, t store.APIToken) error {
	return s.write(ctx, "add API token", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO api_tokens (hash, account, created, expires) VALUES (?, ?, ?, ?)",
			t.Hash[:], t.Account, ts(t.Created), ts(t.Expires))
		return err
	})
}

// AccountByToken implements store.Store.
func (s *Store) AccountByToken(ctx context.Context, hash store.TokenHash, now time.Time) (store.Account, error) {
	var expires int64
	var a store.Account
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT t.expires, a.name, a.role, coalesce(a.member_id, ''), a.password_hash, a.created
		FROM api_tokens t JOIN accounts a ON a.name = t.account WHERE t.hash = ?`, hash[:]).
		Scan(&expires, &a.Name, &a.Role, &a.MemberID, &a.PasswordHash, &created)
	if err != nil {
		return store.Account{}, s.wrap("account by token", notFound(err))
	}
	if !now.Before(fromTS(expires)) {
		return store.Account{}, s.wrap("account by token", store.ErrTokenExpired)
	}
	a.Created = fromTS(created)
	return a, nil
}

// APIToken implements store.Store.
func (s *Store) APIToken(ctx context.Context, hash store.TokenHash) (store.APIToken, error) {
	var created, expires int64
	t := store.APIToken{Hash: hash}
	err := s.r.QueryRowContext(ctx, `SELECT account, created, expires FROM api_tokens WHERE hash = ?`, hash[:]).
		Scan(&t.Account, &created, &expires)
	if err != nil {
		return store.APIToken{}, s.wrap("API token", notFound(err))
	}
	t.Created, t.Expires = fromTS(created), fromTS(expires)
	return t, nil
}

// DeleteAPIToken implements store.Store.
func (s *Store) DeleteAPIToken(ctx context.Context, hash store.TokenHash) error {
	return s.write(ctx, "delete API token", func(tx *sql.Tx) error {
		return affected(tx.ExecContext(ctx, "DELETE FROM api_tokens WHERE hash = ?", hash[:]))
	})
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// affected turns an update or delete of no row into store.ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

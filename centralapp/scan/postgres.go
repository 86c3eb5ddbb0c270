package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cyberalarm/cyberalarm/centralapp/store/postgres"
)

// Postgres is the Store in a PostgreSQL database that every central node
// shares, usually central's own (its tables are prefixed scan_): the node
// that holds the lease of shared work compares with scans other nodes
// made, the audit log is one, and a kill switch thrown through any node
// reaches scans running on the others at their next poll.
//
// Times are kept to the microsecond, PostgreSQL's precision.
type Postgres struct {
	pool      *pgxpool.Pool
	closeOnce sync.Once
}

var _ Store = (*Postgres)(nil)

// DefaultPostgresConns is the pool size when PostgresOptions.MaxConns is 0:
// scans write the audit log in small statements, a few at a time.
const DefaultPostgresConns = 4

// PostgresOptions configure OpenPostgres. DSN is required.
type PostgresOptions struct {
	// DSN is a libpq connection string, as a URL or key=value pairs.
	DSN string
	// MaxConns bounds the connections the store opens (at least 2).
	MaxConns int
	// Logger receives migration progress. Default: discarded.
	Logger *slog.Logger
}

// postgresMigrationTable is goose's version table for the scan schema,
// apart from central's store's, which may share the database.
const postgresMigrationTable = "scan_goose_db_version"

// postgresMigrateLockID is the advisory lock nodes take to migrate the scan
// schema one at a time; central's store uses goose's default
// (lock.DefaultLockID), so the two migrate independently.
const postgresMigrateLockID int64 = 0x7363616e_5f6d6967 // "scan_mig"

// OpenPostgres connects to the database at o.DSN and migrates the scan
// schema, one node at a time under an advisory lock.
func OpenPostgres(ctx context.Context, o PostgresOptions) (*Postgres, error) {
	if o.DSN == "" {
		return nil, errors.New("scan store: no dsn given")
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultPostgresConns
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool, err := postgres.Connect(ctx, "scan store", o.DSN, "cyberalarm-central scan", o.MaxConns)
	if err != nil {
		return nil, err
	}
	s := &Postgres{pool: pool}
	if err := s.migrate(ctx, log); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (s *Postgres) migrate(ctx context.Context, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations/postgres")
	if err != nil {
		return fmt.Errorf("scan store: migrations: %w", err)
	}
	if err := postgres.Migrate(ctx, s.pool, fsys, postgresMigrateLockID, postgresMigrationTable, log); err != nil {
		return fmt.Errorf("scan store: migrate: %w", err)
	}
	return nil
}

// PostgresExists says whether the database at dsn holds a scan store, so a
// node that does not scan can show scans without creating the schema.
func PostgresExists(ctx context.Context, dsn string) (bool, error) {
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false, fmt.Errorf("scan store: connect: %w", err)
	}
	defer c.Close(context.WithoutCancel(ctx))
	var ok bool
	err = c.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", postgresMigrationTable).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("scan store: %w", err)
	}
	return ok, nil
}

// collect reads every row with fn: nil when there is none, as SQLite's
// store returns.
func collect[T any](rows pgx.Rows, fn func(pgx.CollectableRow) (T, error)) ([]T, error) {
	out, err := pgx.CollectRows(rows, fn)
	if len(out) == 0 {
		out = nil
	}
	return out, err
}

// Close closes the store's connections.
func (s *Postgres) Close() error {
	s.closeOnce.Do(s.pool.Close)
	return nil
}

// PostgreSQL error codes the store maps to its sentinels.
const (
	pgUniqueViolation     = "23505"
	pgForeignKeyViolation = "23503"
)

func (s *Postgres) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case pgUniqueViolation:
			err = fmt.Errorf("%w: %w", ErrExists, err)
		case pgForeignKeyViolation:
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	return fmt.Errorf("scan store: %s: %w", op, err)
}

// tz is t for a nullable timestamptz: NULL when zero.
func tz(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromTZ reads a nullable timestamptz back, in UTC.
func fromTZ(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const pgTargetCols = "id, member_id, kind, value, token, created, proven_by, proven, expires"

func scanPGTarget(row pgx.Row) (Target, error) {
	var t Target
	var created, proven, expires *time.Time
	err := row.Scan(&t.ID, &t.MemberID, &t.Kind, &t.Value, &t.Token, &created, &t.ProvenBy, &proven, &expires)
	t.Created, t.Proven, t.Expires = fromTZ(created), fromTZ(proven), fromTZ(expires)
	return t, err
}

// AddTarget stores t.
func (s *Postgres) AddTarget(ctx context.Context, t Target) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO scan_targets ("+pgTargetCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		t.ID, t.MemberID, t.Kind, t.Value, t.Token, t.Created, t.ProvenBy, tz(t.Proven), tz(t.Expires))
	return s.wrap("add target", err)
}

// Target returns the target with id.
func (s *Postgres) Target(ctx context.Context, id string) (Target, error) {
	t, err := scanPGTarget(s.pool.QueryRow(ctx, "SELECT "+pgTargetCols+" FROM scan_targets WHERE id = $1", id))
	return t, s.wrap("target "+id, err)
}

// Targets returns a member's targets, or everyone's.
func (s *Postgres) Targets(ctx context.Context, memberID string) ([]Target, error) {
	rows, _ := s.pool.Query(ctx, "SELECT "+pgTargetCols+" FROM scan_targets WHERE $1 = '' OR member_id = $1 ORDER BY member_id, id", memberID)
	out, err := collect(rows, func(r pgx.CollectableRow) (Target, error) { return scanPGTarget(r) })
	return out, s.wrap("targets", err)
}

// AddProof records p, and the target's proof when p succeeded.
func (s *Postgres) AddProof(ctx context.Context, p Proof) error {
	return s.wrap("add proof", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO scan_proofs (target_id, method, by, checked, ok, detail, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			p.TargetID, p.Method, p.By, p.Checked, p.OK, p.Detail, tz(p.Expires)); err != nil {
			return err
		}
		if !p.OK {
			return nil
		}
		_, err := tx.Exec(ctx, "UPDATE scan_targets SET proven_by = $1, proven = $2, expires = $3 WHERE id = $4",
			p.Method, tz(p.Checked), tz(p.Expires), p.TargetID)
		return err
	}))
}

// Proofs returns the checks of a target, oldest first.
func (s *Postgres) Proofs(ctx context.Context, targetID string) ([]Proof, error) {
	rows, _ := s.pool.Query(ctx, "SELECT target_id, method, by, checked, ok, detail, expires FROM scan_proofs WHERE target_id = $1 ORDER BY id", targetID)
	out, err := collect(rows, func(r pgx.CollectableRow) (Proof, error) {
		var p Proof
		var expires *time.Time
		err := r.Scan(&p.TargetID, &p.Method, &p.By, &p.Checked, &p.OK, &p.Detail, &expires)
		p.Checked, p.Expires = p.Checked.UTC(), fromTZ(expires)
		return p, err
	})
	return out, s.wrap("proofs", err)
}

// Approve records a and makes it the target's proof.
func (s *Postgres) Approve(ctx context.Context, a Approval) error {
	return s.wrap("approve", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE scan_targets SET proven_by = $1, proven = $2, expires = $3 WHERE id = $4 AND kind = 'range'",
			"approved:"+a.By, tz(a.At), tz(a.Expires), a.TargetID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("range target %s: %w", a.TargetID, ErrNotFound)
		}
		_, err = tx.Exec(ctx, "INSERT INTO scan_approvals (target_id, by, at, expires, note) VALUES ($1, $2, $3, $4, $5)",
			a.TargetID, a.By, a.At, tz(a.Expires), a.Note)
		return err
	}))
}

// notes is a run's notes as a text[] that is never NULL.
func notes(n []string) []string {
	if n == nil {
		return []string{}
	}
	return n
}

// StartRun records a run that begins.
func (s *Postgres) StartRun(ctx context.Context, r Run) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO scan_runs (id, member_id, by, started, status, notes) VALUES ($1, $2, $3, $4, $5, $6)",
		r.ID, r.MemberID, r.By, r.Started, r.Status, notes(r.Notes))
	return s.wrap("start run", err)
}

// FinishRun records r's end and its findings in one transaction.
func (s *Postgres) FinishRun(ctx context.Context, r Run, findings []Finding) error {
	return s.wrap("finish run", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "UPDATE scan_runs SET finished = $1, status = $2, notes = $3, probes = $4 WHERE id = $5",
			tz(r.Finished), r.Status, notes(r.Notes), r.Probes, r.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("run %s: %w", r.ID, ErrNotFound)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM scan_findings WHERE run_id = $1", r.ID); err != nil {
			return err
		}
		if len(findings) == 0 {
			return nil
		}
		rows := make([][]any, len(findings))
		for i := range findings {
			f := &findings[i]
			data, err := json.Marshal(f)
			if err != nil {
				return err
			}
			rows[i] = []any{r.ID, int32(i), f.Key(), f.Kind, int16(f.Severity), f.CVE, data}
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"scan_findings"}, []string{"run_id", "seq", "key", "kind", "severity", "cve", "data"},
			pgx.CopyFromRows(rows))
		return err
	}))
}

const pgRunCols = "id, member_id, by, started, finished, status, notes, probes"

func scanPGRun(row pgx.Row) (Run, error) {
	var r Run
	var finished *time.Time
	err := row.Scan(&r.ID, &r.MemberID, &r.By, &r.Started, &finished, &r.Status, &r.Notes, &r.Probes)
	r.Started, r.Finished = r.Started.UTC(), fromTZ(finished)
	if len(r.Notes) == 0 {
		r.Notes = nil
	}
	return r, err
}

// Run returns the run with id.
func (s *Postgres) Run(ctx context.Context, id string) (Run, error) {
	r, err := scanPGRun(s.pool.QueryRow(ctx, "SELECT "+pgRunCols+" FROM scan_runs WHERE id = $1", id))
	return r, s.wrap("run "+id, err)
}

// Runs lists a member's runs, newest first.
func (s *Postgres) Runs(ctx context.Context, memberID string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, _ := s.pool.Query(ctx, "SELECT "+pgRunCols+" FROM scan_runs WHERE member_id = $1 ORDER BY started DESC, id DESC LIMIT $2", memberID, limit)
	out, err := collect(rows, func(r pgx.CollectableRow) (Run, error) { return scanPGRun(r) })
	return out, s.wrap("runs", err)
}

// Findings returns a run's findings in the order they were stored.
func (s *Postgres) Findings(ctx context.Context, runID string) ([]Finding, error) {
	rows, _ := s.pool.Query(ctx, "SELECT data FROM scan_findings WHERE run_id = $1 ORDER BY seq", runID)
	out, err := collect(rows, func(r pgx.CollectableRow) (Finding, error) {
		var data []byte
		var f Finding
		if err := r.Scan(&data); err != nil {
			return f, err
		}
		return f, json.Unmarshal(data, &f)
	})
	return out, s.wrap("findings", err)
}

// AuditStart writes e before its probe is made. It runs even when ctx has
// ended: a refusal is still logged.
func (s *Postgres) AuditStart(ctx context.Context, e AuditEntry) (int64, error) {
	var addr *netip.Addr
	if e.Addr.IsValid() {
		addr = &e.Addr
	}
	var id int64
	err := s.pool.QueryRow(context.WithoutCancel(ctx),
		`INSERT INTO scan_audit (run_id, member_id, by, probe, host, addr, port, detail, started, finished, result)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		e.RunID, e.MemberID, e.By, e.Probe, e.Host, addr, int32(e.Port), e.Detail, tz(e.Started), tz(e.Finished), e.Result).Scan(&id)
	return id, s.wrap("audit", err)
}

// AuditFinish records a probe's result. It runs even when ctx has ended:
// a probe cut short by the kill switch is still logged.
func (s *Postgres) AuditFinish(ctx context.Context, id int64, finished time.Time, result string) error {
	_, err := s.pool.Exec(context.WithoutCancel(ctx), "UPDATE scan_audit SET finished = $1, result = $2 WHERE id = $3", tz(finished), result, id)
	return s.wrap("audit", err)
}

// RetainAudit implements Store.
func (s *Postgres) RetainAudit(ctx context.Context, cut time.Time) (int64, error) {
	return s.retainAudit(ctx, cut, auditChunk)
}

func (s *Postgres) retainAudit(ctx context.Context, cut time.Time, chunk int64) (int64, error) {
	var n int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM scan_audit WHERE id IN
			(SELECT id FROM scan_audit WHERE started < $1 ORDER BY started LIMIT $2)`, tz(cut), chunk)
		if err != nil {
			return n, s.wrap("audit retention", err)
		}
		k := tag.RowsAffected()
		if n += k; k < chunk {
			return n, nil
		}
	}
}

// Audit returns audit entries, newest first.
func (s *Postgres) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	// The filters are spelled out rather than "$1 = '' OR ...": the log
	// is the largest table, and each filter has an index a cached generic
	// plan might not use.
	q := "SELECT id, run_id, member_id, by, probe, host, addr, port, detail, started, finished, result FROM scan_audit"
	var args []any
	where := " WHERE "
	for _, c := range []struct{ col, val string }{{"member_id", f.MemberID}, {"run_id", f.RunID}} {
		if c.val != "" {
			args = append(args, c.val)
			q += fmt.Sprintf("%s%s = $%d", where, c.col, len(args))
			where = " AND "
		}
	}
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, _ := s.pool.Query(ctx, q, args...)
	out, err := collect(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var addr *netip.Addr
		var port int32
		var started, finished *time.Time
		err := r.Scan(&e.ID, &e.RunID, &e.MemberID, &e.By, &e.Probe, &e.Host, &addr, &port, &e.Detail, &started, &finished, &e.Result)
		if addr != nil {
			e.Addr = *addr
		}
		e.Port, e.Started, e.Finished = uint16(port), fromTZ(started), fromTZ(finished)
		return e, err
	})
	return out, s.wrap("audit", err)
}

// SetSchedule inserts or replaces a member's schedule.
func (s *Postgres) SetSchedule(ctx context.Context, sc Schedule) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO scan_schedules (member_id, every_ns, next, by, updated) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (member_id) DO UPDATE SET every_ns = excluded.every_ns, next = excluded.next, by = excluded.by, updated = excluded.updated`,
		sc.MemberID, int64(sc.Every), sc.Next, sc.By, sc.Updated)
	return s.wrap("schedule", err)
}

// DeleteSchedule stops a member's scheduled scans.
func (s *Postgres) DeleteSchedule(ctx context.Context, memberID string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM scan_schedules WHERE member_id = $1", memberID)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("schedule of %s: %w", memberID, ErrNotFound)
	}
	return s.wrap("schedule", err)
}

// Schedules returns every member's schedule, by member.
func (s *Postgres) Schedules(ctx context.Context) ([]Schedule, error) {
	rows, _ := s.pool.Query(ctx, "SELECT member_id, every_ns, next, by, updated FROM scan_schedules ORDER BY member_id")
	out, err := collect(rows, func(r pgx.CollectableRow) (Schedule, error) {
		var sc Schedule
		var every int64
		err := r.Scan(&sc.MemberID, &every, &sc.Next, &sc.By, &sc.Updated)
		sc.Every, sc.Next, sc.Updated = time.Duration(every), sc.Next.UTC(), sc.Updated.UTC()
		return sc, err
	})
	return out, s.wrap("schedules", err)
}

// SetKill sets the durable kill switch.
func (s *Postgres) SetKill(ctx context.Context, k KillState) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO scan_kill_switch (on_, by, at, why) VALUES ($1, $2, $3, $4)
		ON CONFLICT (one) DO UPDATE SET on_ = excluded.on_, by = excluded.by, at = excluded.at, why = excluded.why`,
		k.On, k.By, tz(k.At), k.Why)
	return s.wrap("kill switch", err)
}

// Kill returns the durable kill switch; off when never set.
func (s *Postgres) Kill(ctx context.Context) (KillState, error) {
	var k KillState
	var at *time.Time
	err := s.pool.QueryRow(ctx, "SELECT on_, by, at, why FROM scan_kill_switch").Scan(&k.On, &k.By, &at, &k.Why)
	if errors.Is(err, pgx.ErrNoRows) {
		return KillState{}, nil
	}
	k.At = fromTZ(at)
	return k, s.wrap("kill switch", err)
}

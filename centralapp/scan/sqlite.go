package scan

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// SQLite is the Store in its own SQLite file (data_dir/scan.db), apart
// from central's store: scanning is optional, and its audit log grows at
// its own pace. It serves one node; nodes that share work share Postgres.
type SQLite struct {
	path string
	db   *sql.DB
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens or creates the scan store at path and migrates it.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" {
		return nil, errors.New("scan store: no path given")
	}
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite3", "file:"+esc+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=5000&_foreign_keys=1&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("scan store %s: %w", path, err)
	}
	// One connection: SQLite has one writer, and the audit log writes
	// often in small statements.
	db.SetMaxOpenConns(1)
	s := &SQLite{path: path, db: db}
	fsys, err := fs.Sub(migrations, "migrations/sqlite")
	if err == nil {
		var p *goose.Provider
		p, err = goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
		if err == nil {
			_, err = p.Up(ctx)
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("scan store %s: migrate: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *SQLite) Close() error { return s.db.Close() }

func (s *SQLite) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var se sqlite3.Error
	if errors.As(err, &se) && se.Code == sqlite3.ErrConstraint {
		switch se.ExtendedCode {
		case sqlite3.ErrConstraintPrimaryKey, sqlite3.ErrConstraintUnique:
			err = fmt.Errorf("%w: %w", ErrExists, err)
		case sqlite3.ErrConstraintForeignKey:
			err = fmt.Errorf("%w: %w", ErrNotFound, err)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return fmt.Errorf("scan store %s: %s: %w", s.path, op, err)
}

func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromTS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

const targetCols = "id, member_id, kind, value, token, created, proven_by, proven, expires"

func scanTarget(row interface{ Scan(...any) error }) (Target, error) {
	var t Target
	var created, proven, expires int64
	err := row.Scan(&t.ID, &t.MemberID, &t.Kind, &t.Value, &t.Token, &created, &t.ProvenBy, &proven, &expires)
	t.Created, t.Proven, t.Expires = fromTS(created), fromTS(proven), fromTS(expires)
	return t, err
}

// AddTarget stores t.
func (s *SQLite) AddTarget(ctx context.Context, t Target) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO targets ("+targetCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		t.ID, t.MemberID, t.Kind, t.Value, t.Token, ts(t.Created), t.ProvenBy, ts(t.Proven), ts(t.Expires))
	return s.wrap("add target", err)
}

// Target returns the target with id.
func (s *SQLite) Target(ctx context.Context, id string) (Target, error) {
	t, err := scanTarget(s.db.QueryRowContext(ctx, "SELECT "+targetCols+" FROM targets WHERE id = ?", id))
	return t, s.wrap("target "+id, err)
}

// Targets returns a member's targets, or everyone's.
func (s *SQLite) Targets(ctx context.Context, memberID string) ([]Target, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+targetCols+" FROM targets WHERE ? = '' OR member_id = ? ORDER BY member_id, id",
		memberID, memberID)
	if err != nil {
		return nil, s.wrap("targets", err)
	}
	defer rows.Close()
	var out []Target
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return nil, s.wrap("targets", err)
		}
		out = append(out, t)
	}
	return out, s.wrap("targets", rows.Err())
}

// AddProof records p, and the target's proof when p succeeded.
func (s *SQLite) AddProof(ctx context.Context, p Proof) error {
	return s.tx(ctx, "add proof", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO proofs (target_id, method, by, checked, ok, detail, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
			p.TargetID, p.Method, p.By, ts(p.Checked), p.OK, p.Detail, ts(p.Expires)); err != nil {
			return err
		}
		if !p.OK {
			return nil
		}
		_, err := tx.ExecContext(ctx, "UPDATE targets SET proven_by = ?, proven = ?, expires = ? WHERE id = ?",
			p.Method, ts(p.Checked), ts(p.Expires), p.TargetID)
		return err
	})
}

// Proofs returns the checks of a target, oldest first.
func (s *SQLite) Proofs(ctx context.Context, targetID string) ([]Proof, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT target_id, method, by, checked, ok, detail, expires FROM proofs WHERE target_id = ? ORDER BY id", targetID)
	if err != nil {
		return nil, s.wrap("proofs", err)
	}
	defer rows.Close()
	var out []Proof
	for rows.Next() {
		var p Proof
		var checked, expires int64
		if err := rows.Scan(&p.TargetID, &p.Method, &p.By, &checked, &p.OK, &p.Detail, &expires); err != nil {
			return nil, s.wrap("proofs", err)
		}
		p.Checked, p.Expires = fromTS(checked), fromTS(expires)
		out = append(out, p)
	}
	return out, s.wrap("proofs", rows.Err())
}

// Approve records a and makes it the target's proof.
func (s *SQLite) Approve(ctx context.Context, a Approval) error {
	return s.tx(ctx, "approve", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE targets SET proven_by = ?, proven = ?, expires = ? WHERE id = ? AND kind = 'range'",
			"approved:"+a.By, ts(a.At), ts(a.Expires), a.TargetID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("range target %s: %w", a.TargetID, ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO approvals (target_id, by, at, expires, note) VALUES (?, ?, ?, ?, ?)",
			a.TargetID, a.By, ts(a.At), ts(a.Expires), a.Note)
		return err
	})
}

// StartRun records a run that begins.
func (s *SQLite) StartRun(ctx context.Context, r Run) error {
	_, err := s.db.ExecContext(ctx, "INSERT INTO runs (id, member_id, by, started, status, notes) VALUES (?, ?, ?, ?, ?, ?)",
		r.ID, r.MemberID, r.By, ts(r.Started), r.Status, strings.Join(r.Notes, "\n"))
	return s.wrap("start run", err)
}

// FinishRun records r's end and its findings.
func (s *SQLite) FinishRun(ctx context.Context, r Run, findings []Finding) error {
	return s.tx(ctx, "finish run", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE runs SET finished = ?, status = ?, notes = ?, probes = ? WHERE id = ?",
			ts(r.Finished), r.Status, strings.Join(r.Notes, "\n"), r.Probes, r.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("run %s: %w", r.ID, ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM findings WHERE run_id = ?", r.ID); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, "INSERT INTO findings (run_id, seq, key, kind, severity, cve, data) VALUES (?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range findings {
			f := &findings[i]
			data, err := json.Marshal(f)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, r.ID, i, f.Key(), f.Kind, int(f.Severity), f.CVE, string(data)); err != nil {
				return err
			}
		}
		return nil
	})
}

const runCols = "id, member_id, by, started, finished, status, notes, probes"

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var started, finished int64
	var notes string
	err := row.Scan(&r.ID, &r.MemberID, &r.By, &started, &finished, &r.Status, &notes, &r.Probes)
	r.Started, r.Finished = fromTS(started), fromTS(finished)
	if notes != "" {
		r.Notes = strings.Split(notes, "\n")
	}
	return r, err
}

// Run returns the run with id.
func (s *SQLite) Run(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, "SELECT "+runCols+" FROM runs WHERE id = ?", id))
	return r, s.wrap("run "+id, err)
}

// Runs lists a member's runs, newest first.
func (s *SQLite) Runs(ctx context.Context, memberID string, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+runCols+" FROM runs WHERE member_id = ? ORDER BY started DESC, id DESC LIMIT ?", memberID, limit)
	if err != nil {
		return nil, s.wrap("runs", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, s.wrap("runs", err)
		}
		out = append(out, r)
	}
	return out, s.wrap("runs", rows.Err())
}

// Findings returns a run's findings in the order they were stored.
func (s *SQLite) Findings(ctx context.Context, runID string) ([]Finding, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT data FROM findings WHERE run_id = ? ORDER BY seq", runID)
	if err != nil {
		return nil, s.wrap("findings", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var data []byte
		var f Finding
		if err := rows.Scan(&data); err != nil {
			return nil, s.wrap("findings", err)
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, s.wrap("findings", err)
		}
		out = append(out, f)
	}
	return out, s.wrap("findings", rows.Err())
}

// AuditStart writes e before its probe is made.
func (s *SQLite) AuditStart(ctx context.Context, e AuditEntry) (int64, error) {
	addr := ""
	if e.Addr.IsValid() {
		addr = e.Addr.String()
	}
	res, err := s.db.ExecContext(context.WithoutCancel(ctx),
		"INSERT INTO audit (run_id, member_id, by, probe, host, addr, port, detail, started, finished, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		e.RunID, e.MemberID, e.By, e.Probe, e.Host, addr, e.Port, e.Detail, ts(e.Started), ts(e.Finished), e.Result)
	if err != nil {
		return 0, s.wrap("audit", err)
	}
	id, err := res.LastInsertId()
	return id, s.wrap("audit", err)
}

// AuditFinish records a probe's result. It runs even when ctx has ended:
// a probe cut short by the kill switch is still logged.
func (s *SQLite) AuditFinish(ctx context.Context, id int64, finished time.Time, result string) error {
	_, err := s.db.ExecContext(context.WithoutCancel(ctx), "UPDATE audit SET finished = ?, result = ? WHERE id = ?", ts(finished), result, id)
	return s.wrap("audit", err)
}

// RetainAudit implements Store.
func (s *SQLite) RetainAudit(ctx context.Context, cut time.Time) (int64, error) {
	return s.retainAudit(ctx, cut, auditChunk)
}

func (s *SQLite) retainAudit(ctx context.Context, cut time.Time, chunk int64) (int64, error) {
	var n int64
	for {
		res, err := s.db.ExecContext(ctx, `DELETE FROM audit WHERE id IN
			(SELECT id FROM audit WHERE started <> 0 AND started < ? ORDER BY started LIMIT ?)`, ts(cut), chunk)
		if err != nil {
			return n, s.wrap("audit retention", err)
		}
		k, err := res.RowsAffected()
		if n += k; err != nil || k < chunk {
			return n, s.wrap("audit retention", err)
		}
	}
}

// Audit returns audit entries, newest first.
func (s *SQLite) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, run_id, member_id, by, probe, host, addr, port, detail, started, finished, result
		FROM audit WHERE (? = '' OR member_id = ?) AND (? = '' OR run_id = ?) ORDER BY id DESC LIMIT ?`,
		f.MemberID, f.MemberID, f.RunID, f.RunID, f.Limit)
	if err != nil {
		return nil, s.wrap("audit", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var addr string
		var started, finished int64
		if err := rows.Scan(&e.ID, &e.RunID, &e.MemberID, &e.By, &e.Probe, &e.Host, &addr, &e.Port, &e.Detail, &started, &finished, &e.Result); err != nil {
			return nil, s.wrap("audit", err)
		}
		e.Addr, _ = netip.ParseAddr(addr)
		e.Started, e.Finished = fromTS(started), fromTS(finished)
		out = append(out, e)
	}
	return out, s.wrap("audit", rows.Err())
}

// SetSchedule inserts or replaces a member's schedule.
func (s *SQLite) SetSchedule(ctx context.Context, sc Schedule) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO schedules (member_id, every, next, by, updated) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (member_id) DO UPDATE SET every = excluded.every, next = excluded.next, by = excluded.by, updated = excluded.updated`,
		sc.MemberID, int64(sc.Every), ts(sc.Next), sc.By, ts(sc.Updated))
	return s.wrap("schedule", err)
}

// DeleteSchedule stops a member's scheduled scans.
func (s *SQLite) DeleteSchedule(ctx context.Context, memberID string) error {
	res, err := s.db.ExecContext(ctx, "DELETE FROM schedules WHERE member_id = ?", memberID)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			err = fmt.Errorf("schedule of %s: %w", memberID, ErrNotFound)
		}
	}
	return s.wrap("schedule", err)
}

// Schedules returns every member's schedule, by member.
func (s *SQLite) Schedules(ctx context.Context) ([]Schedule, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT member_id, every, next, by, updated FROM schedules ORDER BY member_id")
	if err != nil {
		return nil, s.wrap("schedules", err)
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		var sc Schedule
		var every, next, updated int64
		if err := rows.Scan(&sc.MemberID, &every, &next, &sc.By, &updated); err != nil {
			return nil, s.wrap("schedules", err)
		}
		sc.Every, sc.Next, sc.Updated = time.Duration(every), fromTS(next), fromTS(updated)
		out = append(out, sc)
	}
	return out, s.wrap("schedules", rows.Err())
}

// SetKill sets the durable kill switch.
func (s *SQLite) SetKill(ctx context.Context, k KillState) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO kill_switch (one, on_, by, at, why) VALUES (1, ?, ?, ?, ?)
		ON CONFLICT (one) DO UPDATE SET on_ = excluded.on_, by = excluded.by, at = excluded.at, why = excluded.why`,
		k.On, k.By, ts(k.At), k.Why)
	return s.wrap("kill switch", err)
}

// Kill returns the durable kill switch; off when never set.
func (s *SQLite) Kill(ctx context.Context) (KillState, error) {
	var k KillState
	var at int64
	err := s.db.QueryRowContext(ctx, "SELECT on_, by, at, why FROM kill_switch WHERE one = 1").Scan(&k.On, &k.By, &at, &k.Why)
	if errors.Is(err, sql.ErrNoRows) {
		return KillState{}, nil
	}
	k.At = fromTS(at)
	return k, s.wrap("kill switch", err)
}

func (s *SQLite) tx(ctx context.Context, op string, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(op, err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.wrap(op, err)
	}
	return s.wrap(op, tx.Commit())
}

package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// This file adapts *pgx.Conn to database/sql, for two things: the pool
// (database/sql's, with its limits and health checks) and goose, which
// migrates through a *sql.DB. The store's own queries reach the pgx
// connection underneath with sql.Conn.Raw and use pgx directly (COPY,
// arrays, inet). pgx's own adapter, pgx/v5/stdlib, imports pgxpool and so
// jackc/puddle, a module this repository does not carry.

// connector opens pgx connections for a sql.DB.
type connector struct{ cfg *pgx.ConnConfig }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	pc, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &conn{pc: pc}, nil
}

func (c connector) Driver() driver.Driver { return sqlDriver{} }

// sqlDriver exists because driver.Connector must name one; sql.OpenDB
// never calls Open.
type sqlDriver struct{}

func (sqlDriver) Open(string) (driver.Conn, error) {
	return nil, errors.New("postgres store: open through the connector")
}

// conn is one pgx connection under database/sql.
type conn struct {
	pc *pgx.Conn
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.SessionResetter    = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
)

// Prepare is refused: ExecContext and QueryContext take every statement,
// and pgx caches their plans per connection.
func (c *conn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("postgres store: prepared statements go through pgx")
}

func (c *conn) PrepareContext(context.Context, string) (driver.Stmt, error) {
	return c.Prepare("")
}

func (c *conn) Close() error { return c.pc.Close(context.Background()) }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.Isolation != driver.IsolationLevel(0) || opts.ReadOnly {
		return nil, errors.New("postgres store: only default transactions")
	}
	if _, err := c.pc.Exec(ctx, "BEGIN"); err != nil {
		return nil, err
	}
	return tx{c.pc}, nil
}

// CheckNamedValue passes every argument to pgx as it is: pgx converts
// more types than database/sql's default converter knows.
func (c *conn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	tag, err := c.pc.Exec(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rs, err := c.pc.Query(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	return &rows{rs: rs}, nil
}

// ResetSession and IsValid keep a connection that pgx closed (a broken
// network, a cancelled query) out of the pool.
func (c *conn) ResetSession(context.Context) error {
	if c.pc.IsClosed() {
		return driver.ErrBadConn
	}
	return nil
}

func (c *conn) IsValid() bool { return !c.pc.IsClosed() }

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

type tx struct{ pc *pgx.Conn }

func (t tx) Commit() error {
	_, err := t.pc.Exec(context.Background(), "COMMIT")
	return err
}

func (t tx) Rollback() error {
	_, err := t.pc.Exec(context.Background(), "ROLLBACK")
	return err
}

// rows hands pgx's decoded values to database/sql, in the types
// driver.Value allows.
type rows struct {
	rs   pgx.Rows
	cols []string
}

func (r *rows) Columns() []string {
	if r.cols == nil {
		for _, f := range r.rs.FieldDescriptions() {
			r.cols = append(r.cols, f.Name)
		}
	}
	return r.cols
}

func (r *rows) Close() error {
	r.rs.Close()
	return r.rs.Err()
}

func (r *rows) Next(dest []driver.Value) error {
	if !r.rs.Next() {
		if err := r.rs.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vs, err := r.rs.Values()
	if err != nil {
		return err
	}
	for i, v := range vs {
		switch x := v.(type) {
		case int16:
			dest[i] = int64(x)
		case int32:
			dest[i] = int64(x)
		case nil, int64, float64, bool, []byte, string:
			dest[i] = x
		default:
			if dv, ok := x.(interface{ Value() (driver.Value, error) }); ok {
				if dest[i], err = dv.Value(); err != nil {
					return err
				}
				continue
			}
			if driver.IsValue(x) {
				dest[i] = x
				continue
			}
			dest[i] = fmt.Sprint(x)
		}
	}
	return nil
}

package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Connect opens a pool of at most maxConns connections (two at least:
// goose holds one for its lock while it migrates on another) to the
// database at dsn, naming app to the server, and pings it, so that a bad
// address or credentials fail at start, not at first use. Its errors begin
// with what. Both the central store and the scan store connect this way.
func Connect(ctx context.Context, what, dsn, app string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx leaves the password out of its parse errors.
		return nil, fmt.Errorf("%s: dsn: %w", what, err)
	}
	params := cfg.ConnConfig.RuntimeParams
	if params["application_name"] == "" {
		params["application_name"] = app
	}
	// JIT compiles the expressions of a large scan for seconds (6 s of a
	// 7-day SourceActivity over 10M detections) to save less than that:
	// these queries are simple. A DSN may still turn it on.
	if params["jit"] == "" {
		params["jit"] = "off"
	}
	cfg.MaxConns = int32(min(max(maxConns, 2), 1<<20))
	cfg.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%s: connect: %w", what, err)
	}
	return pool, nil
}

// Migrate brings the schema in fsys up to date through pool, one node at a
// time under the advisory lock lockID, recording versions in table ("" for
// goose's default). A node that starts beside one migrating waits for it:
// the lock is probed each second for up to five minutes.
func Migrate(ctx context.Context, pool *pgxpool.Pool, fsys fs.FS, lockID int64, table string, log *slog.Logger) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return err
	}
	// goose migrates through database/sql: a *sql.DB over the pool, closed
	// after (which leaves the pool open).
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithSlog(log), goose.WithSessionLocker(locker)}
	if table != "" {
		opts = append(opts, goose.WithTableName(table))
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

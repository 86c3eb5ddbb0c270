package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
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
